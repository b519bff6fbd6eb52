import ArgumentParser
import FastTrace
import Foundation

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
    @OptionGroup(title: "Output") var output: OutputFlags

    func run() throws {
        let q = try filters.query()
        let reader = openLog(file)
        let formatter = EventFormatter(options: output.options, log: reader)
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
