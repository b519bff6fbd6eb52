import FastTrace
import Foundation

/// Attach and detach time of the tracer per backend and target count, within a time budget:
/// sizes whose predicted cost (from the previous size, scaled linearly) would overrun the
/// backend's budget are skipped and said so, rather than silently left out.
public enum AttachBench {
    public struct Result: Codable, Sendable {
        public var backend: String
        public var functions: Int
        /// The count asked for: "10", "100", "1000" or "all".
        public var size: String
        public var attachMs: BenchStat
        public var detachMs: BenchStat

        public init(backend: String, functions: Int, size: String, attachMs: BenchStat, detachMs: BenchStat) {
            self.backend = backend
            self.functions = functions
            self.size = size
            self.attachMs = attachMs
            self.detachMs = detachMs
        }
    }

    public struct Options: Sendable {
        /// Backends to measure (BenchReport passes those this kernel offers).
        public var backends: [Backend] = Backend.allCases
        /// Target counts; nil = every discovered target.
        public var sizes: [Int?] = [10, 100, 1000, nil]
        public var repeats = 5
        /// Seconds per backend (all sizes and repeats together).
        public var budget: Double = 120
        public init() {}
    }

    public static func run(_ o: Options, discovery: Discovery, drops: DropReasons, note: (String) -> Void)
        -> (results: [Result], skipped: [String]) {
        var results: [Result] = [], skipped: [String] = []
        for backend in o.backends { // the caller picks available ones; others fail in Tracer.init, listed
            let pool = backend.tracesTracepoints ? discovery.tracepoints.map(\.name) : discovery.functions.map(\.name)
            let spent = benchNow()
            // Wall seconds per repeat (tracer set-up, attach, detach) by size: the next size's
            // cost is extrapolated on the line through the last two (one: proportionally).
            var measured: [(n: Int, seconds: Double)] = []
            func predict(_ n: Int) -> Double? {
                guard let last = measured.last else { return nil }
                guard measured.count >= 2 else { return last.seconds * Double(n) / Double(last.n) }
                let prev = measured[measured.count - 2]
                let slope = Swift.max(0, (last.seconds - prev.seconds) / Double(last.n - prev.n))
                return last.seconds + slope * Double(n - last.n)
            }
            var done = Set<Int>()
            for size in o.sizes {
                let n = Swift.min(size ?? pool.count, pool.count)
                let label = size.map(String.init) ?? "all"
                guard n > 0, !done.contains(n) else { continue }
                let left = o.budget - (benchNow() - spent) / 1e9
                if let per = predict(n), per * Double(o.repeats) > left {
                    skipped.append(String(format: "%@ %@ (%d targets): ~%.0f s for %d repeats, over the %.0f s budget left",
                                          backend.rawValue, label, n, per * Double(o.repeats), o.repeats, Swift.max(left, 0)))
                    continue
                }
                let sizeStart = benchNow()
                var config = TraceConfig()
                config.backend = backend
                config.discovery = discovery.restricted(to: Set(pool.prefix(n)))
                config.dropReasons = drops
                var attach: [Double] = [], detach: [Double] = []
                note("attach \(backend.rawValue) × \(n)")
                for _ in 0..<o.repeats {
                    do {
                        let tracer = try Tracer(config)
                        var t = benchNow()
                        try tracer.attach()
                        attach.append((benchNow() - t) / 1e6)
                        t = benchNow()
                        tracer.detach()
                        detach.append((benchNow() - t) / 1e6)
                    } catch {
                        skipped.append("\(backend.rawValue) \(label): \(error)")
                        break
                    }
                }
                guard attach.count == o.repeats else { continue }
                done.insert(n)
                let a = BenchStat(attach), d = BenchStat(detach)
                measured.append((n, (benchNow() - sizeStart) / 1e9 / Double(o.repeats)))
                results.append(Result(backend: backend.rawValue, functions: n, size: label, attachMs: a, detachMs: d))
            }
        }
        return (results, skipped)
    }
}
