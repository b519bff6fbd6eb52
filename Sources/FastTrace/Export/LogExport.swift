import Foundation

/// A capture log's packets as pcapng: what each record's comment and each interface's name
/// say (docs/log-format.md, "Export").
public struct LogPcapngExport {
    private var writer: PcapngWriter
    /// Events that passed the filters but carry no packet bytes.
    public private(set) var withoutBytes = 0
    /// Events left out by `changedOnly` because their bytes equal the skb's last record.
    public private(set) var unchanged = 0
    private let header: LogHeader
    private let drops: DropReasons
    private let interfaceNames: [String: String]
    private let changedOnly: Bool
    private var lastBytes: [UInt64: Int] = [:] // skb → hash of its last written bytes

    /// `changedOnly`: write an skb's packet only when its bytes differ from the skb's last
    /// record (its first sighting and every rewrite) or it is dropped, instead of once per event.
    public init(log: LogReader, changedOnly: Bool = false) {
        header = log.header
        drops = log.header.drops
        interfaceNames = log.trailer?.interfaces ?? [:]
        self.changedOnly = changedOnly
        let args = log.header.arguments.joined(separator: " ")
        writer = PcapngWriter(application: "fasttrace \(FastTraceVersion.string)", os: "Linux \(log.header.kernelRelease)",
                              hardware: nil, comment: "\(log.header.hostname): \(args)",
                              snapLength: log.header.snapLength ?? TraceConfig.maxSnapLength)
    }

    /// pcapng bytes produced so far and not yet taken.
    public var pending: Int { writer.output.count }
    public var packets: Int { writer.packets }
    public mutating func take() -> [UInt8] { writer.take() }

    public mutating func add(_ e: Event, _ p: PacketBytes) {
        guard !p.isEmpty else {
            withoutBytes += 1
            return
        }
        if changedOnly {
            var h = Hasher()
            h.combine(bytes: p.bytes)
            h.combine(p.wireLength)
            let hash = h.finalize()
            defer { lastBytes[e.skb] = hash }
            if lastBytes[e.skb] == hash && e.kind != .drop { // a drop is always worth a record
                unchanged += 1
                return
            }
        }
        let wall = UInt64(max(Int64(0), Int64(bitPattern: e.tsNs) &+ header.bootToWallNs))
        let names = interfaceNames
        writer.packet(p, key: .init(netns: e.meta.netns, ifindex: e.meta.ifindex, link: p.link.rawValue),
                      wallNs: wall, comment: comment(e)) { key in
            let name = key.ifindex == 0 ? "no device" : names["\(key.netns):\(key.ifindex)"] ?? "ifindex \(key.ifindex)"
            let view = key.link == Link.ethernet.rawValue ? "from the MAC header" : "from the network header"
            return (name, "netns \(key.netns), ifindex \(key.ifindex), packets \(view)")
        }
    }

    /// `ip_rcv_core ktime=123456789 skb=0xffff888… cpu=1 [drop=SKB_DROP_REASON_…]`
    func comment(_ e: Event) -> String {
        var s = "\(header.targets.name(of: e.funcId)) ktime=\(e.tsNs) skb=0x\(String(e.skb, radix: 16)) cpu=\(e.cpu)"
        if e.kind == .drop { s += " drop=\(drops.name(e.dropReason))" }
        return s
    }
}
