import FastTrace
import Foundation
import Testing

/// Each attach mode, for real, with events counted: on the host only tp_btf runs (no
/// kprobes, fentry refused); the VM suite runs the rest on 6.1 and 6.12.
@Suite(.serialized, .enabled(if: KernelInfo.isRoot, "needs root (CAP_BPF, CAP_PERFMON)"))
struct AttachModeTests {
    /// Opens hitcount with only `program` enabled.
    func open(only program: KeyPath<HitcountBPF.Programs, BPFProgram>) throws -> HitcountBPF.Opened {
        let opened = try HitcountBPF.open()
        let chosen = opened.programs[keyPath: program]
        for p in opened.programs.all { p.autoload = p === chosen }
        return opened
    }

    func hits(_ loaded: HitcountBPF.Loaded, slot: UInt32) throws -> UInt64 {
        try loaded.maps.hits.lookup(slot).reduce(0, +)
    }

    @Test(.enabled(if: TestKernel.has("kprobe"), TestKernel.whyNot("kprobe")))
    func kprobeCountsUDPSends() throws {
        let loaded = try open(only: \.hitKprobe).load()
        let link = try loaded.programs.hitKprobe.attachKprobe(function: "udp_sendmsg", cookie: 3)
        try sendLoopbackUDP(count: 40)
        #expect(try hits(loaded, slot: 3) >= 40)
        link.detach()
    }

    @Test(.enabled(if: TestKernel.has("kprobe.multi"), TestKernel.whyNot("kprobe.multi")))
    func kprobeMultiCountsEachFunctionByCookie() throws {
        let loaded = try open(only: \.hitKprobeMulti).load()
        let link = try loaded.programs.hitKprobeMulti.attachKprobeMulti(
            symbols: ["udp_sendmsg", "ip_rcv"], cookies: [5, 6])
        try sendLoopbackUDP(count: 40)
        #expect(try hits(loaded, slot: 5) >= 40, "udp_sendmsg")
        #expect(try hits(loaded, slot: 6) >= 40, "ip_rcv")
        link.detach()
    }

    @Test(.enabled(if: TestKernel.has("kprobe.multi"), TestKernel.whyNot("kprobe.multi")))
    func kprobeMultiAttachesByAddress() throws {
        let address = try #require(try kallsymsAddress(of: "udp_sendmsg"), "udp_sendmsg in /proc/kallsyms")
        let loaded = try open(only: \.hitKprobeMulti).load()
        let link = try loaded.programs.hitKprobeMulti.attachKprobeMulti(addresses: [address], cookies: [7])
        try sendLoopbackUDP(count: 40)
        #expect(try hits(loaded, slot: 7) >= 40)
        link.detach()
    }

    @Test(.enabled(if: TestKernel.has("fentry"), TestKernel.whyNot("fentry")))
    func fentryCountsUDPSends() throws {
        let opened = try open(only: \.hitFentry)
        opened.config.fixedSlot = 9
        try opened.programs.hitFentry.setAttachTarget(function: "udp_sendmsg")
        let loaded = try opened.load()
        let link = try loaded.programs.hitFentry.attachTrace()
        try sendLoopbackUDP(count: 40)
        #expect(try hits(loaded, slot: 9) >= 40)
        link.detach()
    }

    @Test(.enabled(if: TestKernel.has("tp_btf"), TestKernel.whyNot("tp_btf")))
    func tpBtfCountsReceives() throws {
        let opened = try open(only: \.hitTpBtf)
        opened.config.fixedSlot = 11
        let loaded = try opened.load()
        let link = try loaded.programs.hitTpBtf.attach()
        try sendLoopbackUDP(count: 40)
        #expect(try hits(loaded, slot: 11) >= 40)
        link.detach()
        let after = try hits(loaded, slot: 11)
        try sendLoopbackUDP(count: 10)
        #expect(try hits(loaded, slot: 11) == after, "detached: no more hits")
    }

    /// The address of a text symbol (root sees real addresses in /proc/kallsyms).
    func kallsymsAddress(of name: String) throws -> UInt? {
        // /proc files report size 0: read to EOF.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/kallsyms"))
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 3, f[2] == name, f[1] == "T" || f[1] == "t" { return UInt(f[0], radix: 16) }
        }
        return nil
    }
}

/// In the VM suite: the kernel offers exactly what the harness expects, as `fasttrace
/// features --json` reports it.
@Suite(.enabled(if: !TestKernel.expected.isEmpty, "only in the VM suite (FASTTRACE_EXPECT_FEATURES unset)"))
struct KernelExpectationTests {
    @Test func featuresCommandReportsTheExpectedModes() throws {
        let cli = TestSupport.productsDir.appendingPathComponent("fasttrace").path
        let r = try TestSupport.run(cli, ["features", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONDecoder().decode(FeatureReport.self, from: Data(r.stdout.utf8))
        for (name, want) in TestKernel.expected.sorted(by: { $0.key < $1.key }) {
            let f = try #require(report[name], "\(name) missing from the report")
            let got = f.ok ? "ok" : (f.errno ?? "?")
            #expect(got == want, "\(name) on \(report.kernelRelease): expected \(want), got \(got) (\(f.detail))")
        }
    }
}
