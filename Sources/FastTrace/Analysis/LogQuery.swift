import Foundation

/// Which events `fasttrace read` keeps. Every set condition must hold.
public struct EventQuery: Sendable {
    public var functions: NameFilter?
    public var skb: UInt64?
    /// Seconds since the capture started.
    public var since: Double?
    public var until: Double?
    /// Either address of the tuple (IPv4 or IPv6).
    public var host: [UInt8]?
    /// Either port of the tuple.
    public var port: UInt16?
    public var dropsOnly = false

    public init() {}

    /// Parses an IPv4 or IPv6 address into the tuple's 16-byte form; nil if invalid.
    public static func address(_ s: String) -> [UInt8]? {
        var b = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, s, &b) == 1 { return b }
        if inet_pton(AF_INET6, s, &b) == 1 { return b }
        return nil
    }

    public func matches(_ e: Event, header: LogHeader, functionName: (Event) -> String) -> Bool {
        if dropsOnly && e.kind != .drop { return false }
        if let skb, e.skb != skb { return false }
        if since != nil || until != nil {
            let t = header.secondsSinceStart(e.tsNs)
            if let since, t < since { return false }
            if let until, t > until { return false }
        }
        if let port, e.tuple.sport != port && e.tuple.dport != port { return false }
        if let host {
            let s = withUnsafeBytes(of: e.tuple.saddr) { Array($0) }, d = withUnsafeBytes(of: e.tuple.daddr) { Array($0) }
            if s != host && d != host { return false }
        }
        if let functions, !functions.matches(functionName(e)) { return false }
        return true
    }
}

/// A flow as the tuple names it (both directions distinct).
public struct FlowKey: Hashable, Sendable {
    let words: [UInt64]

    public init(_ t: Tuple) {
        let s = withUnsafeBytes(of: t.saddr) { $0.load(as: (UInt64, UInt64).self) }
        let d = withUnsafeBytes(of: t.daddr) { $0.load(as: (UInt64, UInt64).self) }
        words = [s.0, s.1, d.0, d.1, UInt64(t.sport) << 48 | UInt64(t.dport) << 32 | UInt64(t.l3Proto) << 8 | UInt64(t.l4Proto)]
    }
}

/// `fasttrace stats`: counts over a whole log.
public struct LogStats {
    public private(set) var events = 0
    public private(set) var perFunction: [UInt32: Int] = [:]
    public private(set) var perCPU: [UInt32: Int] = [:]
    public private(set) var skbs = Set<UInt64>()
    public private(set) var flows = Set<FlowKey>()
    /// (drop reason, function) → count and an example tuple per flow.
    public private(set) var drops: [DropSite: (count: Int, flows: [FlowKey: (count: Int, example: Event)])] = [:]
    public private(set) var firstNs: UInt64 = .max
    public private(set) var lastNs: UInt64 = 0

    public struct DropSite: Hashable, Sendable {
        public let reason: UInt32
        public let function: UInt32
    }

    /// How often each traced BPF program returned each value.
    public private(set) var verdicts: [ProgramVerdict: Int] = [:]

    public struct ProgramVerdict: Hashable, Sendable {
        public let function: UInt32
        public let value: UInt32
    }

    public init() {}

    public mutating func add(_ e: Event) {
        events += 1
        perFunction[e.funcId, default: 0] += 1
        perCPU[e.cpu, default: 0] += 1
        skbs.insert(e.skb)
        firstNs = min(firstNs, e.tsNs)
        lastNs = max(lastNs, e.tsNs)
        let flow = e.tuple.l3Proto != 0 ? FlowKey(e.tuple) : nil
        if let flow { flows.insert(flow) }
        if e.kind == .progExit { verdicts[ProgramVerdict(function: e.funcId, value: e.dropReason), default: 0] += 1 }
        if e.kind == .drop {
            let site = DropSite(reason: e.dropReason, function: e.funcId)
            var d = drops[site] ?? (0, [:])
            d.count += 1
            if let flow {
                var f = d.flows[flow] ?? (0, e)
                f.count += 1
                d.flows[flow] = f
            }
            drops[site] = d
        }
    }

    /// The report, as text.
    public func render(header: LogHeader, trailer: LogTrailer?, top: Int = 20) -> String {
        var lines: [String] = []
        let seconds = events == 0 ? 0 : Double(lastNs - firstNs) / 1e9
        lines.append("capture: \(header.hostname), kernel \(header.kernelRelease), \(header.backend) backend, \(header.cpus) CPUs, started \(ISO8601DateFormatter().string(from: header.startedAt))")
        if let f = header.filter { lines.append("filter: \(f)") }
        lines.append(String(format: "events: %d over %.3f s; %d distinct skbs, %d flows", events, seconds, skbs.count, flows.count))
        if let t = trailer {
            let lost = t.lostPerCPU.reduce(0, +)
            let perCPU = t.lostPerCPU.enumerated().filter { $0.element > 0 }.map { "cpu\($0.offset): \($0.element)" }
            lines.append("lost: \(lost) in the kernel (rings full)\(perCPU.isEmpty ? "" : " [\(perCPU.joined(separator: ", "))]"), \(t.writerDropped) by the writer\(t.outputDropped.map { $0 > 0 ? ", \($0) by the live output" : "" } ?? "")\(t.trackOverflow > 0 ? ", \(t.trackOverflow) skbs not tracked" : "")")
        } else {
            lines.append("lost: unknown (no trailer: the capture did not stop cleanly)")
        }
        lines.append("")
        lines.append("drops (reason, where, flows):")
        if drops.isEmpty { lines.append("  none") }
        for (site, d) in drops.sorted(by: { $0.value.count > $1.value.count }).prefix(top) {
            lines.append("  \(d.count)\t\(header.drops.name(site.reason)) at \(header.targets.name(of: site.function))")
            for (_, f) in d.flows.sorted(by: { $0.value.count > $1.value.count }).prefix(5) {
                lines.append("      \(f.count)\t\(EventFormatter.tuple(f.example.tuple))")
            }
        }
        if !verdicts.isEmpty {
            lines.append("")
            lines.append("BPF program verdicts (--filter-trace-tc):")
            for (v, n) in verdicts.sorted(by: { $0.value > $1.value }) {
                let name = header.targets.name(of: v.function)
                lines.append("  \(n)\t\(name) \(ProgramVerdicts.name(v.value, target: name))")
            }
        }
        lines.append("")
        lines.append("events per function (top \(top)):")
        for (id, n) in perFunction.sorted(by: { $0.value > $1.value }).prefix(top) {
            lines.append("  \(n)\t\(header.targets.name(of: id))")
        }
        lines.append("")
        lines.append("events per CPU: " + perCPU.sorted { $0.key < $1.key }.map { "cpu\($0.key) \($0.value)" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}
