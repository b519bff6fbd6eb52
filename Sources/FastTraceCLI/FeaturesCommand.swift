import ArgumentParser
import FastTrace
import Foundation

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Probe what this kernel supports for tracing, and why not.",
        discussion: """
        Loads and attaches a minimal program for each attach mode (kprobe, kprobe.multi,
        fentry/fexit, tp_btf, raw_tp, tracepoint) and checks BTF, ring buffers and
        bpf_get_func_ip. Each refusal is shown with its errno and the likely cause.
        Needs root (CAP_BPF + CAP_PERFMON). Exit status: 0 when every probe ran.
        """)

    @Flag(name: .long, help: "Print one JSON object instead of the table.")
    var json = false

    func run() throws {
        // As another user every probe fails with EPERM or EACCES, which says nothing about the kernel.
        guard KernelInfo.isRoot else { fail("features loads test programs: it needs root (CAP_BPF and CAP_PERFMON); run with sudo", status: 3) }
        let report = FeatureProbe.run()
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
            return
        }
        print("kernel \(report.kernelRelease)")
        let width = report.features.map(\.name.count).max() ?? 8
        for f in report.features {
            let status = f.ok ? "ok" : "no"
            let err = f.errno.map { "\($0): " } ?? ""
            print("\(f.name.padding(toLength: width + 2, withPad: " ", startingAt: 0))\(status.padding(toLength: 4, withPad: " ", startingAt: 0))\(err)\(f.detail)")
        }
    }
}
