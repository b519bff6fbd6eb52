@testable import FastTrace
@testable import FastTraceCLI
import Foundation
import Testing

/// Backends behind one protocol, and plans made without a kernel.
@Suite(.serialized)
struct BackendTests {
    init() { Backend.register(ReceiveOnlyBackend.self) } // the registration line

    /// A discovery as the kernel would give it, from JSON (no kernel needed).
    static let discovery: Discovery = try! JSONDecoder().decode(Discovery.self, from: Data("""
        {"kernelRelease": "test", "source": "kallsyms", "candidates": 4,
         "functions": [
           {"name": "ip_rcv", "position": 1, "addresses": [1000]},
           {"name": "kfree_skb_reason", "position": 1, "addresses": [2000]},
           {"name": "sk_skb_reason_drop", "position": 2, "addresses": [3000]},
           {"name": "odd_one", "position": 6, "addresses": [4000]}],
         "tracepoints": [
           {"name": "netif_receive_skb", "category": "net", "position": 1},
           {"name": "kfree_skb", "category": "skb", "position": 1},
           {"name": "qdisc_dequeue", "category": "qdisc", "position": 4}]}
        """.utf8))

    static func config(_ backend: Backend?) -> TraceConfig {
        var c = TraceConfig()
        c.backend = backend
        c.discovery = discovery
        c.dropReasons = DropReasons(names: [:])
        return c
    }

    static func probe(ok: Set<String>) -> (Backend) -> Feature {
        { b in Feature(name: b.feature, status: ok.contains(b.feature) ? .ok : .unavailable,
                       errno: ok.contains(b.feature) ? nil : "EPERM", phase: "load", detail: "test") }
    }

    @Test func registeredBackendIsKnownByNameButNeverChosenByAuto() throws {
        let b = try #require(Backend(rawValue: "test-receive-only"))
        #expect(b.tracesTracepoints && b.feature == "tp_btf")
        #expect(Backend.names.contains("test-receive-only"))
        #expect(!Backend.allCases.contains(b), "auto's list is the built-in one")
        let plan = try TracePlan(Self.config(nil), probe: Self.probe(ok: ["tp_btf"]))
        #expect(plan.backend == .tracepoint)
        #expect(plan.rejections.map(\.backend) == [.kprobeMulti, .kprobe, .fentry, .tracepointMulti])
    }

    @Test func planOfTheTestBackendPicksItsProgramPerTarget() throws {
        let plan = try TracePlan(Self.config(Backend(rawValue: "test-receive-only")), probe: Self.probe(ok: ["tp_btf"]))
        #expect(plan.targets.map(\.name) == ["netif_receive_skb", "kfree_skb", "qdisc_dequeue"])
        #expect(plan.targets.map { plan.programName(for: $0) } == ["tp_skb_1", nil, nil])
        #expect(plan.descriptorsNeeded(cpus: 2) == 9 + 2 + 64)
        let text = plan.describe(cpus: 2).joined(separator: "\n")
        #expect(text.contains("backend: test-receive-only (asked for)"), "\(text)")
        #expect(text.contains("targets: 3 tracepoints, 1 traceable"), "\(text)")
    }

