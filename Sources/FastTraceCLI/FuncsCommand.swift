import ArgumentParser
import FastTrace
import Foundation

struct FuncsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funcs",
        abstract: "List the kernel functions and tracepoints fasttrace would attach to.",
        discussion: """
        A function qualifies when its BTF prototype has a `struct sk_buff *` among its first
        five parameters and the kernel can attach to it: listed in tracefs
        available_filter_functions when tracefs is mounted, otherwise a kallsyms text symbol
        not on the kprobe blacklist. Tracepoints qualify when their BTF prototype
        (btf_trace_NAME) carries a `struct sk_buff *`.

        Examples:
          fasttrace funcs --limit-funcs 'ip_rcv.*|kfree_skb.*'
          fasttrace funcs --kmods nf_conntrack,nf_tables --json
        """)

    @Option(name: [.customLong("limit-funcs"), .customLong("filter-func")],
            help: ArgumentHelp("Keep only names the regex matches in full (POSIX extended; 'ip_.*' matches ip_rcv, 'ip' matches only ip).", valueName: "regex"))
    var limitFuncs: String?

    @Option(name: .customLong("kmods"), parsing: .singleValue,
            help: ArgumentHelp("Also search these modules' BTF (comma-separated, e.g. nf_tables,veth).", valueName: "mod,..."))
    var kmods: [String] = []

    @Flag(name: .customLong("all-kmods"), help: "Also search the BTF of every loaded module.")
    var allKmods = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        var options = Discovery.Options(allModules: allKmods)
        options.modules = kmods.flatMap { $0.split(separator: ",").map(String.init) }
        if let limitFuncs {
            do { options.limit = try NameFilter(limitFuncs) } catch {
                fail("--limit-funcs: \(error.description)", status: 2)
            }
        }
        let d: Discovery
        do { d = try Discovery.run(options) } catch {
            fail(error.description)
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try enc.encode(d), as: UTF8.self))
            return
        }
        var out = "POS  FUNCTION\n"
        for f in d.functions {
            out += "\(f.position)    \(f.name)\(f.module.map { " [\($0)]" } ?? "")\n"
        }
        out += "\nPOS  TRACEPOINT\n"
        for t in d.tracepoints {
            out += "\(t.position)    \(t.category.map { "\($0):" } ?? "")\(t.name)\n"
        }
        out += "\n\(d.functions.count) functions (of \(d.candidates) with an sk_buff parameter in BTF; attachable per \(d.source.rawValue)), \(d.tracepoints.count) tracepoints\n"
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
