import FastTrace
import Foundation
import Testing

/// Loads a generated skeleton for real: tp_btf programs, load-time config, a typed per-CPU
/// map and a .bss global, with loopback traffic in between.
@Suite(.serialized, .enabled(if: KernelInfo.isRoot, "needs root (CAP_BPF, CAP_PERFMON)"))
struct SkeletonTests {
    func totals(_ loaded: SkbcountBPF.Loaded) throws -> SkbCounters {
        try loaded.maps.counters.lookup(0).reduce(into: SkbCounters()) { sum, cpu in
            sum.rxPackets += cpu.rxPackets; sum.rxBytes += cpu.rxBytes
            sum.txPackets += cpu.txPackets; sum.txBytes += cpu.txBytes
        }
    }

    @Test func countsLoopbackPacketsThroughTypedMap() throws {
        let lo = if_nametoindex("lo")
        try #require(lo > 0)
        let opened = try SkbcountBPF.open()
        #expect(opened.config.filterIfindex == 0)
        opened.config.filterIfindex = lo
        let loaded = try opened.load()
        #expect(loaded.config.filterIfindex == lo, "config survives load")
        let links = try loaded.attach()
        #expect(links.count == 2)
        try sendLoopbackUDP(count: 50)
        let t = try totals(loaded)
        #expect(t.rxPackets >= 50)
        #expect(t.txPackets >= 50)
        #expect(t.rxBytes >= 50 * 100)
        #expect(loaded.bss.lastIfindex == lo, ".bss global written by the program, read through mmap")
        links.forEach { $0.detach() }
        let after = try totals(loaded)
        try sendLoopbackUDP(count: 10)
        #expect(try totals(loaded) == after, "no counting after detach")
    }

    @Test func configFiltersByInterface() throws {
        let opened = try SkbcountBPF.open()
        opened.config.filterIfindex = 0x7fff_fff0 // no such interface
        let loaded = try opened.load()
        let links = try loaded.attach()
        try sendLoopbackUDP(count: 20)
        let t = try totals(loaded)
        #expect(t.rxPackets == 0 && t.txPackets == 0, "filtered out by load-time config: \(t)")
        _ = links
    }

    @Test func loadErrorsCarryErrnoAndLibbpfMessage() throws {
        // fentry to a function that does not exist: libbpf fails at load and says why.
        let opened = try ProbesBPF.open()
        for p in opened.programs.all { p.autoload = p === opened.programs.probeFentry }
        do {
            try opened.programs.probeFentry.setAttachTarget(function: "no_such_function_ft")
            _ = try opened.load()
            Issue.record("load succeeded")
        } catch {
            #expect(error.errno.rawValue != 0)
            #expect(!error.description.contains("\n"))
            #expect(error.description.hasPrefix("load probes:") || error.description.hasPrefix("set attach target"), "\(error)")
        }
    }
}
