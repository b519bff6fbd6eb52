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
        /// Functions were not looked for (a tracepoint backend's discovery).
        case none
    }

    public let source: Source
    /// name → addresses (several for static functions sharing a name; empty when unknown).
    public let addresses: [String: [UInt64]]
    /// name → module, for functions in modules.
    public let modules: [String: String]

    public func contains(_ name: String) -> Bool { addresses[name] != nil }

    /// Reads the running kernel's lists, keeping only `names` (the BTF candidates): the
    /// files have ~100k lines, so they are scanned as bytes and only wanted names become Strings.
    public static func current(for names: Set<String>) -> Traceability {
        if let tracefs = KernelInfo.tracefsPath, let t = fromTracefs(tracefs, names) { return t }
        return fromKallsyms(names)
    }

    static func fromTracefs(_ tracefs: String, _ names: Set<String>) -> Traceability? {
        var addresses: [String: [UInt64]] = [:]
        var modules: [String: String] = [:]
        // Names from available_filter_functions; addresses from kallsyms. (The _addrs variant
        // lists ftrace patch sites, after ENDBR on x86, but kprobe.multi matches its cookies to
        // function entry addresses: symbol starts.)
        if let data = readFile(tracefs + "/available_filter_functions") {
            forEachLine(data) { f in
                guard f.count >= 1, let name = f.string(0, ifIn: names) else { return }
                addresses[name] = addresses[name] ?? []
                if let m = f.module(1) { modules[name] = m }
            }
            forEachTextSymbol(readFile("/proc/kallsyms"), names) { name, addr, _ in
                if addresses[name] != nil { addresses[name]!.append(addr) }
            }
        } else {
            return nil
        }
        return Traceability(source: .availableFilterFunctions, addresses: addresses, modules: modules)
    }

    static func fromKallsyms(_ names: Set<String>) -> Traceability {
        var addresses: [String: [UInt64]] = [:]
        var modules: [String: String] = [:]
        let blacklist = kprobeBlacklist()
        forEachTextSymbol(readFile("/proc/kallsyms"), names) { name, addr, module in
            guard !blacklist.contains(name) else { return }
            addresses[name, default: []].append(addr)
            if let module { modules[name] = module }
        }
        return Traceability(source: .kallsyms, addresses: addresses, modules: modules)
    }

    /// "addr t name [module]" lines with a text type (t/T), for wanted names.
    static func forEachTextSymbol(_ data: Data?, _ names: Set<String>, _ body: (String, UInt64, String?) -> Void) {
        guard let data else { return }
        forEachLine(data) { f in
            guard f.count >= 3, f.isTextType(1), let name = f.string(2, ifIn: names), let addr = f.hex(0) else { return }
            body(name, addr, f.module(3))
        }
    }

    /// Functions kprobes refuse (debugfs kprobes/blacklist: "0xstart-0xend\tname").
    static func kprobeBlacklist() -> Set<String> {
        guard let data = readFile("/sys/kernel/debug/kprobes/blacklist") else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        return Set(text.split(separator: "\n").compactMap { line in
            line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.map(String.init)
        })
    }
}

/// The whitespace-separated fields of one line, as byte ranges (no allocation).
struct LineFields {
    let base: UnsafeRawBufferPointer
    var ranges: [Range<Int>] = []
    var count: Int { ranges.count }

    func bytes(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: base[ranges[i]]) }

    /// Field i as a String, only if it is one of `names` (hash lookup on the bytes' String).
    func string(_ i: Int, ifIn names: Set<String>) -> String? {
        guard i < count else { return nil }
        let s = String(decoding: bytes(i), as: UTF8.self)
        return names.contains(s) ? s : nil
    }

    func hex(_ i: Int) -> UInt64? {
        guard i < count else { return nil }
        var v: UInt64 = 0
        for b in bytes(i) {
            switch b {
            case 0x30...0x39: v = v << 4 | UInt64(b - 0x30)
            case 0x61...0x66: v = v << 4 | UInt64(b - 0x61 + 10)
            case 0x41...0x46: v = v << 4 | UInt64(b - 0x41 + 10)
            default: return nil
            }
        }
        return v
    }

    func isTextType(_ i: Int) -> Bool {
        guard i < count, ranges[i].count == 1 else { return false }
        let b = base[ranges[i].lowerBound]
        return b == UInt8(ascii: "t") || b == UInt8(ascii: "T")
    }

    /// "[module]" → module.
    func module(_ i: Int) -> String? {
        guard i < count else { return nil }
        let b = bytes(i)
        guard b.count > 2, b.first == UInt8(ascii: "["), b.last == UInt8(ascii: "]") else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: b[1..<(b.count - 1)]), as: UTF8.self)
    }
}

/// Calls `body` with the fields of every line (split on spaces and tabs).
func forEachLine(_ data: Data, _ body: (LineFields) -> Void) {
    data.withUnsafeBytes { buf in
        var fields = LineFields(base: buf)
        fields.ranges.reserveCapacity(8)
        var start = -1
        for i in 0..<buf.count {
            let b = buf[i]
            if b == 0x20 || b == 0x09 || b == 0x0a {
                if start >= 0 { fields.ranges.append(start..<i); start = -1 }
                if b == 0x0a {
                    body(fields)
                    fields.ranges.removeAll(keepingCapacity: true)
                }
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 { fields.ranges.append(start..<buf.count) }
        if !fields.ranges.isEmpty { body(fields) }
    }
}

/// Reads a file to EOF (/proc, /sys and tracefs files report size 0).
func readFile(_ path: String) -> Data? {
    guard let h = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? h.close() }
    return h.readDataToEndOfFile()
}
