import ArgumentParser
import FastTrace
import Foundation

/// Opens a log or exits: 2 for a file that is not a fasttrace log, 1 for I/O errors.
func openLog(_ path: String) -> LogReader {
    do { return try LogReader(path: path) } catch {
        if case .notALog = error { fail(error.description, status: 2) }
        fail(error.description)
    }
}

struct ReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Print the events of a capture log (fasttrace -w FILE), optionally filtered.",
        discussion: """
        The output is the same as a live capture's, text or JSON lines. The log is read frame by frame in constant memory. A damaged or truncated log gives every intact frame and one warning on stderr.

        Examples:
          fasttrace read cap.ftlog --drops
          fasttrace read cap.ftlog --func 'ip_.*' --host 10.0.0.1 --port 80
          fasttrace read cap.ftlog --skb 0xffff88810a2b3c00 --timestamp relative
        """)

    @Argument(help: "The log file.") var file: String
    @Option(name: .customLong("func"), help: ArgumentHelp("Only functions whose whole name matches this POSIX extended regex.", valueName: "regex"))
    var function: String?
    @Option(help: ArgumentHelp("Only this sk_buff (address, hex).", valueName: "addr")) var skb: String?
    @Option(help: ArgumentHelp("Only events this many seconds or more after the capture started.", valueName: "seconds")) var since: Double?
    @Option(help: ArgumentHelp("Only events up to this many seconds after the capture started.", valueName: "seconds")) var until: Double?
    @Option(help: ArgumentHelp("Only packets from or to this IPv4/IPv6 address.", valueName: "addr")) var host: String?
    @Option(help: ArgumentHelp("Only packets from or to this port.", valueName: "port")) var port: UInt16?
    @Flag(help: "Only drops.") var drops = false
    @Flag(name: .customLong("output-json"), help: "One JSON object per line (fields: docs/output.md).") var outputJSON = false
    @Flag(name: .customLong("output-tcp-flags"), help: "Append TCP flags to the tuple.") var outputTCPFlags = false
    @Option(help: ArgumentHelp("none, relative, absolute or current (the capture's wall clock).", valueName: "mode"))
    var timestamp: OutputOptions.Timestamp = .none

    func run() throws {
        var q = EventQuery()
        if let function {
            do { q.functions = try NameFilter(function) } catch { fail("--func: \(error.description)", status: 2) }
        }
        if let skb {
            let hex = skb.lowercased().hasPrefix("0x") ? String(skb.dropFirst(2)) : skb
            guard let v = UInt64(hex, radix: 16) else { fail("--skb: '\(skb)' is not a hex address", status: 2) }
            q.skb = v
        }
        if let host {
            guard let a = EventQuery.address(host) else { fail("--host: '\(host)' is not an IPv4 or IPv6 address", status: 2) }
            q.host = a
        }
        q.port = port
        q.since = since
        q.until = until
        q.dropsOnly = drops
        let reader = openLog(file)
        var options = OutputOptions()
        options.json = outputJSON
        options.tcpFlags = outputTCPFlags
        options.timestamp = timestamp
        let formatter = EventFormatter(options: options, log: reader.header, interfaces: reader.trailer?.interfaces ?? [:])
        let out = BufferedWriter()
        if let h = formatter.header { out.line(h) }
        var shown = 0
        reader.forEachEvent(frame: { f in
            // With the seek index, skip frames outside the time window undecoded.
            guard f.events > 0 else { return true }
            let start = (Double(reader.header.bootToWallNs) / 1e9) - reader.header.startedAt.timeIntervalSince1970
            if let s = q.since, Double(f.lastNs) / 1e9 + start < s { return false }
            if let u = q.until, Double(f.firstNs) / 1e9 + start > u { return false }
            return true
        }) { e in
            if q.matches(e, header: reader.header, functionName: { formatter.funcName($0) }) {
                out.line(formatter.format(e))
                shown += 1
            }
            return true
        }
        out.flush()
        if let w = reader.damageWarning { note(w) }
    }
}

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Summarise a capture log: drops ranked with where and which flows, events per function and CPU, losses.")

    @Argument(help: "The log file.") var file: String
    @Option(help: ArgumentHelp("How many drop sites and functions to list.", valueName: "n")) var top = 20

    func run() throws {
        let reader = openLog(file)
        var stats = LogStats()
        reader.forEachEvent { stats.add($0); return true }
        print(stats.render(header: reader.header, trailer: reader.trailer, top: top))
        if let w = reader.damageWarning { note(w) }
    }
}
