import FastTrace
import Foundation

/// Start-up as a user meets it: `fasttrace --backend B --ready-file F` as its own process,
/// every target of the backend, from exec until the ready file exists (discovery, probes,
/// loads, attaches), then SIGINT. Also `auto`, which probes its way to the best backend. A
/// backend whose first run takes longer than the budget is measured once and not repeated
/// (legacy kprobe and fentry on every function under emulation take minutes; the attach
/// table has them).
public enum StartupBench {
    public struct Result: Codable, Sendable {
        /// A backend's name, or "auto".
        public var backend: String
        /// The backend auto chose (for "auto"), from the status line.
        public var chosen: String?
        /// Targets attached, from the status line.
        public var attached: Int
        public var readyMs: BenchStat
        /// false: run with the discovery cache off (a first start after boot); nil: on.
        public var discoveryCache: Bool?
    }

    public struct Options: Sendable {
        public var repeats = 5
        /// A run slower than this (s) is not repeated.
        public var repeatBudget = 20.0
        public init() {}
    }

    public static func run(_ o: Options, backends: [Backend], fasttrace: String, note: (String) -> Void) throws -> [Result] {
        let dir = NSTemporaryDirectory() + "fasttrace-startup-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var results: [Result] = []
        // Every backend with the discovery cache (its first run fills it), then auto again
        // without, as the first start after a boot or a module load meets it.
        for (name, cached) in backends.map({ ($0.rawValue, true) }) + [("auto", true), ("auto", false)] {
            var samples: [Double] = []
            var status = ""
            if !cached { setenv("FASTTRACE_DISCOVERY_CACHE", "0", 1) }
            defer { if !cached { unsetenv("FASTTRACE_DISCOVERY_CACHE") } }
            while samples.count < o.repeats {
                note("exec→ready, \(name)\(cached ? "" : " without the discovery cache"), run \(samples.count + 1) of \(o.repeats)")
                let (ms, line) = try once(name, fasttrace: fasttrace, dir: dir)
                samples.append(ms)
                status = line
                if ms > o.repeatBudget * 1000 { break }
            }
            // "Attached 29 tracepoints (1 ignored) via tracepoint-multi in 100 ms"
            let words = status.split(separator: " ")
            let attached = words.count > 1 ? Int(words[1]) ?? 0 : 0
            let via = words.firstIndex(of: "via").map { String(words[$0 + 1]) }
            results.append(Result(backend: name, chosen: name == "auto" ? via : nil, attached: attached, readyMs: BenchStat(samples),
                                  discoveryCache: cached ? nil : false))
        }
        return results
    }

    /// One start: milliseconds from spawn to the ready file, and the "Attached …" line.
    static func once(_ backend: String, fasttrace: String, dir: String) throws -> (Double, String) {
        let ready = "\(dir)/ready", err = "\(dir)/stderr"
        unlink(ready)
        let start = benchNow()
        let p = try ChildProcess(fasttrace, ["--ready-file", ready, "--duration", "900"] + (backend == "auto" ? [] : ["--backend", backend]),
                                 stdout: "/dev/null", stderr: err)
        while access(ready, F_OK) != 0 {
            guard p.running else {
                let why = ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
                throw BenchFailure("fasttrace --backend \(backend) exited before it was ready (status \(p.wait())): \(why)")
            }
            guard benchNow() - start < 900e9 else { kill(p.pid, SIGKILL); _ = p.wait(); throw BenchFailure("not ready after 900 s") }
            usleep(1_000)
        }
        let ms = (benchNow() - start) / 1e6
        p.interrupt()
        _ = p.wait()
        let line = ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").split(separator: "\n").first { $0.hasPrefix("Attached ") }
        return (ms, line.map(String.init) ?? "")
    }

    static func section(_ reports: [BenchReport]) -> MarkdownSection? {
        guard reports.contains(where: { !($0.startup ?? []).isEmpty }) else { return nil }
        var m = MarkdownSection("Start-up: exec→ready (ms)",
                                intro: "`fasttrace --backend B --ready-file F` as its own process, every sk_buff function or tracepoint of the backend, from exec until the ready file exists (BTF, discovery, probes, loads, attaches); `auto` probes its way to the best backend first. A backend whose first run takes over 20 s is measured once. Discovery's answer is kept for the boot (/run/fasttrace): the rows use it, except \"no discovery cache\", a first start after a boot or a module load.",
                                columns: [("kernel", false), ("backend", false), ("targets attached", true), ("exec→ready", true)])
        for r in reports {
            for s in r.startup ?? [] {
                let name = s.backend + (s.discoveryCache == false ? ", no discovery cache" : "")
                m.row([r.kernel, s.chosen.map { "\(name) (\($0))" } ?? name, "\(s.attached)", s.readyMs.text(0)])
            }
        }
        return m.finished
    }
}
