@testable import FastTrace
import CShim
import Foundation
import Testing

/// One-target loads (fentry, tp_btf) load the first target of each program variant through
/// libbpf and the rest from its prepared form, with the function id written into each load.
struct PreparedLoadTests {
    /// The instructions of a trace program before load, as libbpf read them from the object.
    static func instructions(_ path: KeyPath<TraceBPF.Programs, BPFProgram>) throws -> [bpf_insn] {
        let opened = try TraceBPF.open()
        let p = opened.programs[keyPath: path]
        let n = bpf_program__insn_cnt(p.handle)
        return Array(UnsafeBufferPointer(start: try #require(bpf_program__insns(p.handle)), count: n))
    }

    /// Programs whose load has one target read their id from a marked instruction; programs
    /// that take it from the attach cookie have none. Writing an id changes those
    /// instructions only.
    @Test func markersAreFoundAndWrittenInPlace() throws {
        let tp = try Self.instructions(\.tpSkb1)
        let slots = PreparedLoad.functionIDSlots(tp)
        #expect(!slots.isEmpty)
        #expect(PreparedLoad.functionIDSlots(try Self.instructions(\.fentryDrop12)).count >= 1)
        #expect(PreparedLoad.functionIDSlots(try Self.instructions(\.kprobeSkb1)).isEmpty)
        #expect(PreparedLoad.functionIDSlots(try Self.instructions(\.rtpSkb1)).isEmpty)
        var written = tp
        PreparedLoad.write(0x1234_5678, at: slots, in: &written)
        #expect(PreparedLoad.functionIDSlots(written).isEmpty)
        for i in tp.indices {
            let a = tp[i], b = written[i]
            let same = a.code == b.code && a.imm == b.imm && a.off == b.off
            if slots.contains(i) { #expect(b.imm == 0x1234_5678) } else if slots.contains(i - 1) { #expect(b.imm == 0) } else { #expect(same) }
        }
    }

    /// For real: targets of one variant share a prepared load, and each event still names its
    /// own target. Each loopback datagram passes the targets in a fixed order, and the skb's
    /// length (read by the program itself) differs along the way: P+42 bytes with the Ethernet
    /// header, less once received and pulled. An event carrying another target's id breaks
    /// the order or the length.
    @Test(.enabled(if: TestKernel.has("tp_btf"), TestKernel.whyNot("tp_btf")))
    func eachPreparedTracepointReportsItsOwnTarget() throws {
        try eachPreparedLoadReportsItsOwnTarget(.tracepoint, path: [
            ("net_dev_queue", 42), ("netif_rx", 28), ("net_dev_xmit", 28), ("netif_receive_skb", 28),
        ])
    }

    @Test(.enabled(if: TestKernel.has("fentry"), TestKernel.whyNot("fentry")))
    func eachPreparedFentryReportsItsOwnTarget() throws {
        // __ip_local_out and ip_output take the skb third: a second variant.
        try eachPreparedLoadReportsItsOwnTarget(.fentry, path: [
            ("__ip_local_out", 28), ("ip_output", 28), ("dev_hard_start_xmit", 42), ("ip_rcv", 28), ("udp_rcv", 8),
        ])
    }

    /// `path`: the targets in the order a datagram meets them, with its length there minus the payload.
    func eachPreparedLoadReportsItsOwnTarget(_ backend: Backend, path: [(name: String, header: Int)]) throws {
        let payload = 100, datagrams = 10
        var config = TraceConfig()
        config.backend = backend
        config.filter = try PacketFilter.compile("udp and dst port 47981", timeout: 30)
        config.ringBytesPerCPU = 1 << 20
        let scope: Discovery.Options.Scope = backend == .fentry ? .functions : .tracepoints
        config.discovery = try Discovery.run(.init(scope: scope)).restricted(to: Set(path.map(\.name)))
        let tracer = try Tracer(config)
        #expect(tracer.plan.functions.count == path.count)
        try tracer.attach()
        defer { tracer.detach() }
        #expect(tracer.ignored.isEmpty, "\(tracer.ignored)")
        #expect(tracer.attachedCount == path.count)
        // One libbpf load per variant (skb argument position), the rest prepared.
        let variants = Set(tracer.plan.functions.map(\.position)).count
        #expect(tracer.preparedLoadCount == path.count - variants)
        try sendLoopbackUDP(count: datagrams, size: payload, port: 47981)
        var events: [(ts: UInt64, name: String, len: Int)] = []
        let until = Date().addingTimeInterval(5)
        while events.count < datagrams * path.count, Date() < until {
            tracer.poll(timeoutMs: 100) { e, _ in events.append((e.tsNs, tracer.targets.name(of: e.funcId), Int(e.meta.len))) }
        }
        let seen = events.sorted { $0.ts < $1.ts }.map { "\($0.name):\($0.len)" }
        let one = path.map { "\($0.name):\(payload + $0.header)" }
        #expect(seen == Array((0..<datagrams).map { _ in one }.joined()))
    }
}
