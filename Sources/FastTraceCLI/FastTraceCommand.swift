import ArgumentParser
import FastTrace
import Foundation

@main
struct FastTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fasttrace",
        abstract: "Show where network packets go inside the Linux kernel, and where they are dropped.",
        discussion: """
        fasttrace attaches eBPF programs to the kernel functions and tracepoints that handle
        a packet's sk_buff, and reports each packet's path and drop reasons.

        Start with `fasttrace features` to see which attach modes this kernel offers.
        """,
        version: FastTraceVersion.string,
        subcommands: [FeaturesCommand.self, FuncsCommand.self])
}
