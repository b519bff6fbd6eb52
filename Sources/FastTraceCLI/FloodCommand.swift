import ArgumentParser
import FastTrace
import FastTraceBenchmarks
import Foundation

/// The busy-host workload of `fasttrace bench` and docs/benchmarks.md, as its own process
/// (as a user's traffic is): one thread sends a 64-byte UDP datagram to its own socket on
/// 127.0.0.1:PORT and receives it, in a loop. Hidden: a tool for the benchmarks.
struct FloodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "Send and receive UDP datagrams over loopback as fast as one thread can (benchmark workload).",
        shouldDisplay: false)

    @Option(help: "UDP port on 127.0.0.1 to bind and send to.") var port: UInt16 = 9999
    @Option(help: "Datagrams to send (0: until --seconds).") var count = 0
    @Option(help: "Seconds to run when --count is 0.") var seconds: Double = 5
    @Option(help: "Datagrams per second (0: as fast as possible).") var rate: Double = 0

    func run() throws {
        guard count >= 0, seconds > 0, seconds.isFinite, rate >= 0, rate.isFinite else { fail("flood: counts, seconds and rates must be positive numbers", status: 2) }
        let load = LoopbackLoad(port: port)
        if let why = load.bindError { fail("flood: \(why)", status: 1) }
        let sent = count > 0 ? load.send(count: count, perSecond: rate)
            : rate > 0 ? load.paced(perSecond: rate, seconds: seconds) : load.flood(seconds: seconds)
        print(sent)
    }
}
