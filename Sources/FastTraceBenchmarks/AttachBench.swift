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
        /// One-target backends (fentry, tp_btf): milliseconds inside BPF_PROG_LOAD (the
        /// verifier) and BPF_LINK_CREATE (the trampoline or tracepoint link) of the prepared
        /// loads, summed over the attach threads, median over repeats; nil for the others.
        public var preparedLoadMs: Double?
        public var preparedLinkMs: Double?
        public var preparedLoads: Int?

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
            let largest = o.sizes.map { Swift.min($0 ?? pool.count, pool.count) }.max() ?? 0
            for size in o.sizes {
                let n = Swift.min(size ?? pool.count, pool.count)
                let label = size.map(String.init) ?? "all"
                guard n > 0, !done.contains(n) else { continue }
                let left = o.budget - (benchNow() - spent) / 1e9
                // Too slow for every repeat but not for one (fentry, legacy kprobe on every
                // function under emulation): one run, and the table says so. A smaller size
                // leaves room for one run of the largest ("all" matters most).
                var repeats = o.repeats
                let reserve = n < largest ? predict(largest) ?? 0 : 0
                if let per = predict(n), per * Double(repeats) + reserve > left {
                    repeats = 1
                    if per + reserve > left {
                        skipped.append(String(format: "%@ %@ (%d targets): ~%.0f s for one run, over the %.0f s budget left",
                                              backend.rawValue, label, n, per, Swift.max(left, 0)))
                        continue
                    }
                }
                let sizeStart = benchNow()
                var config = TraceConfig()
                config.backend = backend
                config.discovery = discovery.restricted(to: Set(pool.prefix(n)))
                config.dropReasons = drops
                var attach: [Double] = [], detach: [Double] = []
                var loadMs: [Double] = [], linkMs: [Double] = [], loads = 0
                note("attach \(backend.rawValue) × \(n)")
                for _ in 0..<repeats {
                    do {
                        let tracer = try Tracer(config)
                        PreparedLoad.timing.reset()
                        var t = benchNow()
                        try tracer.attach()
                        attach.append((benchNow() - t) / 1e6)
                        let spent = PreparedLoad.timing.read()
                        loadMs.append(spent.loadNs / 1e6)
                        linkMs.append(spent.linkNs / 1e6)
                        loads = spent.count
                        t = benchNow()
                        tracer.detach()
                        detach.append((benchNow() - t) / 1e6)
                    } catch {
                        skipped.append("\(backend.rawValue) \(label): \(error)")
                        break
                    }
                }
                guard attach.count == repeats else { continue }
                done.insert(n)
                let a = BenchStat(attach), d = BenchStat(detach)
                measured.append((n, (benchNow() - sizeStart) / 1e9 / Double(repeats)))
                var result = Result(backend: backend.rawValue, functions: n, size: label, attachMs: a, detachMs: d)
                if loads > 0 {
                    result.preparedLoads = loads
                    result.preparedLoadMs = BenchStat(loadMs).median
                    result.preparedLinkMs = BenchStat(linkMs).median
                }
                results.append(result)
            }
        }
        return (results, skipped)
    }
}
