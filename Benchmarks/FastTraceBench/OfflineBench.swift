import FastTrace
import FastTraceBenchmarks
import Foundation

/// Post-processing as a user runs it: `fasttrace read` (text, JSON), `fasttrace journeys` and
/// `fasttrace export --format parquet` as separate processes on generated 1M- and 10M-event logs, output to a file; events per
/// second of wall time, one process at a time, with the process's peak RSS (wait4).
enum OfflineBench {
    struct Run { let seconds: Double; let maxRSSKiB: Int; let status: Int32 }

    /// Runs `argv` with stdout to `output`; wall time and peak RSS of that process alone.
    static func run(_ argv: [String], output: String) throws -> Run {
        let t = benchNow()
        let child = try ChildProcess(argv[0], Array(argv.dropFirst()), stdout: output, stderr: "/dev/null")
        let status = child.wait()
        return Run(seconds: (benchNow() - t) / 1e9, maxRSSKiB: child.usage.ru_maxrss, status: status)
    }

    static func stats(fasttrace: String, repeats: Int, sizes: [Int]) throws -> [Stat] {
        let dir = NSTemporaryDirectory() + "fasttrace-offline-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var out: [Stat] = []
        for n in sizes {
            let log = "\(dir)/\(n).ftlog"
            try SyntheticLog.write(n, to: log)
            let label = n >= 1_000_000 ? "\(n / 1_000_000)M" : "\(n / 1000)k"
            for (name, args) in [("read, text", ["read"]), ("read, JSON", ["read", "--output-json"]), ("journeys", ["journeys"]),
                                 ("export, Parquet", ["export", "--format", "parquet"])] {
                var rates: [Double] = [], rss: [Double] = []
                for _ in 0..<repeats {
                    unlink("\(dir)/out") // a fresh file each time: truncating gigabytes is not what is measured
                    let r = try run([fasttrace] + args + [log], output: "\(dir)/out")
                    guard r.status == 0 else { throw BenchFailure("fasttrace \(args.joined(separator: " ")) exited with status \(r.status)") }
                    rates.append(Double(n) / r.seconds / 1e6)
                    rss.append(Double(r.maxRSSKiB) / 1024)
                }
                out.append(Stat("offline \(name), \(label)-event log, to a file", unit: "M events/s", rates))
                out.append(Stat("offline \(name), \(label)-event log: peak RSS", unit: "MiB", rss))
            }
            unlink(log)
            unlink("\(dir)/out")
        }
        return out
    }
}
