import ArgumentParser
import FastTrace
import Foundation

struct ExportCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case pcapng, json, parquet }

    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Convert a capture log to pcapng (Wireshark, tshark), JSON lines or Parquet (DuckDB, Spark, pandas).",
        discussion: """
        pcapng needs packet bytes: capture with --snaplen N (e.g. -w cap.ftlog --snaplen 128). Each event that carries bytes becomes one packet record, so a packet appears once per kernel function it went through, as that function saw it (a NAT rewrite shows up between two records). --changed-only keeps an skb's first record and those whose bytes changed. Each record's comment names the function, the kernel timestamp (ns, CLOCK_MONOTONIC), the skb, the CPU and any drop reason; record times are wall clock. Each interface is a (netns, ifindex, view) triple named after the device: the Ethernet view (from the MAC header) and the raw-IP view (from the network header, before a MAC header exists) are separate interfaces.

        JSON lines are those of `fasttrace read --output-json`, with a "packet" object (link, wire_len, hex) on events that carry bytes.

        Parquet has one row per event in time order, a typed column per field (u64 skb addresses, ns timestamps, 16-byte IPv4-mapped addresses and their text, the journey each event belongs to, packet bytes with --snaplen) and the capture's facts as key/value metadata; docs/fleet.md has the schema. It streams in constant memory, one row group per 65,536 events.

        Examples:
          fasttrace export cap.ftlog -o cap.pcapng && tshark -r cap.pcapng -T fields -e frame.comment -e ip.src -e tcp.dstport
          fasttrace export cap.ftlog --drops --port 53 -o drops.pcapng
          fasttrace export cap.ftlog --format json | jq .
          fasttrace export cap.ftlog --format parquet -o cap.parquet && duckdb -c "SELECT func, count(*) FROM 'cap.parquet' GROUP BY 1 ORDER BY 2 DESC"
        """)

    @Argument(help: "The log file.") var file: String
    @Option(help: ArgumentHelp("pcapng, json or parquet.", valueName: "format")) var format: Format = .pcapng
    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write here instead of standard output (pcapng is refused on a terminal).", valueName: "file"))
    var output: String?
    @Flag(name: .customLong("changed-only"), help: "pcapng: write an skb's packet only when its bytes differ from its previous record (first sighting and every rewrite).")
    var changedOnly = false
    @Option(name: .customLong("fleet-dir"), help: ArgumentHelp("parquet: write DIR/host=NAME/LOG.parquet (NAME: the capture's host name), the layout `fasttrace fleet sql DIR` queries.", valueName: "dir"))
    var fleetDir: String?
    @Option(name: .customLong("host-name"), help: ArgumentHelp("parquet: the `host` column's value (default: the name the capture recorded, its --host-name).", valueName: "name"))
    var hostName: String?
    @OptionGroup(title: "Event filters") var filters: EventFilterOptions

    func run() throws {
        let q = try filters.query()
        if let hostName, let why = LogHeader.hostNameProblem(hostName) { fail("--host-name: '\(hostName)' \(why)", status: 2) }
        let reader = openLog(file)
        var output = output
        if let fleetDir {
            guard format == .parquet else { fail("--fleet-dir is for --format parquet", status: 2) }
            guard output == nil else { fail("--fleet-dir and -o: give one", status: 2) }
            let host = hostName ?? reader.header.hostname
            if let why = LogHeader.hostNameProblem(host) {
                fail("the capture's host name '\(host)' \(why): give --host-name", status: 2)
            }
            let dir = "\(fleetDir)/host=\(host)"
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                fail("--fleet-dir: cannot create \(dir): \(error.localizedDescription)")
            }
            var base = file.split(separator: "/").last.map(String.init) ?? "capture"
            if base.hasSuffix(".ftlog") { base.removeLast(6) }
            output = "\(dir)/\(base).parquet"
        }
        if format == .pcapng, (reader.header.snapLength ?? 0) == 0 {
            fail("\(file) has no packet bytes: capture with --snaplen N (e.g. fasttrace -w \(file) --snaplen 128) to export pcapng", status: 2)
        }
        let fd: Int32
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { fail("-o: cannot create \(output): \(String(cString: strerror(errno)))") }
        } else {
            if format == .pcapng, isatty(1) == 1 { fail("pcapng is binary: give -o FILE or pipe it (e.g. | tshark -r -)", status: 2) }
            if format == .parquet, isatty(1) == 1 { fail("Parquet is binary: give -o FILE", status: 2) }
            fd = 1
        }
        let out = BufferedWriter(fd: fd, capacity: 1 << 20)
        let formatter = EventFormatter(options: { var o = OutputOptions(); o.json = true; return o }(), log: reader)
        var summary = "", extra = ""
        switch format {
        case .json:
            var n = 0
            filters.forEachMatch(q, in: reader, formatter: formatter) { e, p in
                formatter.render(e, packet: p, to: out.buffer)
                out.flushIfFull()
                n += 1
            }
            summary = "\(n) events"
        case .parquet:
            let export = LogParquetExport(log: reader, hostName: hostName) { bytes in
                out.bytes(bytes)
                out.flushIfFull()
                return out.failure == nil
            }
            filters.forEachMatch(q, in: reader, formatter: formatter) { e, p in export.add(e, p) }
            do { try export.finish() } catch { fail("writing \(output ?? "standard output"): \(out.failure ?? error.description)") }
            summary = "\(export.rows) events"
        case .pcapng:
            var export = LogPcapngExport(log: reader, changedOnly: changedOnly)
            out.bytes(export.take())
            filters.forEachMatch(q, in: reader, formatter: formatter) { e, p in
                export.add(e, p)
                if export.pending >= 1 << 20 { out.bytes(export.take()) }
            }
            out.bytes(export.take())
            summary = "\(export.packets) packets"
            if export.withoutBytes > 0 { extra += "; \(export.withoutBytes) events without packet bytes left out (no network header yet, e.g. early TX)" }
            if export.unchanged > 0 { extra += "; \(export.unchanged) unchanged repeats left out (--changed-only)" }
        }
        out.flush()
        if let f = out.failure { fail("writing \(output ?? "standard output"): \(f)") }
        if fd != 1 { close(fd) }
        note("\(summary) exported\(output.map { " to \($0)" } ?? "")\(extra)")
        if let w = reader.damageWarning { note(w) }
    }
}
