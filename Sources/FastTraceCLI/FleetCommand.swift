import ArgumentParser
import FastTrace
import Foundation

/// Many hosts' captures as one dataset: the SQL to query them and the DaemonSet to take
/// them (docs/fleet.md).
struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Work with captures from many hosts: SQL for DuckDB and Spark, a DaemonSet to capture on every node.",
        discussion: """
        Export each host's capture into one directory, then query them together:
          fasttrace export node-a.ftlog --format parquet --fleet-dir fleet/
          fasttrace export node-b.ftlog --format parquet --fleet-dir fleet/
          fasttrace fleet sql fleet/ > fleet.sql && duckdb -c ".read fleet.sql"
        """,
        subcommands: [FleetAlignCommand.self, FleetSQLCommand.self, FleetManifestCommand.self])
}

/// Captures taken as one fleet (`fleet align`, `journeys --fleet`, `diff --fleet`): one per
/// host, the first the clock reference, each host named once (the name keys the alignment).
struct FleetCaptures {
    let paths: [String]
    let logs: [LogReader]
    var names: [String] { logs.map(\.header.hostname) }
    var formatters: [EventFormatter] { logs.map { EventFormatter(options: OutputOptions(), log: $0) } }

    /// Opens `paths`, or exits 2 naming what is wrong (`what`: the command, for the message).
    init(_ paths: [String], what: String) {
        guard paths.count >= 2 else { fail("\(what) needs two or more captures, one per host", status: 2) }
        self.paths = paths
        logs = paths.map(openLog)
        var seen = Set<String>()
        for (path, log) in zip(paths, logs) where !seen.insert(log.header.hostname).inserted {
            fail("\(path): host name '\(log.header.hostname)' is taken by another capture: capture with distinct --host-name values", status: 2)
        }
    }

    func noteDamage() {
        for (path, log) in zip(paths, logs) { if let w = log.damageWarning { note("\(path): \(w)") } }
    }
}

