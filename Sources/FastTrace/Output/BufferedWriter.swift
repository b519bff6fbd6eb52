import Foundation

/// Collects output and writes it in large chunks: never one syscall per event.
public final class BufferedWriter {
    private var buffer: [UInt8] = []
    private let fd: Int32
    private let capacity: Int

    public init(fd: Int32 = 1, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    deinit { flush() }

    public func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0a)
        if buffer.count >= capacity { flush() }
    }

    public func bytes(_ b: [UInt8]) {
        buffer += b
        if buffer.count >= capacity { flush() }
    }

    /// The first write error (strerror), if any: output after it is discarded.
    public private(set) var failure: String?

    public func flush() {
        var off = 0
        while off < buffer.count, failure == nil {
            let n = buffer[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = String(cString: strerror(n < 0 ? errno : EIO)); break }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
