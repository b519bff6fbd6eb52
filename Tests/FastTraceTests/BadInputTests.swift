@testable import FastTrace
import Foundation
import Testing

/// Bad input gets one line naming the cause and exit 2 (docs/output.md, exit codes), never a
/// Swift trap: each case here once trapped or was silently accepted (issue 13).
@Suite struct BadInputTests {
    var cli: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }

    func expectOneLine(_ args: [String], status: Int32 = 2, mentions: String? = nil) throws {
        let r = try TestSupport.run(cli, args)
        #expect(r.status == status, "\(args): exit \(r.status): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(args): \(r.stderr)")
        #expect(lines.first?.hasPrefix("fasttrace: ") == true, "\(args): \(r.stderr)")
        if let mentions { #expect(r.stderr.contains(mentions), "\(args): \(r.stderr)") }
    }

    @Test(.enabled(if: KernelInfo.isRoot, "the checks after the privilege check need root"))
    func traceOptionsOutOfRange() throws {
        let cases: [([String], String)] = [
            (["--filter-mark", "/"], "--filter-mark"), (["--filter-mark", ""], "--filter-mark"),
            (["--filter-mark", "1/"], "--filter-mark"), (["--filter-mark", "0x1/zz"], "--filter-mark"),
            (["--ring-size", "1099511627776"], "1073741824"), (["--ring-size", "-5"], "--ring-size"),
            (["--ring-size", "99999999999999999999999"], "--ring-size"),
            (["--filter-track-max", "99999999999"], "16777216"), (["--filter-track-max", "0"], "--filter-track-max"),
            (["--duration", "inf"], "--duration"), (["--duration", "nan"], "--duration"), (["--duration", "-1"], "--duration"),
            (["--frame-interval", "0"], "--frame-interval"), (["--snaplen", "-1"], "--snaplen"),
            (["--wakeup-every", "3"], "--wakeup-every"), (["--wakeup-every", "-1"], "--wakeup-every"),
            (["--output-limit-lines", "0"], "--output-limit-lines"),
            (["--host-name", ""], "--host-name"), (["--host-name", "a/b"], "--host-name"), (["--host-name", "a\nb"], "--host-name"),
            (["--filter-netns", "/etc/passwd"], "not a network namespace"), (["--filter-netns", "/dev/null"], "not a network namespace"),
            (["--filter-netns", "/proc/self/ns/mnt"], "a mnt namespace"), (["--filter-netns", "/nonexistent"], "cannot open"),
            (["--backend", "nope"], "--backend"), (["--no-such-flag"], "--help"), (["--limit-funcs", "("], "--limit-funcs"),
            (["tcp and and"], "pcap filter"), (["--filter-compile-timeout", "0"], "--filter-compile-timeout"),
            (["--filter-compile-timeout", "0.05", (0..<256).map { "host 10.0.\($0).1" }.joined(separator: " or ")], "--no-optimize"), (["--filter-mark", "1\u{1b}[31m"], "\\x1b"),
        ]
        // A case that were wrongly accepted would trace: bound it (and fail on status 0).
        for (args, mention) in cases {
            try expectOneLine(args + (args.contains("--duration") ? [] : ["--duration", "2"]), mentions: mention)
        }
    }

    /// A hard open-file limit too low for the chosen backend on every target: refused before
    /// anything is attached, in one line naming the limit (on Debian 6.1 legacy kprobes on
    /// every function need ~3,000; `make smoke` checks that case in the guest).
    @Test(.enabled(if: KernelInfo.isRoot, "the check follows the privilege check"))
    func tooFewFileDescriptors() throws {
        let r = try TestSupport.run("/bin/bash", ["-c", "ulimit -n 40 && exec \"$0\" --duration 2 'tcp port 1'", cli])
        #expect(r.status == 2, "exit \(r.status): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("fasttrace: ") }
        #expect(lines.count == 1 && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("open files, and the limit is 40 (ulimit -Hn)"), "\(r.stderr)")
    }

    /// Logs whose length fields point anywhere: read, stats, journeys and export answer
    /// with the intact frames or a one-line refusal, never a trap.
    @Test func logsWithWildLengthFields() throws {
        let dir = TestSupport.temporaryDirectory("wild")
        let good = dir.appendingPathComponent("good.ftlog").path
        _ = try LogTests.write(LogTests.events(5000), frameEvents: 1000, to: good)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        func patched(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> String {
            var b = bytes
            edit(&b)
            let p = dir.appendingPathComponent(name).path
            try Data(b).write(to: URL(fileURLWithPath: p))
            return p
        }
        for name in ["", "..", "x/y", "tab\there"] {
            try expectOneLine(["export", good, "--format", "parquet", "--host-name", name, "-o", dir.appendingPathComponent("h.parquet").path],
                              mentions: "--host-name")
        }
        let footer = bytes.count - (8 + 8 + LogFormat.footerTag.count)
        var logs: [String] = []
        for (i, v) in [UInt32(0), 3, 7, 0xffff_ffff].enumerated() {
            logs.append(try patched("header\(i)") { b in withUnsafeBytes(of: v.littleEndian) { for k in 0..<4 { b[4 + k] = $0[k] } } })
        }
        for (i, v) in [UInt64(1) << 63, .max, UInt64(bytes.count), 0].enumerated() {
            logs.append(try patched("trailer\(i)") { b in withUnsafeBytes(of: v.littleEndian) { for k in 0..<8 { b[footer + 8 + k] = $0[k] } } })
        }
        for log in logs {
            let parquet = dir.appendingPathComponent("out.parquet").path
            for cmd in [["read"], ["stats"], ["journeys"], ["export", "--format", "json"], ["export", "--format", "parquet", "-o", parquet]] {
                let r = try TestSupport.run(cli, cmd + [log])
                #expect(r.status == 0 || r.status == 2, "\(cmd) \(log): exit \(r.status): \(r.stderr)")
                let lines = r.stderr.split(separator: "\n").filter { !$0.contains(" events exported") }
                #expect(lines.count <= 1, "\(cmd) \(log): \(r.stderr)")
            }
        }
    }
}

extension ExclusiveSuites {
    /// Traces for real (briefly): serialized with the other capture suites.
    @Suite(.enabled(if: KernelInfo.isRoot, "needs root"))
    struct OutputPathTests {
        var cli: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }

        /// Output paths fail before anything is attached; logs are never overwritten or written
        /// through a symbolic link without --force, and only their owner can read them.
        @Test func outputPathsAreCheckedFirst() throws {
            let dir = TestSupport.temporaryDirectory("paths")
            let existing = dir.appendingPathComponent("old.ftlog").path
            FileManager.default.createFile(atPath: existing, contents: Data("keep me".utf8))
            let link = dir.appendingPathComponent("link.ftlog").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: existing)
            try BadInputTests().expectOneLine(["-w", "/nonexistent-dir/x.ftlog"], mentions: "-w")
            try BadInputTests().expectOneLine(["-w", existing], mentions: "--force")
            try BadInputTests().expectOneLine(["-w", link], mentions: "--force")
            try BadInputTests().expectOneLine(["--ready-file", "/nonexistent-dir/ready"], mentions: "--ready-file")
            #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")

            let fresh = dir.appendingPathComponent("new.ftlog").path
            let r = try TestSupport.run(cli, ["-w", fresh, "--duration", "0.2"])
            #expect(r.status == 0, "\(r.stderr)")
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int)
            #expect(mode == 0o600)
            let again = try TestSupport.run(cli, ["-w", link, "--force", "--duration", "0.2"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me", "--force replaced the link, not its target")

            // A one-character relative path: Foundation's deletingLastPathComponent trapped on it.
            let ready = try TestSupport.run(cli, ["--ready-file", "R", "--duration", "0.2"], in: dir)
            #expect(ready.status == 0, "\(ready.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("R").path))
        }
    }
}
