/// The packet bytes captured with an event (`--snaplen`): the first bytes of the skb's
/// linear data, from the MAC header (Ethernet) or the network header (raw IP). Borrowed: the
/// bytes live in a ring record or a decoded frame and are valid only inside the callback
/// that receives them. Outside the library they are reached only through `withBytes` (the
/// pointer stays in the closure) or copied (`copiedBytes`).
public struct PacketBytes {
    public var link: Link
    /// The packet's length from its first captured byte to its end (pcap's "original length").
    public var wireLength: UInt32
    /// The borrowed bytes, for the library's own renderers and writers.
    let bytes: UnsafeRawBufferPointer

    /// The captured bytes, lent to `body` only.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R { try body(bytes) }
    /// The captured bytes, copied: safe to keep after the callback.
    public var copiedBytes: [UInt8] { Array(bytes) }
    /// How many bytes were captured.
    public var count: Int { bytes.count }

    public init(link: Link, wireLength: UInt32, bytes: UnsafeRawBufferPointer) {
        self.link = link
        self.wireLength = wireLength
        self.bytes = bytes
    }

    /// No bytes: captured without --snaplen, or the skb had no network header yet.
    public static var none: PacketBytes { PacketBytes(link: Link(rawValue: 0), wireLength: 0, bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }
    public var isEmpty: Bool { link.rawValue == 0 }

    /// The bytes that follow an event in a ring record, if the record carries any.
    static func parse(record: UnsafeRawBufferPointer) -> PacketBytes {
        let at = MemoryLayout<Event>.size, snap = MemoryLayout<Snap>.size
        guard record.count >= at + snap else { return .none }
        let s = record.loadUnaligned(fromByteOffset: at, as: Snap.self)
        let n = Int(s.capLen)
        guard s.link != 0, at + snap + n <= record.count else { return .none }
        return PacketBytes(link: Link(rawValue: UInt32(s.link)), wireLength: max(s.origLen, UInt32(n)),
                           bytes: UnsafeRawBufferPointer(rebasing: record[(at + snap)..<(at + snap + n)]))
    }
}
