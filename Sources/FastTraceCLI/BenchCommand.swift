import ArgumentParser
import FastTrace
import FastTraceBenchmarks
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure attach/detach time, per-hit overhead and capture throughput of every attach mode on this kernel.",
        discussion: """
        Parts (--only, comma-separated; default all):
          startup  exec→ready of `fasttrace --backend B --ready-file F` as its own process, every target, per backend and for auto
          attach   attach and detach time per backend for 10, 100, 1000 and all targets (a size whose repeats would overrun --budget runs once; one that would overrun it even once is skipped, and listed)
          hits     cost per traced hit on UDP loopback datagrams: no program, an empty program on the same hooks, fasttrace filtering everything out, fasttrace recording everything
          capture  the highest event rate written to a compressed log without loss, the loss above it, consumer CPU, bytes per event
          detach   detach one hook at a time, legacy kprobe and fentry: sequential and parallel (each also with /sys/kernel/rcu_expedited)
          filter   the pcap filter optimised or not (--no-optimize): compile time, eBPF length, kernel time per packet, from small expressions to 256 hosts
          kill     kill -9 mid-capture at times spread over 1.2–4 s after ready, with paced traffic from another process: frames and events the log keeps
          flood    the busy host as a user meets it: fasttrace as its own process writing a log, text and JSON to a file while `fasttrace flood` sends UDP over loopback from another process; events recorded, lost, exit time after SIGINT, and whether the counts add up

        Every figure is the median of --repeats runs (at least 5) with min and max; modes are interleaved within each repeat so drift hits them alike. `make bench` runs this on the host and in the 6.1 and 6.12 VMs and writes docs/benchmarks.md.

        Examples:
          sudo fasttrace bench --only attach,hits
          sudo fasttrace bench --json bench.json --budget 300
        """)

    @Option(help: ArgumentHelp("Repeats per figure (at least 5).", valueName: "n")) var repeats = 5
    @Option(help: ArgumentHelp("Seconds of attach/detach measurements per backend; larger target counts that would overrun it are skipped.", valueName: "seconds"))
    var budget: Double = 120
    @Option(help: ArgumentHelp("Which parts: startup, attach, hits, capture, detach, flood, kill, filter.", valueName: "parts")) var only: String = "startup,attach,hits,capture,detach,flood,kill,filter"
    @Option(help: ArgumentHelp("Target counts for attach (numbers or 'all').", valueName: "list")) var sizes: String = "10,100,1000,all"
    @Option(help: ArgumentHelp("Backends for startup and attach (default: every one this kernel has).", valueName: "list")) var backends: String?
    @Option(name: .customLong("startup-backends"), help: ArgumentHelp("Backends for startup only (default: --backends). Under emulation fentry and legacy kprobe on every function take minutes per start.", valueName: "list"))
    var startupBackends: String?
    @Option(name: .customLong("detach-probes"), help: ArgumentHelp("Legacy kprobes, and fentry functions, for the detach comparison.", valueName: "n")) var detachProbes = 50
    @Option(help: ArgumentHelp("Also write the report as JSON to this file.", valueName: "file")) var json: String?
    @Option(name: .customLong("flood-seconds"), help: ArgumentHelp("flood: seconds of flood per repeat.", valueName: "seconds")) var floodSeconds = 5.0
    @Option(name: .customLong("flood-datagrams"), help: ArgumentHelp("flood: send exactly this many datagrams per repeat instead (slow kernels).", valueName: "n")) var floodDatagrams = 0
    @Option(name: .customLong("flood-repeats"), help: ArgumentHelp("flood: repeats per output (default: --repeats).", valueName: "n")) var floodRepeats: Int?

    @Option(name: .customLong("kill-runs"), help: ArgumentHelp("kill: captures killed, at times spread over 1.2–4 s.", valueName: "n")) var killRuns = 10

    static func parseBackends(_ list: String, flag: String) -> [Backend] {
        list.split(separator: ",").map { s in
            guard let b = Backend(rawValue: String(s)) else {
                fail("\(flag): '\(s)' is not one of \(Backend.names.joined(separator: ", "))", status: 2)
            }
            return b
        }
    }

    func run() throws {
        guard repeats >= 5 else { fail("--repeats: at least 5 (medians with min and max)", status: 2) }
        guard budget > 0 else { fail("--budget: must be more than 0 seconds", status: 2) }
        var o = BenchReport.Options()
        o.repeats = repeats
        o.detachProbes = max(1, detachProbes)
        o.attach.budget = budget
        let parts = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let known: Set<String> = ["startup", "attach", "hits", "capture", "detach", "flood", "kill", "filter"]
        guard killRuns >= 0 else { fail("--kill-runs: must be 0 or more", status: 2) }
        o.kill.runs = killRuns
        guard floodSeconds > 0, floodSeconds.isFinite, floodDatagrams >= 0, (floodRepeats ?? 1) >= 1 else {
            fail("--flood-seconds, --flood-datagrams, --flood-repeats: must be positive", status: 2)
        }
        o.flood.seconds = floodSeconds
        o.flood.datagrams = floodDatagrams
        o.flood.repeats = floodRepeats ?? repeats
        o.fasttrace = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        guard parts.isSubset(of: known), !parts.isEmpty else {
            fail("--only: '\(only)': choose from \(known.sorted().joined(separator: ", "))", status: 2)
        }
        o.parts = parts
        o.attach.sizes = sizes.split(separator: ",").map { s -> Int? in
            if s == "all" { return nil }
            guard let n = Int(s), n > 0 else { fail("--sizes: '\(s)' is not a positive number or 'all'", status: 2) }
            return n
        }
        if let backends {
            o.attach.backends = Self.parseBackends(backends, flag: "--backends")
        }
        o.startupBackends = startupBackends.map { Self.parseBackends($0, flag: "--startup-backends") } ?? o.attach.backends
        guard KernelInfo.isRoot else { fail("bench needs root (CAP_BPF and CAP_PERFMON): run with sudo", status: 3) }
        _ = KernelInfo.raiseOpenFileLimit() // legacy kprobes and fentry on every function
        let started = Date()
        let report: BenchReport
        do {
            report = try BenchReport.run(o) { note(String(format: "[%4.0f s] ", Date().timeIntervalSince(started)) + $0) }
        } catch {
            fail("bench: \(error)")
        }
        if let json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.dateEncodingStrategy = .iso8601
            do { try enc.encode(report).write(to: URL(fileURLWithPath: json)) } catch { fail("--json: cannot write \(json): \(error.localizedDescription)") }
        }
        print(BenchReport.renderMarkdown([report]))
    }
}
