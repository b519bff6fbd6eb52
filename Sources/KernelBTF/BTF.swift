import CShim
import Glibc

/// A one-line error about reading BTF.
public struct BTFError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// BTF kinds (values of BTF_KIND_* in linux/btf.h).
public enum BTFKind: UInt16, Sendable {
    case unknown = 0, int, ptr, array, `struct`, union, `enum`, fwd, typedef, volatile, const,
        restrict, `func`, funcProto, `var`, datasec, float, declTag, typeTag, enum64
}

/// Read-only view of a `struct btf` (libbpf): kernel BTF, module split BTF or an object's.
public final class BTF {
    public let handle: OpaquePointer
    private let owned: Bool

    /// Parses the .BTF section of an ELF object (a compiled BPF program).
    public init(elfPath: String) throws(BTFError) {
        guard access(elfPath, R_OK) == 0 else {
            throw BTFError("\(elfPath): cannot read (\(String(cString: strerror(errno))))")
        }
        guard let btf = btf__parse_elf(elfPath, nil) else {
            let err = errno
            if err == ENOENT || err == ENODATA {
                throw BTFError("\(elfPath): no BTF in object (compile with clang -g)")
            }
            throw BTFError("\(elfPath): cannot parse BTF: \(errnoName(err))")
        }
        handle = btf
        owned = true
    }

    /// Parses split BTF (a module's, /sys/kernel/btf/MODULE) on top of `base` (vmlinux).
    /// Type ids below the base's count refer to the base.
    public init(rawPath: String, base: BTF) throws(BTFError) {
        guard let btf = btf__parse_split(rawPath, base.handle) else {
            throw BTFError("\(rawPath): cannot parse BTF: \(errnoName(errno))")
        }
        handle = btf
        owned = true
        self.base = base
    }

    /// Keeps the base alive under split BTF.
    private var base: BTF?

    /// Parses raw BTF such as /sys/kernel/btf/vmlinux.
    public init(rawPath: String) throws(BTFError) {
        guard let btf = btf__parse_raw(rawPath) else {
            throw BTFError("\(rawPath): cannot parse BTF: \(errnoName(errno))")
        }
        handle = btf
        owned = true
    }

    /// Takes a `struct btf` libbpf parsed (freed here).
    init(owning handle: OpaquePointer) {
        self.handle = handle
        owned = true
    }

    /// Borrows the BTF of an opened bpf_object (not freed here).
    public init(borrowing handle: OpaquePointer) {
        self.handle = handle
        owned = false
    }

    deinit { if owned { btf__free(handle) } }

    public var typeCount: UInt32 { btf__type_cnt(handle) }

    public func type(_ id: UInt32) -> UnsafePointer<btf_type> { btf__type_by_id(handle, id)! }

    public func kind(_ id: UInt32) -> BTFKind { BTFKind(rawValue: btf_kind(type(id))) ?? .unknown }

    public func name(_ id: UInt32) -> String { string(type(id).pointee.name_off) }

    public func string(_ offset: UInt32) -> String {
        guard let p = btf__name_by_offset(handle, offset) else { return "" }
        return String(cString: p)
    }

    public func vlen(_ id: UInt32) -> Int { Int(btf_vlen(type(id))) }

    /// The referenced type of ptr/typedef/const/volatile/var/func/array-less kinds.
    public func target(_ id: UInt32) -> UInt32 { shim_btf_type_size_or_type(type(id)) }

    /// Size in bytes of struct/union/enum/int/datasec.
    public func size(_ id: UInt32) -> Int { Int(shim_btf_type_size_or_type(type(id))) }

    /// Skips typedef, const, volatile, restrict and type tags.
    public func resolve(_ id: UInt32) -> UInt32 {
        var id = id
        while true {
            switch kind(id) {
            case .typedef, .const, .volatile, .restrict, .typeTag: id = target(id)
            default: return id
            }
        }
    }

    public func find(_ name: String, kind: BTFKind) -> UInt32? {
        let id = btf__find_by_name_kind(handle, name, UInt32(kind.rawValue))
        return id > 0 ? UInt32(id) : nil
    }

    public struct Member { public let name: String; public let type: UInt32; public let bitOffset: UInt32; public let bitfieldSize: UInt32 }

    public func members(_ id: UInt32) -> [Member] {
        let t = type(id)
        let m = shim_btf_members(t)!
        return (0..<vlen(id)).map { i in
            Member(name: string(m[i].name_off), type: m[i].type,
                   bitOffset: shim_btf_member_bit_offset(t, UInt32(i)),
                   bitfieldSize: shim_btf_member_bitfield_size(t, UInt32(i)))
        }
    }

