import FastTrace
import Foundation

/// Legacy kprobe detach: each probe's unregistration waits for an RCU grace period, so
/// detaching N probes costs N grace periods unless they overlap. Measured ways:
/// sequential (one thread), parallel (the tracer's default: several threads, the waits
/// overlap), and both again with the kernel's `rcu_expedited` knob set for the detach
/// (expedited grace periods: IPIs instead of waiting for quiescent states).
public enum DetachBench {
    public struct Result: Codable, Sendable {
        public var mode: String
        public var probes: Int
        public var detachMs: BenchStat

        public init(mode: String, probes: Int, detachMs: BenchStat) {
            self.mode = mode
            self.probes = probes
            self.detachMs = detachMs
        }
    }

    public static func run(discovery: Discovery, drops: DropReasons, probes: Int, repeats: Int,
                           note: (String) -> Void) -> (results: [Result], skipped: [String]) {
        guard Backend.kprobe.probe().ok else { return ([], ["legacy detach: no kprobes on this kernel"]) }
        var config = TraceConfig()
        config.backend = .kprobe
        config.discovery = discovery.restricted(to: Set(discovery.functions.prefix(probes).map(\.name)))
        config.dropReasons = drops
        config.expediteDetach = false // the bench sets the knob itself
        let knob = RCUExpedited()
        var results: [Result] = [], skipped: [String] = []
        let modes: [(String, Bool, Bool)] = [("sequential", false, false), ("parallel", true, false),
                                             ("sequential, rcu_expedited", false, true), ("parallel, rcu_expedited", true, true)]
        var samples = Array(repeating: [Double](), count: modes.count)
        note("legacy kprobe detach × \(probes), \(modes.count) ways")
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
                    skipped.append("legacy detach \(m.0): \(error)")
                }
            }
        }
        for (i, m) in modes.enumerated() where !samples[i].isEmpty {
            results.append(Result(mode: m.0, probes: config.discovery!.functions.count, detachMs: BenchStat(samples[i])))
        }
        if knob == nil { skipped.append("rcu_expedited: /sys/kernel/rcu_expedited is not writable here") }
        return (results, skipped)
    }
}
