import ArgumentParser
import FastTrace
import Foundation

/// --host: an IPv4/IPv6 address in the tuple's 16-byte form.
func parseHost(_ host: String?) throws(UsageError) -> [UInt8]? {
    guard let host else { return nil }
    guard let a = EventQuery.address(host) else { throw UsageError("--host: '\(host)' is not an IPv4 or IPv6 address") }
    return a
}

/// Opens a log or exits: 2 for a file that is not a fasttrace log, 1 for I/O errors.
func openLog(_ path: String) -> LogReader {
    do { return try LogReader(path: path) } catch {
        if case .notALog = error { fail(error.description, status: 2) }
        fail(error.description)
    }
}

/// The event filters of `read` and `export`.
struct EventFilterOptions: ParsableArguments {
    @Option(name: .customLong("func"), help: ArgumentHelp("Only functions whose whole name matches this POSIX extended regex.", valueName: "regex"))
    var function: String?
    @Option(help: ArgumentHelp("Only this sk_buff (address, hex).", valueName: "addr")) var skb: String?
    @Option(help: ArgumentHelp("Only events this many seconds or more after the capture started.", valueName: "seconds")) var since: Double?
    @Option(help: ArgumentHelp("Only events up to this many seconds after the capture started.", valueName: "seconds")) var until: Double?
    @Option(help: ArgumentHelp("Only packets from or to this IPv4/IPv6 address.", valueName: "addr")) var host: String?
    @Option(help: ArgumentHelp("Only packets from or to this port.", valueName: "port")) var port: UInt16?
    @Flag(help: "Only drops.") var drops = false

    /// The query; a bad option is a UsageError naming it.
    func query() throws(UsageError) -> EventQuery {
        var q = EventQuery()
        if let function {
            do { q.functions = try NameFilter(function) } catch { throw UsageError("--func: \(error.description)") }
        }
        if let skb {
            let hex = skb.lowercased().hasPrefix("0x") ? String(skb.dropFirst(2)) : skb
            guard let v = UInt64(hex, radix: 16) else { throw UsageError("--skb: '\(skb)' is not a hex address") }
            q.skb = v
        }
        for (name, v) in [("--since", since), ("--until", until)] {
            if let v, !(v.isFinite && v >= 0) { throw UsageError("\(name): '\(v)' is not a finite number of seconds, 0 or more") }
        }
        q.host = try parseHost(host)
        q.port = port
        q.since = since
        q.until = until
        q.dropsOnly = drops
        return q
    }

    /// Every event of `reader` that matches `q`, with its packet bytes; frames outside the
    /// time window are skipped undecoded (seek index).
    func forEachMatch(_ q: EventQuery, in reader: LogReader, formatter: EventFormatter, _ body: (Event, PacketBytes) -> Void) {
        reader.forEachEvent(frame: { f in
            guard f.events > 0 else { return true }
            if let s = q.since, reader.header.secondsSinceStart(f.lastNs) < s { return false }
            if let u = q.until, reader.header.secondsSinceStart(f.firstNs) > u { return false }
            return true
        }, packets: { e, p in
            if q.matches(e, header: reader.header, functionName: { formatter.funcName($0) }) { body(e, p) }
            return true
        })
    }
}
