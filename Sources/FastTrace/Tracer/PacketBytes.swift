import Foundation
import KernelBTF

/// What a record carries about its packet besides the event: the inner tuple of a
/// VXLAN/Geneve packet (`--output-tunnel`), and the packet bytes (`--snaplen`): the first
/// bytes of the skb's linear data, from the MAC header (Ethernet) or the network header (raw
/// IP). Borrowed: the
/// bytes live in a ring record or a decoded frame and are valid only inside the callback
/// that receives them. Outside the library they are reached only through `withBytes` (the
/// pointer stays in the closure) or copied (`copiedBytes`).
public struct PacketBytes {
    public var link: Link
    /// The packet's length from its first captured byte to its end (pcap's "original length").
    public var wireLength: UInt32
    /// The borrowed bytes, for the library's own renderers and writers.
    let bytes: UnsafeRawBufferPointer
    /// The tuple of the packet inside a VXLAN/Geneve packet (--output-tunnel), if it is one.
    public var inner: Tuple?
    /// The --output-skb-metadata area (borrowed like the bytes), read with `SkbMetadata.values`.
    var metadata: UnsafeRawBufferPointer?
    /// --output-skb / --output-skb-shared-info: the structs the kernel printed.
    public var dumps: [StructDump] = []

    /// The captured bytes, lent to `body` only.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R { try body(bytes) }
    /// The captured bytes, copied: safe to keep after the callback.
    public var copiedBytes: [UInt8] { Array(bytes) }
    /// How many bytes were captured.
    public var count: Int { bytes.count }

    public init(link: Link, wireLength: UInt32, bytes: UnsafeRawBufferPointer, inner: Tuple? = nil) {
        self.link = link
        self.wireLength = wireLength
        self.bytes = bytes
        self.inner = inner
    }

    /// No bytes: captured without --snaplen, or the skb had no network header yet.
    public static var none: PacketBytes { PacketBytes(link: Link(rawValue: 0), wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }
    public var isEmpty: Bool { link.rawValue == 0 }

    /// The --output-skb-metadata values under `layout`; nil when the event has none.
    public func metadataValues(_ layout: SkbMetadata) -> [SkbMetadata.Value]? { metadata.flatMap(layout.values) }

    /// What follows an event in a ring record (events.h): with `innerTuple` (--output-tunnel)
    /// an inner tuple, valid when the event's meta flags say so; the metadata area
    /// (--output-skb-metadata); then the bytes, if any.
    static func parse(record: UnsafeRawBufferPointer, event e: Event, innerTuple: Bool, metadataSize: Int = 0,
                      dumps: (count: Int, size: Int) = (0, 0)) -> PacketBytes {
        var at = MemoryLayout<Event>.size
        var inner: Tuple?
        if innerTuple {
            guard record.count >= at + MemoryLayout<Tuple>.size else { return .none }
            if e.meta.flags & UInt16(MetaFlag.inner.rawValue) != 0 { inner = record.loadUnaligned(fromByteOffset: at, as: Tuple.self) }
            at += MemoryLayout<Tuple>.size
        }
        var p = PacketBytes.none
        p.inner = inner
        if metadataSize > 0 {
            guard record.count >= at + metadataSize else { return p }
            p.metadata = UnsafeRawBufferPointer(rebasing: record[at..<(at + metadataSize)])
            at += metadataSize
        }
        for _ in 0..<dumps.count {
            let header = MemoryLayout<Dump>.size
            guard record.count >= at + header + dumps.size else { return p }
            let d = record.loadUnaligned(fromByteOffset: at, as: Dump.self)
            if d.len != -ENOENT {
                let n = Int(min(max(d.len, 0), Int32(dumps.size - 1)))
                p.dumps.append(StructDump(kind: DumpKind(rawValue: UInt32(d.kind)), length: d.len,
                                          text: UnsafeRawBufferPointer(rebasing: record[(at + header)..<(at + header + n)])))
            }
            at += header + dumps.size
        }
        let snap = MemoryLayout<Snap>.size
        guard record.count >= at + snap else { return p }
        let s = record.loadUnaligned(fromByteOffset: at, as: Snap.self)
        let n = Int(s.capLen)
        guard s.link != 0, at + snap + n <= record.count else { return p }
        var full = PacketBytes(link: Link(rawValue: UInt32(s.link)), wireLength: max(s.origLen, UInt32(n)),
                               bytes: UnsafeRawBufferPointer(rebasing: record[(at + snap)..<(at + snap + n)]), inner: inner)
        full.metadata = p.metadata
        full.dumps = p.dumps
        return full
    }
}

/// A struct the kernel printed from BTF for an event (--output-skb, --output-skb-shared-info):
/// compact text, at most the configured size. Borrowed like the packet bytes.
public struct StructDump {
    public var kind: DumpKind
    /// The text's full length as the kernel measured it (more than `text` holds when it was
    /// cut), or -errno when it could not print.
    public var length: Int32
    let text: UnsafeRawBufferPointer

    public init(kind: DumpKind, length: Int32, text: UnsafeRawBufferPointer) {
        self.kind = kind
        self.length = length
        self.text = text
    }

    public var string: String { String(decoding: text, as: UTF8.self) }
    public var isTruncated: Bool { length > Int32(text.count) }
    /// `skb`, `shinfo`: the JSON key stem and the text label.
    public var label: String { kind == .shinfo ? "shinfo" : "skb" }
    /// What went wrong, when the kernel printed nothing.
    public var failure: String? { length < 0 ? "bpf_snprintf_btf failed: \(errnoName(-length))" : nil }
}
