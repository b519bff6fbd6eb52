import FastTrace
import Foundation

/// A capture ended by a crash, as a user meets it: `fasttrace -w` runs as its own process
/// with the default frame interval while `fasttrace flood` sends paced UDP datagrams from
/// another process, starting when fasttrace is ready. After a time spread evenly over
/// [from, to] seconds the tracer gets SIGKILL, and the log is read back as `read` would.
/// The frame interval bounds what a crash may lose: every event older than it (plus the
/// time to compress one frame) must be in the log.
public enum KillBench {
    public struct Result: Codable, Sendable {
        public var backend: String
        /// Seconds from ready to SIGKILL.
        public var killedAfter: Double
        public var framesRecovered: Int
        public var eventsRecovered: Int
        /// Seconds from ready to the last recovered event (nil: none recovered).
        public var lastEventAfter: Double?
    }

    public struct Options: Sendable {
        public var runs = 10
        public var from = 1.2, to = 4.0
        public var datagramsPerSecond = 1000.0
        public var backend: Backend?
        public init() {}
    }

    public static func run(_ o: Options, fasttrace: String, note: (String) -> Void) throws -> [Result] {
        let dir = NSTemporaryDirectory() + "fasttrace-kill-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = 20_000 + Int((getpid() + 7) % 20_000)
        var results: [Result] = []
        for i in 0..<o.runs {
            let at = o.runs > 1 ? o.from + (o.to - o.from) * Double(i) / Double(o.runs - 1) : o.from
            note("kill -9 after \(String(format: "%.2f", at)) s, run \(i + 1) of \(o.runs)")
            results.append(try once(killAfter: at, o, fasttrace: fasttrace, port: port, dir: dir))
        }
        return results
    }

    static func once(killAfter: Double, _ o: Options, fasttrace: String, port: Int, dir: String) throws -> Result {
        let ready = "\(dir)/ready", log = "\(dir)/k.ftlog"
        for f in [ready, log] { unlink(f) }
        var args = ["--ready-file", ready, "-w", log]
        if let b = o.backend { args += ["--backend", b.rawValue] }
        args.append("udp and port \(port)")
        let tracer = try ChildProcess(fasttrace, args, stdout: "/dev/null", stderr: "\(dir)/stderr")
        var waited = 0.0
        while access(ready, F_OK) != 0 {
            guard tracer.running else {
                let why = ((try? String(contentsOfFile: "\(dir)/stderr", encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
                throw BenchFailure("fasttrace exited before it was ready (status \(tracer.wait())): \(why)")
            }
            guard waited < 600 else { kill(tracer.pid, SIGKILL); _ = tracer.wait(); throw BenchFailure("fasttrace not ready after 600 s") }
            usleep(5_000)
            waited += 0.005
        }
        let readyAt = benchNow()
        let flood = try ChildProcess(fasttrace, ["flood", "--port", "\(port)", "--rate", "\(o.datagramsPerSecond)", "--seconds", "\(killAfter + 1)"],
                                     stdout: "/dev/null", stderr: "/dev/null")
        let remaining = killAfter - (benchNow() - readyAt) / 1e9
        if remaining > 0 { usleep(UInt32(remaining * 1e6)) }
        kill(tracer.pid, SIGKILL)
        _ = tracer.wait()
        kill(flood.pid, SIGKILL)
        _ = flood.wait()
        let reader = try LogReader(path: log)
        var events = 0, last: UInt64 = 0
        reader.forEachEvent { e in
            events += 1
            last = max(last, e.tsNs)
            return true
        }
        return Result(backend: reader.header.backend, killedAfter: killAfter, framesRecovered: reader.framesRead, eventsRecovered: events,
                      lastEventAfter: events > 0 ? (Double(last) - readyAt) / 1e9 : nil)
    }

    static func section(_ reports: [BenchReport]) -> MarkdownSection? {
        guard reports.contains(where: { !($0.kill ?? []).isEmpty }) else { return nil }
        var m = MarkdownSection("kill -9 mid-capture: what the log keeps",
                                intro: "`fasttrace -w` (default `--frame-interval` 1 s, backend chosen as usual) while `fasttrace flood --rate 1000` sends UDP from another process, from the moment fasttrace is ready; SIGKILL after the time shown; then the log is read back. A frame closes one interval after its first event happened, so everything older than about a second at the kill should be in the log.",
                                columns: [("kernel", false), ("backend", false), ("killed after (s)", true), ("frames recovered", true),
                                          ("events recovered", true), ("last recovered event after (s)", true)])
        for r in reports {
            for k in r.kill ?? [] {
                m.row([r.kernel, k.backend, String(format: "%.2f", k.killedAfter), "\(k.framesRecovered)", "\(k.eventsRecovered)",
                       k.lastEventAfter.map { String(format: "%.2f", $0) } ?? "—"])
            }
        }
        for r in reports {
            if let k = r.kill, !k.isEmpty { m.note("\(r.kernel): \(k.filter { $0.framesRecovered > 0 }.count) of \(k.count) runs recovered at least one frame.") }
        }
        return m.finished
    }
}
