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
        subcommands: [FleetSQLCommand.self, FleetManifestCommand.self])
}

struct FleetSQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Print SQL over a fleet directory (DIR/host=NAME/*.parquet): a view named events and example queries.",
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
        print(FleetSQL.script(directory: directory, engine: e), terminator: "")
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
