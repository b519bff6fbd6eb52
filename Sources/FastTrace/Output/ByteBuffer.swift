import Foundation

/// A growable byte buffer that output is rendered into: numbers, hex and JSON strings are
/// written as bytes in place, so rendering an event builds no `String` and allocates nothing
/// once the buffer has grown to its working size. Reused across events; the owner writes
/// `bytes` out and calls `removeAll()`.
public final class ByteBuffer {
    public private(set) var count = 0
    private var capacity: Int
    private var base: UnsafeMutablePointer<UInt8>

    public init(capacity: Int = 1 << 16) {
        self.capacity = Swift.max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    public var isEmpty: Bool { count == 0 }
    public func removeAll() { count = 0 }

    /// A copy of what was rendered (tests, and callers that want a `String`).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always) func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: base, count: count)
        base.deallocate()
        base = p
        capacity = c
    }

    /// A number's little-endian bytes (the Parquet writer's fixed-width values).
    @inline(__always) public func store<T: FixedWidthInteger>(littleEndian v: T) {
        let n = MemoryLayout<T>.size
        reserve(n)
        UnsafeMutableRawPointer(base + count).storeBytes(of: v.littleEndian, as: T.self)
        count += n
    }

    @inline(__always) public func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    public func append(_ b: [UInt8]) {
        b.withUnsafeBufferPointer { if let p = $0.baseAddress { copyIn(p, $0.count) } }
    }

    public func append(_ raw: UnsafeRawBufferPointer) {
        guard let src = raw.baseAddress, raw.count > 0 else { return }
        copyIn(src.assumingMemoryBound(to: UInt8.self), raw.count)
    }

    /// ASCII text known at compile time (column names, JSON keys).
    @inline(__always) public func ascii(_ s: StaticString) {
        copyIn(s.utf8Start, s.utf8CodeUnitCount)
    }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) public func spaces(_ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base + count).update(repeating: 0x20, count: n)
        count += n
    }

    /// Pads what was written since `start` with spaces to `width` bytes (ASCII cells).
    @inline(__always) public func pad(from start: Int, to width: Int) { spaces(width - (count - start)) }

    /// Copies a few bytes without a call: most cells are shorter than a cache line, where
    /// a memmove call costs more than the copy.
    @inline(__always) private func copyIn(_ src: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        let dst = base + count
        if n <= 32 {
            var i = 0
            while i < n { dst[i] = src[i]; i += 1 }
        } else {
            dst.update(from: src, count: n)
        }
        count += n
    }

    @inline(__always) static func digitCount(_ v: UInt64) -> Int {
        var n = 1, p: UInt64 = 10
        while n < 20 && v >= p { n += 1; p = p &* 10 }
        return n
    }

    public func decimal(_ v: UInt64) {
        let n = Self.digitCount(v)
        reserve(n)
        let dst = base + count
        var x = v, i = n
        while x >= 100 {
            let r = UInt8(truncatingIfNeeded: x % 100)
            x /= 100
            i -= 2
            dst[i] = 0x30 &+ r / 10
            dst[i + 1] = 0x30 &+ r % 10
        }
        let r = UInt8(truncatingIfNeeded: x)
        if r >= 10 {
            dst[0] = 0x30 &+ r / 10
            dst[1] = 0x30 &+ r % 10
        } else {
            dst[0] = 0x30 &+ r
        }
        count += n
    }

    /// Decimal with leading zeros to at least `zeroPadTo` digits.
    public func decimal(_ v: UInt64, zeroPadTo width: Int) {
        let digits = Self.digitCount(v)
        if digits < width {
            reserve(width - digits)
            (base + count).update(repeating: 0x30, count: width - digits)
            count += width - digits
        }
        decimal(v)
    }

    public func decimal<T: BinaryInteger>(_ v: T) {
        if v < 0 {
            byte(0x2d)
            decimal(UInt64(-Int64(v)))
        } else {
            decimal(UInt64(v))
        }
    }

    @inline(__always) static func hexDigit(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 &+ d : 0x57 &+ d }

    /// Lower-case hex without leading zeros (`String(v, radix: 16)`), at least `minDigits`.
    public func hex(_ v: UInt64, minDigits: Int = 1) {
        reserve(16)
        var digits = 1, x = v >> 4
        while x > 0 { digits += 1; x >>= 4 }
        digits = Swift.max(digits, minDigits)
        var y = v, i = count + digits
        while i > count {
            i -= 1
            base[i] = Self.hexDigit(UInt8(truncatingIfNeeded: y & 15))
            y >>= 4
        }
        count += digits
    }

    /// Every byte as two hex digits.
    public func hexBytes(_ raw: UnsafeRawBufferPointer) {
        reserve(raw.count * 2)
        for b in raw {
            base[count] = Self.hexDigit(b >> 4)
            base[count + 1] = Self.hexDigit(b & 15)
            count += 2
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; other
    /// bytes (UTF-8) as they are.
    public func jsonString(_ raw: UnsafeRawBufferPointer) {
        byte(0x22)
        reserve(raw.count)
        for b in raw {
            switch b {
            case 0x22: ascii("\\\"")
            case 0x5c: ascii("\\\\")
            case 0x0a: ascii("\\n")
            case 0x0d: ascii("\\r")
            case 0x09: ascii("\\t")
            case 0x08: ascii("\\b")
            case 0x0c: ascii("\\f")
            case 0..<0x20:
                ascii("\\u00")
                byte(Self.hexDigit(b >> 4))
                byte(Self.hexDigit(b & 15))
            default: byte(b)
            }
        }
        byte(0x22)
    }

    public func jsonString(_ s: String) {
        var s = s
        s.withUTF8 { jsonString(UnsafeRawBufferPointer($0)) }
    }
}
