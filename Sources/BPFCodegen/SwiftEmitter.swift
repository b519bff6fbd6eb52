import KernelBTF
import Foundation

/// Text emission helpers shared by the type and skeleton emitters.
struct SwiftWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ s: String = "") {
        text += s.isEmpty ? "\n" : String(repeating: "    ", count: depth) + s + "\n"
    }
    mutating func block(_ header: String, _ body: (inout SwiftWriter) -> Void) {
        line(header + " {")
        depth += 1
        body(&self)
        depth -= 1
        line("}")
    }
}

enum TypeEmitter {
    static func emit(_ s: StructDecl, object: String? = nil, into w: inout SwiftWriter) {
        w.line("/// C `\(s.cName.hasPrefix(".") ? "section \(s.cName)" : "struct \(s.cName)")`: \(s.size) bytes, alignment \(s.align).")
        w.block("public struct \(s.swiftName): BitwiseCopyable, Sendable, Equatable, BTFLayoutDescribed") { w in
            for f in s.fields {
                if f.isPadding {
                    w.line("var \(f.swiftName): \(f.type.spelling) = \(f.type.zero)")
                } else {
                    w.line("/// `\(f.cName)` at offset \(f.offset).")
                    w.line("public var \(f.swiftName): \(f.type.spelling) = \(f.type.zero)")
                }
            }
            w.line()
            w.line("public init() {}")
            w.line()
            w.block("public static func == (a: Self, b: Self) -> Bool") { w in
                w.line("withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }")
            }
            w.line()
            w.line("public static let btfLayout = BTFLayout(")
            w.line("    cName: \(quote(s.cName)),\(object.map { " object: \(quote($0))," } ?? "") size: \(s.size), swiftSize: MemoryLayout<Self>.size,")
            w.line("    swiftStride: MemoryLayout<Self>.stride, fields: [")
            for f in s.fields where !f.isPadding {
                w.line("        .init(cName: \(quote(f.cName)), swiftName: \(quote(f.swiftName.trimmingBackticks)), offset: \(f.offset), size: \(f.type.size), swiftOffset: MemoryLayout<Self>.offset(of: \\.\(f.swiftName))),")
            }
            w.line("    ])")
            for f in s.fields where f.type.isCharArray {
                w.line()
                w.line("/// `\(f.cName)` up to its first NUL, as UTF-8.")
                w.block("public var \(f.swiftName.trimmingBackticks)String: String") { w in
                    w.line("withUnsafeBytes(of: \(f.swiftName)) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }")
                }
            }
        }
    }

    static func emit(_ e: EnumDecl, into w: inout SwiftWriter) {
        w.line("/// C `enum \(e.cName)`. Unknown values are kept (the kernel may add some).")
        w.block("public struct \(e.swiftName): RawRepresentable, Hashable, Sendable, BitwiseCopyable, CustomStringConvertible") { w in
            w.line("public var rawValue: \(e.rawType)")
            w.line("public init(rawValue: \(e.rawType)) { self.rawValue = rawValue }")
            w.line("public init() { rawValue = 0 }")
            w.line()
            for c in e.cases {
                w.line("/// `\(c.cName)` = \(c.value)")
                w.line("public static let \(c.swiftName) = \(e.swiftName)(rawValue: \(c.value))")
            }
            w.line()
            w.line("public static let allCases: [\(e.swiftName)] = [\(e.cases.map { "." + $0.swiftName }.joined(separator: ", "))]")
            w.line()
            w.line("/// The C name of the value, nil for a value this build does not know.")
            w.block("public var name: String?") { w in
                w.block("switch rawValue") { w in
                    var seen = Set<Int64>()
                    for c in e.cases where seen.insert(c.value).inserted {
                        w.line("case \(c.value): return \(quote(c.cName))")
                    }
                    w.line("default: return nil")
                }
            }
            w.line()
            w.line("public var description: String { name ?? \"\(e.swiftName)(\\(rawValue))\" }")
        }
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension String {
    var trimmingBackticks: String { filter { $0 != "`" } }
}
