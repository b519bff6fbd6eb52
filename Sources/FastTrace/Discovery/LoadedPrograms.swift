import CShim

/// A BPF program loaded in the kernel right now (any process's), as `bpftool prog` lists it:
/// the targets of --filter-trace-tc.
public struct LoadedProgram: Sendable, Equatable {
    public let id: UInt32
    /// `enum bpf_prog_type`.
    public let type: UInt32
    /// The main function's name from the program's BTF (the fentry attach target), or the
    /// kernel's 15-character copy when the program has no BTF.
    public let name: String
    /// Whether the program carries BTF: fentry and fexit can attach only to those.
    public let hasBTF: Bool
    /// The kernel's tag (hash of the instructions), hex.
    public let tag: String

    public static let schedCls = UInt32(BPF_PROG_TYPE_SCHED_CLS.rawValue)
    public static let xdp = UInt32(BPF_PROG_TYPE_XDP.rawValue)

    /// `tc` or `xdp`: how targets name the program's kind.
    public var kindPrefix: String { type == Self.xdp ? "xdp" : "tc" }

    /// Every loaded program of one of `types`, by id (programs unloaded meanwhile are skipped).
    public static func all(ofTypes types: Set<UInt32>) throws(BPFError) -> [LoadedProgram] {
        var found: [LoadedProgram] = []
        var p = shim_prog()
        var after: UInt32 = 0
        while true {
            let rc = shim_prog_next(after, &p)
            if rc == 0 { break }
            guard rc > 0 else { throw BPFError("list loaded BPF programs", errno: -rc) }
            after = p.id
            guard types.contains(p.type) else { continue }
            let short = withUnsafeBytes(of: p.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let function = withUnsafeBytes(of: p.func) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let tag = withUnsafeBytes(of: p.tag) { $0.map { String(format: "%02x", $0) }.joined() }
            found.append(LoadedProgram(id: p.id, type: p.type, name: function.isEmpty ? short : function,
                                       hasBTF: p.btf_id != 0 && !function.isEmpty, tag: tag))
        }
        return found
    }
}
