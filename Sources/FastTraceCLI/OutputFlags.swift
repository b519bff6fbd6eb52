import ArgumentParser
import FastTrace

extension OutputOptions.Timestamp: ExpressibleByArgument {}

/// How events are printed: the flags a live trace and `read` share, declared once.
/// (`--output-stack` and `--output-caller` change what the kernel records, so they stay
/// with `trace`.)
struct OutputFlags: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Print the 5-tuple (on by default).")
    var outputTuple = true
    @Flag(inversion: .prefixedNo, help: "Print netns, mark, interface, protocol, MTU and length (on by default).")
    var outputMeta = true
    @Flag(name: .customLong("output-tcp-flags"), help: "Append TCP flags to the tuple.")
    var outputTCPFlags = false
    @Flag(name: .customLong("output-tunnel"), help: "An INNER column: the tuple of the packet inside VXLAN (UDP 4789) and Geneve (UDP 6081) packets ('-' for others). A trace records it (JSON: \"inner\"); `read` shows what the log has.")
    var outputTunnel = false
    @Flag(name: .customLong("output-netns-names"), help: "Name network namespaces in the NETNS column (JSON: \"netns_name\"): the `ip netns` name, init_net, or COMM[PID] of the lowest process inside. A trace records them in its log; `read` shows what the log has.")
    var outputNetnsNames = false
    @Flag(name: .customLong("output-json"), help: "One JSON object per line (fields: docs/output.md).")
    var outputJSON = false
    @Option(help: ArgumentHelp("none, relative (since this skb was last seen), absolute (kernel ns) or current (wall clock; a log's own for `read`).", valueName: "mode"))
    var timestamp: OutputOptions.Timestamp = .none

    /// The renderer's options these flags ask for.
    var options: OutputOptions {
        var o = OutputOptions()
        o.tuple = outputTuple
        o.meta = outputMeta
        o.tcpFlags = outputTCPFlags
        o.json = outputJSON
        o.timestamp = timestamp
        o.tunnel = outputTunnel
        o.netnsNames = outputNetnsNames
        return o
    }
}
