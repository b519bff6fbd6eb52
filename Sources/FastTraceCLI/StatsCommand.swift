import ArgumentParser
import FastTrace
import Foundation

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
