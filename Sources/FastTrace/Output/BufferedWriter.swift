import Foundation

/// Collects output in a `ByteBuffer` and writes it in large chunks: never one syscall per
/// event. Renderers write straight into `buffer`, then call `flushIfFull()`.
public final class BufferedWriter {
    public let buffer: ByteBuffer
    private let fd: Int32
    private let capacity: Int

    public init(fd: Int32 = 1, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        buffer = ByteBuffer(capacity: capacity + 4096)
    }

    deinit { flush() }

    public func line(_ s: String) {
        buffer.append(s)
        buffer.byte(0x0a)
        flushIfFull()
    }

    public func bytes(_ b: [UInt8]) {
        buffer.append(b)
        flushIfFull()
    }

    @inline(__always) public func flushIfFull() {
        if buffer.count >= capacity { flush() }
    }

    /// The first write error (strerror), if any: output after it is discarded.
    public private(set) var failure: String?

    public func flush() {
        let b = buffer.bytes
        var off = 0
        while off < b.count, failure == nil {
            let n = write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = String(cString: strerror(n < 0 ? errno : EIO)); break }
            off += n
        }
        buffer.removeAll()
    }
}
