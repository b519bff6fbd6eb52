// fasttrace-bench: what `fasttrace bench` cannot measure on the kernel under test (log codec,
// skeleton lifecycle), and the merge of several kernels' `fasttrace bench --json` reports
// into one set of tables (docs/benchmarks.md). `make bench` (scripts/bench.sh) runs it all;
// the kernel measurements themselves live in Sources/FastTrace/Bench.
//
//   fasttrace-bench extras [--repeats N] [--json FILE]   (includes `offline`)
//   fasttrace-bench offline [--repeats N] [--sizes N,N]   read/journeys/Parquet export on generated logs
//   fasttrace-bench genlog N FILE                         a synthetic N-event log
//   fasttrace-bench merge [--doc FILE] [--extras FILE] REPORT.json...
import FastTrace
import FastTraceBenchmarks
import Foundation

struct Stat: Codable {
    let name: String
    let unit: String
    let value: BenchStat

    init(_ name: String, unit: String, _ samples: [Double]) {
        self.name = name
        self.unit = unit
        value = BenchStat(samples)
    }
}

struct Extras: Codable {
    let kernel: String
    let stats: [Stat]
}

func die(_ s: String, _ status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("fasttrace-bench: \(s)\n".utf8))
    exit(status)
}

/// The skeleton lifecycle (open, load, attach, detach) of a small object, in µs.
func skeletonStats(repeats: Int) throws -> [Stat] {
    var open: [Double] = [], load: [Double] = [], attach: [Double] = [], detach: [Double] = []
    for _ in 0..<repeats {
        var t = benchNow()
        let opened = try SkbcountBPF.open()
        open.append(benchNow() - t)
        t = benchNow()
        let loaded = try opened.load()
        load.append(benchNow() - t)
        t = benchNow()
        let links = try loaded.attach()
        attach.append(benchNow() - t)
        t = benchNow()
        links.forEach { $0.detach() }
        detach.append(benchNow() - t)
    }
    return [
        Stat("skeleton: open (skbcount)", unit: "µs", open.map { $0 / 1e3 }),
        Stat("skeleton: load (verifier, 2 programs)", unit: "µs", load.map { $0 / 1e3 }),
        Stat("skeleton: attach tp_btf ×2", unit: "µs", attach.map { $0 / 1e3 }),
        Stat("skeleton: detach tp_btf ×2", unit: "µs", detach.map { $0 / 1e3 }),
    ]
}

func extrasMarkdown(_ e: Extras) -> String {
    var out = ["| measurement (\(e.kernel)) | median [min–max] | unit |", "|---|---:|---|"]
    for s in e.stats { out.append("| \(s.name) | \(s.value.text(1)) | \(s.unit) |") }
    return out.joined(separator: "\n")
}

func decoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.dateDecodingStrategy = .iso8601
    return d
}

func writeJSON<T: Encodable>(_ v: T, _ path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.dateEncodingStrategy = .iso8601
    try enc.encode(v).write(to: URL(fileURLWithPath: path))
}

/// The `fasttrace` built next to this program.
func siblingFasttrace() -> String {
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return me.deletingLastPathComponent().appendingPathComponent("fasttrace").path
}

/// Replaces what lies between the generated-table markers of `doc` with `body`.
func updateDoc(_ doc: String, _ body: String) throws {
    let begin = "<!-- BEGIN GENERATED: make bench -->", end = "<!-- END GENERATED -->"
    let text = try String(contentsOfFile: doc, encoding: .utf8)
    guard let b = text.range(of: begin), let e = text.range(of: end), b.upperBound <= e.lowerBound else {
        die("\(doc): no '\(begin)' … '\(end)' markers")
    }
    try (text[..<b.upperBound] + "\n" + body + "\n" + text[e.lowerBound...]).write(toFile: doc, atomically: true, encoding: .utf8)
}

var args = Array(CommandLine.arguments.dropFirst())
let mode = args.first ?? "--help"
args = Array(args.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    defer { args.removeSubrange(i...(i + 1)) }
    return args[i + 1]
}

do {
    switch mode {
    case "extras":
        let repeats = max(5, Int(option("--repeats") ?? "") ?? 5)
        let json = option("--json")
        guard KernelInfo.isRoot else { die("needs root (CAP_BPF, CAP_PERFMON)") }
        let offline = try OfflineBench.stats(fasttrace: siblingFasttrace(), repeats: repeats, sizes: [1_000_000, 10_000_000])
        let e = Extras(kernel: KernelInfo.release, stats: try LogBench.run(repeats: repeats) + skeletonStats(repeats: repeats) + offline)
        if let json { try writeJSON(e, json) }
        print(extrasMarkdown(e))
    case "offline":
        let repeats = max(1, Int(option("--repeats") ?? "") ?? 5)
        let sizes = (option("--sizes") ?? "1000000,10000000").split(separator: ",").compactMap { Int($0) }
        let e = Extras(kernel: KernelInfo.release, stats: try OfflineBench.stats(fasttrace: siblingFasttrace(), repeats: repeats, sizes: sizes))
        print(extrasMarkdown(e))
    case "genlog":
        guard args.count == 2, let n = Int(args[0]), n > 0 else { die("genlog N FILE", 2) }
        try SyntheticLog.write(n, to: args[1])
    case "merge":
        let doc = option("--doc")
        let extras = try option("--extras").map { try decoder().decode(Extras.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }
        guard !args.isEmpty else { die("merge: no reports given", 2) }
        let reports = args.map { path -> BenchReport in
            do { return try decoder().decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                die("\(path): not a `fasttrace bench --json` report (\(error.localizedDescription))", 2)
            }
        }
        var body = BenchReport.renderMarkdown(reports)
        if let extras { body += "\n\n### Capture log, skeleton and offline post-processing (host)\n\n" + extrasMarkdown(extras) }
        print(body)
        if let doc { try updateDoc(doc, body) }
    default:
        print("""
        usage: fasttrace-bench extras [--repeats N] [--json FILE]      log codec, skeleton lifecycle, offline (root)
               fasttrace-bench offline [--repeats N] [--sizes N,N]    fasttrace read/journeys/export on generated logs
               fasttrace-bench genlog N FILE                          a synthetic N-event capture log
               fasttrace-bench merge [--doc FILE] [--extras FILE] REPORT.json...
        The kernel measurements are `fasttrace bench`; `make bench` runs everything.
        """)
        exit(mode == "-h" || mode == "--help" ? 0 : 2)
    }
} catch {
    die("\(error)")
}
