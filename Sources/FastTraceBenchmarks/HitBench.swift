import FastTrace
import CShim
import Foundation

/// Kernel cost per traced hit, four ways on the same hooks and the same workload (UDP
/// datagrams over loopback), interleaved within each repeat so drift hits all modes alike:
///
/// - **none**: no program attached;
/// - **empty**: an empty program (bpf/bench.bpf.c) on every hook the tracer uses;
/// - **filtered out**: the tracer with a pcap filter no datagram matches (`udp dst port 9`),
///   so every hit runs the full filter and stops there;
/// - **recorded**: the tracer without a filter, every hit written to the rings and drained
///   by a consumer thread.
///
/// Hits per datagram are counted (the tracer's own submit counter in the recorded mode);
/// cost per hit = (time per datagram − untraced time) / hits, paired within one repeat.
/// A second pass reads the kernel's per-program run statistics: the programs' own cost
/// without the hook (plus the two clock reads the statistics add to every run, which the
/// empty program shows).
public enum HitBench {
    public static let filterExpression = "udp dst port 9"

    /// Functions a loopback UDP datagram goes through (those this kernel has are hooked).
    /// Eight, so that fentry (one load and trampoline per hook) stays quick under emulation.
    public static let loopbackPath = [
        "ip_output", "ip_finish_output2", "__dev_queue_xmit", "dev_hard_start_xmit",
        "__netif_receive_skb_core", "ip_rcv", "ip_local_deliver", "__udp4_lib_rcv",
    ]

    public struct Result: Codable, Sendable {
        public var backend: String
        public var hooks: Int
        public var datagramsPerRun: Int
        public var hitsPerDatagram: BenchStat
        public var untracedNsPerDatagram: BenchStat
        public var emptyNsPerHit: BenchStat
        public var filteredNsPerHit: BenchStat
        public var recordedNsPerHit: BenchStat
        public var programOnlyEmptyNs: BenchStat
        public var programOnlyFilteredNs: BenchStat
        public var programOnlyRecordedNs: BenchStat
        /// Within-repeat ratios, median over repeats.
        public var filteredOverEmpty: BenchStat
        public var recordedOverEmpty: BenchStat
        /// The same from the kernel's run-time statistics (programs only, no hook): steadier.
        public var programFilteredOverEmpty: BenchStat
        public var programRecordedOverEmpty: BenchStat
        public var datagramRecordedOverUntraced: BenchStat
    }

    /// The tracepoints a loopback datagram passes (and the drop tracepoint, never hit here).
    public static let loopbackTracepoints = [
        "net_dev_queue", "net_dev_start_xmit", "net_dev_xmit", "netif_rx", "netif_receive_skb",
        "skb_copy_datagram_iovec", "consume_skb", "kfree_skb",
    ]

    /// The hooks: the loopback path's functions or tracepoints that this kernel has.
    public static func hooks(_ backend: Backend, _ discovery: Discovery) -> Discovery {
        discovery.restricted(to: Set(backend.tracesTracepoints ? loopbackTracepoints : loopbackPath))
    }

    /// The tracer on those hooks, discovery and drop names reused.
    static func config(_ backend: Backend, _ all: Discovery, _ drops: DropReasons) -> TraceConfig {
        var c = TraceConfig()
        c.backend = backend
        c.discovery = hooks(backend, all)
        c.dropReasons = drops
        return c
    }

    final class Empty {
        var objects: [BenchBPF.Loaded] = []
        var links: [BPFLink] = []

        /// The bench object's empty program of `backend`'s section, on every hook, attached
        /// the way the backend attaches (one load per target or one for all).
        init(backend: Backend, discovery: Discovery) throws {
            let plan = try TracePlan(HitBench.config(backend, discovery, DropReasons(names: [:])))
            let addresses = Dictionary(discovery.functions.map { ($0.name, $0.addresses) }, uniquingKeysWith: { a, _ in a })
            links = try backend.attachBare(targets: plan.targets, addresses: addresses) { [self] target throws(BPFError) -> BPFProgram in
                let opened = try BenchBPF.open()
                guard let program = opened.programs.all.first(where: { $0.section == backend.section }) else {
                    throw BPFError("bench: no empty program in section \(backend.section)", errno: ENOENT)
                }
                for p in opened.programs.all { p.autoload = p === program }
                if let target { try program.setAttachTarget(function: target) }
                objects.append(try opened.load())
                return program
            }
        }

        deinit { links.forEach { $0.detach() } }
    }

    /// A tracer attached, with a consumer thread draining its rings (into `sink`, if given).
    final class Traced {
        let tracer: Tracer
        private let stop = Stop()
        private let done = DispatchSemaphore(value: 0)
        final class Stop: @unchecked Sendable {
            private let lock = NSLock()
            private var _flag = false, _cpuNs: Double = 0
            var flag: Bool { get { lock.withLock { _flag } } set { lock.withLock { _flag = newValue } } }
            var cpuNs: Double { get { lock.withLock { _cpuNs } } set { lock.withLock { _cpuNs = newValue } } }
        }
        final class Box: @unchecked Sendable {
            let t: Tracer, sink: LogWriter?
            init(_ t: Tracer, _ s: LogWriter?) { self.t = t; sink = s }
        }

