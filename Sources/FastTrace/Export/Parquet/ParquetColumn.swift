/// One leaf column of a flat Parquet schema and the values buffered for the open row group.
///
/// Values are PLAIN-encoded as they arrive (little-endian numbers, length-prefixed byte
/// arrays, raw fixed-length arrays); an optional column also keeps one definition level per
/// row (1 present, 0 null). Unsigned integers are stored as the bit pattern of the signed
/// physical type, as Parquet's INTEGER(bits, unsigned) logical type prescribes.
public final class ParquetColumn {
    public enum Physical: Int32, Sendable { case int32 = 1, int64 = 2, byteArray = 6, fixedLenByteArray = 7 }

    /// The annotations fasttrace needs (parquet.thrift's LogicalType and its ConvertedType
    /// twin, which older readers such as Spark 2 use).
    public enum Logical: Sendable, Equatable {
        case string
        case unsigned(bits: Int8)
        case timestampNanosUTC
    }

    public let name: String
    public let physical: Physical
    public let logical: Logical?
    public let optional: Bool
    /// The byte length of a FIXED_LEN_BYTE_ARRAY column.
    public let length: Int
    /// Keep min/max statistics (signed INT64 columns only: their order is the plain one).
    let keepsStatistics: Bool

    // The open row group.
    let values = ByteBuffer(capacity: 1 << 16)
    let levels = ByteBuffer(capacity: 1 << 12)
    var nulls = 0
    /// Values and nulls appended to the open row group (the writer checks each column has
    /// one per row).
    var count = 0
    var minValue = Int64.max, maxValue = Int64.min

    public init(_ name: String, _ physical: Physical, _ logical: Logical? = nil, optional: Bool = false, length: Int = 0) {
        self.name = name
        self.physical = physical
        self.logical = logical
        self.optional = optional
        self.length = length
        keepsStatistics = physical == .int64 && (logical == nil || logical == .timestampNanosUTC)
    }

    // MARK: values (each appends one row)

    @inline(__always) public func append(int64 v: Int64) {
        present()
        values.store(littleEndian: v)
        if keepsStatistics {
            minValue = min(minValue, v)
            maxValue = max(maxValue, v)
        }
    }
    @inline(__always) public func append(uint64 v: UInt64) { append(int64: Int64(bitPattern: v)) }
    @inline(__always) public func append(int32 v: Int32) {
        present()
        values.store(littleEndian: v)
    }
    @inline(__always) public func append(uint32 v: UInt32) { append(int32: Int32(bitPattern: v)) }

    /// A BYTE_ARRAY value (a STRING column takes UTF-8), or a FIXED_LEN_BYTE_ARRAY one of
    /// exactly `length` bytes.
    @inline(__always) public func append(bytes v: UnsafeRawBufferPointer) {
        present()
        if physical == .byteArray {
            values.store(littleEndian: UInt32(truncatingIfNeeded: v.count))
        } else {
            precondition(v.count == length, "fixed-length column \(name) takes \(length) bytes")
        }
        values.append(v)
    }
    @inline(__always) public func append(string v: String) {
        var v = v
        v.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }
    @inline(__always) public func append(utf8 v: [UInt8]) { v.withUnsafeBytes { append(bytes: $0) } }

    @inline(__always) public func appendNull() {
        precondition(optional, "column \(name) is required")
        levels.byte(0)
        nulls += 1
        count += 1
    }

    @inline(__always) private func present() {
        if optional { levels.byte(1) }
        count += 1
    }

    var bufferedBytes: Int { values.count + levels.count }

    func reset() {
        values.removeAll()
        levels.removeAll()
        nulls = 0
        count = 0
        minValue = .max
        maxValue = .min
    }

    /// The definition levels as the page stores them: a u32 length, then the RLE/bit-packed
    /// hybrid (bit width 1). One RLE run when every row is present (or none is), else
    /// bit-packed groups of 8.
    func encodedLevels(rows: Int) -> [UInt8] {
        var run = ThriftCompactWriter() // only its varint
        if nulls == 0 || nulls == rows {
            run.varint(UInt64(rows) << 1)
            var out = run.bytes
            out.append(nulls == 0 ? 1 : 0)
            return Self.lengthPrefixed(out)
        }
        let groups = (rows + 7) / 8
        run.varint(UInt64(groups) << 1 | 1)
        var out = run.bytes
        out.reserveCapacity(out.count + groups)
        levels.bytes.withMemoryRebound(to: UInt8.self) { l in
            for g in 0..<groups {
                var byte: UInt8 = 0
                for bit in 0..<8 where g * 8 + bit < rows { byte |= l[g * 8 + bit] << UInt8(bit) }
                out.append(byte)
            }
        }
        return Self.lengthPrefixed(out)
    }

    private static func lengthPrefixed(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count + 4)
        withUnsafeBytes(of: UInt32(b.count).littleEndian) { out.append(contentsOf: $0) }
        return out + b
    }
}
