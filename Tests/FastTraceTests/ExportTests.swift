import FastTrace
import Foundation
import Testing

/// Packet bytes in the log (--snaplen) and their pcapng / JSON export.
@Suite struct ExportTests {
    var cli: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }

    // MARK: packets with known addresses and ports

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static let ethernetIPv4: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
    static func tcp(_ s: UInt16, _ d: UInt16) -> [UInt8] {
        be16(s) + be16(d) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
    }
    static func udp(_ s: UInt16, _ d: UInt16, payload: Int) -> [UInt8] {
        be16(s) + be16(d) + be16(UInt16(8 + payload)) + [0, 0] + [UInt8](repeating: 0x61, count: payload)
    }
    static func ipv4(_ src: [UInt8], _ dst: [UInt8], proto: UInt8, _ l4: [UInt8]) -> [UInt8] {
        [0x45, 0] + be16(UInt16(20 + l4.count)) + [0, 1, 0x40, 0, 64, proto, 0, 0] + src + dst + l4
    }
    static func ipv6(_ src: [UInt8], _ dst: [UInt8], next: UInt8, _ l4: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(l4.count)) + [next, 64] + src + dst + l4
    }
    static let v6a: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
    static let v6b: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]

    struct Record { var event: Event; var link: Link; var bytes: [UInt8]; var wire: UInt32 }

    /// One skb through DNAT (80 → 8080) and a drop, an IPv6 UDP packet cut at 48 of its
    /// bytes, and an event without bytes. Interface: lo in our own netns (a real name).
    static func records() -> [Record] {
        let own = InterfaceNames().ownNetns
        var e = Event()
        e.skb = 0xffff_8880_0000_0100
        e.cpu = 1
        e.meta.netns = own
        e.meta.ifindex = 1
        e.tuple.l3Proto = 0x0800
        let syn = ethernetIPv4 + ipv4([10, 1, 2, 3], [10, 9, 8, 7], proto: 6, tcp(40000, 80))
        let natted = ethernetIPv4 + ipv4([10, 1, 2, 3], [10, 9, 8, 7], proto: 6, tcp(40000, 8080))
        var out: [Record] = []
        func add(_ f: UInt32, _ ts: UInt64, _ bytes: [UInt8], wire: Int? = nil, link: Link = .ethernet, drop: UInt32? = nil) {
            e.funcId = f
            e.tsNs = ts
            e.kind = drop == nil ? .func : .drop
            e.dropReason = drop ?? 0
            out.append(Record(event: e, link: link, bytes: bytes, wire: UInt32(wire ?? bytes.count)))
        }
        add(0, 5_000_000_123, syn)
        add(1, 5_000_001_000, natted)
        add(1, 5_000_002_000, natted)         // unchanged: left out by --changed-only
        add(2, 5_000_003_000, natted, drop: 2) // a drop: always kept
        e.skb = 0xffff_8880_0000_0200
        e.cpu = 0
        e.meta.ifindex = 0
        let v6 = ipv6(v6a, v6b, next: 17, udp(5353, 53, payload: 152))
        add(3, 6_000_000_000, Array(v6.prefix(48)), wire: v6.count, link: .raw)
        e.skb = 0xffff_8880_0000_0300
        add(3, 7_000_000_000, [], link: Link(rawValue: 0))
        return out
    }

    static func header(snapLength: Int?) -> LogHeader {
        var h = LogHeader(kernelRelease: "6.18.0-test", hostname: "host", cpus: 2, backend: "tracepoint", filter: nil,
                          arguments: ["fasttrace", "-w", "x.ftlog", "--snaplen", "128"],
                          targets: ["ip_rcv_core", "nf_hook_slow", "kfree_skb_reason", "ip6_output"].map {
                              TracedTarget(name: $0, kind: .function, position: 1, module: nil)
                          },
                          targetAddresses: [0, 0, 0, 0], dropReasons: DropReasons(names: [2: "SKB_DROP_REASON_NOT_SPECIFIED"]),
                          bootToWallNs: 1_700_000_000_000_000_000, startedAt: Date(timeIntervalSince1970: 1_700_000_005))
        h.snapLength = snapLength
        return h
    }

    static func writeLog(_ records: [Record], snapLength: Int? = 128) throws -> String {
        let path = TestSupport.temporaryDirectory("export").appendingPathComponent("p.ftlog").path
        let w = try LogWriter(path: path, header: header(snapLength: snapLength))
        for r in records {
            r.bytes.withUnsafeBytes { b in
                w.append(r.event, packet: PacketBytes(link: r.link, wireLength: r.wire, bytes: b))
            }
        }
        try w.finish(lostPerCPU: [0, 0])
        return path
    }

    // MARK: tests

    /// Packet bytes come back exactly, with their link and wire length, across frames.
    @Test func packetBytesRoundTrip() throws {
        var rng = PacketCorpus.RNG(state: 7)
        let events = LogTests.events(20_000)
        let records = events.map { e -> Record in
            guard rng.chance(60) else { return Record(event: e, link: Link(rawValue: 0), bytes: [], wire: 0) }
            let n = rng.int(300)
            return Record(event: e, link: rng.chance(50) ? .ethernet : .raw, bytes: rng.bytes(n), wire: UInt32(n + rng.int(1500)))
        }
        let path = TestSupport.temporaryDirectory("export").appendingPathComponent("r.ftlog").path
        var o = LogWriter.Options()
        o.frameEvents = 999
        o.frameInterval = 3600 // frames cut by count only: the made-up timestamps are long past
        o.queueDepth = 1 << 20
        let w = try LogWriter(path: path, header: LogTests.header(), options: o)
        for r in records { r.bytes.withUnsafeBytes { w.append(r.event, packet: PacketBytes(link: r.link, wireLength: r.wire, bytes: $0)) } }
        try w.finish(lostPerCPU: [])
        let reader = try LogReader(path: path)
        var back: [Record] = []
        reader.forEachEvent(packets: { e, p in
            back.append(Record(event: e, link: p.link, bytes: p.copiedBytes, wire: p.wireLength))
            return true
        })
        #expect(reader.damageWarning == nil)
        #expect(back.count == records.count)
        func same(_ a: Record, _ b: Record) -> Bool {
            if a.event != b.event || a.link != b.link || a.bytes != b.bytes { return false }
            return b.link.rawValue == 0 || a.wire == b.wire
        }
        let bad = zip(back, records).enumerated().first { !same($0.element.0, $0.element.1) }?.offset
        #expect(bad == nil, "record \(bad ?? -1) differs")
    }

    func tshark(_ pcapng: String, _ fields: [String]) throws -> [[String]] {
        let r = try TestSupport.run("/usr/bin/tshark", ["-r", pcapng, "-T", "fields", "-E", "separator=|"] + fields.flatMap { ["-e", $0] })
        #expect(r.status == 0, "tshark: \(r.stderr)")
        return r.stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    /// tshark reads the export: addresses, ports, lengths, interface names, wall-clock
    /// times, and the comment with the function and the kernel timestamp.
    @Test func tsharkReadsThePcapngExport() throws {
        let log = try Self.writeLog(Self.records())
        let out = TestSupport.temporaryDirectory("export").appendingPathComponent("p.pcapng").path
        let r = try TestSupport.run(cli, ["export", log, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("5 packets exported to \(out); 1 events without packet bytes"), "\(r.stderr)")
        let rows = try tshark(out, ["frame.interface_name", "frame.comment", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport",
                                    "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport", "frame.len", "frame.cap_len", "frame.time_epoch"])
        try #require(rows.count == 5, "\(rows)")
        #expect(rows[0] == ["lo", "ip_rcv_core ktime=5000000123 skb=0xffff888000000100 cpu=1", "10.1.2.3", "10.9.8.7", "40000", "80",
                            "", "", "", "", "54", "54", "1700000005.000000123"])
        #expect(rows[1][1] == "nf_hook_slow ktime=5000001000 skb=0xffff888000000100 cpu=1" && rows[1][5] == "8080", "\(rows[1])")
        #expect(rows[3][1] == "kfree_skb_reason ktime=5000003000 skb=0xffff888000000100 cpu=1 drop=SKB_DROP_REASON_NOT_SPECIFIED")
        #expect(rows[4] == ["no device", "ip6_output ktime=6000000000 skb=0xffff888000000200 cpu=0", "", "", "", "",
                            "2001:db8::1", "2001:db8::2", "5353", "53", "200", "48", "1700000006.000000000"])

        let changed = TestSupport.temporaryDirectory("export").appendingPathComponent("c.pcapng").path
        #expect(try TestSupport.run(cli, ["export", log, "--changed-only", "-o", changed]).status == 0)
        let kept = try tshark(changed, ["frame.comment"]).map { $0[0].split(separator: " ")[0] }
        #expect(kept == ["ip_rcv_core", "nf_hook_slow", "kfree_skb_reason", "ip6_output"])

        let filtered = TestSupport.temporaryDirectory("export").appendingPathComponent("f.pcapng").path
        #expect(try TestSupport.run(cli, ["export", log, "--drops", "-o", filtered]).status == 0)
        #expect(try tshark(filtered, ["tcp.dstport"]) == [["8080"]])
    }

    @Test func jsonExportCarriesThePacket() throws {
        let records = Self.records()
        let log = try Self.writeLog(records)
        let r = try TestSupport.run(cli, ["export", log, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == records.count)
        let first = lines.first?["packet"] as? [String: Any]
        #expect(first?["link"] as? String == "ethernet")
        #expect(first?["hex"] as? String == records[0].bytes.map { String(format: "%02x", $0) }.joined())
        #expect((lines[4]["packet"] as? [String: Any])?["wire_len"] as? Int == 200)
        #expect(lines[5]["packet"] == nil)
    }

    @Test func pcapngWithoutPacketBytesIsAClearError() throws {
        let log = try Self.writeLog(Self.records(), snapLength: nil)
        let r = try TestSupport.run(cli, ["export", log, "-o", "/dev/null"])
        #expect(r.status == 2)
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("--snaplen"), "\(r.stderr)")
    }
}
