import KernelBTF

/// A member path resolved against BTF: where its bytes are, counted from the root pointer.
/// Reading it: start at the root pointer; for each entry of `loads`, read a pointer at
/// (current + that offset) and continue from it (a NULL pointer makes the path unreadable,
/// which a filter treats as no match); then read `size` bytes at (current + `offset`).
public struct ResolvedPath: Equatable, Sendable {
    public enum Value: Equatable, Sendable {
        case integer(signed: Bool)
        /// An enum field: its BTF type names its values.
        case enumeration(typeID: UInt32, signed: Bool)
        case pointer
        /// A char array: compared as a bounded string.
        case chars(count: Int)
    }
    public var loads: [Int] = []
    public var offset = 0
    public var size = 0
    /// Set for a bitfield: its first bit within the bytes read (from `offset`), and width.
    public var bitOffset = 0
    public var bits = 0
    public var value: Value = .integer(signed: false)
    /// The C type, for messages (`unsigned int`, `char[16]`).
    public var typeName = ""
}

/// An expression with every path resolved and every name turned into its number.
public indirect enum ResolvedExpr: Equatable, Sendable {
    case path(ResolvedPath)
    case number(UInt64)
    /// A string literal compared with a char array (at most the array's size).
    case string([UInt8])
    case not(ResolvedExpr)
    case binary(BinaryOp, ResolvedExpr, ResolvedExpr)
}

/// Resolves `Expr` against a BTF (the running kernel's, or --kernel-btf's) for a root named
/// `root` of type `struct rootStruct *` (`skb`, `struct sk_buff`).
public struct ExprResolver {
    let btf: BTF
    let root: String
    let rootStruct: UInt32
    let rootStructName: String

    public init(btf: BTF, root: String = "skb", rootStruct name: String = "sk_buff") throws(ExprError) {
        guard let id = btf.find(name, kind: .struct) else { throw ExprError(message: "no struct \(name) in this BTF", column: 1) }
        self.btf = btf
        self.root = root
        rootStruct = id
        rootStructName = name
    }

    /// Names C code compares with that are macros, not BTF enums (uapi `<linux/if_packet.h>`).
    static let knownConstants: [String: UInt64] = [
        "PACKET_HOST": 0, "PACKET_BROADCAST": 1, "PACKET_MULTICAST": 2, "PACKET_OTHERHOST": 3,
        "PACKET_OUTGOING": 4, "PACKET_LOOPBACK": 5,
    ]

    public func resolve(_ e: Expr) throws(ExprError) -> ResolvedExpr {
        switch e {
        case .path(let r, let steps, let column):
            guard r == root else { throw ExprError(message: "unknown name '\(r)': paths start at '\(root)'", column: column) }
            let p = try path(steps)
            if case .chars = p.value { throw ExprError(message: "\(describe(steps)) is \(p.typeName): compare it with a string (== \"...\")", column: column) }
            return .path(p)
        case .number(let n, _):
            return .number(n)
        case .string(_, let column):
            throw ExprError(message: "a string can only be compared (== or !=) with a char array member", column: column)
        case .name(let n, let column):
            if n == root { throw ExprError(message: "'\(root)' alone is a pointer: compare one of its members (\(root)->len)", column: column) }
            return .number(try constant(n, column: column, enumType: nil))
        case .not(let x, _):
            return .not(try resolve(x))
        case .binary(let op, let a, let b, let column):
            if op == .eq || op == .ne, let s = try stringComparison(a, b, column: column) { return s(op) }
            let left = try resolve(a)
            // An enumerator on the right is looked up in the left side's enum first.
            let right: ResolvedExpr
            if case .name(let n, let c) = b, case .path(let p) = left, case .enumeration(let id, _) = p.value {
                right = .number(try constant(n, column: c, enumType: id))
            } else {
                right = try resolve(b)
            }
            _ = column
            return .binary(op, left, right)
        }
    }

    /// A member path alone, as a value to print (--output-skb-metadata): numbers, enums,
    /// pointers and char arrays.
    public func value(_ e: Expr) throws(ExprError) -> ResolvedPath {
        guard case .path(let r, let steps, let column) = e else {
            throw ExprError(message: "expected a member path such as \(root)->mark", column: e.column)
        }
        guard r == root else { throw ExprError(message: "unknown name '\(r)': paths start at '\(root)'", column: column) }
        return try path(steps)
    }

    /// `path == "text"` (either order) for a char array member.
    private func stringComparison(_ a: Expr, _ b: Expr, column: Int) throws(ExprError) -> ((BinaryOp) -> ResolvedExpr)? {
        let (pathSide, literal): (Expr, (String, Int))
        switch (a, b) {
        case (.path, .string(let s, let c)): (pathSide, literal) = (a, (s, c))
        case (.string(let s, let c), .path): (pathSide, literal) = (b, (s, c))
        default: return nil
        }
        guard case .path(let r, let steps, let pc) = pathSide, r == root else { return nil }
        let p = try path(steps)
        guard case .chars(let count) = p.value else {
            throw ExprError(message: "\(describe(steps)) is \(p.typeName), not a char array: it cannot equal a string", column: pc)
        }
        let bytes = Array(literal.0.utf8)
        guard bytes.count < count else {
            throw ExprError(message: "\"\(literal.0)\" is \(bytes.count) bytes; \(describe(steps)) holds at most \(count - 1)", column: literal.1)
        }
        return { op in .binary(op, .path(p), .string(bytes)) }
    }

