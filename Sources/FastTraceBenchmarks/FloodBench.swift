import FastTrace
import Foundation

/// The busy host, measured as a user meets it: `fasttrace` runs as its own process (backend
/// chosen as usual, filter `udp and port P`), writing a log, text or JSON to a file, while
/// another process (`fasttrace flood`) sends 64-byte UDP datagrams to itself over loopback as
/// fast as it can. Then SIGINT, as Ctrl-C would send. Per output: events recorded per second
/// of flood, the share lost, the time from SIGINT to exit, and whether the counts add up
/// (recorded + every counted loss = what the programs produced, from `--summary-file`).
public enum FloodBench {
    public struct Result: Codable, Sendable {
        public var backend: String
        public var hooks: Int
        public var output: String
        public var datagramsPerSecond: BenchStat
        public var recordedEvents: BenchStat
        public var recordedPerSecond: BenchStat
        /// Lost / produced (0 = nothing lost).
        public var lostShare: BenchStat
        public var exitAfterStopMs: BenchStat
        /// Repeats whose counts added up exactly.
        public var accounted: Int
        public var repeats: Int
    }

    public struct Options: Sendable {
        /// Flood for this long (when `datagrams` is 0).
        public var seconds = 5.0
        /// Or send exactly this many datagrams.
        public var datagrams = 0
        public var repeats = 5
        public var backend: Backend?
        public init() {}
    }

    enum Output: String, CaseIterable {
        case log = "-w log", text = "text to a file", json = "JSON to a file"
        var arguments: [String] {
            switch self {
            case .log: ["-w"]
            case .text: []
            case .json: ["--output-json"]
            }
        }
    }

    /// `fasttrace` is this program's own executable.
    public static func run(_ o: Options, fasttrace: String, note: (String) -> Void) throws -> [Result] {
        let dir = NSTemporaryDirectory() + "fasttrace-flood-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = 20_000 + Int(getpid() % 20_000)
        var results: [Result] = []
        for output in Output.allCases {
            var rates: [Double] = [], recorded: [Double] = [], perSecond: [Double] = [], lost: [Double] = [], exitMs: [Double] = []
            var accounted = 0, backend = "", hooks = 0
            for r in 0..<o.repeats {
                note("flood, \(output.rawValue), repeat \(r + 1) of \(o.repeats)")
                let run = try once(output, o, fasttrace: fasttrace, port: port, dir: dir)
                backend = run.summary.backend
                hooks = run.summary.attached
                rates.append(Double(run.datagrams) / run.seconds)
                let log = output == .log
                recorded.append(Double(run.summary.recorded(log: log)))
                perSecond.append(Double(run.summary.recorded(log: log)) / run.seconds)
                lost.append(Double(run.summary.dropped(log: log)) / Double(max(run.summary.produced, 1)))
                exitMs.append(run.exitMs)
                if run.summary.accountsForEverything(log: log) { accounted += 1 }
            }
            results.append(Result(backend: backend, hooks: hooks, output: output.rawValue, datagramsPerSecond: BenchStat(rates),
                                  recordedEvents: BenchStat(recorded), recordedPerSecond: BenchStat(perSecond), lostShare: BenchStat(lost),
                                  exitAfterStopMs: BenchStat(exitMs), accounted: accounted, repeats: o.repeats))
        }
        return results
    }

    struct Run { let summary: TraceSummary; let datagrams: Int; let seconds: Double; let exitMs: Double }

    static func once(_ output: Output, _ o: Options, fasttrace: String, port: Int, dir: String) throws -> Run {
        let ready = "\(dir)/ready", summary = "\(dir)/summary.json", out = "\(dir)/out"
        for f in [ready, summary, out] { unlink(f) }
        var args = ["--ready-file", ready, "--summary-file", summary]
        if let b = o.backend { args += ["--backend", b.rawValue] }
        args += output == .log ? ["-w", out] : output.arguments
        args.append("udp and port \(port)")
        let tracer = try ChildProcess(fasttrace, args, stdout: output == .log ? "/dev/null" : out, stderr: "\(dir)/stderr")
        func why() -> String {
            ((try? String(contentsOfFile: "\(dir)/stderr", encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
        }
        var waited = 0.0
        while access(ready, F_OK) != 0 {
            guard tracer.running else { throw BenchFailure("fasttrace exited before it was ready (status \(tracer.wait())): \(why())") }
            guard waited < 600 else { tracer.interrupt(); _ = tracer.wait(); throw BenchFailure("fasttrace not ready after 600 s") }
            usleep(20_000)
            waited += 0.02
        }
        let floodArgs = ["flood", "--port", "\(port)"] + (o.datagrams > 0 ? ["--count", "\(o.datagrams)"] : ["--seconds", "\(o.seconds)"])
        let t0 = benchNow()
        let flood = try ChildProcess(fasttrace, floodArgs, stdout: "\(dir)/sent", stderr: "/dev/null")
        guard flood.wait() == 0 else { tracer.interrupt(); _ = tracer.wait(); throw BenchFailure("fasttrace flood failed") }
        let seconds = (benchNow() - t0) / 1e9
        let sent = Int((try? String(contentsOfFile: "\(dir)/sent", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        let t1 = benchNow()
        tracer.interrupt()
        let status = tracer.wait()
        let exitMs = (benchNow() - t1) / 1e6
        guard status == 0 else { throw BenchFailure("fasttrace exited with status \(status): \(why())") }
        let s = try JSONDecoder().decode(TraceSummary.self, from: Data(contentsOf: URL(fileURLWithPath: summary)))
        return Run(summary: s, datagrams: sent, seconds: seconds, exitMs: exitMs)
    }
}

public struct BenchFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
