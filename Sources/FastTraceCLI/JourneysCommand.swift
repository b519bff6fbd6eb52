import ArgumentParser
import FastTrace
import Foundation

struct JourneysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journeys",
        abstract: "Each packet's path through the kernel: a log's events grouped by skb, in time order.",
        discussion: """
        A journey runs from the first event on an skb address to the drop or free that ends it; the address seen again afterwards is another packet (also after 1 ms with another flow's tuple, or 1 s without events). Each journey is printed as soon as it ends, so journeys appear in the order they end, and memory stays constant however long the log: only the packets in flight are held. Each event line gives its time from the journey's start.

        With --fleet and one capture per host, a packet seen on several hosts is one journey: each host's events on the first capture's clock (aligned as `fasttrace fleet align` does), the hop time between hosts, and the tuple wherever NAT rewrote it. Only packets seen on two hosts or more are shown.

        Examples:
          fasttrace journeys cap.ftlog --drops
          fasttrace journeys cap.ftlog --host 10.0.0.1 --port 443
          fasttrace journeys --fleet node-a.ftlog router.ftlog node-b.ftlog --port 80
        """)

    @Argument(help: "The log file (with --fleet: one per host, the first the clock reference).") var files: [String]
    @Flag(help: "Follow packets across the hosts' captures given.") var fleet = false
    @Flag(help: "Only journeys that end in a drop.") var drops = false
    @Option(help: ArgumentHelp("Only journeys with a packet from or to this address.", valueName: "addr")) var host: String?
    @Option(help: ArgumentHelp("Only journeys with a packet from or to this port.", valueName: "port")) var port: UInt16?
    @Flag(name: .customLong("output-json"), help: "One JSON object per journey: {type, skb, events: [...]}.") var outputJSON = false

    func run() throws {
        var q = EventQuery()
        q.host = try parseHost(host)
        q.port = port
        if fleet { return runFleet(q) }
        guard files.count == 1 else { fail("journeys takes one log (or --fleet and one per host)", status: 2) }
        let reader = openLog(files[0])
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

    func runFleet(_ q: EventQuery) {
        guard files.count >= 2 else { fail("--fleet needs two or more captures, one per host", status: 2) }
        guard !outputJSON else { fail("--fleet prints text only for now; use fleet align and export --format parquet for data", status: 2) }
        let fleet = FleetCaptures(files, what: "--fleet")
        let (logs, names, formatters) = (fleet.logs, fleet.names, fleet.formatters)
        let alignment = ClockAlignment(logs: logs)
        let offsets = alignment.hosts.map(\.offsetNs)
        let packets = FleetJourneys.build(logs: logs, offsetsNs: offsets) { h, j in
            if drops && j.drop == nil { return false }
            guard q.host != nil || q.port != nil else { return true }
            return j.events.contains { q.matches($0, header: logs[h].header, functionName: formatters[h].funcName) }
        }
        let out = BufferedWriter(capacity: 1 << 18)
        for p in packets {
            out.line(FleetJourneys.render(p, logs: logs, names: names, formatters: formatters, offsetsNs: offsets))
            out.flushIfFull()
        }
        out.flush()
        for h in alignment.hosts.dropFirst() where h.quality != "two-way" {
            let why = ["none": "unknown (no packet shared)", "inconsistent": "inconsistent (lo > hi: a clock step?)"][h.quality] ?? "bounded one way only"
            note("\(h.name): clock offset \(why): its times may be off")
        }
        note("\(packets.count) packets seen on two hosts or more")
        fleet.noteDamage()
    }
}
