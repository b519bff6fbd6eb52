import CShim
import FastTrace
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
enum HitCost {
    static let filterExpression = "udp dst port 9"

    final class Empty {
        var objects: [BenchBPF.Loaded] = []
        var links: [BPFLink] = []

        init(backend: Backend, targets: [TracedTarget], discovery: Discovery) throws {
            switch backend {
            case .tracepoint, .fentry:
                for t in targets {
                    let opened = try BenchBPF.open()
                    let path: KeyPath<BenchBPF.Programs, BPFProgram> = backend == .tracepoint ? \.emptyTp : \.emptyFentry
                    for p in opened.programs.all { p.autoload = p === opened.programs[keyPath: path] }
                    try opened.programs[keyPath: path].setAttachTarget(function: t.name)
                    guard let loaded = try? opened.load() else { continue } // the tracer skips these too
                    objects.append(loaded)
                    if let l = try? loaded.programs[keyPath: path].attachTrace() { links.append(l) }
                }
            case .kprobeMulti, .kprobe:
                let opened = try BenchBPF.open()
                let path: KeyPath<BenchBPF.Programs, BPFProgram> = backend == .kprobeMulti ? \.emptyKmulti : \.emptyKprobe
                for p in opened.programs.all { p.autoload = p === opened.programs[keyPath: path] }
                let loaded = try opened.load()
                objects.append(loaded)
                let names = Set(targets.map(\.name))
                if backend == .kprobeMulti {
                    let addrs = discovery.functions.filter { names.contains($0.name) }.flatMap(\.addresses).map { UInt($0) }
                    links.append(try loaded.programs.emptyKmulti.attachKprobeMulti(addresses: addrs))
                } else {
                    for n in names { if let l = try? loaded.programs.emptyKprobe.attachKprobe(function: n) { links.append(l) } }
                }
            }
        }

        deinit { links.forEach { $0.detach() } }
    }

    /// A tracer attached, with a consumer thread draining its rings.
    final class Traced {
        let tracer: Tracer
        private let stop = Stop()
        private let done = DispatchSemaphore(value: 0)
        final class Stop: @unchecked Sendable { var flag = false }
        final class Box: @unchecked Sendable { let t: Tracer; init(_ t: Tracer) { self.t = t } }

        init(_ config: TraceConfig) throws {
            tracer = try Tracer(config)
            try tracer.attach()
            let box = Box(tracer), stop = stop, done = done
            Thread.detachNewThread {
                while !stop.flag { box.t.poll(timeoutMs: 50) { _ in } }
                done.signal()
            }
        }

        deinit {
            stop.flag = true
            done.wait()
            tracer.detach()
        }
    }

    static func run(repeats: Int, datagrams: Int) throws -> (stats: [Stat], ratios: [String: Double], note: String) {
        var base = TraceConfig()
        let probe = try Tracer(base)
        base.backend = probe.backend
        let backend = probe.backend
        var filtered = base
        filtered.filter = try PacketFilter(filterExpression)
        let discovery = try Discovery.run()
        let cpu = shim_pin_to_current_cpu() // loopback delivery runs on the sender's CPU
        let load = LoopbackLoad()
        _ = load.run(datagrams / 5) // warm-up

        // Pass 1: whole hits (hook + program), from the workload's time per datagram. Each
        // sample is the fastest of several short runs: interference only adds time, so the
        // minimum is the steadiest estimate on a shared machine.
        let slices = 10
        func sample() -> Double { (0..<slices).map { _ in load.run(datagrams / slices) }.min()! }
        var none: [Double] = [], empty: [Double] = [], out: [Double] = [], rec: [Double] = [], hits: [Double] = []
        for _ in 0..<repeats {
            none.append(sample())
            do {
                let e = try Empty(backend: backend, targets: probe.targets, discovery: discovery)
                empty.append(sample())
                withExtendedLifetime(e) {}
            }
            do {
                let f = try Traced(filtered)
                out.append(sample())
                withExtendedLifetime(f) {}
            }
            do {
                let r = try Traced(base)
                let before = r.tracer.submitted + r.tracer.lost
                rec.append(sample())
                hits.append(Double(r.tracer.submitted + r.tracer.lost - before) / Double(datagrams / slices * slices))
            }
        }
        let h = Stat("", unit: "", hits).median
        func perHit(_ xs: [Double]) -> [Double] { zip(xs, none).map { ($0 - $1) / max(h, 1e-9) } }
        let emptyHit = perHit(empty), outHit = perHit(out), recHit = perHit(rec)

        // Pass 2: the programs alone, from the kernel's run-time statistics (which add two
        // clock reads per run, hence a separate pass).
        var progEmpty: [Double] = [], progOut: [Double] = [], progRec: [Double] = []
        let statsFD = try BPFProgram.enableRunStatistics()
        defer { close(statsFD) }
        func perRun(_ programs: [BPFProgram]) -> Double {
            let s = programs.map(\.runStatistics)
            let runs = s.reduce(0) { $0 + $1.runs }, ns = s.reduce(0) { $0 + $1.nanoseconds }
            return runs == 0 ? 0 : Double(ns) / Double(runs)
        }
        for _ in 0..<repeats {
            do {
                let e = try Empty(backend: backend, targets: probe.targets, discovery: discovery)
                _ = load.run(datagrams / 4)
                progEmpty.append(perRun(e.objects.flatMap { $0.programs.all.filter { $0.fd >= 0 } }))
            }
            do {
                let f = try Traced(filtered)
                _ = load.run(datagrams / 4)
                progOut.append(perRun(f.tracer.loadedPrograms))
            }
            do {
                let r = try Traced(base)
                _ = load.run(datagrams / 4)
                progRec.append(perRun(r.tracer.loadedPrograms))
            }
        }

        let stats = [
            Stat("hits per datagram (\(backend.rawValue), \(probe.targets.count) targets)", unit: "hits", hits),
            Stat("datagram, untraced", unit: "ns", none),
            Stat("datagram, empty programs", unit: "ns", empty),
            Stat("datagram, tracer, filtered out ('\(filterExpression)')", unit: "ns", out),
            Stat("datagram, tracer, recorded", unit: "ns", rec),
            Stat("per hit: empty program (hook + program)", unit: "ns", emptyHit),
            Stat("per hit: filtered out (hook + program)", unit: "ns", outHit),
            Stat("per hit: recorded (hook + program)", unit: "ns", recHit),
            Stat("program only: empty", unit: "ns/run", progEmpty),
            Stat("program only: filtered out", unit: "ns/run", progOut),
            Stat("program only: recorded", unit: "ns/run", progRec),
        ]
        func ratio(_ a: [Double], _ b: [Double]) -> Double { Stat("", unit: "", zip(a, b).map { $0 / max($1, 1e-9) }).median }
        let ratios = [
            "filtered-out hit / empty-program hit (hook + program)": ratio(outHit, emptyHit),
            "recorded hit / empty-program hit (hook + program)": ratio(recHit, emptyHit),
            "datagram: filtered out / empty programs": ratio(out, empty),
            "datagram: recorded / untraced": ratio(rec, none),
        ]
        return (stats, ratios, "per-hit costs on \(backend.rawValue), \(probe.targets.count) hooks, \(datagrams) datagrams per run, pinned to CPU \(cpu)")
    }
}
