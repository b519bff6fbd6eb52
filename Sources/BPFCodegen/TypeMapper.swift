import KernelBTF
/// How a BTF type is spelled and laid out in Swift.
indirect enum SwiftType: Equatable {
    /// Fixed-width integer (UInt8 … Int64, CChar).
    case scalar(String, size: Int)
    /// A generated struct or enum wrapper.
    case named(String, size: Int, align: Int)
    /// A fixed C array `T x[N]` as `InlineArray<N, T>` (same layout: N contiguous strides).
    case array(SwiftType, count: Int)

    var size: Int {
        switch self {
        case .scalar(_, let s), .named(_, let s, _): s
        case .array(let e, let n): e.size * n
        }
    }
    var align: Int {
        switch self {
        case .scalar(_, let s): s
        case .named(_, _, let a): a
        case .array(let e, _): e.align
        }
    }
    var spelling: String {
        switch self {
        case .scalar(let n, _), .named(let n, _, _): n
        case .array(let e, let n): "InlineArray<\(n), \(e.spelling)>"
        }
    }
    var zero: String {
        switch self {
        case .scalar: "0"
        case .named: ".init()"
        case .array(let e, _): "InlineArray(repeating: \(e.zero))"
        }
    }
    var isCharArray: Bool {
        if case .array(.scalar("CChar", _), _) = self { return true }
        return false
    }
}

struct FieldDecl: Equatable {
    let cName: String
    let swiftName: String
    let offset: Int
    let type: SwiftType
    let isPadding: Bool
}

struct StructDecl: Equatable {
    let cName: String
    let swiftName: String
    let size: Int
    let align: Int
    let fields: [FieldDecl]
}

struct EnumDecl: Equatable {
    struct Case: Equatable { let cName: String; let swiftName: String; let value: Int64 }
    let cName: String
    let swiftName: String
    let rawType: String
    let size: Int
    let cases: [Case]
}

/// Maps the BTF of one object to Swift declarations. Anything whose Swift layout could
/// differ from C is rejected with a one-line error naming the type and field.
final class TypeMapper {
    let btf: BTF
    let origin: String
    private(set) var structs: [String: StructDecl] = [:]
    private(set) var enums: [String: EnumDecl] = [:]
    private var inProgress: Set<UInt32> = []

    init(btf: BTF, origin: String) {
        self.btf = btf
        self.origin = origin
    }

    private func fail(_ where_: String, _ why: String) -> CodegenError {
        CodegenError("\(origin): \(where_): \(why)")
    }

    /// The Swift type of a field or variable of BTF type `id`, declaring nested types.
    func swiftType(_ id: UInt32, at place: String) throws(CodegenError) -> SwiftType {
        let r = btf.resolve(id)
        switch btf.kind(r) {
        case .int:
            let info = btf.intInfo(r)
            guard info.bitOffset == 0, info.bits % 8 == 0, [8, 16, 32, 64].contains(info.bits) else {
                throw fail(place, "\(info.bits)-bit integer is not supported (only 8/16/32/64)")
            }
            if info.isChar || (info.bits == 8 && btf.name(r) == "char") { return .scalar("CChar", size: 1) }
            // _Bool maps to UInt8: Swift's Bool has invalid bit patterns, kernel memory may not.
            if info.isBool { return .scalar("UInt8", size: 1) }
            return .scalar((info.signed ? "Int" : "UInt") + "\(info.bits)", size: info.bits / 8)
        case .ptr:
            // Pointers are kernel addresses: 64-bit integers in Swift (BPF is a 64-bit target).
            return .scalar("UInt64", size: 8)
        case .enum, .enum64:
            let e = try declareEnum(r, at: place)
            return .named(e.swiftName, size: e.size, align: e.size)
        case .struct:
            let s = try declareStruct(r, at: place)
            return .named(s.swiftName, size: s.size, align: s.align)
        case .array:
            let a = btf.arrayInfo(r)
            if a.count == 0 { throw fail(place, "flexible array member is not supported") }
            return .array(try swiftType(a.element, at: place), count: a.count)
        case .union:
            throw fail(place, "union is not supported (use a struct or a byte array)")
        case .float:
            throw fail(place, "floating point is not supported in BPF")
        case .fwd:
            throw fail(place, "incomplete type \(btf.name(r)) (only a forward declaration)")
        default:
            throw fail(place, "BTF kind \(btf.kind(r)) is not supported")
        }
    }

