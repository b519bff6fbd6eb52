/// Deterministic generator of Ethernet frames for filter tests: IPv4 (options, fragments),
/// IPv6 (extension-header chains), TCP/UDP/ICMP/ICMPv6/SCTP/GRE, ARP, other ethertypes,
/// 802.1Q and QinQ tags, malformed and truncated frames. Addresses and ports come from
/// small pools so that host/net/port filters match a fair share of the corpus.
struct PacketCorpus {
    struct Packet {
        var frame: [UInt8]
        /// Where the network header starts (after Ethernet and VLAN tags).
        var l3Offset: Int
        /// When set, also test with only this many bytes captured (caplen < wirelen).
        var caplenCut: Int?
        var summary: String
    }

    /// SplitMix64: tiny, seedable, good enough for test data.
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    static let macs: [[UInt8]] = [
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
        [0x02, 0x00, 0x00, 0x00, 0x00, 0x01], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], [0x33, 0x33, 0x00, 0x00, 0x00, 0x01],
    ]
    static let v4: [[UInt8]] = [
        [10, 0, 0, 1], [10, 0, 0, 2], [10, 1, 2, 3], [192, 168, 1, 1], [192, 168, 1, 20], [172, 16, 5, 4],
        [8, 8, 8, 8], [224, 0, 0, 1], [255, 255, 255, 255], [127, 0, 0, 1], [10, 77, 0, 1],
    ]
    static let v6: [[UInt8]] = [
        v6addr([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), v6addr([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]),
        v6addr([0x2001, 0xdb8, 1, 0, 0, 0, 0, 5]), v6addr([0xfe80, 0, 0, 0, 0, 0, 0, 1]),
        v6addr([0, 0, 0, 0, 0, 0, 0, 1]), v6addr([0xff02, 0, 0, 0, 0, 0, 0, 1]),
    ]
    static let ports: [UInt16] = [22, 53, 80, 443, 8080, 1024, 5000, 5005, 5010, 65535, 0, 3, 50, 60]

    static func v6addr(_ words: [UInt16]) -> [UInt8] { words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } }
    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func generate(count: Int, seed: UInt64) -> [Packet] {
        var rng = RNG(state: seed)
        return (0..<count).map { _ in packet(&rng) }
    }

    static func packet(_ r: inout RNG) -> Packet {
        var frame = r.pick(macs) + r.pick(macs)
        var summary: [String] = []
        // VLAN tags: none, 802.1Q, or QinQ (802.1ad outer).
        let tags = r.chance(65) ? 0 : r.chance(70) ? 1 : 2
        for t in 0..<tags {
            let tpid = t == 0 && tags == 2 && r.chance(50) ? 0x88a8 : 0x8100
            let vid = r.pick([1, 100, 200, 4094, r.int(4096)])
            frame += be16(tpid) + be16((r.int(8) << 13) | vid)
            summary.append("vlan \(vid)")
        }
        let kind = r.int(100)
        var l3: [UInt8]
        let ethertype: Int
        switch kind {
        case 0..<42: (l3, ethertype) = (ipv4(&r, &summary), 0x0800)
        case 42..<75: (l3, ethertype) = (ipv6(&r, &summary), 0x86dd)
        case 75..<87: (l3, ethertype) = (arp(&r, &summary), r.chance(85) ? 0x0806 : 0x8035)
        case 87..<92: (l3, ethertype) = (r.bytes(r.int(60)), r.pick([0x88cc, 0x8847, 0x8863, 0x8864, 0x6558]))
        case 92..<96: (l3, ethertype) = (r.bytes(r.int(80)), r.int(1500)) // 802.3 length field (LLC)
        default: (l3, ethertype) = (r.bytes(r.int(80)), r.pick([0x0800, 0x86dd])) // garbage claiming to be IP
        }
        if ethertype < 1536 { summary.append("802.3") }
        frame += be16(ethertype)
        let l3Offset = frame.count
        frame += l3
        // Truncated on the wire: the frame ends early.
        if r.chance(8) {
            frame = Array(frame.prefix(r.int(frame.count + 1)))
            summary.append("truncated to \(frame.count)")
        }
        let cut = r.chance(12) ? r.int(frame.count + 1) : nil
        if let cut { summary.append("caplen \(cut)") }
        return Packet(frame: frame, l3Offset: l3Offset, caplenCut: cut, summary: summary.joined(separator: " "))
    }

    static func ipv4(_ r: inout RNG, _ summary: inout [String]) -> [UInt8] {
        let options = r.chance(15) ? r.bytes(4 * (1 + r.int(10))).map { $0 == 0 ? 1 : $0 } : []
        let proto = r.pick([6, 6, 6, 17, 17, 1, 1, 2, 47, 132, 51, 50, 89, r.int(256)])
        var flagsFrag = 0
        if r.chance(30) { flagsFrag |= 0x4000 }                    // DF
        if r.chance(12) { flagsFrag |= 0x2000 }                    // MF
        if r.chance(12) { flagsFrag |= r.int(0x2000) }             // fragment offset
        let l4 = flagsFrag & 0x1fff != 0 ? r.bytes(r.int(40)) : transport(&r, proto: proto, v6: false, &summary)
        let ihl = 5 + options.count / 4
        let total = r.chance(95) ? 4 * ihl + l4.count : r.int(2000)
        let src = r.pick(v4), dst = r.pick(v4)
        var h: [UInt8] = [UInt8(0x40 | ihl), UInt8(r.pick([0, 0x10, 0xb8, r.int(256)]))]
        h += be16(total) + be16(r.int(65536)) + be16(flagsFrag)
        h += [UInt8(r.pick([0, 1, 64, 255, r.int(256)])), UInt8(proto)] + be16(r.int(65536))
        h += src + dst + options
        summary.insert("ip \(src.map(String.init).joined(separator: ".")) > \(dst.map(String.init).joined(separator: ".")) proto \(proto) frag 0x\(String(flagsFrag, radix: 16))", at: 0)
        return h + l4
    }

    static func ipv6(_ r: inout RNG, _ summary: inout [String]) -> [UInt8] {
        let final = r.pick([6, 6, 17, 17, 58, 58, 59, 132, r.int(256)])
        // Extension headers: hop-by-hop (only first), routing, fragment, destination options, AH.
        var chain: [Int] = []
        for _ in 0..<r.pick([0, 0, 0, 1, 1, 2, 3, 5]) {
            var h = r.pick([0, 43, 44, 60, 60, 51])
            if h == 0 && !chain.isEmpty { h = 60 }
            chain.append(h)
        }
        let l4 = transport(&r, proto: final, v6: true, &summary)
        var body: [UInt8] = []
        for (i, h) in chain.enumerated().reversed() {
            let next = i + 1 < chain.count ? chain[i + 1] : final
            switch h {
            case 44: // fragment: fixed 8 bytes
                body = [UInt8(next), 0] + be16((r.int(0x2000) << 3) | (r.chance(50) ? 1 : 0)) + r.bytes(4) + body
            case 51: // AH: length in 4-byte units minus 2
                let len = 1 + r.int(3)
                body = [UInt8(next), UInt8(len * 2)] + r.bytes((len + 1) * 8 - 2) + body
            default: // length in 8-byte units, not counting the first 8
                let len = r.int(3)
                body = [UInt8(next), UInt8(len)] + r.bytes((len + 1) * 8 - 2) + body
            }
        }
        body += l4
        let first = chain.first ?? final
        let src = r.pick(v6), dst = r.pick(v6)
        var h: [UInt8] = [0x60 | UInt8(r.int(16)), UInt8(r.int(256)), UInt8(r.int(256)), UInt8(r.int(256))]
        h += be16(r.chance(95) ? body.count : r.int(2000)) + [UInt8(first), UInt8(r.pick([0, 1, 64, 255]))]
        h += src + dst
        summary.insert("ip6 nh \(first) chain \(chain) final \(final)", at: 0)
        return h + body
    }

    static func transport(_ r: inout RNG, proto: Int, v6: Bool, _ summary: inout [String]) -> [UInt8] {
        let payload = r.bytes(r.pick([0, 0, 4, 16, 64, r.int(200)]))
        switch proto {
        case 6:
            let opts = r.chance(30) ? r.bytes(4 * (1 + r.int(10))) : []
            let flags = r.pick([0x02, 0x12, 0x10, 0x11, 0x04, 0x18, 0x20, 0x00, 0x40, 0x80, 0x29, r.int(256)])
            let sport = Int(r.pick(ports)), dport = Int(r.pick(ports))
            var h = be16(sport) + be16(dport) + r.bytes(8)
            h += [UInt8((5 + opts.count / 4) << 4), UInt8(flags)] + be16(r.int(65536)) + r.bytes(4) + opts
            summary.append("tcp \(sport) > \(dport) flags 0x\(String(flags, radix: 16))")
            return h + (r.chance(10) ? Array("GET / HTTP/1.1\r\n".utf8) : []) + payload
        case 17, 132:
            let sport = Int(r.pick(ports)), dport = Int(r.pick(ports))
            summary.append("\(proto == 17 ? "udp" : "sctp") \(sport) > \(dport)")
            let tail: [UInt8] = proto == 17 ? be16(8 + payload.count) + r.bytes(2) : r.bytes(8)
            return be16(sport) + be16(dport) + tail + (r.chance(10) ? [0xde, 0xad, 0xbe, 0xef] : []) + payload
        case 1, 58:
            let type = proto == 1 ? r.pick([0, 3, 5, 8, 11, 13, 17, r.int(256)]) : r.pick([1, 128, 129, 133, 134, 135, 136, r.int(256)])
            summary.append("icmp\(proto == 58 ? "6" : "") type \(type)")
            return [UInt8(type), UInt8(r.int(16))] + r.bytes(6) + payload
        default:
            return payload
        }
    }

    static func arp(_ r: inout RNG, _ summary: inout [String]) -> [UInt8] {
        let op = r.pick([1, 2, 3, 4])
        let spa = r.pick(v4), tpa = r.pick(v4)
        summary.append("arp op \(op)")
        return be16(1) + be16(0x0800) + [6, 4] + be16(op) + r.pick(macs) + spa + r.pick(macs) + tpa
    }
}
