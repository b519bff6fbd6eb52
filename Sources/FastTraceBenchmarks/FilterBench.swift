import FastTrace
import KernelBTF
import Foundation

/// What libpcap's optimiser buys per packet and costs at start, measured before making
/// `--no-optimize` anything but an opt-in. For each expression, small to very large: the
/// compile time of both link types (optimised or not), the eBPF length, and the kernel's
/// time per run of the spliced filter (filtertest.bpf.c under BPF_PROG_TEST_RUN, the same
/// stubs and packet views the tracer runs on every hit) on a TCP packet that matches none of
/// the hosts, so the whole program runs. The cost of the filter alone is the run minus a
/// run with a filter that rejects at once. Needs bpf_cast_to_kern_ctx (kernel 6.3+).
public enum FilterBench {
    public struct Result: Codable, Sendable {
        public var name: String
        public var expressionLength: Int
        public var compileMs: BenchStat
        public var compileUnoptimisedMs: BenchStat
        public var instructions: Int
        public var instructionsUnoptimised: Int
        /// Filter only: ns per run minus the reject-at-once baseline.
        public var filterNs: BenchStat
        public var filterUnoptimisedNs: BenchStat
    }

    static func hosts(_ n: Int) -> String {
        (0..<n).map { "host 10.\($0 >> 8 & 255).\($0 & 255).1" }.joined(separator: " or ")
    }

    /// (name, expression): what users write, up to the host lists that make the optimiser slow.
    static let cases: [(String, String)] = [
        ("tcp port 80", "tcp port 80"),
        ("host and port", "host 10.0.0.1 and tcp port 443"),
        ("4 hosts, 2 ports", "(\(hosts(4))) and (port 80 or port 443)"),
        ("32 hosts", hosts(32)),
        ("128 hosts", hosts(128)),
        ("256 hosts", hosts(256)),
    ]

    /// Ethernet + IPv4 + TCP 192.168.99.99:40000 → 192.168.99.98:8080, SYN, 80 bytes.
    static let packet: [UInt8] = {
        var p: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
        p += [0x45, 0, 0, 66, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 168, 99, 99, 192, 168, 99, 98]
        p += [0x9c, 0x40, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        return p + [UInt8](repeating: 0, count: 80 - p.count)
    }()

    public static var available: Bool {
        KernelInfo.isRoot && ((try? BTF.vmlinux())?.find("bpf_cast_to_kern_ctx", kind: .func) != nil)
    }

    public static func run(repeats: Int, note: (String) -> Void) throws -> [Result] {
        let baseline = try Loaded(l2: CBPFTranslator.rejectAll)
        var results: [Result] = []
        for (name, expression) in cases {
            note("filter cost, \(name)")
            var compile: [Double] = [], compileU: [Double] = [], ns: [Double] = [], nsU: [Double] = []
            var length = 0, lengthU = 0
            for _ in 0..<repeats {
                var t = benchNow()
                let optimised = try PacketFilter(expression)
                compile.append((benchNow() - t) / 1e6)
                t = benchNow()
                let plain = try PacketFilter(expression, optimize: false)
                compileU.append((benchNow() - t) / 1e6)
                let a = try Loaded(l2: optimised.translated().l2), b = try Loaded(l2: plain.translated().l2)
                (length, lengthU) = (a.length, b.length)
                // Interleaved, so drift hits all three alike.
                let base = try baseline.nsPerRun(), x = try a.nsPerRun(), y = try b.nsPerRun()
                ns.append(max(0, x - base))
                nsU.append(max(0, y - base))
            }
            results.append(Result(name: name, expressionLength: expression.count, compileMs: BenchStat(compile),
                                  compileUnoptimisedMs: BenchStat(compileU), instructions: length, instructionsUnoptimised: lengthU,
                                  filterNs: BenchStat(ns), filterUnoptimisedNs: BenchStat(nsU)))
        }
        return results
    }

    /// filtertest's L2 program with `l2` spliced in.
    struct Loaded {
        let loaded: FiltertestBPF.Loaded
        let length: Int

        init(l2: [EBPFInstruction]) throws {
            let opened = try FiltertestBPF.open()
            opened.programs.pcapTestL2.spliceFilter(l2: l2, l3: CBPFTranslator.rejectAll)
            opened.programs.pcapTestL3.spliceFilter(l2: l2, l3: CBPFTranslator.rejectAll)
            loaded = try opened.load()
            length = l2.count
        }

        /// The kernel's own average over 200,000 runs.
        func nsPerRun() throws -> Double {
            Double(try loaded.programs.pcapTestL2.testRun(packet: FilterBench.packet, repeat: 200_000).nsPerRun)
        }
    }

    static func section(_ reports: [BenchReport]) -> MarkdownSection? {
        guard reports.contains(where: { !($0.filter ?? []).isEmpty }) else { return nil }
        var m = MarkdownSection("The pcap filter: libpcap's optimiser, per packet and at start",
                                intro: "Both link types compiled (two threads), optimised or with `--no-optimize`; eBPF instructions of the Ethernet form; the kernel's time per run of the spliced filter (BPF_PROG_TEST_RUN, 200,000 runs, the tracer's own stubs) on a TCP packet that matches none of the hosts, minus a filter that rejects at once.",
                                columns: [("kernel", false), ("expression", false), ("characters", true), ("compile (ms)", true),
                                          ("compile, --no-optimize (ms)", true), ("eBPF insns", true), ("eBPF insns, --no-optimize", true),
                                          ("filter ns/packet", true), ("filter ns/packet, --no-optimize", true)])
        for r in reports {
            for f in r.filter ?? [] {
                m.row([r.kernel, f.name, "\(f.expressionLength)", f.compileMs.text(1), f.compileUnoptimisedMs.text(1), "\(f.instructions)",
                       "\(f.instructionsUnoptimised)", f.filterNs.text(0), f.filterUnoptimisedNs.text(0)])
            }
        }
        return m.finished
    }
}
