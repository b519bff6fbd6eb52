import Foundation
import KernelBTF

/// --output-skb-metadata: member paths whose values each record carries, and how to read
/// them back. The BPF side only copies bytes (Expr/MetadataCompiler.swift): every reading of
/// them (bitfields, sign, enum names, strings) happens here, so a log carries this layout in
/// its header and `read` renders exactly what the live output did.
///
/// The area after the event (bpf/trace.bpf.c, `skb_meta_size` bytes): a u64 mask, then each
/// field at its `offset`. Mask bit i: field i was read; bit 63: the event has the root
/// object (an skb, or for --output-xdp-metadata an xdp_buff); without it no metadata is
/// shown.
public struct SkbMetadata: Codable, Sendable, Equatable {
    public struct Field: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            case unsigned, signed, pointer, chars
            /// Bytes shown as native-endian u32 words in hex (--output-skb-cb).
            case words
        }
        /// The path as the user wrote it, trimmed (`skb->mark`): the output's label.
        public var name: String
        public var kind: Kind
        /// Where the field's bytes are in the area, and how many (8 for a number).
        public var offset: Int
        public var size: Int
        /// A bitfield: its first bit and width within the bytes read.
        public var bitOffset: Int
        public var bits: Int
        /// Value → name, for an enum (from BTF) or `pkt_type` (PACKET_*).
        public var names: [String: String]?
        /// Bytes of the number in its slot (1, 2, 4 or 8), for sign extension.
        public var width: Int
        /// The path, for the program that reads it (not stored in logs).
        var path: ResolvedPath?

        enum CodingKeys: String, CodingKey { case name, kind, offset, size, bitOffset, bits, width, names }
    }

    public static let maxFields = 8
    /// No fields: the area is only zeroed.
    static let empty = SkbMetadata(fields: [], size: 8)

    init(fields: [Field], size: Int) {
        self.fields = fields
        self.size = size
    }
    public static let maxChars = 64
    static let hasSkb: UInt64 = 1 << 63

    public var fields: [Field]
    /// Bytes the area takes in a record (the mask included); a multiple of 8.
    public var size: Int

    /// Resolves `list` ("skb->mark,skb->dev->name") against `btf`; with `cb`, `skb->cb` is
    /// added as hex words (--output-skb-cb).
    public init(_ list: String?, cb: Bool = false, btf: BTF, root: String = "skb", rootStruct: String = "sk_buff") throws(ExprError) {
        let parts = list.map { $0.split(separator: ",", omittingEmptySubsequences: false) } ?? []
        guard parts.count <= Self.maxFields else {
            throw ExprError(message: "\(parts.count) fields: at most \(Self.maxFields)", column: 1)
        }
        let resolver = try ExprResolver(btf: btf, root: root, rootStruct: rootStruct)
        var fields: [Field] = []
        var offset = 8, column = 1
        for part in parts {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { throw ExprError(message: "an empty field", column: column) }
            let p: ResolvedPath
            do {
                p = try resolver.value(ExprParser.parse(text))
            } catch {
                let lead = part.prefix { $0 == " " }.count
                throw ExprError(message: error.message, column: column + lead + error.column - 1)
            }
            var f = Field(name: text, kind: .unsigned, offset: offset, size: 8, bitOffset: p.bitOffset, bits: p.bits,
                          width: min(max(p.size, 1), 8), path: p)
            switch p.value {
            case .integer(let signed): f.kind = signed ? .signed : .unsigned
            case .enumeration(let id, let signed):
                f.kind = signed ? .signed : .unsigned
                f.names = Dictionary(btf.enumerators(id).map { (String(UInt64(bitPattern: $0.value)), $0.name) }, uniquingKeysWith: { a, _ in a })
            case .pointer: f.kind = .pointer
            case .chars(let count):
                f.kind = .chars
                f.size = min(count, Self.maxChars)
            }
            if root == "skb", text.hasSuffix("pkt_type"), f.kind == .unsigned {
                f.names = Dictionary(ExprResolver.knownConstants.map { (String($0.value), $0.key) }, uniquingKeysWith: { a, _ in a })
            }
            fields.append(f)
            offset += (f.size + 7) / 8 * 8
            column += part.count + 1
        }
        if cb {
            let p = try resolver.value(ExprParser.parse("skb->cb"))
            let f = Field(name: "skb->cb", kind: .words, offset: offset, size: min(p.size, Self.maxChars) / 4 * 4, bitOffset: 0, bits: 0,
                          width: 4, path: p)
            fields.append(f)
            offset += (f.size + 7) / 8 * 8
        }
        self.fields = fields
        size = offset
    }

    /// A value read back from an area.
    public enum Value: Equatable, Sendable {
        case number(UInt64), signed(Int64), named(String, UInt64), pointer(UInt64), string(String), words([UInt32])
        /// The read failed (a NULL or bad pointer on the way).
        case unreadable
    }

    /// The values in `area`, in field order; nil when the event carries none (no skb, or a
    /// record without the area).
    public func values(_ area: UnsafeRawBufferPointer) -> [Value]? {
        guard area.count >= size, size >= 8 else { return nil }
        let mask = area.loadUnaligned(as: UInt64.self)
        guard mask & Self.hasSkb != 0 else { return nil }
        return fields.enumerated().map { i, f in
            // A layout from a damaged log header must not reach outside the area.
            guard i < 63, mask & (1 << UInt64(i)) != 0, f.offset >= 8, f.size >= 0,
                  f.offset + (f.kind == .chars || f.kind == .words ? f.size : 8) <= area.count,
                  (0..<64).contains(f.bitOffset), (0..<64).contains(f.bits), f.bitOffset + f.bits <= 64
            else { return .unreadable }
            if f.kind == .chars || f.kind == .words {
                let bytes = UnsafeRawBufferPointer(rebasing: area[f.offset..<(f.offset + f.size)])
                if f.kind == .words {
                    return .words(stride(from: 0, to: bytes.count - 3, by: 4).map { bytes.loadUnaligned(fromByteOffset: $0, as: UInt32.self) })
                }
                return .string(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
            }
            var v = area.loadUnaligned(fromByteOffset: f.offset, as: UInt64.self)
            let width = f.bits > 0 ? f.bits : f.width * 8
            if f.bits > 0 { v = (v >> UInt64(f.bitOffset)) & ((1 << UInt64(f.bits)) &- 1) }
            if let name = f.names?[String(v)] { return .named(name, v) }
            switch f.kind {
            case .pointer: return .pointer(v)
            case .signed:
                let shift = UInt64(64 - min(max(width, 1), 64))
                return .signed(Int64(bitPattern: v << shift) >> Int64(shift))
            default: return .number(v)
            }
        }
    }
}

extension SkbMetadata.Value {
    /// `16`, `-1`, `PACKET_HOST`, `0xffff8880…`, `"eth0"`, `?`.
    public var text: String {
        switch self {
        case .number(let v): String(v)
        case .signed(let v): String(v)
        case .named(let n, _): n
        case .pointer(let v): "0x" + String(v, radix: 16)
        case .string(let s): "\"\(s)\""
        case .words(let w): "[" + w.map { "0x" + String($0, radix: 16) }.joined(separator: ",") + "]"
        case .unreadable: "?"
        }
    }
}
