import ArgumentParser
import FastTrace
import Foundation

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