    public struct Enumerator { public let name: String; public let value: Int64 }

    public func enumerators(_ id: UInt32) -> [Enumerator] {
        let t = type(id)
        let signed = (t.pointee.info >> 31) & 1 == 1
        if kind(id) == .enum64 {
            return (0..<vlen(id)).map { i in
                Enumerator(name: String(cString: shim_btf_enum64_name(handle, t, UInt32(i))),
                           value: Int64(bitPattern: shim_btf_enum64_value(t, UInt32(i))))
            }
        }
        let e = shim_btf_enums(t)!
        return (0..<vlen(id)).map { i in
            let v = e[i].val
            return Enumerator(name: string(e[i].name_off),
                              value: signed ? Int64(v) : Int64(UInt32(bitPattern: v)))
        }
    }

    public func isSignedEnum(_ id: UInt32) -> Bool { (type(id).pointee.info >> 31) & 1 == 1 }

    public struct IntInfo { public let bits: Int; public let signed: Bool; public let isChar: Bool; public let isBool: Bool; public let bitOffset: Int }

    public func intInfo(_ id: UInt32) -> IntInfo {
        let t = type(id)
        let enc = shim_btf_int_encoding(t)
        return IntInfo(bits: Int(shim_btf_int_bits(t)), signed: enc & 1 != 0,
                       isChar: enc & 2 != 0, isBool: enc & 4 != 0,
                       bitOffset: Int(shim_btf_int_offset(t)))
    }

    public struct ArrayInfo { public let element: UInt32; public let count: Int }

    public func arrayInfo(_ id: UInt32) -> ArrayInfo {
        let a = shim_btf_array(type(id))!.pointee
        return ArrayInfo(element: a.type, count: Int(a.nelems))
    }

    public struct DatasecVar { public let name: String; public let type: UInt32; public let offset: Int; public let size: Int; public let isGlobal: Bool }

    public func datasecVars(_ id: UInt32) -> [DatasecVar] {
        let v = shim_btf_datasec_vars(type(id))!
        return (0..<vlen(id)).map { i in
            let varID = v[i].type
            return DatasecVar(name: name(varID), type: target(varID), offset: Int(v[i].offset),
                              size: Int(v[i].size), isGlobal: shim_btf_var_linkage(type(varID)) != 0)
        }
    }

    /// Byte size of any sized type (through modifiers and arrays).
    public func byteSize(_ id: UInt32) -> Int? {
        let r = resolve(id)
        switch kind(r) {
        case .int, .struct, .union, .enum, .enum64, .float: return size(r)
        case .ptr: return 8
        case .array:
            let a = arrayInfo(r)
            return byteSize(a.element).map { $0 * a.count }
        default: return nil
        }
    }
}

public func errnoName(_ err: Int32) -> String {
    let name = shim_errno_name(err).map { String(cString: $0) } ?? "errno \(err)"
    return "\(name) (\(String(cString: strerror(err))))"
}

extension BTF {
    public struct Param { public let name: String; public let type: UInt32 }

    /// Parameters of a FUNC_PROTO.
    public func params(_ id: UInt32) -> [Param] {
        let t = type(id)
        guard let p = shim_btf_params(t) else { return [] }
        return (0..<vlen(id)).map { Param(name: string(p[$0].name_off), type: p[$0].type) }
    }

    /// A BTF file in either form libbpf knows: raw BTF (/sys/kernel/btf/vmlinux, BTFHub's
    /// files) or an ELF object with a .BTF section (a kernel's vmlinux). It must describe a
    /// kernel: a file without `struct sk_buff` and the function `skb_clone` is refused.
    public static func file(_ path: String) throws(BTFError) -> BTF {
        guard access(path, R_OK) == 0 else { throw BTFError("cannot read (\(String(cString: strerror(errno))))") }
        guard let h = btf__parse(path, nil) else {
            let err = errno
            throw BTFError(err == ENODATA || err == ENOENT ? "no BTF in this file"
                           : "not raw BTF nor an ELF file with a .BTF section (\(err == 4001 ? "bad format" : errnoName(err)))")
        }
        let btf = BTF(owning: h)
        // A BPF object's BTF has struct sk_buff too (CO-RE); only a kernel's has its functions.
        guard btf.find("sk_buff", kind: .struct) != nil, btf.find("skb_clone", kind: .func) != nil else {
            throw BTFError("no struct sk_buff and skb_clone in it: not a kernel's BTF")
        }
        return btf
    }

    /// Kernel BTF of the running kernel (/sys/kernel/btf/vmlinux).
    public static func vmlinux(path: String = "/sys/kernel/btf/vmlinux") throws(BTFError) -> BTF {
        try BTF(rawPath: path)
    }
}
