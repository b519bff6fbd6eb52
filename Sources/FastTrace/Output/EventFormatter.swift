import Foundation

/// Turns events into pwru-style text columns or JSON lines.
public struct OutputOptions: Sendable {
    public enum Timestamp: String, CaseIterable, Sendable { case none, relative, absolute, current }
    public var tuple = true
    public var meta = true
    public var tcpFlags = false
    public var stack = false
    public var caller = false
    public var timestamp: Timestamp = .none
    public var json = false
    public init() {}
}

/// Resolves what the event only carries as numbers: stack ids, caller addresses.
public struct EventContext {
    public var stack: (Int32) -> [UInt64] = { _ in [] }
    public var symbols: KernelSymbols?
    public init(stack: @escaping (Int32) -> [UInt64] = { _ in [] }, symbols: KernelSymbols? = nil) {
        self.stack = stack
        self.symbols = symbols
    }
}

public final class EventFormatter {
    let options: OutputOptions
    let context: EventContext
    let targets: [TracedTarget]
    let drops: DropReasons
    let interfaces: InterfaceNames
    /// CLOCK_REALTIME − CLOCK_MONOTONIC: bpf_ktime_get_ns is monotonic.
    let bootToWall: Double
    private var lastSeen: [UInt64: UInt64] = [:]

    public init(options: OutputOptions, targets: [TracedTarget], drops: DropReasons, context: EventContext = .init()) {
        self.options = options
        self.context = context
        self.targets = targets
        self.drops = drops
        interfaces = InterfaceNames()
        bootToWall = Double(LogHeader.currentBootToWall()) / 1e9
    }

    /// For events read back from a log: the capture's function table, drop-reason names,
    /// clock offset and interface names.
    public init(options: OutputOptions, log: LogReader) {
        self.options = options
        context = .init()
        targets = log.header.targets
        drops = log.header.drops
        interfaces = InterfaceNames(recorded: log.trailer?.interfaces ?? [:])
        bootToWall = Double(log.header.bootToWallNs) / 1e9
    }

    public var header: String? {
        guard !options.json else { return nil }
        var cols = [pad("SKB", 18), pad("CPU", 3), pad("PROCESS", 20)]
        if options.timestamp != .none { cols.insert(pad("TIME", 16), at: 0) }
        if options.meta { cols += [pad("NETNS", 10), pad("MARK/x", 10), pad("IFACE", 14), pad("PROTO", 6), pad("MTU", 5), pad("LEN", 5)] }
        if options.tuple { cols.append(pad("TUPLE", 44)) }
        cols.append("FUNC")
        if options.caller { cols.append("CALLER") }
        return cols.joined(separator: " ")
    }

    public func funcName(_ e: Event) -> String {
        let base = targets.name(of: e.funcId)
        return e.kind == .drop ? "\(base)(\(drops.name(e.dropReason)))" : base
    }

    public func ifname(_ e: Event) -> String {
        e.meta.ifindex == 0 ? "" : interfaces.name(netns: e.meta.netns, ifindex: e.meta.ifindex)
    }

    func timestamp(_ e: Event) -> String {
        switch options.timestamp {
        case .none: return ""
        case .absolute: return String(e.tsNs)
        case .relative:
            let prev = lastSeen[e.skb]
            lastSeen[e.skb] = e.tsNs
            return String(prev.map { e.tsNs &- $0 } ?? 0)
        case .current:
            let t = bootToWall + Double(e.tsNs) / 1e9
            var tt = time_t(t)
            var tmv = tm()
            localtime_r(&tt, &tmv)
            return String(format: "%02d:%02d:%02d.%06d", tmv.tm_hour, tmv.tm_min, tmv.tm_sec, Int((t - Double(Int(t))) * 1e6))
        }
    }

    /// One line, without the newline. Packet bytes (`--snaplen`) appear in JSON only.
    public func format(_ e: Event, packet: PacketBytes = .none) -> String {
        options.json ? json(e, packet: packet) : text(e)
    }

