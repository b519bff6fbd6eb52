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
    @OptionGroup(title: "Event filters") var filters: EventFilterOptions
    @Flag(name: .customLong("output-json"), help: "One JSON object per line (fields: docs/output.md).") var outputJSON = false
    @Flag(name: .customLong("output-tcp-flags"), help: "Append TCP flags to the tuple.") var outputTCPFlags = false
    @Option(help: ArgumentHelp("none, relative, absolute or current (the capture's wall clock).", valueName: "mode"))
    var timestamp: OutputOptions.Timestamp = .none

    func run() throws {
        let q = try filters.query()
        let reader = openLog(file)
        var options = OutputOptions()
        options.json = outputJSON
        options.tcpFlags = outputTCPFlags
        options.timestamp = timestamp
        let formatter = EventFormatter(options: options, log: reader)
        let out = BufferedWriter()
        if let h = formatter.header { out.line(h) }
        filters.forEachMatch(q, in: reader, formatter: formatter) { e, p in
            formatter.render(e, packet: p, to: out.buffer)
            out.flushIfFull()
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

struct JourneysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journeys",
        abstract: "Each packet's path through the kernel: a log's events grouped by skb, in time order.",
        discussion: """
        A journey runs from the first event on an skb address to the drop or free that ends it; the address seen again afterwards is another packet (also after 1 ms with another flow's tuple, or 1 s without events). Each journey is printed as soon as it ends, so journeys appear in the order they end, and memory stays constant however long the log: only the packets in flight are held. Each event line gives its time from the journey's start.

        Examples:
          fasttrace journeys cap.ftlog --drops
          fasttrace journeys cap.ftlog --host 10.0.0.1 --port 443
        """)

    @Argument(help: "The log file.") var file: String
    @Flag(help: "Only journeys that end in a drop.") var drops = false
    @Option(help: ArgumentHelp("Only journeys with a packet from or to this address.", valueName: "addr")) var host: String?
    @Option(help: ArgumentHelp("Only journeys with a packet from or to this port.", valueName: "port")) var port: UInt16?
    @Flag(name: .customLong("output-json"), help: "One JSON object per journey: {type, skb, events: [...]}.") var outputJSON = false

    func run() throws {
        var q = EventQuery()
        q.host = try parseHost(host)
        q.port = port
        let reader = openLog(file)
        var options = OutputOptions()
        options.json = outputJSON
        let formatter = EventFormatter(options: options, log: reader)
        let out = BufferedWriter(capacity: 1 << 18)
        let late = reader.forEachJourney { j in
            if drops && j.drop == nil { return }
            if q.host != nil || q.port != nil, !j.events.contains(where: { q.matches($0, header: reader.header, functionName: formatter.funcName) }) { return }
            if outputJSON { formatter.renderJourneyJSON(j, to: out.buffer) } else { formatter.renderJourney(j, to: out.buffer) }
            out.flushIfFull()
        }
        out.flush()
        if late > 0 { note("warning: \(late) events arrived more than 50 ms after later ones in the log; their journeys may be split") }
        if let w = reader.damageWarning { note(w) }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Where the paths of the same flows diverge between two capture logs (e.g. a working and a failing connection).",
        discussion: """
        Flows are matched by protocol, destination address and destination port (the source port of a retried connection usually changes). For each flow seen in both logs, the packets' journeys are compared in order; the first difference is shown with the common path, where each side went next, and any drop with its reason.

        Example:
          fasttrace -w ok.ftlog 'tcp port 8081'    # while the connection works
          fasttrace -w bad.ftlog 'tcp port 8081'   # while it fails
          fasttrace diff ok.ftlog bad.ftlog
        """)

    @Argument(help: "The first (e.g. working) log.") var a: String
    @Argument(help: "The second (e.g. failing) log.") var b: String
    @Option(help: ArgumentHelp("Only flows to this port.", valueName: "port")) var port: UInt16?

    func run() throws {
        func load(_ path: String) -> (PathDiff.Paths, (Event) -> String) {
            let reader = openLog(path)
            let formatter = EventFormatter(options: OutputOptions(), log: reader)
            var paths = PathDiff.Paths()
            reader.forEachJourney { j in if port.map({ j.tuple?.dport == $0 }) ?? true { paths.add(j) } }
            if let w = reader.damageWarning { note(w) }
            return (paths, formatter.funcName)
        }
        let (ja, na) = load(a), (jb, nb) = load(b)
        let r = PathDiff.compare(ja, na, jb, nb)
        func name(_ f: PathDiff.Flow) -> String {
            var t = Tuple()
            t.l3Proto = f.v6 ? 0x86DD : 0x0800
            t.l4Proto = f.l4
            t.dport = f.dport
            for (i, byte) in f.daddr.enumerated() { t.daddr[i] = byte }
            let full = EventFormatter.tuple(t)
            return "to " + (full.split(separator: ">").last.map(String.init) ?? full)
        }
        for d in r.diverging {
            print("flow \(name(d.flow)): journey \(d.journey + 1) diverges after \(d.common.count) common functions")
            if let last = d.common.last { print("  common path ends at: \(last)") }
            print("  A (\(a)) next: \(d.a.first ?? "(path ends)")\(d.a.count > 1 ? " … \(d.a.count) more" : "")")
            print("  B (\(b)) next: \(d.b.first ?? "(path ends)")\(d.b.count > 1 ? " … \(d.b.count) more" : "")")
            if let x = d.dropA { print("  A drops: \(x)") }
            if let x = d.dropB { print("  B drops: \(x)") }
        }
        for f in r.same { print("flow \(name(f)): same path in both") }
        for f in r.onlyA { print("flow \(name(f)): only in A") }
        for f in r.onlyB { print("flow \(name(f)): only in B") }
        if r.diverging.isEmpty && r.same.isEmpty && r.onlyA.isEmpty && r.onlyB.isEmpty { print("no flows with a tuple in either log") }
    }
}
