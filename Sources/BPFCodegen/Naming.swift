/// C → Swift naming rules (docs/codegen.md): `ft_skb_event` → `SkbEvent`,
/// `rx_packets` → `rxPackets`, `FT_EVENT_KIND_DROP` (in `ft_event_kind`) → `drop`.
enum Naming {
    static let projectPrefix = "ft_"

    static func typeName(_ cName: String) -> String {
        let base = cName.hasPrefix(projectPrefix) ? String(cName.dropFirst(projectPrefix.count)) : cName
        return upperCamel(base)
    }

    static func upperCamel(_ s: String) -> String {
        let parts = s.split(separator: "_", omittingEmptySubsequences: true)
        let joined = parts.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return joined.first?.isNumber == true ? "_" + joined : joined
    }

    /// Enum constants: `FT_EVENT_KIND_DROP` → `ftEventKindDrop` (lowercased, then as members).
    static func lowerCamel(_ s: String) -> String { member(s.lowercased()) }

    /// Field names keep their case except for snake_case → camelCase.
    static func member(_ s: String) -> String {
        let parts = s.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first else { return "_" }
        let rest = parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }
        return escape(String(first) + rest.joined())
    }

    static func escape(_ s: String) -> String {
        if s.first?.isNumber == true { return "_" + s }
        return keywords.contains(s) ? "`\(s)`" : s
    }

    /// Removes the longest `_`-terminated prefix shared by every name, so that
    /// FT_EVENT_KIND_FUNC, FT_EVENT_KIND_DROP become FUNC, DROP.
    static func stripCommonPrefix(_ names: [String], enumName: String) -> [String] {
        guard names.count > 1 else {
            let p = enumName.uppercased() + "_"
            return names.map { $0.hasPrefix(p) && $0.count > p.count ? String($0.dropFirst(p.count)) : $0 }
        }
        var prefix = names[0]
        for n in names.dropFirst() {
            while !n.hasPrefix(prefix) { prefix.removeLast() }
        }
        if let cut = prefix.lastIndex(of: "_") { prefix = String(prefix[...cut]) } else { prefix = "" }
        return names.map { n in
            let rest = String(n.dropFirst(prefix.count))
            return rest.isEmpty ? n : rest
        }
    }

    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import",
        "init", "inout", "internal", "let", "open", "operator", "private", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
        "return", "switch", "where", "while", "as", "Any", "catch", "false", "is", "nil", "super",
        "self", "Self", "throw", "throws", "true", "try", "Type", "some", "any", "async", "await",
        "consuming", "borrowing", "copy", "discard", "each", "isolated", "package",
    ]
}
