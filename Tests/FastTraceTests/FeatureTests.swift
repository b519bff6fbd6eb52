import FastTrace
import Foundation
import Testing

@Suite(.enabled(if: KernelInfo.isRoot, "needs root (CAP_BPF, CAP_PERFMON)"))
struct FeatureTests {
    static let names = ["btf", "bpf", "kprobe", "kprobe.multi", "fentry", "fexit", "tp_btf", "raw_tp",
                        "tracepoint", "tracepoint.multi", "ringbuf", "bpf_prog_trace", "bpf_get_func_ip", "bpf_snprintf_btf"]

    @Test func reportCoversEveryModeWithReasons() {
        let report = FeatureProbe.run()
        #expect(report.features.map(\.name) == Self.names)
        #expect(report.kernelRelease == KernelInfo.release)
        for f in report.features where !f.ok {
            #expect(f.errno?.hasPrefix("E") == true, "\(f.name): errno name, got \(f.errno ?? "nil")")
            #expect(f.phase != nil)
            #expect(!f.detail.isEmpty && !f.detail.contains("\n"))
        }
    }

    @Test func reportAgreesWithTheKernel() {
        let report = FeatureProbe.run()
        let hasBTF = FileManager.default.fileExists(atPath: KernelInfo.vmlinuxBTFPath)
        #expect(report["btf"]?.ok == hasBTF)
        #expect(report["bpf"]?.ok == true)
        // kprobes come and go with CONFIG_KPROBES, visible as the perf PMU / kprobe_events.
        #expect(report["kprobe"]?.ok == KernelInfo.hasKprobes, "\(String(describing: report["kprobe"]))")
        if !KernelInfo.hasKprobes {
            #expect(report["kprobe"]?.detail.contains("no kprobes") == true)
            #expect(report["kprobe.multi"]?.ok == false)
        }
        // kprobe.multi without kprobes is impossible.
        if report["kprobe.multi"]?.ok == true { #expect(report["kprobe"]?.ok == true) }
        // Every kernel fasttrace supports (5.5+ with BTF) has tp_btf and raw_tp.
        if hasBTF {
            #expect(report["tp_btf"]?.ok == true)
            #expect(report["raw_tp"]?.ok == true)
        }
        #expect(report["tracepoint"]?.ok == (KernelInfo.tracefsPath != nil))
    }
}

@Suite struct CLITests {
    var fasttrace: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }

    @Test func version() throws {
        let r = try TestSupport.run(fasttrace, ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == FastTraceVersion.string)
    }

    @Test func helpTeaches() throws {
        let r = try TestSupport.run(fasttrace, ["features", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("--json"))
        #expect(r.stdout.contains("kprobe.multi"))
    }

    @Test(.enabled(if: KernelInfo.isRoot, "needs root")) func featuresJSONParses() throws {
        let r = try TestSupport.run(fasttrace, ["features", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONDecoder().decode(FeatureReport.self, from: Data(r.stdout.utf8))
        #expect(report.features.map(\.name) == FeatureTests.names)
    }

    @Test func unknownFlagIsAUsageError() throws {
        let r = try TestSupport.run(fasttrace, ["features", "--frobnicate"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--frobnicate"))
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
