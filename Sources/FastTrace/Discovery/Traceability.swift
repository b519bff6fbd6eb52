import Foundation

/// Which kernel functions can really be attached, and where (addresses for kprobe.multi).
///
/// Source, best first: tracefs `available_filter_functions(_addrs)` (what ftrace, and so
/// kprobe.multi and fentry, accept); otherwise `/proc/kallsyms` text symbols minus the
/// kprobe blacklist (what legacy kprobes accept, when tracefs is not mounted).
public struct Traceability: Sendable {
    public enum Source: String, Codable, Sendable {
        case availableFilterFunctions = "available_filter_functions"
        case kallsyms
    }

    public let source: Source
    /// name → addresses (several for static functions sharing a name; empty when unknown).
    public let addresses: [String: [UInt64]]
    /// name → module, for functions in modules.
    public let modules: [String: String]

    public func contains(_ name: String) -> Bool { addresses[name] != nil }

    /// Reads the running kernel's lists.
    public static func current() -> Traceability {
        if let tracefs = KernelInfo.tracefsPath, let t = fromTracefs(tracefs) { return t }
        return fromKallsyms()
    }

    static func fromTracefs(_ tracefs: String) -> Traceability? {
        var addresses: [String: [UInt64]] = [:]
        var modules: [String: String] = [:]
        // 6.5+: "ffffffff81234560 name [module]" — addresses come with the names.
        if let text = readProcFile(tracefs + "/available_filter_functions_addrs") {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count >= 2, let addr = UInt64(f[0], radix: 16) else { continue }
                let name = String(f[1])
                addresses[name, default: []].append(addr)
                if f.count >= 3 { modules[name] = String(f[2].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) }
            }
        } else if let text = readProcFile(tracefs + "/available_filter_functions") {
            let kallsyms = kallsymsText()
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard let first = f.first else { continue }
                let name = String(first)
                addresses[name] = addresses[name] ?? []
                if f.count >= 2 { modules[name] = String(f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) }
            }
            // Addresses from kallsyms for the names ftrace accepts.
            forEachTextSymbol(kallsyms) { name, addr, _ in
                if addresses[name] != nil { addresses[name]!.append(addr) }
            }
        } else {
            return nil
        }
        return Traceability(source: .availableFilterFunctions, addresses: addresses, modules: modules)
    }

    static func fromKallsyms() -> Traceability {
        var addresses: [String: [UInt64]] = [:]
        var modules: [String: String] = [:]
        let blacklist = kprobeBlacklist()
        forEachTextSymbol(kallsymsText()) { name, addr, module in
            guard !blacklist.contains(name) else { return }
            addresses[name, default: []].append(addr)
            if let module { modules[name] = module }
        }
        return Traceability(source: .kallsyms, addresses: addresses, modules: modules)
    }

    static func kallsymsText() -> String { readProcFile("/proc/kallsyms") ?? "" }

    /// "addr t name [module]" lines with a text type.
    static func forEachTextSymbol(_ text: String, _ body: (String, UInt64, String?) -> Void) {
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 3, f[1] == "t" || f[1] == "T", let addr = UInt64(f[0], radix: 16) else { continue }
            // Compiler-generated clones (foo.cold, foo.isra.0) are not BTF functions.
            let name = f[2].split(separator: "\t").first.map(String.init) ?? String(f[2])
            let module = f.count >= 4 ? String(f[3].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) : nil
            body(name, addr, module)
        }
    }

    /// Functions kprobes refuse (debugfs kprobes/blacklist: "0xstart-0xend\tname").
    static func kprobeBlacklist() -> Set<String> {
        guard let text = readProcFile("/sys/kernel/debug/kprobes/blacklist") else { return [] }
        return Set(text.split(separator: "\n").compactMap { line in
            line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.map(String.init)
        })
    }
}

/// Reads a /proc, /sys or tracefs file to EOF (they report size 0).
func readProcFile(_ path: String) -> String? {
    guard let h = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? h.close() }
    return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
}
