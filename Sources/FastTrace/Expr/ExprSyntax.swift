/// An expression as written: C syntax over a root struct pointer (`skb`).
public indirect enum Expr: Equatable, Sendable {
    /// `skb->dev->name`, `skb->cb[2]`: the root, then member and index steps.
    case path(root: String, steps: [PathStep], column: Int)
    case number(UInt64, column: Int)
    case string(String, column: Int)
    /// An identifier used as a value: an enumerator name, resolved against BTF.
    case name(String, column: Int)
    case not(Expr, column: Int)
    case binary(BinaryOp, Expr, Expr, column: Int)

    public var column: Int {
        switch self {
        case .path(_, _, let c), .number(_, let c), .string(_, let c), .name(_, let c), .not(_, let c), .binary(_, _, _, let c): c
        }
    }
}

public enum PathStep: Equatable, Sendable {
    /// `->member` (through a pointer) or `.member` (in place).
    case member(String, arrow: Bool, column: Int)
    case index(Int, column: Int)
}

public enum BinaryOp: String, Sendable, CaseIterable {
    case or = "||", and = "&&", bitOr = "|", bitXor = "^", bitAnd = "&"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="

    /// C precedence, loosest first.
    var precedence: Int {
        switch self {
        case .or: 1
        case .and: 2
        case .bitOr: 3
        case .bitXor: 4
        case .bitAnd: 5
        case .eq, .ne: 6
        case .lt, .le, .gt, .ge: 7
        }
    }
    var isComparison: Bool { precedence >= 6 }
    var isLogical: Bool { self == .or || self == .and }
}

/// A syntax or resolution error: what, and the 1-based column where it was found.
public struct ExprError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public let column: Int
    public var description: String { "column \(column): \(message)" }
}

/// Recursive descent with precedence climbing over C's operators (no arithmetic, no calls).
public struct ExprParser {
    enum Token: Equatable {
        case ident(String), number(UInt64), string(String), op(String), end
    }

    private var tokens: [(token: Token, column: Int)] = []
    private var at = 0

    public static func parse(_ text: String) throws(ExprError) -> Expr {
        var p = ExprParser()
        p.tokens = try lex(text)
        let e = try p.expression(0)
        guard case .end = p.tokens[p.at].token else { throw ExprError(message: "unexpected '\(p.describe(p.tokens[p.at].token))'", column: p.tokens[p.at].column) }
        return e
    }

    static let operators = ["->", "&&", "||", "==", "!=", "<=", ">=", "<", ">", "&", "|", "^", "!", "(", ")", "[", "]", "."]

    static func lex(_ text: String) throws(ExprError) -> [(token: Token, column: Int)] {
        let chars = Array(text.unicodeScalars)
        var out: [(token: Token, column: Int)] = []
        var i = 0
        while i < chars.count {
            let c = chars[i], column = i + 1
            if c == " " || c == "\t" { i += 1; continue }
            if c.properties.isAlphabetic || c == "_" {
                var j = i
                while j < chars.count, chars[j].properties.isAlphabetic || chars[j] == "_" || ("0"..."9").contains(chars[j]) { j += 1 }
                out.append((.ident(String(String.UnicodeScalarView(chars[i..<j]))), column))
                i = j
            } else if ("0"..."9").contains(c) {
                var j = i
                while j < chars.count, chars[j].properties.isAlphabetic || ("0"..."9").contains(chars[j]) { j += 1 }
                let word = String(String.UnicodeScalarView(chars[i..<j])).lowercased()
                let value: UInt64? = word.hasPrefix("0x") ? UInt64(word.dropFirst(2), radix: 16)
                    : word.hasPrefix("0b") ? UInt64(word.dropFirst(2), radix: 2)
                    : word.count > 1 && word.hasPrefix("0") ? UInt64(word.dropFirst(), radix: 8) : UInt64(word)
                guard let value else { throw ExprError(message: "'\(word)' is not a number", column: column) }
                out.append((.number(value), column))
                i = j
            } else if c == "\"" {
                var j = i + 1, s = ""
                while j < chars.count, chars[j] != "\"" {
                    if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                    s.unicodeScalars.append(chars[j])
                    j += 1
                }
                guard j < chars.count else { throw ExprError(message: "unterminated string", column: column) }
                out.append((.string(s), column))
                i = j + 1
            } else if let op = operators.first(where: { op in
                let u = Array(op.unicodeScalars)
                return i + u.count <= chars.count && Array(chars[i..<(i + u.count)]) == u
            }) {
                out.append((.op(op), column))
                i += op.unicodeScalars.count
            } else {
                throw ExprError(message: "unexpected character '\(c.escaped(asASCII: true))'", column: column)
            }
        }
        out.append((.end, chars.count + 1))
        return out
    }

    func describe(_ t: Token) -> String {
        switch t {
        case .ident(let s), .op(let s): s
        case .number(let n): String(n)
        case .string(let s): "\"\(s)\""
        case .end: "end of expression"
        }
    }

    private mutating func expression(_ minPrecedence: Int) throws(ExprError) -> Expr {
        var left = try unary()
        while case .op(let s) = tokens[at].token, let op = BinaryOp(rawValue: s), op.precedence > minPrecedence {
            let column = tokens[at].column
            at += 1
            let right = try expression(op.precedence)
            left = .binary(op, left, right, column: column)
        }
        return left
    }

    private mutating func unary() throws(ExprError) -> Expr {
        let (t, column) = tokens[at]
        switch t {
        case .op("!"):
            at += 1
            return .not(try unary(), column: column)
        case .op("("):
            at += 1
            let e = try expression(0)
            guard tokens[at].token == .op(")") else { throw ExprError(message: "expected ')', found '\(describe(tokens[at].token))'", column: tokens[at].column) }
            at += 1
            return e
        case .number(let n):
            at += 1
            return .number(n, column: column)
        case .string(let s):
            at += 1
            return .string(s, column: column)
        case .ident(let name):
            at += 1
            var steps: [PathStep] = []
            while true {
                let (next, c) = tokens[at]
                if next == .op("->") || next == .op(".") {
                    at += 1
                    guard case .ident(let member) = tokens[at].token else {
                        throw ExprError(message: "expected a member name after '\(describe(next))'", column: tokens[at].column)
                    }
                    steps.append(.member(member, arrow: next == .op("->"), column: tokens[at].column))
                    at += 1
                } else if next == .op("[") {
                    at += 1
                    guard case .number(let n) = tokens[at].token, n < 1 << 20 else {
                        throw ExprError(message: "expected an index (a number) after '['", column: tokens[at].column)
                    }
                    at += 1
                    guard tokens[at].token == .op("]") else { throw ExprError(message: "expected ']'", column: tokens[at].column) }
                    at += 1
                    steps.append(.index(Int(n), column: c))
                } else {
                    break
                }
            }
            return steps.isEmpty ? .name(name, column: column) : .path(root: name, steps: steps, column: column)
        default:
            throw ExprError(message: "expected a value, found '\(describe(t))'", column: column)
        }
    }
}
