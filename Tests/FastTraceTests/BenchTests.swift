import FastTrace
@testable import FastTraceBenchmarks
import Foundation
import Testing

@Suite struct BenchStatTests {
    @Test func medianMinMax() {
        let odd = BenchStat([5, 1, 3])
        #expect(odd.median == 3 && odd.min == 1 && odd.max == 5 && odd.repeats == 3)
        let even = BenchStat([4, 1, 3, 10])
        #expect(even.median == 3.5 && even.min == 1 && even.max == 10)
        #expect(BenchStat([]).text() == "—")
        #expect(BenchStat([2, 1, 4]).text(1) == "2.0 [1.0–4.0]")
    }

    @Test func tablesNameWhatWasNotMeasured() {
        var r = BenchReport(kernel: "6.1.0-test", cpus: 2, repeats: 5, date: Date(timeIntervalSince1970: 0))
        r.attach = [AttachBench.Result(backend: "kprobe", functions: 10, size: "10",
                                       attachMs: BenchStat([10, 12, 11, 13, 9]), detachMs: BenchStat([300, 310, 290, 305, 295]))]
        r.detach = [DetachBench.Result(backend: "kprobe", mode: "sequential", probes: 30, detachMs: BenchStat([900, 1000, 950, 980, 920])),
                    DetachBench.Result(backend: "kprobe", mode: "parallel", probes: 30, detachMs: BenchStat([95, 100, 90, 98, 92])),
                    DetachBench.Result(backend: "fentry", mode: "sequential", probes: 30, detachMs: BenchStat([4000, 4100, 4050, 3900, 4200])),
                    DetachBench.Result(backend: "fentry", mode: "parallel", probes: 30, detachMs: BenchStat([4050, 4000, 4100, 4150, 3950]))]
        // One run when five do not fit the budget: the table says so.
        r.attach.append(AttachBench.Result(backend: "fentry", functions: 1630, size: "all",
                                           attachMs: BenchStat([49000]), detachMs: BenchStat([240000])))
        r.skipped = ["fentry all (1630 targets): ~3000 s for 5 repeats, over the 45 s budget left"]
        let md = BenchReport.renderMarkdown([r])
        #expect(md.contains("| 6.1.0-test | kprobe | 10 | 11.0 [9.0–13.0] | 300.0 [290.0–310.0] | 1.10 |"), "\(md)")
        #expect(md.contains("| 6.1.0-test | kprobe | 30 | parallel | 95 [90–100] | 3.2 | 0.10× |"), "\(md)")
        #expect(md.contains("| 6.1.0-test | fentry | 30 | parallel | 4050 [3950–4150] | 135.0 | 1.00× |"), "\(md)")
        #expect(md.contains("| 6.1.0-test | fentry | all (1630) | 49000.0 (1 run) | 240000.0 (1 run) | 30.06 |"), "\(md)")
        #expect(md.contains("- 6.1.0-test: fentry all (1630 targets)"), "\(md)")
    }
}

extension ExclusiveSuites {
    /// `fasttrace bench` for real on this kernel (attach part, smallest size): a report with
    /// every available backend measured five times, the others named as not measured.
    @Suite(.enabled(if: KernelInfo.isRoot, "needs root (BPF)"))
    struct BenchCommandTests {
        var cli: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }

        @Test func attachReportForThisKernel() throws {
            let json = TestSupport.temporaryDirectory("bench").appendingPathComponent("b.json").path
            let r = try TestSupport.run(cli, ["bench", "--only", "attach", "--sizes", "10", "--json", json])
            #expect(r.status == 0, "\(r.stderr)")
            let d = JSONDecoder()
            d.dateDecodingStrategy = .iso8601
            let report = try d.decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
            let available = Backend.allCases.filter { $0.probe().ok }.map(\.rawValue)
            #expect(Set(report.attach.map(\.backend)) == Set(available))
            for a in report.attach {
                #expect(a.functions == 10 && a.attachMs.repeats == 5 && a.attachMs.min > 0 && a.attachMs.min <= a.attachMs.median)
            }
            for b in Backend.allCases where !available.contains(b.rawValue) {
                #expect(report.skipped.contains { $0.hasPrefix("\(b.rawValue): not on this kernel") }, "\(report.skipped)")
            }
            #expect(r.stdout.contains("### Attach and detach (ms)"))
        }

        /// exec→ready as a user meets it, per backend and for auto: a figure per backend, auto
        /// naming the backend it chose, every target attached. Host only (under emulation a
        /// backend's every function takes minutes; `make bench` measures the guests).
        @Test(.enabled(if: ProcessInfo.processInfo.environment["FASTTRACE_EXPECT_FEATURES"] == nil, "host only: minutes under emulation"))
        func startupReportForThisKernel() throws {
            let json = TestSupport.temporaryDirectory("bench").appendingPathComponent("s.json").path
            let available = Backend.allCases.filter { $0.probe().ok && $0.tracesTracepoints }.map(\.rawValue)
            try #require(!available.isEmpty)
            let r = try TestSupport.run(cli, ["bench", "--only", "startup", "--backends", available.joined(separator: ","), "--json", json])
            #expect(r.status == 0, "\(r.stderr)")
            let d = JSONDecoder()
            d.dateDecodingStrategy = .iso8601
            let report = try d.decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
            let startup = report.startup ?? []
            #expect(startup.map(\.backend) == available + ["auto", "auto"])
            #expect(startup.map(\.discoveryCache) == Array(repeating: nil, count: available.count + 1) + [false])
            #expect(startup.allSatisfy { $0.attached > 0 && $0.readyMs.repeats == 5 && $0.readyMs.min > 0 }, "\(startup)")
            #expect(startup.last?.chosen.map(Backend.names.contains) == true, "\(String(describing: startup.last))")
            #expect(r.stdout.contains("### Start-up: exec→ready (ms)"))
            #expect(r.stdout.contains("| auto, no discovery cache ("))
        }

        /// The busy-host part as a user meets it (fasttrace and the flood as separate
        /// processes): for each output, every record the programs produced is either in the
        /// log or output file, or counted as lost.
        @Test func floodCountsAddUp() throws {
            let json = TestSupport.temporaryDirectory("bench").appendingPathComponent("f.json").path
            // Emulated guests trace every function with a debug build: a fixed, small flood.
            let size = KernelInfo.release.hasPrefix("6.18") ? ["--flood-seconds", "1"] : ["--flood-datagrams", "2000"]
            let r = try TestSupport.run(cli, ["bench", "--only", "flood", "--flood-repeats", "1", "--json", json] + size)
            #expect(r.status == 0, "\(r.stderr)")
            let d = JSONDecoder()
            d.dateDecodingStrategy = .iso8601
            let report = try d.decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: json)))
            let flood = report.flood ?? []
            #expect(flood.map(\.output) == ["-w log", "text to a file", "JSON to a file"], "\(report.skipped)")
            for f in flood {
                #expect(f.accounted == 1, "\(f.output): recorded + lost differs from the programs' counters")
                #expect(f.recordedEvents.median > 1000 && f.hooks > 0, "\(f.output)")
            }
            #expect(r.stdout.contains("### Busy host"))
        }

        @Test func badArgumentsAreOneLineErrors() throws {
            for args in [["--repeats", "3"], ["--only", "speed"], ["--sizes", "ten"], ["--backends", "uprobe"], ["--flood-seconds", "0"]] {
                let r = try TestSupport.run(cli, ["bench"] + args)
                #expect(r.status == 2, "\(args): \(r.stderr)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            }
        }
    }
}
