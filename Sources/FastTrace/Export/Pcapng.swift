/// pcapng (draft-ietf-opsawg-pcapng) for packets captured with events (`--snaplen`).
///
/// One record per event that carries packet bytes: the same skb appears once per function it
/// went through, each record showing the packet as that function saw it (NAT rewrites, pushed
/// headers). The record's comment names the function, the kernel (monotonic) timestamp, the
/// skb, the CPU and the drop reason. Interfaces are (netns, ifindex, view) triples: an
/// Ethernet view and a raw-IP view of the same device are two pcapng interfaces, because a
/// pcapng interface has one link type.
public struct PcapngWriter {
    enum Block {
        static let section: UInt32 = 0x0A0D_0D0A, interface: UInt32 = 1, enhancedPacket: UInt32 = 6
    }
    enum LinkType {
        static let ethernet: UInt16 = 1, raw: UInt16 = 101 // LINKTYPE_RAW: IPv4 or IPv6 by version nibble
    }

    public struct InterfaceKey: Hashable, Sendable {
        public var netns: UInt32, ifindex: UInt32, link: UInt32
        public init(netns: UInt32, ifindex: UInt32, link: UInt32) {
            self.netns = netns
            self.ifindex = ifindex
            self.link = link
        }
    }

    /// Bytes produced so far and not yet taken (`take()`).
    public private(set) var output: [UInt8] = []
    private var interfaces: [InterfaceKey: UInt32] = [:]
    private let snapLength: UInt32
    public private(set) var packets = 0

    /// Starts a section: `application` and `os` go into the section header's options.
    public init(application: String, os: String, hardware: String?, comment: String?, snapLength: Int) {
        self.snapLength = UInt32(max(snapLength, 0))
        var body: [UInt8] = []
        Self.put32(&body, 0x1A2B_3C4D) // byte-order magic
        Self.put16(&body, 1)
        Self.put16(&body, 0)
        withUnsafeBytes(of: Int64(-1).littleEndian) { body += $0 } // section length unknown
        var opts: [(UInt16, [UInt8])] = []
        if let comment { opts.append((1, Array(comment.utf8))) }
        if let hardware { opts.append((2, Array(hardware.utf8))) }
        opts.append((3, Array(os.utf8)))
        opts.append((4, Array(application.utf8)))
        Self.putOptions(&body, opts)
        block(Block.section, body)
    }

    /// Appends one packet; `name(key)` gives an interface's name and description on first use.
    public mutating func packet(_ p: PacketBytes, key: InterfaceKey, wallNs: UInt64, comment: String,
                                describe: (InterfaceKey) -> (name: String, description: String)) {
        guard !p.isEmpty else { return }
        let id: UInt32
        if let known = interfaces[key] { id = known } else {
            id = UInt32(interfaces.count)
            interfaces[key] = id
            let d = describe(key)
            var body: [UInt8] = []
            Self.put16(&body, key.link == Link.ethernet.rawValue ? LinkType.ethernet : LinkType.raw)
            Self.put16(&body, 0)
            Self.put32(&body, snapLength)
            Self.putOptions(&body, [(2, Array(d.name.utf8)), (3, Array(d.description.utf8)), (9, [9])]) // if_tsresol: ns
            block(Block.interface, body)
        }
        var body: [UInt8] = []
        Self.put32(&body, id)
        Self.put32(&body, UInt32(truncatingIfNeeded: wallNs >> 32))
        Self.put32(&body, UInt32(truncatingIfNeeded: wallNs))
        Self.put32(&body, UInt32(p.bytes.count))
        Self.put32(&body, max(p.wireLength, UInt32(p.bytes.count)))
        body += p.bytes
        Self.pad(&body)
        Self.putOptions(&body, [(1, Array(comment.utf8))])
        block(Block.enhancedPacket, body)
        packets += 1
    }

    /// The bytes produced since the last call.
    public mutating func take() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    private mutating func block(_ type: UInt32, _ body: [UInt8]) {
        let total = UInt32(12 + body.count)
        Self.put32(&output, type)
        Self.put32(&output, total)
        output += body
        Self.put32(&output, total)
    }

    static func putOptions(_ out: inout [UInt8], _ options: [(UInt16, [UInt8])]) {
        for (code, value) in options {
            let v = value.prefix(0xFFFF)
            put16(&out, code)
            put16(&out, UInt16(v.count))
            out += v
            pad(&out)
        }
        put32(&out, 0) // opt_endofopt
    }

    static func pad(_ out: inout [UInt8]) {
        while out.count % 4 != 0 { out.append(0) }
    }
    static func put16(_ out: inout [UInt8], _ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    static func put32(_ out: inout [UInt8], _ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
}
