// fasttrace-bench: attach/detach time and per-hit overhead, as ratios measured in one run.
// `make bench` runs it; `--json` prints machine-readable results; `--repeats N` (>= 5).
import FastTrace
import Foundation

struct Stat: Codable {
    let name: String
    let unit: String
    let min: Double
    let median: Double
    let max: Double
    let repeats: Int

    init(_ name: String, unit: String, _ samples: [Double]) {
        let s = samples.sorted()
        self.name = name
        self.unit = unit
        min = s.first ?? 0
        max = s.last ?? 0
        median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        repeats = s.count
    }
}

struct Report: Codable {
    let kernel: String
    let backend: String
    let stats: [Stat]
    let ratios: [String: Double]
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}

func measure(_ repeats: Int, _ body: () throws -> Void) rethrows -> [Double] {
    try (0..<repeats).map { _ in
        let t = now()
        try body()
        return now() - t
    }
}

/// UDP datagrams over loopback: each is one net_dev_queue and one netif_receive_skb hit.
final class LoopbackLoad {
    let rx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    let tx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let payload = [UInt8](repeating: 1, count: 64)
    var sink = [UInt8](repeating: 0, count: 2048)

    init() {
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = bind(rx, sa, len)
                _ = getsockname(rx, sa, &len)
            }
        }
    }

    /// Nanoseconds per datagram (send + receive) over `count` datagrams.
    func run(_ count: Int) -> Double {
        let t = now()
        withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                for _ in 0..<count {
                    _ = sendto(tx, payload, payload.count, 0, sa, len)
                    _ = recv(rx, &sink, sink.count, 0)
                }
            }
        }
        return (now() - t) / Double(count)
    }
}

/// Attach and detach time of the tracer, per backend this kernel offers, for 10, 100 and all
/// targets. (Legacy kprobe and fentry take minutes for all functions under emulation.)
func attachStats(repeats: Int, maxAll: Bool) throws -> [Stat] {
    let discovery = try Discovery.run()
    var out: [Stat] = []
    for backend in Backend.allCases where FeatureProbe.probe(backend.feature).ok {
        let pool = backend == .tracepoint ? discovery.tracepoints.map(\.name) : discovery.functions.map(\.name)
        var sizes = [10, 100].filter { $0 < pool.count }
        if maxAll || backend == .kprobeMulti || backend == .tracepoint || pool.count <= 100 { sizes.append(pool.count) }
        for n in sizes {
            var config = TraceConfig()
            config.backend = backend
            config.limit = n == pool.count ? nil : try NameFilter(pool.prefix(n).joined(separator: "|"))
            var attach: [Double] = [], detach: [Double] = []
            for _ in 0..<repeats {
                let tracer = try Tracer(config)
                var t = now()
                try tracer.attach()
                attach.append((now() - t) / 1e6)
                t = now()
                tracer.detach()
                detach.append((now() - t) / 1e6)
            }
            let label = n == pool.count ? "all \(n)" : "\(n)"
            out.append(Stat("\(backend.rawValue) attach, \(label)", unit: "ms", attach))
            out.append(Stat("\(backend.rawValue) detach, \(label)", unit: "ms", detach))
        }
    }
    return out
}

var repeats = 7
var json = false
var allFunctions = false
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--json": json = true
    case "--repeats": repeats = max(5, Int(args.next() ?? "") ?? 7)
    case "--all-functions": allFunctions = true
    case "-h", "--help":
        print("usage: fasttrace-bench [--json] [--repeats N] [--all-functions]   (N >= 5; needs root)")
        print("  --all-functions: also time legacy kprobe and fentry on every function (slow)")
        exit(0)
    default:
        FileHandle.standardError.write(Data("fasttrace-bench: unknown argument \(a)\n".utf8))
        exit(2)
    }
}
guard KernelInfo.isRoot else {
    FileHandle.standardError.write(Data("fasttrace-bench: needs root (CAP_BPF, CAP_PERFMON)\n".utf8))
    exit(1)
}

do {
    var open: [Double] = [], load: [Double] = [], attach: [Double] = [], detach: [Double] = []
    for _ in 0..<repeats {
        var t = now()
        let opened = try SkbcountBPF.open()
        open.append(now() - t)
        t = now()
        let loaded = try opened.load()
        load.append(now() - t)
        t = now()
        let links = try loaded.attach()
        attach.append(now() - t)
        t = now()
        links.forEach { $0.detach() }
        detach.append(now() - t)
    }

    // Per-hit overhead: the same loopback load without programs and with skbcount attached.
    let load_ = LoopbackLoad()
    let datagrams = 50_000
    _ = load_.run(2_000) // warm-up
    var base: [Double] = [], traced: [Double] = []
    let loaded = try SkbcountBPF.open().load()
    for _ in 0..<repeats {
        base.append(load_.run(datagrams))
        let links = try loaded.attach()
        traced.append(load_.run(datagrams))
        links.forEach { $0.detach() }
    }
    let hitCost = try HitCost.run(repeats: repeats, datagrams: datagrams)
    let stats = try attachStats(repeats: repeats, maxAll: allFunctions) + hitCost.stats + LogBench.run(repeats: repeats) + [
        Stat("open (skbcount)", unit: "µs", open.map { $0 / 1e3 }),
        Stat("load (verifier, 2 programs)", unit: "µs", load.map { $0 / 1e3 }),
        Stat("attach tp_btf ×2", unit: "µs", attach.map { $0 / 1e3 }),
        Stat("detach tp_btf ×2", unit: "µs", detach.map { $0 / 1e3 }),
        Stat("loopback datagram, untraced", unit: "ns", base),
        Stat("loopback datagram, skbcount on tp_btf", unit: "ns", traced),
    ]
    let ratio = Stat("", unit: "", traced).median / Stat("", unit: "", base).median
    let report = Report(kernel: KernelInfo.release, backend: "tp_btf", stats: stats,
                        ratios: hitCost.ratios.merging(["skbcount traced/untraced per datagram": ratio]) { a, _ in a })
    if json {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try enc.encode(report), as: UTF8.self))
    } else {
        print("kernel \(report.kernel), \(repeats) repeats, median [min … max]\n")
        print("| measurement | median | min | max | unit |")
        print("|---|---:|---:|---:|---|")
        for s in stats {
            print(String(format: "| %@ | %.1f | %.1f | %.1f | %@ |", s.name, s.median, s.min, s.max, s.unit))
        }
        print("\nRatios (each computed within one repeat, median over \(repeats); \(hitCost.note)):")
        for (k, v) in report.ratios.sorted(by: { $0.key < $1.key }) { print(String(format: "- %@: %.2f×", k, v)) }
    }
} catch {
    FileHandle.standardError.write(Data("fasttrace-bench: \(error)\n".utf8))
    exit(1)
}
