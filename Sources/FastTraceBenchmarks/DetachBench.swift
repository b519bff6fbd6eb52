import FastTrace
import Foundation

/// Detach of the backends that unregister one hook per function: legacy kprobes and fentry.
/// Each kprobe's unregistration waits for an RCU grace period, so detaching N probes costs N
/// grace periods unless they overlap; each fentry trampoline's removal waits inside the
/// kernel's ftrace lock. Measured ways: sequential (one thread), parallel (the tracer's
/// default: several threads), and both again with the kernel's `rcu_expedited` knob set for
/// the detach (expedited grace periods: IPIs instead of waiting for quiescent states).
/// Parallel no faster than sequential means the kernel serialises the work.
public enum DetachBench {
    public struct Result: Codable, Sendable {
        /// nil in reports from before fentry was measured: kprobe.
        public var backend: String?
        public var mode: String
        public var probes: Int
        public var detachMs: BenchStat

        public init(backend: String, mode: String, probes: Int, detachMs: BenchStat) {
            self.backend = backend
            self.mode = mode
            self.probes = probes
            self.detachMs = detachMs
        }
    }

    public static func run(discovery: Discovery, drops: DropReasons, probes: Int, repeats: Int,
                           note: (String) -> Void) -> (results: [Result], skipped: [String]) {
        let kprobe = run(.kprobe, discovery: discovery, drops: drops, probes: probes, repeats: repeats, note: note)
        let fentry = run(.fentry, discovery: discovery, drops: drops, probes: probes, repeats: repeats, note: note)
        return (kprobe.results + fentry.results, kprobe.skipped + fentry.skipped)
    }

    static func run(_ backend: Backend, discovery: Discovery, drops: DropReasons, probes: Int, repeats: Int,
                    note: (String) -> Void) -> (results: [Result], skipped: [String]) {
        guard backend.probe().ok else { return ([], ["\(backend.rawValue) detach: not on this kernel"]) }
        var config = TraceConfig()
        config.backend = backend
        config.discovery = discovery.restricted(to: Set(discovery.functions.prefix(probes).map(\.name)))
        config.dropReasons = drops
        config.expediteDetach = false // the bench sets the knob itself
        let knob = RCUExpedited()
        var results: [Result] = [], skipped: [String] = []
        // Both backends wait for plain RCU grace periods too (kprobes per probe; fentry about
        // three per trampoline, under ftrace's lock): the knob shortens those.
        let modes: [(String, Bool, Bool)] = [("sequential", false, false), ("parallel", true, false),
                                             ("sequential, rcu_expedited", false, true), ("parallel, rcu_expedited", true, true)]
        var samples = Array(repeating: [Double](), count: modes.count)
        note("\(backend.rawValue) detach × \(probes), \(modes.count) ways")
        for _ in 0..<repeats { // modes interleaved within each repeat
            for (i, m) in modes.enumerated() {
                if m.2 && knob == nil { continue }
                do {
                    let tracer = try Tracer(config)
                    try tracer.attach()
                    let t = benchNow()
                    if m.2 { knob?.set(true) }
                    tracer.detach(parallel: m.1)
                    if m.2 { knob?.restore() }
                    samples[i].append((benchNow() - t) / 1e6)
                } catch {
                    skipped.append("\(backend.rawValue) detach \(m.0): \(error)")
                }
            }
        }
        for (i, m) in modes.enumerated() where !samples[i].isEmpty {
            results.append(Result(backend: backend.rawValue, mode: m.0, probes: config.discovery!.functions.count, detachMs: BenchStat(samples[i])))
        }
        if knob == nil { skipped.append("rcu_expedited: /sys/kernel/rcu_expedited is not writable here") }
        return (results, skipped)
    }
}