struct FleetSQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Print SQL over a fleet directory (DIR/host=NAME/*.parquet): a view named events (and aligned, with DIR/offsets.parquet) and example queries.",
        discussion: "Each query follows a line `-- query: NAME: what it answers`. Queries: " + FleetSQL.queries.map(\.name).joined(separator: ", ") + ".")

    @Argument(help: "The fleet directory (export --fleet-dir).") var directory: String
    @Option(help: ArgumentHelp("duckdb or spark.", valueName: "engine")) var engine: String = "duckdb"

    func run() throws {
        guard let e = FleetSQL.Engine(rawValue: engine) else { fail("--engine: '\(engine)' is not duckdb or spark", status: 2) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            fail("\(directory) is not a directory: export captures into it with `fasttrace export LOG --format parquet --fleet-dir \(directory)`", status: 2)
        }
        let hosts = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("host=") }
        if hosts.isEmpty { note("\(directory) has no host=NAME directories yet: the SQL will find no files") }
        let offsets = FileManager.default.fileExists(atPath: "\(directory)/offsets.parquet")
        print(FleetSQL.script(directory: directory, engine: e, offsets: offsets), terminator: "")
    }
}

struct FleetManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print a Kubernetes DaemonSet that captures on every node (hostPID, capabilities, BTF and tracefs mounts, a startup probe).",
        discussion: "Arguments after -- go to fasttrace on each node, e.g. `fasttrace fleet manifest --image registry/fasttrace:1 -- --snaplen 128 'tcp port 443'`.")

    @Option(help: "Container image with fasttrace as its entrypoint.") var image = "fasttrace:latest"
    @Option(help: "Namespace of the DaemonSet.") var namespace = "kube-system"
    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Where each node keeps its capture (hostPath).", valueName: "dir")) var outputDir = "/var/lib/fasttrace"
    @Flag(help: "privileged: true instead of the capability list (container runtimes or kernels where capabilities do not suffice).") var privileged = false
    @Argument(parsing: .postTerminator, help: "fasttrace arguments for every node (a filter, --backend, --snaplen, ...).") var arguments: [String] = []

    func run() throws {
        guard outputDir.hasPrefix("/") else { fail("--output-dir: '\(outputDir)' is not an absolute path", status: 2) }
        var m = FleetManifest()
        m.image = image
        m.namespace = namespace
        m.outputDirectory = outputDir
        m.privileged = privileged
        m.arguments = arguments
        print(m.yaml, terminator: "")
    }
}

struct FleetAlignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Estimate each host's clock offset from packets seen leaving one capture and arriving in another.",
        discussion: """
        The first capture is the reference. For each other host: the offset θ (its clock minus the reference's; subtract it to align), the interval [lo, hi] the packets prove, how many packets bounded it, and whether they went both ways (two-way) or one side came from the kernels' recorded clock error (one-way). Packets are matched by what NAT leaves alone (TCP seq/ack/flags and the IPv4 ID; the inner packet of a tunnel with --output-tunnel). docs/fleet.md has the method.
        """)

    @Argument(help: "Two or more capture logs, one per host.") var captures: [String]
    @Option(parsing: .unconditional, help: ArgumentHelp("Window length for the drift fit and --windows (seconds).", valueName: "seconds")) var window: Double = 10
    @Flag(help: "Also print each host's interval per window (against the neighbour that placed it).") var windows = false
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Also write the offsets as Parquet (host, reference, offset_ns, lo_ns, hi_ns, drift_ppb, pairs, quality).", valueName: "file"))
    var output: String?

    func run() throws {
        guard captures.count >= 2 else { fail("fleet align needs two or more captures, one per host", status: 2) }
        guard window.isFinite, window >= 0.001, window <= 86_400 else { fail("--window: '\(window)' is not between 0.001 and 86400 seconds", status: 2) }
        let a = ClockAlignment(logs: FleetCaptures(captures, what: "fleet align").logs, windowNs: Int64(window * 1e9))
        let ms = { (v: Int64) in String(format: "%.6f", Double(v) / 1e6) }
        print("host\treference\toffset_ms\tlo_ms\thi_ms\tpairs\tquality\tsent\tmatched\tdrift_ppb")
        for h in a.hosts {
            let share = h.sent == 0 ? "-" : String(format: "%.1f%%", 100 * Double(h.matched) / Double(h.sent))
            print("\(h.name)\t\(h.reference)\t\(ms(h.offsetNs))\t\(ms(h.loNs))\t\(ms(h.hiNs))\t\(h.pairs)\t\(h.quality)\t\(h.sent)\t\(h.matched) (\(share))\t\(h.driftPpb)")
        }
        if windows {
            print("\nhost\twindow_start\tseconds\tlo_ms\thi_ms\tmid_ms\tpairs")
            for h in a.hosts {
                for w in h.windows {
                    let start = ISO8601DateFormatter.string(from: Date(timeIntervalSince1970: Double(w.startNs) / 1e9), timeZone: .gmt,
                                                            formatOptions: [.withInternetDateTime, .withFractionalSeconds])
                    print("\(h.name)\t\(start)\t\(String(format: "%g", Double(w.endNs - w.startNs) / 1e9))\t\(w.loNs.map(ms) ?? "-")\t\(w.hiNs.map(ms) ?? "-")\t\(w.midpointNs.map(ms) ?? "-")\t\(w.pairs)")
                }
            }
        }
        if let output {
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { fail("-o: cannot create \(output): \(String(cString: strerror(errno)))") }
            let out = BufferedWriter(fd: fd, capacity: 1 << 16)
            do {
                try a.parquet { out.bytes($0); return true }
            } catch { fail("writing \(output): \(error.description)") }
            out.flush()
            if let f = out.failure { fail("writing \(output): \(f)") }
            close(fd)
        }
        for h in a.hosts where h.quality == "none" { note("\(h.name): no packet shared with the other captures: no offset") }
        for h in a.hosts where h.quality == "inconsistent" { note("\(h.name): the packets bound its offset from both sides inconsistently (lo > hi): a clock step during the capture?") }
    }
}