        init(_ config: TraceConfig, sink: LogWriter? = nil) throws {
            tracer = try Tracer(config)
            try tracer.attach()
            let box = Box(tracer, sink), stop = stop, done = done
            Thread.detachNewThread {
                let cpu0 = threadCPUTime()
                while !stop.flag {
                    box.t.poll(timeoutMs: 20) { e, p in box.sink?.append(e, packet: p) }
                    box.sink?.tick()
                    stop.cpuNs = threadCPUTime() - cpu0
                }
                while box.t.poll(timeoutMs: 0, { e, p in box.sink?.append(e, packet: p) }) > 0 {}
                stop.cpuNs = threadCPUTime() - cpu0
                done.signal()
            }
        }

        /// The consumer thread's CPU time so far, in ns (updated every poll).
        func consumerCPU() -> Double { stop.cpuNs }

        /// Stops the consumer (after draining) and returns its CPU time in ns.
        func finish() -> Double {
            if !stop.flag {
                stop.flag = true
                done.wait()
                tracer.detach()
            }
            return stop.cpuNs
        }

        deinit { _ = finish() }
    }

    public static func run(backend: Backend, discovery all: Discovery, drops: DropReasons, repeats: Int,
                           secondsPerSample: Double = 0.03) throws -> Result {
        let base = config(backend, all, drops)
        let discovery = base.discovery!
        var filtered = base
        filtered.filter = try PacketFilter(filterExpression)
        _ = shim_pin_to_current_cpu() // loopback delivery runs on the sender's CPU
        let load = LoopbackLoad()
        let datagrams = load.calibrate(seconds: secondsPerSample)
        _ = load.run(datagrams) // warm-up

        // Per repeat and mode: whole hits (hook + program) from the workload's time per
        // datagram, each sample the fastest of several short runs (interference only adds
        // time, so the minimum is the steadiest estimate on a shared machine); then, on the
        // same attachment, the programs alone from the kernel's run-time statistics, which
        // add two clock reads per run and so are switched on only for that second part.
        let slices = 10
        func sample() -> Double { (0..<slices).map { _ in load.run(datagrams) }.min()! }
        func perRun(_ programs: [Int32]) throws -> Double {
            let before = programs.map(BPFProgram.runStatistics(fd:))
            _ = try BPFProgram.withRunStatistics { load.run(datagrams) }
            let after = programs.map(BPFProgram.runStatistics(fd:))
            let runs = zip(after, before).reduce(0) { $0 + $1.0.runs - $1.1.runs }
            let ns = zip(after, before).reduce(0) { $0 + $1.0.nanoseconds - $1.1.nanoseconds }
            return runs == 0 ? 0 : Double(ns) / Double(runs)
        }
        // "none" is sampled before and after each attached mode; each mode is compared with
        // the mean of its two neighbours (drift between samples hurts less).
        var nones: [Double] = [], empty: [Double] = [], out: [Double] = [], rec: [Double] = [], hits: [Double] = []
        var noneEmpty: [Double] = [], noneOut: [Double] = [], noneRec: [Double] = []
        var progEmpty: [Double] = [], progOut: [Double] = [], progRec: [Double] = []
        var hookCount = 0
        for _ in 0..<repeats {
            let n0 = sample()
            do {
                let e = try Empty(backend: backend, discovery: discovery)
                empty.append(sample())
                progEmpty.append(try perRun(e.objects.flatMap { $0.programs.all.map(\.fd).filter { $0 >= 0 } }))
            }
            let n1 = sample()
            do {
                let f = try Traced(filtered)
                out.append(sample())
                progOut.append(try perRun(f.tracer.loadedProgramFDs))
                _ = f.finish()
            }
            let n2 = sample()
            do {
                let r = try Traced(base)
                hookCount = r.tracer.attachedCount
                let before = r.tracer.submitted + r.tracer.lost
                rec.append(sample())
                hits.append(Double(r.tracer.submitted + r.tracer.lost - before) / Double(datagrams * slices))
                progRec.append(try perRun(r.tracer.loadedProgramFDs))
                _ = r.finish()
            }
            let n3 = sample()
            nones += [n0, n1, n2, n3]
            noneEmpty.append((n0 + n1) / 2)
            noneOut.append((n1 + n2) / 2)
            noneRec.append((n2 + n3) / 2)
        }
        let h = BenchStat(hits).median
        func perHit(_ xs: [Double], _ base: [Double]) -> [Double] { zip(xs, base).map { ($0 - $1) / Swift.max(h, 1e-9) } }
        let emptyHit = perHit(empty, noneEmpty), outHit = perHit(out, noneOut), recHit = perHit(rec, noneRec)
        let none = noneRec
        // A repeat whose denominator is under 1 ns is noise (the emulator's swings exceed the
        // hook's cost): it is left out of that ratio, and `repeats` shows how many remained.
        func ratios(_ a: [Double], _ b: [Double]) -> BenchStat { BenchStat(zip(a, b).filter { $0.1 >= 1 }.map { $0 / $1 }) }
        return Result(backend: backend.rawValue, hooks: hookCount, datagramsPerRun: datagrams,
                      hitsPerDatagram: BenchStat(hits), untracedNsPerDatagram: BenchStat(nones),
                      emptyNsPerHit: BenchStat(emptyHit), filteredNsPerHit: BenchStat(outHit), recordedNsPerHit: BenchStat(recHit),
                      programOnlyEmptyNs: BenchStat(progEmpty), programOnlyFilteredNs: BenchStat(progOut),
                      programOnlyRecordedNs: BenchStat(progRec),
                      filteredOverEmpty: ratios(outHit, emptyHit), recordedOverEmpty: ratios(recHit, emptyHit),
                      programFilteredOverEmpty: ratios(progOut, progEmpty), programRecordedOverEmpty: ratios(progRec, progEmpty),
                      datagramRecordedOverUntraced: ratios(rec, none))
    }
}
