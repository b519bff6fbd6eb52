/// Thrift's compact protocol, write side only, as much as a Parquet footer and page headers
/// need: structs, i8/i16/i32/i64, bool, binary and lists. Fields are written in increasing
/// id order, so each header is one byte (id delta and type) but for a delta above 15.
///
/// The format: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
struct ThriftCompactWriter {
    enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, binary = 8, list = 9, structure = 12
    }

    private(set) var bytes: [UInt8] = []
    /// The last field id of each open struct (ids are deltas from it).
    private var lastField: [Int16] = [0]

    init() {}

    /// A whole top-level struct: the fields `body` writes, then the stop byte.
    static func encode(_ body: (inout ThriftCompactWriter) -> Void) -> [UInt8] {
        var t = ThriftCompactWriter()
        body(&t)
        t.bytes.append(0)
        return t.bytes
    }

    // MARK: fields

    mutating func field(_ id: Int16, i32 v: Int32) { header(id, .i32); zigzag(Int64(v)) }
    mutating func field(_ id: Int16, i64 v: Int64) { header(id, .i64); zigzag(v) }
    mutating func field(_ id: Int16, i8 v: Int8) { header(id, .byte); bytes.append(UInt8(bitPattern: v)) }
    mutating func field(_ id: Int16, bool v: Bool) { header(id, v ? .boolTrue : .boolFalse) }
    mutating func field(_ id: Int16, binary v: some Collection<UInt8>) { header(id, .binary); binary(v) }
    mutating func field(_ id: Int16, string v: String) { field(id, binary: v.utf8) }

    /// A struct-valued field: `body` writes the inner fields; the stop byte follows.
    mutating func field(_ id: Int16, struct body: (inout ThriftCompactWriter) -> Void) {
        header(id, .structure)
        structure(body)
    }

    /// A list field of `count` elements of `type`; `body` writes the elements (with the
    /// element writers below).
    mutating func field(_ id: Int16, list type: FieldType, count: Int, _ body: (inout ThriftCompactWriter) -> Void) {
        header(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            varint(UInt64(count))
        }
        body(&self)
    }

    // MARK: list elements

    mutating func element(i32 v: Int32) { zigzag(Int64(v)) }
    mutating func element(string v: String) { binary(v.utf8) }
    mutating func element(struct body: (inout ThriftCompactWriter) -> Void) { structure(body) }

    // MARK: encoding

    private mutating func structure(_ body: (inout ThriftCompactWriter) -> Void) {
        lastField.append(0)
        body(&self)
        bytes.append(0) // stop
        lastField.removeLast()
    }

    private mutating func header(_ id: Int16, _ type: FieldType) {
        let delta = Int(id) - Int(lastField[lastField.count - 1])
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastField[lastField.count - 1] = id
    }

    private mutating func binary(_ v: some Collection<UInt8>) {
        varint(UInt64(v.count))
        bytes.append(contentsOf: v)
    }

    private mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
