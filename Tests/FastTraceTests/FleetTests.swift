@testable import FastTrace
import FastTraceBenchmarks
import Foundation
import Testing

/// `fasttrace fleet`: the SQL it prints runs in DuckDB over exported captures and agrees
/// with `fasttrace stats`; the DaemonSet it prints is valid Kubernetes (kubernetes-validate,
/// strict, with the API schemas it ships).
@Suite struct FleetTests {
    static var cli: String { ParquetExportTests.cli }
    static let venv = TestSupport.packageRoot.appendingPathComponent(".build/pyvenv/bin").path

    /// Two hosts' captures in one fleet directory: the drops per host and reason that the
    /// printed SQL finds are those `fasttrace stats` reports for each capture, and every
    /// printed query runs.
    @Test func printedSQLRunsInDuckDBAndAgreesWithStats() throws {
        let dir = TestSupport.temporaryDirectory("fleet-sql")
        let fleet = dir.appendingPathComponent("fleet").path
        var want: [String: [String: Int]] = [:]
        for (host, n) in [("node-a", 20_000), ("node-b", 35_000)] {
            let log = dir.appendingPathComponent("\(host).ftlog").path
            try SyntheticLog.write(n, to: log)
            let e = try TestSupport.run(Self.cli, ["export", log, "--format", "parquet", "--host-name", host, "--fleet-dir", fleet])
            #expect(e.status == 0, "\(e.stderr)")
            #expect(FileManager.default.fileExists(atPath: "\(fleet)/host=\(host)/\(host).parquet"))
            // stats: "  COUNT\tREASON at FUNCTION" under "drops (reason, where, flows):", each
            // followed by its flows, indented further.
            let s = try TestSupport.run(Self.cli, ["stats", log, "--top", "1000"])
            #expect(s.status == 0, "\(s.stderr)")
            var drops: [String: Int] = [:]
            var inDrops = false
            for line in s.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("drops (") { inDrops = true; continue }
                if inDrops && line.isEmpty { break }
                let fields = line.trimmingCharacters(in: .whitespaces).split(separator: "\t")
                if inDrops, !line.hasPrefix("   "), fields.count == 2, let count = Int(fields[0]), let reason = fields[1].split(separator: " ").first {
                    drops[String(reason), default: 0] += count
                }
            }
            #expect(!drops.isEmpty, "no drops in \(host)'s stats: \(s.stdout)")
            want[host] = drops
        }
        let sql = try TestSupport.run(Self.cli, ["fleet", "sql", fleet])
        #expect(sql.status == 0, "\(sql.stderr)")
        let script = dir.appendingPathComponent("fleet.sql")
        try Data(sql.stdout.utf8).write(to: script)
        let run = try TestSupport.run("\(Self.venv)/python", [TestSupport.packageRoot.appendingPathComponent("Tests/python/fleet_sql_check.py").path, script.path])
        #expect(run.status == 0, "\(run.stderr)")
        var results: [String: [[Any]]] = [:]
        for line in run.stdout.split(separator: "\n") {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            results[o["query"] as? String ?? ""] = o["rows"] as? [[Any]]
        }
        #expect(Set(results.keys) == Set(FleetSQL.queries.map(\.name)), "\(results.keys)")
        var got: [String: [String: Int]] = [:]
        for row in results["drops_by_reason"] ?? [] {
            guard row.count == 3, let host = row[0] as? String, let reason = row[1] as? String, let n = row[2] as? Int else { continue }
            got[host, default: [:]][reason] = n
        }
        #expect(got == want)
        #expect((results["slowest_hops"] ?? []).count > 0 && (results["flow_divergence"] ?? []).count > 0)
        #expect((results["host_clocks"] ?? []).count == 2)
    }

    /// Windows and drift: bounds from a clock 5 ms ahead that gains 20 ppm, packets each way
    /// with 20–200 µs of transit, over 60 s: each two-way window's interval holds the true
    /// offset at its ends' times, and the fit recovers the drift.
    @Test func windowsBoundTheOffsetAndTheFitFindsTheDrift() {
        var rng = PacketCorpus.RNG(state: 0xD41F7)
        let theta = { (t: Int64) -> Int64 in 5_000_000 + t / 50_000 } // 20 ppm = 1 ns per 50 µs
        var lows: [ClockAlignment.Bound] = [], highs: [ClockAlignment.Bound] = []
        for i in 0..<6000 {
            let t = Int64(i) * 10_000_000 // every 10 ms of X's clock
            let transit = Int64(20_000 + rng.int(180_000))
            // X→Y: θ < y − x where y − x = transit + θ(t); Y→X: θ > y′ − x′ = θ(t) − transit.
            if i % 2 == 0 { highs.append(.init(atNs: t, valueNs: transit + theta(t))) } else { lows.append(.init(atNs: t, valueNs: theta(t) - transit)) }
        }
        let windows = ClockAlignment.windows(lows: lows, highs: highs, widthNs: 10_000_000_000)
        #expect(windows.count == 6 && windows.allSatisfy { $0.loNs != nil && $0.hiNs != nil && $0.pairs == 1000 })
        for w in windows {
            #expect(w.loNs! <= theta(w.endNs) && theta(w.startNs) <= w.hiNs!, "\(w)")
        }
        let drift = ClockAlignment.drift(windows)
        #expect(drift.map { abs($0 * 1e9 - 20_000) < 200 } == true, "drift \(String(describing: drift.map { $0 * 1e9 })) ppb, want 20000")
        #expect(ClockAlignment.drift(Array(windows.prefix(1))) == nil)
    }

    @Test func manifestIsValidKubernetes() throws {
        let dir = TestSupport.temporaryDirectory("fleet-manifest")
        let variants: [[String]] = [[], ["--privileged", "--image", "registry.example/fasttrace:1.0", "--", "--snaplen", "64", "tcp port 443 and host \"10.0.0.1\""]]
        for args in variants {
            let r = try TestSupport.run(Self.cli, ["fleet", "manifest"] + args)
            #expect(r.status == 0, "\(r.stderr)")
            let file = dir.appendingPathComponent("ds.yaml")
            try Data(r.stdout.utf8).write(to: file)
            let v = try TestSupport.run("\(Self.venv)/kubernetes-validate", ["--strict", file.path])
            #expect(v.status == 0, "\(args): \(v.stdout) \(v.stderr)")
            // What docs/fleet.md promises is in it.
            let check = try TestSupport.run("\(Self.venv)/python", ["-c", """
                import sys, yaml
                d = yaml.safe_load(open(sys.argv[1]))
                s = d["spec"]["template"]["spec"]; c = s["containers"][0]
                assert d["kind"] == "DaemonSet" and s["hostPID"] is True
                mounts = {m["mountPath"] for m in c["volumeMounts"]}
                assert {"/sys/kernel/btf", "/sys/kernel/tracing", "/var/lib/fasttrace"} <= mounts, mounts
                assert "--ready-file" in c["args"] and c["startupProbe"]["exec"]["command"][-1] == c["args"][c["args"].index("--ready-file") + 1]
                sc = c["securityContext"]
                assert sc.get("privileged") is True or {"BPF", "PERFMON", "SYS_ADMIN", "SYS_RESOURCE"} <= set(sc["capabilities"]["add"]), sc
                print(c["args"][-1])
                """, file.path])
            #expect(check.status == 0, "\(check.stderr)")
            if args.contains("--") { #expect(check.stdout.contains("tcp port 443 and host \"10.0.0.1\""), "\(check.stdout)") }
        }
        // The validator rejects what Kubernetes would: a misplaced field fails.
        let r = try TestSupport.run(Self.cli, ["fleet", "manifest"])
        let broken = dir.appendingPathComponent("broken.yaml")
        try Data(r.stdout.replacingOccurrences(of: "      hostPID: true", with: "      hostPID: true\n      hostPIDs: true").utf8).write(to: broken)
        #expect(try TestSupport.run("\(Self.venv)/kubernetes-validate", ["--strict", broken.path]).status != 0)
    }

    @Test func badFleetInputIsOneLine() throws {
        try BadInputTests().expectOneLine(["fleet", "sql", "/nonexistent-fleet"], mentions: "not a directory")
        try BadInputTests().expectOneLine(["fleet", "sql", "/tmp", "--engine", "trino"], mentions: "--engine")
        try BadInputTests().expectOneLine(["fleet", "manifest", "--output-dir", "relative"], mentions: "--output-dir")
    }
}