    private func constant(_ name: String, column: Int, enumType: UInt32?) throws(ExprError) -> UInt64 {
        if let id = enumType, let e = btf.enumerators(id).first(where: { $0.name == name }) { return UInt64(bitPattern: e.value) }
        if let v = Self.knownConstants[name] { return v }
        for id in 1..<btf.typeCount where btf.kind(id) == .enum || btf.kind(id) == .enum64 {
            if let e = btf.enumerators(id).first(where: { $0.name == name }) { return UInt64(bitPattern: e.value) }
        }
        throw ExprError(message: "unknown name '\(name)': not an enumerator in this kernel's BTF", column: column)
    }

    func describe(_ steps: [PathStep]) -> String {
        root + steps.map { s in
            switch s {
            case .member(let m, let arrow, _): (arrow ? "->" : ".") + m
            case .index(let i, _): "[\(i)]"
            }
        }.joined()
    }

    /// Walks the steps from `struct rootStruct *`.
    func path(_ steps: [PathStep]) throws(ExprError) -> ResolvedPath {
        var p = ResolvedPath()
        var type = rootStruct      // the type of the bytes at (current + offset)
        var atRootPointer = true   // the root is a pointer held in a register, not in memory
        var bitOffset = 0, bits = 0
        var walked: [PathStep] = []
        func here() -> String { atRootPointer ? "\(root) (struct \(rootStructName) *)" : "\(describe(walked)) (\(typeName(type)))" }
        for step in steps {
            guard bits == 0 else { throw ExprError(message: "\(describe(walked)) is a bitfield: nothing is inside it", column: column(step)) }
            switch step {
            case .member(let name, let arrow, let column):
                if arrow {
                    if !atRootPointer {
                        let t = btf.resolve(type)
                        guard btf.kind(t) == .ptr else { throw ExprError(message: "'->' on \(here()), which is not a pointer: use '.'", column: column) }
                        p.loads.append(p.offset)
                        p.offset = 0
                        type = btf.resolve(btf.target(t))
                    }
                } else if atRootPointer {
                    throw ExprError(message: "'.' on \(here()), a pointer: use '->'", column: column)
                }
                atRootPointer = false
                let s = btf.resolve(type)
                guard btf.kind(s) == .struct || btf.kind(s) == .union else {
                    throw ExprError(message: "\(here()) has no members (it is \(typeName(type)))", column: column)
                }
                guard let (mt, mbit, mbits) = member(name, in: s) else {
                    throw ExprError(message: "\(typeName(s)) has no member '\(name)'", column: column)
                }
                p.offset += mbit / 8
                bitOffset = mbit % 8
                bits = mbits
                type = mt
            case .index(let i, let column):
                if atRootPointer { throw ExprError(message: "'[\(i)]' on \(here()): index a member array", column: column) }
                let t = btf.resolve(type)
                guard btf.kind(t) == .array else { throw ExprError(message: "\(here()) is not an array", column: column) }
                let a = btf.arrayInfo(t)
                guard i < a.count else { throw ExprError(message: "index \(i) is outside \(here())", column: column) }
                p.offset += i * (btf.byteSize(a.element) ?? 0)
                type = a.element
            }
            walked.append(step)
        }
        guard !atRootPointer else { throw ExprError(message: "'\(root)' alone is a pointer: compare one of its members", column: 1) }
        let t = btf.resolve(type)
        p.typeName = typeName(type)
        switch btf.kind(t) {
        case .int:
            let info = btf.intInfo(t)
            p.value = .integer(signed: info.signed)
            p.size = btf.size(t)
        case .enum, .enum64:
            p.value = .enumeration(typeID: t, signed: btf.isSignedEnum(t))
            p.size = btf.size(t)
        case .ptr:
            p.value = .pointer
            p.size = 8
        case .array:
            let a = btf.arrayInfo(t)
            let e = btf.resolve(a.element)
            guard btf.kind(e) == .int, btf.size(e) == 1 else {
                throw ExprError(message: "\(describe(steps)) is \(p.typeName): index it ([0]) to compare an element", column: column(steps.last!))
            }
            p.value = .chars(count: a.count)
            p.size = a.count
        default:
            throw ExprError(message: "\(describe(steps)) is \(p.typeName): compare one of its members", column: column(steps.last!))
        }
        if bits > 0 {
            // Read the bytes that hold the field; shift and mask in the program.
            p.bitOffset = bitOffset
            p.bits = bits
            p.size = (bitOffset + bits + 7) / 8
        }
        return p
    }

    private func column(_ s: PathStep) -> Int {
        switch s {
        case .member(_, _, let c), .index(_, let c): c
        }
    }

    /// A member by name, looking inside anonymous structs and unions: its type, bit offset
    /// from the start of `s` and bitfield width (0: not a bitfield).
    private func member(_ name: String, in s: UInt32) -> (UInt32, Int, Int)? {
        for m in btf.members(s) {
            if m.name == name { return (m.type, Int(m.bitOffset), Int(m.bitfieldSize)) }
            let t = btf.resolve(m.type)
            if m.name.isEmpty, btf.kind(t) == .struct || btf.kind(t) == .union, let (mt, bit, bits) = member(name, in: t) {
                return (mt, Int(m.bitOffset) + bit, bits)
            }
        }
        return nil
    }

    /// The C spelling of a type, for messages.
    func typeName(_ id: UInt32) -> String {
        switch btf.kind(id) {
        case .struct: "struct \(btf.name(id))"
        case .union: "union \(btf.name(id))"
        case .enum, .enum64: "enum \(btf.name(id))"
        case .ptr: typeName(btf.target(id)) + " *"
        case .array: typeName(btf.arrayInfo(id).element) + "[\(btf.arrayInfo(id).count)]"
        case .typedef, .int, .float: btf.name(id)
        case .const, .volatile, .restrict, .typeTag: typeName(btf.target(id))
        default: btf.name(id).isEmpty ? "?" : btf.name(id)
        }
    }
}
