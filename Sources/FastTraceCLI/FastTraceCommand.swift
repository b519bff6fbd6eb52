import ArgumentParser
import FastTrace
import Foundation

@main
struct FastTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fasttrace",
        abstract: "Show where network packets go inside the Linux kernel, and where they are dropped.",
        discussion: """
        fasttrace attaches eBPF programs to the kernel functions and tracepoints that handle a packet's sk_buff, and reports each packet's path and drop reasons.

        Run with no subcommand to trace (see `fasttrace trace --help` for every option). `fasttrace features` shows which attach modes this kernel offers, `fasttrace funcs` what would be attached, `fasttrace bench` what each attach mode costs here.

        A capture written with -w is read back with read, stats, journeys, diff and export (pcapng for Wireshark: capture with --snaplen).
        """,
        version: FastTraceVersion.string,
        subcommands: [TraceCommand.self, ReadCommand.self, StatsCommand.self, JourneysCommand.self, DiffCommand.self, ExportCommand.self, BenchCommand.self, FeaturesCommand.self, FuncsCommand.self, FloodCommand.self],
        defaultSubcommand: TraceCommand.self)
}