    @discardableResult
    func declareEnum(_ id: UInt32, at place: String) throws(CodegenError) -> EnumDecl {
        let cName = btf.name(id)
        guard !cName.isEmpty else { throw fail(place, "anonymous enum is not supported (name it)") }
        if let e = enums[cName] { return e }
        let size = btf.size(id)
        guard [1, 2, 4, 8].contains(size) else { throw fail("enum \(cName)", "size \(size) is not supported") }
        let rawType = (btf.isSignedEnum(id) ? "Int" : "UInt") + "\(size * 8)"
        let enumerators = btf.enumerators(id)
        let swiftNames = Naming.stripCommonPrefix(enumerators.map(\.name), enumName: cName)
        var seen = Set<String>()
        let cases = zip(enumerators, swiftNames).map { e, n in
            var name = Naming.lowerCamel(n)
            while !seen.insert(name).inserted { name += "_" }
            return EnumDecl.Case(cName: e.name, swiftName: name, value: e.value)
        }
        let decl = EnumDecl(cName: cName, swiftName: Naming.typeName(cName), rawType: rawType,
                            size: size, cases: cases)
        enums[cName] = decl
        return decl
    }

    @discardableResult
    func declareStruct(_ id: UInt32, at place: String) throws(CodegenError) -> StructDecl {
        let cName = btf.name(id)
        guard !cName.isEmpty else {
            throw fail(place, "anonymous struct is not supported (give the member a named struct type)")
        }
        if let s = structs[cName] { return s }
        guard inProgress.insert(id).inserted else { throw fail("struct \(cName)", "recursive type") }
        defer { inProgress.remove(id) }
        var items: [(cName: String, offset: Int, type: UInt32)] = []
        for (i, m) in btf.members(id).enumerated() {
            let place = "struct \(cName), field \(m.name.isEmpty ? "#\(i)" : m.name)"
            if m.name.isEmpty {
                throw fail(place, "anonymous member is not supported (name it)")
            }
            if m.bitfieldSize != 0 { throw fail(place, "bitfields are not supported") }
            guard m.bitOffset % 8 == 0 else { throw fail(place, "member not byte-aligned") }
            items.append((m.name, Int(m.bitOffset / 8), m.type))
        }
        let decl = try layout(cName: cName, swiftName: Naming.typeName(cName),
                              size: btf.size(id), items: items, what: "struct \(cName)")
        structs[cName] = decl
        return decl
    }

    /// Lays out members at their BTF offsets with explicit padding, so that the Swift
    /// struct's size, stride and every offset equal C's.
    func layout(cName: String, swiftName: String, size: Int,
                items: [(cName: String, offset: Int, type: UInt32)], what: String) throws(CodegenError) -> StructDecl {
        var fields: [FieldDecl] = []
        var cursor = 0
        var align = 1
        var pads = 0
        func pad(_ n: Int) {
            fields.append(FieldDecl(cName: "", swiftName: "_pad\(pads)", offset: cursor,
                                    type: .array(.scalar("UInt8", size: 1), count: n), isPadding: true))
            pads += 1
            cursor += n
        }
        for item in items.sorted(by: { $0.offset < $1.offset }) {
            let place = "\(what), field \(item.cName)"
            let t = try swiftType(item.type, at: place)
            guard item.offset >= cursor else {
                throw fail(place, "overlaps the previous member (union-like layout is not supported)")
            }
            guard item.offset % t.align == 0 else {
                throw fail(place, "offset \(item.offset) is not a multiple of its alignment \(t.align) (packed layout is not supported)")
            }
            if item.offset > cursor { pad(item.offset - cursor) }
            fields.append(FieldDecl(cName: item.cName, swiftName: Naming.member(item.cName),
                                    offset: item.offset, type: t, isPadding: false))
            cursor = item.offset + t.size
            align = max(align, t.align)
        }
        guard cursor <= size else { throw fail(what, "members extend past the size \(size)") }
        if cursor < size { pad(size - cursor) }
        guard size % align == 0 else {
            throw fail(what, "size \(size) is not a multiple of its alignment \(align) (packed layout is not supported)")
        }
        return StructDecl(cName: cName, swiftName: swiftName, size: size, align: align, fields: fields)
    }
}
