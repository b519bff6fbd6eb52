import ArgumentParser
import FastTrace
import Foundation

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

        With --fleet, A and B are each a comma-separated list of captures, one per host (the first the clock reference): a packet's path runs across the hosts on the aligned clock (as `journeys --fleet` shows it), each step named HOST:function, so the difference names the host where the failing fleet's packets part from the working one's.
          fasttrace diff --fleet a-ok.ftlog,r-ok.ftlog,b-ok.ftlog a-bad.ftlog,r-bad.ftlog,b-bad.ftlog --port 80
        """)

    @Argument(help: "The first (e.g. working) log; with --fleet, its captures separated by commas.") var a: String
    @Argument(help: "The second (e.g. failing) log; with --fleet, its captures separated by commas.") var b: String
    @Flag(help: "A and B are fleets: comma-separated captures, one per host.") var fleet = false
    @Option(help: ArgumentHelp("Only flows to this port.", valueName: "port")) var port: UInt16?

    func run() throws {
        func loadFleet(_ list: String) -> (PathDiff.Paths, (Event) -> String) {
            let files = list.split(separator: ",").map(String.init)
            guard files.count >= 2 else { fail("--fleet: '\(list)' is not two or more captures separated by commas", status: 2) }
            let fleet = FleetCaptures(files, what: "--fleet")
            let (logs, names, formatters) = (fleet.logs, fleet.names, fleet.formatters)
            let offsets = ClockAlignment(logs: logs).hosts.map(\.offsetNs)
            var paths = PathDiff.Paths()
            for p in FleetJourneys.build(logs: logs, offsetsNs: offsets, minHosts: 1) {
                let j = p.merged(logs: logs, offsetsNs: offsets)
                if port.map({ j.tuple?.dport == $0 }) ?? true { paths.add(j) }
            }
            fleet.noteDamage()
            return (paths, FleetJourney.hostFunctionName(names: names, formatters: formatters))
        }
        func load(_ path: String) -> (PathDiff.Paths, (Event) -> String) {
            if fleet { return loadFleet(path) }
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
