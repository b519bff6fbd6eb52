import FastTrace
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