extension ExclusiveSuites {
    /// Three "hosts" on this machine: namespaces A and B behind a router R that DNATs (and, in
    /// the VXLAN variant, carries a tunnel from A to B), each captured by its own fasttrace
    /// with --filter-netns and --host-name; B's capture gets a test-only clock shift of
    /// +37 ms. `fleet align` must recover it within the interval it reports, that interval
    /// at most 1 ms wide, with at least 99% of A's outgoing packets matched.
    @Suite(.enabled(if: KernelInfo.isRoot, "needs root (BPF, namespaces)"), .serialized)
    struct FleetAlignTests {
        static let lab = TestSupport.packageRoot.appendingPathComponent("scripts/netns-lab.sh").path
        static let shiftNs: Int64 = 37_000_000

        /// Captures the three namespaces while TCP (through the DNAT or the tunnel) and UDP
        /// cross them; returns the logs, A's first.
        static func capture(_ prefix: String, vxlan: Bool, drop: Bool = false) throws -> [String] {
            _ = try TestSupport.run(lab, ["down", prefix])
            #expect(try TestSupport.run(lab, ["routed", prefix]).status == 0)
            if vxlan { #expect(try TestSupport.run(lab, ["routed-vxlan", prefix]).status == 0) }
            if drop { #expect(try TestSupport.run(lab, ["routed-drop", prefix]).status == 0) }
            let dir = TestSupport.temporaryDirectory("fleet-\(prefix)")
            var captures: [(Process, String)] = []
            for host in ["a", "r", "b"] {
                let log = dir.appendingPathComponent("\(host).ftlog").path
                let p = Process()
                p.executableURL = URL(fileURLWithPath: FleetTests.cli)
                p.arguments = ["-w", log, "--host-name", host, "--filter-netns", "/run/netns/\(prefix)-\(host)",
                               "--ready-file", dir.appendingPathComponent("ready-\(host)").path, "--duration", "120"] + (vxlan ? ["--output-tunnel"] : [])
                var env = ProcessInfo.processInfo.environment
                env["FASTTRACE_TEST_CLOCK_SHIFT_NS"] = host == "b" ? String(shiftNs) : "0"
                p.environment = env
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                captures.append((p, log))
            }
            let start = Date()
            while !["a", "r", "b"].allSatisfy({ FileManager.default.fileExists(atPath: dir.appendingPathComponent("ready-\($0)").path) }),
                  Date().timeIntervalSince(start) < 90 { usleep(50_000) }
            let target = vxlan ? ("10.80.0.2", 8080) : ("10.79.1.2", 80)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            server.arguments = ["netns", "exec", "\(prefix)-b", "/usr/bin/python3", "-c", """
                import socket
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", 8080)); s.listen(); s.settimeout(30)
                a, _ = s.accept()
                while True:
                    d = a.recv(100)
                    if not d: break
                    a.sendall(d)
                """]
            try server.run()
            usleep(300_000)
            let client = try TestSupport.run("/usr/sbin/ip", ["netns", "exec", "\(prefix)-a", "/usr/bin/python3", "-c", """
                import socket
                try:
                    c = socket.create_connection(("\(target.0)", \(target.1)), timeout=\(drop ? 1.5 : 10))
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    for i in range(300):
                        c.sendall(b"y" * 30); c.recv(100)
                    c.close()
                except OSError:
                    if not \(drop ? "True" : "False"): raise
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(100): u.sendto(b"z" * 20, ("\(vxlan ? "10.80.0.2" : "10.79.1.2")", 7777))
                """])
            #expect(client.status == 0, "\(client.stderr)")
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            usleep(300_000)
            for (p, _) in captures { p.interrupt() }
            for (p, _) in captures { p.waitUntilExit(); #expect(p.terminationStatus == 0) }
            _ = try TestSupport.run(lab, ["down", prefix])
            return captures.map(\.1)
        }

        static func checkAlignment(_ logs: [String]) throws {
            let out = logs[0].replacingOccurrences(of: "a.ftlog", with: "offsets.parquet")
            let r = try TestSupport.run(FleetTests.cli, ["fleet", "align"] + logs + ["-o", out])
            #expect(r.status == 0, "\(r.stderr)")
            print(r.stdout)
            var rows: [String: [String]] = [:]
            for line in r.stdout.split(separator: "\n").dropFirst() {
                let f = line.split(separator: "\t").map(String.init)
                rows[f[0]] = f
            }
            let b = try #require(rows["b"]), a = try #require(rows["a"])
            let theta = try #require(Double(b[2])), lo = try #require(Double(b[3])), hi = try #require(Double(b[4]))
            #expect(lo <= 37.0 && 37.0 <= hi && lo <= theta && theta <= hi, "b: \(b)")
            #expect(hi - lo <= 1.0, "b's interval is \(hi - lo) ms wide")
            #expect(b[6] == "two-way" && rows["r"]?[6] == "two-way", "\(rows)")
            let sent = try #require(Int(a[7]))
            let matched = try #require(Int(a[8].split(separator: " ").first ?? ""))
            #expect(sent >= 300 && Double(matched) >= 0.99 * Double(sent), "a: \(matched) of \(sent) matched")
            // The offsets file reads back in DuckDB with the same figures.
            let q = try TestSupport.run("\(FleetTests.venv)/python", ["-c", """
                import duckdb, sys
                print(duckdb.sql(f"SELECT offset_ns, lo_ns, hi_ns, quality FROM '{sys.argv[1]}' WHERE host = 'b'").fetchall())
                """, out])
            #expect(q.status == 0 && q.stdout.contains("two-way"), "\(q.stdout) \(q.stderr)")
        }

        @Test func alignRecoversAClockShiftThroughDNAT() throws {
            let logs = try Self.capture("ftfA", vxlan: false)
            try Self.checkAlignment(logs)
            try Self.checkFleetJourney(logs)
            try Self.checkAlignedSQL(logs)
        }

        /// The fleet directory with offsets: in DuckDB's `aligned` view every TCP packet seen
        /// leaving A arrives at B after it, while on B's raw wall clock it arrives ~37 ms "late".
        static func checkAlignedSQL(_ logs: [String]) throws {
            let fleet = URL(fileURLWithPath: logs[0]).deletingLastPathComponent().appendingPathComponent("fleet").path
            for log in logs {
                let r = try TestSupport.run(FleetTests.cli, ["export", log, "--format", "parquet", "--fleet-dir", fleet])
                #expect(r.status == 0, "\(r.stderr)")
            }
            #expect(try TestSupport.run(FleetTests.cli, ["fleet", "align"] + logs + ["-o", "\(fleet)/offsets.parquet"]).status == 0)
            let sql = try TestSupport.run(FleetTests.cli, ["fleet", "sql", fleet])
            #expect(sql.stdout.contains("CREATE OR REPLACE VIEW aligned"), "\(sql.stdout.prefix(600))")
            let script = "\(fleet)/fleet.sql"
            try Data(sql.stdout.utf8).write(to: URL(fileURLWithPath: script))
            let r = try TestSupport.run("\(FleetTests.venv)/python", ["-c", """
                import duckdb, sys
                con = duckdb.connect()
                for st in open(sys.argv[1]).read().split(";\\n"):
                    if "CREATE" in st: con.execute(st)
                rows = con.execute(""\"
                  SELECT min(b.first_aligned - a.last_aligned), min(b.first_wall - a.last_wall), count(*) FROM
                   (SELECT seq, ack, tcp_flags, max(aligned_ns) last_aligned, max(epoch_ns(wall_ns)) last_wall FROM aligned
                    WHERE host = 'a' AND saddr_str = '10.79.1.1' AND seq IS NOT NULL GROUP BY ALL) a
                  JOIN
                   (SELECT seq, ack, tcp_flags, min(aligned_ns) first_aligned, min(epoch_ns(wall_ns)) first_wall FROM aligned
                    WHERE host = 'b' AND saddr_str = '10.79.1.1' AND seq IS NOT NULL GROUP BY ALL) b USING (seq, ack, tcp_flags)""\").fetchall()
                print(*rows[0])
                """, script])
            #expect(r.status == 0, "\(r.stderr)")
            let f = r.stdout.split(separator: " ").compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect(f.count == 3 && f[0] > 0 && f[1] > 30_000_000 && f[2] >= 300, "aligned gap, raw gap, packets: \(r.stdout)")
        }

        /// `journeys --fleet`: a packet from A to the router's port 80 shows A's transmit,
        /// the router's rewrite to B's 8080 and B's receive, in that order on one clock.
        static func checkFleetJourney(_ logs: [String]) throws {
            let r = try TestSupport.run(FleetTests.cli, ["journeys", "--fleet"] + logs + ["--port", "80"])
            #expect(r.status == 0, "\(r.stderr)")
            let blocks = r.stdout.components(separatedBy: "\n\n")
            let block = try #require(blocks.first { $0.hasPrefix("packet 10.79.1.1:") && $0.contains("— a → r → b,") },
                                     "no packet from A through R to B:\n\(r.stdout.prefix(3000))")
            var hosts: [String] = [], times: [Double] = [], lines: [String] = []
            for line in block.split(separator: "\n").dropFirst() where !line.contains("hop ") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count >= 4, let t = Double(f[1]) else { continue }
                hosts.append(String(f[0]))
                times.append(t)
                lines.append(String(line))
            }
            let order = hosts.map { ["a": 0, "r": 1, "b": 2][$0] ?? -1 }
            #expect(order == order.sorted() && !order.contains(-1), "hosts out of order: \(hosts)")
            #expect(times == times.sorted(), "times out of order: \(times)")
            let xmitA = lines.firstIndex { $0.hasPrefix("  a") && $0.contains("xmit") }
            let rewrite = lines.firstIndex { $0.hasPrefix("  r") && $0.contains("rewritten: 10.79.1.1:") && $0.contains("->10.79.2.1:8080") }
            let receiveB = lines.firstIndex { $0.hasPrefix("  b") && $0.contains("netif_receive_skb") }
            #expect(xmitA != nil && rewrite != nil && receiveB != nil, "\(block)")
            if let x = xmitA, let w = rewrite, let v = receiveB { #expect(x < w && w < v, "\(block)") }
        }

        /// `diff --fleet`: the same connection through the router, once forwarded and once
        /// dropped by the router's firewall; the difference names the router and the reason.
        @Test func fleetDiffNamesTheHostThatDrops() throws {
            let ok = try Self.capture("ftfO", vxlan: false)
            let bad = try Self.capture("ftfX", vxlan: false, drop: true)
            let r = try TestSupport.run(FleetTests.cli, ["diff", "--fleet", ok.joined(separator: ","), bad.joined(separator: ","), "--port", "80"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("flow to 10.79.1.2:80(tcp): journey 1 diverges"), "\(r.stdout)")
            #expect(r.stdout.contains("  common path ends at: r:"), "\(r.stdout)")
            #expect(r.stdout.contains("B drops: r:") && r.stdout.contains("NETFILTER_DROP"), "\(r.stdout)")
            print(r.stdout)
        }

        @Test func alignRecoversAClockShiftThroughVXLAN() throws {
            try Self.checkAlignment(try Self.capture("ftfV", vxlan: true))
        }
    }
}