    func text(_ e: Event) -> String {
        var cols = [pad("0x" + String(e.skb, radix: 16), 18), pad(String(e.cpu), 3),
                    pad("[\(e.commString)(\(e.tgid))]", 20)]
        if options.timestamp != .none { cols.insert(pad(timestamp(e), 16), at: 0) }
        if options.meta {
            let m = e.meta
            cols += [pad(String(m.netns), 10), pad("0x" + String(m.mark, radix: 16), 10),
                     pad(e.meta.ifindex == 0 ? "" : "\(ifname(e)):\(m.ifindex)", 14),
                     pad(String(format: "0x%04x", m.protocol), 6), pad(String(m.mtu), 5), pad(String(m.len), 5)]
        }
        if options.tuple { cols.append(pad(Self.tuple(e.tuple, flags: options.tcpFlags), 44)) }
        cols.append(funcName(e))
        if options.caller { cols.append(e.caller == 0 ? "-" : symbol(e.caller)) }
        var line = cols.joined(separator: " ")
        if options.stack {
            for frame in context.stack(e.stackId) { line += "\n    " + symbol(frame) }
        }
        return line
    }

    static let l4Names: [UInt8: String] = [1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6", 132: "sctp"]

    static func address(_ bytes: InlineArray<16, UInt8>, v6: Bool) -> String {
        withUnsafeBytes(of: bytes) { raw in
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(v6 ? AF_INET6 : AF_INET, raw.baseAddress, &buf, socklen_t(buf.count))
            return String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self)
        }
    }

    /// `saddr:sport->daddr:dport(proto)`, IPv6 in brackets, as pwru prints it.
    public static func tuple(_ t: Tuple, flags: Bool = false) -> String {
        guard t.l3Proto == 0x0800 || t.l3Proto == 0x86DD else { return "" }
        let v6 = t.l3Proto == 0x86DD
        let s = address(t.saddr, v6: v6), d = address(t.daddr, v6: v6)
        let proto = l4Names[t.l4Proto] ?? String(t.l4Proto)
        let src = v6 ? "[\(s)]:\(t.sport)" : "\(s):\(t.sport)"
        let dst = v6 ? "[\(d)]:\(t.dport)" : "\(d):\(t.dport)"
        var out = "\(src)->\(dst)(\(proto))"
        if flags, t.l4Proto == 6 { out += ":" + tcpFlagNames(t.tcpFlags) }
        return out
    }

    public static func tcpFlagNames(_ f: UInt8) -> String {
        let names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
        let set = names.indices.filter { f & (1 << $0) != 0 }.map { names[$0] }
        return set.isEmpty ? "-" : set.joined(separator: "|")
    }

    func json(_ e: Event, packet: PacketBytes = .none) -> String {
        var o: [String: Any] = [
            "type": "event", "skb": "0x" + String(e.skb, radix: 16), "cpu": e.cpu, "pid": e.pid, "tgid": e.tgid,
            "process": e.commString, "time_ns": e.tsNs, "func": funcName(e),
            "func_kind": Int(e.funcId) < targets.count ? targets[Int(e.funcId)].kind.rawValue : "unknown",
            "netns": e.meta.netns, "mark": e.meta.mark, "ifindex": e.meta.ifindex, "iface": ifname(e),
            "protocol": e.meta.protocol, "mtu": e.meta.mtu, "len": e.meta.len,
        ]
        if e.kind == .drop {
            o["drop_reason"] = drops.name(e.dropReason)
            o["drop_reason_value"] = e.dropReason
        }
        let t = e.tuple
        if t.l3Proto == 0x0800 || t.l3Proto == 0x86DD {
            let v6 = t.l3Proto == 0x86DD
            o["tuple"] = ["saddr": Self.address(t.saddr, v6: v6), "daddr": Self.address(t.daddr, v6: v6),
                          "sport": t.sport, "dport": t.dport, "l4_proto": Self.l4Names[t.l4Proto] ?? String(t.l4Proto),
                          "tcp_flags": Self.tcpFlagNames(t.tcpFlags)] as [String: Any]
        }
        if e.stackId >= 0 {
            o["stack_id"] = e.stackId
            if options.stack { o["stack"] = context.stack(e.stackId).map(symbol) }
        }
        if options.caller, e.caller != 0 { o["caller"] = symbol(e.caller) }
        if !packet.isEmpty {
            o["packet"] = ["link": packet.link == .ethernet ? "ethernet" : "raw", "wire_len": packet.wireLength,
                           "hex": Self.hex(packet.bytes)] as [String: Any]
        }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension EventFormatter {
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: bytes.count * 2)
        for (i, b) in bytes.enumerated() {
            out[2 * i] = digits[Int(b >> 4)]
            out[2 * i + 1] = digits[Int(b & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func symbol(_ address: UInt64) -> String {
        context.symbols?.describe(address) ?? "0x" + String(address, radix: 16)
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