    /// Each built-in backend's variant per target: drop functions read the reason, the skb
    /// position picks the rest, and a position without a program is reported, not attached.
    @Test(arguments: Backend.allCases)
    func planPicksTheVariants(_ backend: Backend) throws {
        let plan = try TracePlan(Self.config(backend), probe: Self.probe(ok: [backend.feature]))
        let names = Dictionary(uniqueKeysWithValues: plan.targets.map { ($0.name, plan.programName(for: $0) ?? "-") })
        let prefix = ["kprobe-multi": "kmulti", "kprobe": "kprobe", "fentry": "fentry", "tracepoint": "tp", "tracepoint-multi": "rtp"][backend.rawValue]!
        if backend.tracesTracepoints {
            #expect(names == ["netif_receive_skb": "\(prefix)_skb_1", "kfree_skb": "\(prefix)_kfree_skb", "qdisc_dequeue": "-"])
        } else {
            #expect(names == ["ip_rcv": "\(prefix)_skb_1", "kfree_skb_reason": "\(prefix)_drop_1_2",
                              "sk_skb_reason_drop": "\(prefix)_drop_2_3", "odd_one": "-"])
        }
        #expect(plan.describe(cpus: 1).contains { $0.contains("not traced: no program for sk_buff at argument") })
    }

    @Test func askedForBackendTheKernelLacksIsAKernelFeatureError() throws {
        #expect { try TracePlan(Self.config(.fentry), probe: Self.probe(ok: ["tp_btf"])) } throws: { e in
            (e as? TraceError)?.kind == .kernelFeature && "\(e)".contains("backend fentry unavailable: EPERM")
        }
    }

    // MARK: --filter-trace-tc in the plan

    static let loaded = [
        LoadedProgram(id: 42, type: LoadedProgram.schedCls, name: "rewrite_port", hasBTF: true, tag: "00"),
        LoadedProgram(id: 43, type: LoadedProgram.schedCls, name: "old_prog", hasBTF: false, tag: "01"),
    ]

    static func features(_ ok: Bool) -> (String) -> Feature {
        { Feature(name: $0, status: ok ? .ok : .unavailable, errno: ok ? nil : "EPERM", phase: "load", detail: "test") }
    }

    @Test func tcProgramsFollowTheFunctionsAndNeedBTF() throws {
        var config = Self.config(.kprobeMulti)
        config.traceTC = true
        config.loadedPrograms = Self.loaded
        let plan = try TracePlan(config, probe: Self.probe(ok: ["kprobe.multi"]), featureProbe: Self.features(true))
        #expect(plan.functions.count == 4)
        #expect(plan.targets.count == 5, "functions, then programs: a program's id follows them")
        let p = try #require(plan.targets.last)
        #expect(p.name == "tc:rewrite_port[id 42]" && p.kind == .bpfProgram && p.programID == 42 && p.programFunction == "rewrite_port")
        #expect(plan.programName(for: p) == "fentry_prog")
        #expect(plan.untraceablePrograms.map(\.name) == ["tc:old_prog[id 43]"])
        #expect(plan.describe(cpus: 1).contains { $0.hasPrefix("BPF programs (--filter-trace-tc/-xdp): 1 traced") })
    }

    @Test func xdpProgramsGetTheXDPPairAndVerdictNames() throws {
        var config = Self.config(.kprobeMulti)
        config.traceXDP = true
        config.loadedPrograms = Self.loaded + [LoadedProgram(id: 7, type: LoadedProgram.xdp, name: "drop_udp_port", hasBTF: true, tag: "02")]
        let plan = try TracePlan(config, probe: Self.probe(ok: ["kprobe.multi"]), featureProbe: Self.features(true))
        #expect(plan.programs.map(\.name) == ["xdp:drop_udp_port[id 7]"], "only XDP programs without --filter-trace-tc")
        #expect(plan.programName(for: plan.programs[0]) == "fentry_xdp")
        #expect(ProgramVerdicts.name(1, target: plan.programs[0].name) == "XDP_DROP")
        #expect(ProgramVerdicts.name(9, target: plan.programs[0].name) == "XDP_9")
    }

    @Test func tcProgramsWithoutFentryOnProgramsIsBadInput() throws {
        var config = Self.config(.kprobeMulti)
        config.traceTC = true
        config.loadedPrograms = Self.loaded
        #expect { try TracePlan(config, probe: Self.probe(ok: ["kprobe.multi"]), featureProbe: Self.features(false)) } throws: { e in
            (e as? TraceError)?.kind == .badInput && "\(e)".hasPrefix("--filter-trace-tc traces BPF programs with fentry/fexit, which this kernel refuses (EPERM)")
        }
    }

    /// Program events: the direction the program ran in, and the verdict by name, in text
    /// and JSON.
    @Test func programEventsRenderDirectionAndVerdict() throws {
        let targets = [TracedTarget(name: "ip_rcv", kind: .function, position: 1, module: nil),
                       TracedTarget(program: Self.loaded[0])]
        var json = OutputOptions()
        json.json = true
        let text = EventFormatter(options: OutputOptions(), targets: targets, drops: DropReasons(names: [:]))
        let jf = EventFormatter(options: json, targets: targets, drops: DropReasons(names: [:]))
        var e = Event()
        e.funcId = 1
        e.kind = .prog
        e.meta.flags = UInt16(MetaFlag.tcIngress.rawValue)
        #expect(text.funcName(e) == "tc/ingress:rewrite_port[id 42]")
        e.kind = .progExit
        e.dropReason = 2
        #expect(text.funcName(e) == "tc/ingress:rewrite_port[id 42](TC_ACT_SHOT)")
        e.meta.flags = 0
        e.dropReason = UInt32(bitPattern: -1)
        #expect(text.funcName(e) == "tc/egress:rewrite_port[id 42](TC_ACT_UNSPEC)")
        #expect(text.format(e).contains("tc/egress:rewrite_port[id 42](TC_ACT_UNSPEC)"))
        let line = jf.format(e)
        #expect(line.contains("\"func_kind\":\"bpf_program\""), "\(line)")
        #expect(line.contains("\"verdict\":\"TC_ACT_UNSPEC\",\"verdict_value\":-1"), "\(line)")
        // A path step keeps kind, direction and verdict (fasttrace diff).
        #expect(text.funcName(PathDiff.Path.event(PathDiff.Path.step(e))) == text.funcName(e))
    }

    @Test func cliTakesTheTestBackendByName() throws {
        let command = try #require(try FastTraceCommand.parseAsRoot(["trace", "--backend", "test-receive-only"]) as? TraceCommand)
        #expect(try command.makeConfig().backend?.rawValue == "test-receive-only")
        let bad = try #require(try FastTraceCommand.parseAsRoot(["trace", "--backend", "nope"]) as? TraceCommand)
        #expect(throws: UsageError.self) { try bad.makeConfig() }
    }

    /// The test backend for real: a loopback datagram is reported at netif_receive_skb, and
    /// no other tracepoint is attached.
    @Test(.enabled(if: TestKernel.has("tp_btf"), TestKernel.whyNot("tp_btf")))
    func testBackendTraces() throws {
        var config = TraceConfig()
        config.backend = Backend(rawValue: "test-receive-only")
        config.filter = try PacketFilter.compile("udp and dst port 47999", timeout: 30)
        config.ringBytesPerCPU = 1 << 20
        let tracer = try Tracer(config)
        try tracer.attach()
        defer { tracer.detach() }
        #expect(tracer.attachedCount == 1)
        try sendLoopbackUDP(count: 20, port: 47999)
        var seen: [String] = []
        let until = Date().addingTimeInterval(5)
        while seen.count < 20 && Date() < until {
            tracer.poll(timeoutMs: 100) { e, _ in seen.append(tracer.targets.name(of: e.funcId)) }
        }
        #expect(seen.count >= 20)
        #expect(Set(seen) == ["netif_receive_skb"])
    }
}
