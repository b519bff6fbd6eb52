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

        Exit status: 0 ok; 1 a runtime failure (e.g. the kernel refused a program); 2 bad input (an option, filter, expression or file); 3 missing privileges or a kernel feature.
        """,
        version: FastTraceVersion.string,
        subcommands: [TraceCommand.self, ReadCommand.self, StatsCommand.self, JourneysCommand.self, DiffCommand.self, ExportCommand.self, FleetCommand.self, BenchCommand.self, FeaturesCommand.self, FuncsCommand.self, FloodCommand.self],
        defaultSubcommand: TraceCommand.self)

    /// The exit-code contract (docs/output.md): 0 ok, 1 runtime failure, 2 bad input, 3
    /// missing privileges or kernel feature. Argument errors are bad input: one line, exit 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as UsageError {
            fail(e.message, status: e.status)
        } catch {
            guard let line = usageLine(for: error) else { exit(withError: error) }
            // Anything else that reaches here failed at run time: one line, exit 1.
            fail(line, status: exitCode(for: error) == .validationFailure ? 2 : 1)
        }
    }

    /// The one line an error prints: an argument error (exit 2) with a hint to --help, any
    /// other error (exit 1) as it is; nil for --help, --version and explicit exit codes,
    /// which ArgumentParser reports itself.
    static func usageLine(for error: Error) -> String? {
        guard exitCode(for: error) != .success, !(error is ExitCode) else { return nil }
        let text = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
        return escapeControl(text) + (exitCode(for: error) == .validationFailure ? " (see fasttrace --help)" : "")
    }
}
