import ArgumentParser
@testable import FastTrace
@testable import FastTraceCLI
import Foundation
import Testing

/// Seeded random command lines through the real argument parser and every check `trace`
/// makes before it touches the kernel (`TraceCommand.makeConfig`), and the read side's
/// queries. Arguments are drawn from the real option names (and near misses), with values at
/// the edges: negative, huge, nan/inf, empty, control bytes, bad regexes, marks, paths that
/// are not network namespaces, pcap expressions.
///
/// Checks: no trap; every rejection is one line, with every control byte escaped, and a
/// status of 2. Iterations: FASTTRACE_FUZZ_ARGS (default 1,000: the parser takes ~15 ms a
/// command line in a debug build; `make fuzz` runs more).
@Suite struct CLIFuzzTests {
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["FASTTRACE_FUZZ_ARGS"] ?? "") ?? 1000 }
    typealias RNG = PacketCorpus.RNG

    static let subcommands = ["", "", "", "trace", "read", "stats", "journeys", "diff", "export", "funcs"]
    static let flags = ["--filter-track-skb", "--all-kmods", "--no-output-tuple", "--output-tuple", "--no-output-meta",
                        "--output-tcp-flags", "--output-stack", "--output-caller", "--output-json", "--force", "--print",
                        "--no-expedite-detach", "--drops", "--changed-only", "-h", "--help", "--version", "--", "-", "-x", "--bogus"]
    static let options = ["--filter-track-max", "--backend", "--limit-funcs", "--filter-func", "--kmods", "--filter-mark",
                          "--filter-ifname", "--filter-netns", "--timestamp", "--output-limit-lines", "--duration", "-w",
                          "--output-file", "--frame-interval", "--snaplen", "--ring-size", "--summary-file", "--wakeup-every",
                          "--ready-file", "--func", "--skb", "--since", "--until", "--host", "--port", "--format", "-o"]
    static let values = ["", "0", "1", "-1", "-0", "07", "0x10", "0xffffffff", "4294967295", "4294967296", "65535", "65536",
                         "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999999",
                         "1099511627776", "nan", "inf", "-inf", "1e309", "0.0000001", "1.5", " 1", "1 ", "auto", "kprobe",
                         "fentry", "tracepoint", "kprobe-multi", "none", "relative", "absolute", "current", "/", "1/", "/1",
                         "0x100/0xff00", "0x", "0xg", "inode:", "inode:4026531840", "inode:-1", "/etc/passwd", "/dev/null",
                         "/proc/self/ns/net", "/proc/self/ns/mnt", "/proc/1/ns/net", "/nonexistent/dir/file", "/tmp",
                         "lo", "eth0", "a{99999}", "(", "[", "*", "ip_.*|kfree_skb.*", "\\", "tcp", "tcp port 80",
                         "host 10.0.0.1", "10.0.0.1", "::1", "2001:db8::1", "ffff8881deadbeef", "\u{1}", "\u{1b}[2J", "\t",
                         "é", "\u{7f}", "pcapng", "jsonl", "parquet", "-", "--"]

    static func value(_ rng: inout RNG) -> String {
        var v = rng.pick(values)
        if rng.chance(10) { v += rng.pick(values) }
        if rng.chance(5) { v = String(repeating: v.isEmpty ? "9" : v, count: 1 + rng.int(200)) }
        return v
    }

    static func argv(_ rng: inout RNG) -> [String] {
        var a: [String] = []
        let sub = rng.pick(subcommands)
        if !sub.isEmpty { a.append(sub) }
        for _ in 0..<rng.int(7) {
            switch rng.int(10) {
            case 0..<5:
                let o = rng.pick(options)
                if rng.chance(20) { a.append("\(o)=\(value(&rng))") } else { a += [o, value(&rng)] }
            case 5..<7: a.append(rng.pick(flags))
            case 7: a.append(rng.pick(options)) // an option without its value
            case 8: a.append(String(rng.pick(options + flags).dropLast(rng.int(3)))) // a near miss
            default: a.append(value(&rng)) // positional: a filter word or a log path
            }
        }
        return a
    }

    /// One line, no raw control byte: what a terminal would show.
    static func printable(_ line: String) -> Bool {
        !line.isEmpty && !line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    @Test func everyCommandLineParsesOrFailsInOneLine() throws {
        let seed = LogFuzzTests.seed
        var rng = RNG(state: seed ^ 0xA7C5)
        var parsed = 0, configured = 0, rejected = 0, help = 0
        var failures: [String] = []
        for _ in 0..<Self.iterations {
            let args = Self.argv(&rng)
            do {
                let command = try FastTraceCommand.parseAsRoot(args)
                parsed += 1
                if let trace = command as? TraceCommand {
                    _ = try trace.makeConfig()
                    configured += 1
                } else if let read = command as? ReadCommand {
                    _ = try read.filters.query()
                } else if let export = command as? ExportCommand {
                    _ = try export.filters.query()
                }
            } catch let e as UsageError {
                rejected += 1
                let shown = escapeControl(e.message)
                if !Self.printable(shown) || e.status != 2 { failures.append("\(args.debugDescription): status \(e.status), \(shown.debugDescription)") }
            } catch {
                guard let line = FastTraceCommand.usageLine(for: error) else { help += 1; continue }
                rejected += 1
                if !Self.printable(line) { failures.append("\(args.debugDescription): \(line.debugDescription)") }
            }
        }
        print("argument fuzz: seed \(seed), \(Self.iterations) command lines, \(parsed) parsed, \(configured) configured a trace, \(rejected) rejected in one line, \(help) help or version; \(failures.count) failures")
        #expect(configured > Self.iterations / 20 && rejected > Self.iterations / 4, "the generator should reach both sides")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(5).joined(separator: "\n"))")
    }
}
