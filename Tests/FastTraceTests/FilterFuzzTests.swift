@testable import FastTrace
@testable import FastTraceBenchmarks
import Foundation
import Testing

/// Seeded random pcap-filter expressions through the whole front end: libpcap's compile for
/// both link types, the classic→eBPF translation, and for a sample the kernel's verifier and
/// a run against libpcap's own verdicts. Expressions are built from a grammar (the
/// differential test's expressions, byte-offset arithmetic with edge values, and/or/not,
/// parentheses), then some are mutated (bytes cut, duplicated, swapped; control bytes,
/// quotes, non-ASCII inserted), and some are noise.
///
/// Checks: no trap; an expression that fails gives one non-empty line; a compiled one
/// translates or is refused with a message; every translated jump lands inside its program;
/// a compile taking over 10 s is a hang; the sampled programs (a quarter of them compiled
/// without libpcap's optimiser) load and agree with libpcap on every packet. Iterations: FASTTRACE_FUZZ_FILTERS (default 4,000; `make fuzz` more).
/// Exclusive: it loads programs, as the kernel differential test does.
extension ExclusiveSuites {
@Suite struct FilterFuzzTests {
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["FASTTRACE_FUZZ_FILTERS"] ?? "") ?? 4000 }
    /// Compiled expressions also loaded into the kernel and compared with libpcap.
    static var kernelSamples: Int { Int(ProcessInfo.processInfo.environment["FASTTRACE_FUZZ_KERNEL_FILTERS"] ?? "") ?? 60 }
    static let hangSeconds = 10.0

    typealias RNG = PacketCorpus.RNG

    static let protocols = ["ether", "ip", "ip6", "tcp", "udp", "icmp", "icmp6", "arp", "igmp", "sctp", "vrrp", "rarp"]
    static let numbers = ["0", "1", "2", "3", "4", "14", "20", "40", "255", "256", "1500", "65535", "65536", "0x7fffffff",
                          "0x80000000", "0xffffffff", "4294967295", "010", "0xff"]
    static let badNumbers = ["4294967296", "99999999999999999999", "0x", "08", "-1", "1e3", "0b1"]
    static let noise: [String] = ["(", ")", "[", "]", ":", "&", "|", "!", "==", "=", "<", ">", "-", "+", "*", "/", "%", "<<", ">>",
                                  "and", "or", "not", "host", "net", "port", "portrange", "proto", "src", "dst", "mask", "len",
                                  "\"", "'", "\\", "\t", "\u{1}", "\u{7f}", "\u{1b}[31m", "é", "∀", "\u{feff}", "  ", ".", "/", "::", "0x"]

    static func number(_ rng: inout RNG) -> String {
        rng.chance(3) ? rng.pick(badNumbers) : rng.chance(70) ? rng.pick(numbers) : String(rng.next() >> UInt64(32 + rng.int(32)))
    }

    static func arith(_ rng: inout RNG, depth: Int) -> String {
        switch depth > 2 ? rng.int(3) : rng.int(6) {
        case 0: return number(&rng)
        case 1: return "len"
        case 2: return "\(rng.pick(protocols))[\(rng.chance(70) ? number(&rng) : arith(&rng, depth: depth + 1))\(rng.chance(50) ? ":\(rng.chance(5) ? rng.pick(["3", "0", "8"]) : rng.pick(["1", "2", "4"]))" : "")]"
        default:
            let op = rng.pick(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])
            return "(\(arith(&rng, depth: depth + 1)) \(op) \(arith(&rng, depth: depth + 1)))"
        }
    }

    static func atom(_ rng: inout RNG) -> String {
        if rng.chance(55) { return rng.pick(FilterExpressions.all.filter { !$0.isEmpty }) }
        return "\(arith(&rng, depth: 0)) \(rng.pick(["==", "=", "!=", "<", "<=", ">", ">="])) \(arith(&rng, depth: 0))"
    }

    static func grammar(_ rng: inout RNG, depth: Int) -> String {
        guard depth < 4, !rng.chance(35) else { return atom(&rng) }
        switch rng.int(6) {
        case 0, 1: return "\(grammar(&rng, depth: depth + 1)) and \(grammar(&rng, depth: depth + 1))"
        case 2: return "\(grammar(&rng, depth: depth + 1)) or \(grammar(&rng, depth: depth + 1))"
        case 3: return "not \(grammar(&rng, depth: depth + 1))"
        case 4: return "(\(grammar(&rng, depth: depth + 1)))"
        default: return "\(grammar(&rng, depth: depth + 1)) \(rng.pick(["&&", "||"])) \(rng.chance(30) ? "!" : "")\(grammar(&rng, depth: depth + 1))"
        }
    }

    static func mutate(_ s: String, _ rng: inout RNG) -> String {
        var c = Array(s.unicodeScalars)
        for _ in 0..<(1 + rng.int(3)) {
            let at = c.isEmpty ? 0 : rng.int(c.count + 1)
            switch rng.int(5) {
            case 0 where !c.isEmpty: c.removeSubrange(min(at, c.count - 1)..<min(c.count, at + 1 + rng.int(6)))
            case 1: c.insert(contentsOf: rng.pick(noise).unicodeScalars, at: at)
            case 2 where !c.isEmpty:
                let from = rng.int(c.count), to = min(c.count, from + 1 + rng.int(12))
                c.insert(contentsOf: c[from..<to], at: at)
            case 3 where c.count > 1:
                let i = rng.int(c.count - 1)
                c.swapAt(i, i + 1)
            default: c = Array(c.prefix(at))
            }
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: c.filter { $0.value != 0 }) // argv cannot hold a NUL
        return String(out)
    }

    static func expression(_ rng: inout RNG) -> String {
        switch rng.int(10) {
        case 0..<5: return grammar(&rng, depth: 0)
        case 5..<8: return mutate(grammar(&rng, depth: 0), &rng)
        case 8: return mutate(rng.pick(FilterExpressions.all), &rng)
        default: return (0..<rng.int(12)).map { _ in rng.pick(noise + protocols + numbers + badNumbers) }.joined(separator: rng.chance(50) ? " " : "")
        }
    }

    /// Every jump of a translated program lands on an instruction of it.
    static func jumpsStayInside(_ p: [EBPFInstruction]) -> Bool {
        p.indices.allSatisfy { i in
            guard p[i].isJump else { return true }
            let target = i + 1 + (p[i].isLongJump ? Int(p[i].imm) : Int(p[i].off))
            return target >= 0 && target < p.count
        } && (p.last?.isExit ?? false || p.last?.isJump ?? false)
    }

    @Test func everyExpressionCompilesOrFailsInOneLine() throws {
        // libpcap resolves host names as tcpdump does, so a mutated word after `host` or
        // `src` becomes a DNS query; without an answering server each one waits out the
        // resolver (5 s, twice, by default). One short try keeps a query from passing for a
        // hang of the compiler; the slow ones are still timed and counted.
        setenv("RES_OPTIONS", "timeout:1 attempts:1", 0)
        let seed = LogFuzzTests.seed
        var rng = RNG(state: seed ^ 0xF117_E4)
        var compiled = 0, refused = 0, untranslatable = 0, slow = 0, slowest = 0.0, slowestExpression = ""
        var failures: [String] = [], samples: [String] = []
        let sampleEvery = max(1, Self.iterations / max(1, Self.kernelSamples * 3))
        for i in 0..<Self.iterations {
            let e = Self.expression(&rng)
            let t0 = benchNow()
            let result: Result<PacketFilter, FilterError>
            do { result = .success(try PacketFilter(e)) } catch { result = .failure(error) }
            let took = (benchNow() - t0) / 1e9
            if took > slowest { (slowest, slowestExpression) = (took, e) }
            if took > 1 { slow += 1 }
            if took > Self.hangSeconds { failures.append("'\(e)': compile took \(took) s") }
            let filter: PacketFilter
            switch result {
            case .failure(let error):
                refused += 1
                if error.description.isEmpty || error.description.contains("\n") {
                    failures.append("'\(e)': message \(error.description.debugDescription)")
                }
                continue
            case .success(let f): filter = f
            }
            compiled += 1
            do {
                let (l2, l3) = try filter.translated()
                if !Self.jumpsStayInside(l2) || !Self.jumpsStayInside(l3) { failures.append("'\(e)': a jump leaves the program") }
                if i % sampleEvery == 0, samples.count < Self.kernelSamples { samples.append(e) }
            } catch {
                untranslatable += 1
                if error.description.isEmpty || error.description.contains("\n") { failures.append("'\(e)': translator message \(error.description.debugDescription)") }
            }
        }
        var c = FilterKernelTests.Comparison()
        var loaded = 0
        if FilterKernelTests.canTestRun {
            let corpus = PacketCorpus.generate(count: 150, seed: seed ^ 0xC0)
            for (n, e) in samples.enumerated() {
                let k: FilterKernelTests.KernelFilter
                // Every fourth unoptimised (--no-optimize).
                do { k = try FilterKernelTests.KernelFilter(e, optimize: n % 4 != 3) } catch {
                    failures.append("'\(e)': the kernel refused the translated filter: \(error)")
                    continue
                }
                loaded += 1
                try FilterKernelTests.compare(k, e, corpus: corpus, into: &c)
            }
            failures += c.mismatches.prefix(5).map(\.description)
        }
        print("filter fuzz: seed \(seed), \(Self.iterations) expressions, \(compiled) compiled, \(refused) refused by libpcap, \(untranslatable) refused by the translator, slowest compile \(String(format: "%.3f", slowest)) s, \(slow) over 1 s (name lookups); \(loaded) loaded into the kernel, \(c.runs) runs against libpcap, \(c.mismatches.count) mismatches (\(c.undefined) undefined in libpcap: an unset scratch slot read); \(failures.count) failures")
        if slowest > 1 { print("filter fuzz: slowest: '\(slowestExpression)'") }
        #expect(compiled > Self.iterations / 5, "the grammar should mostly make valid expressions")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(5).joined(separator: "\n"))")
    }
}
}
