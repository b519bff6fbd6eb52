import CShim
import Glibc
import Synchronization

/// A program as libbpf last handed it to the kernel (instructions after relocation and
/// rewrites, BTF func/line info, type and flags), kept to load it again for another target
/// with BPF_PROG_LOAD alone: no ELF, no BTF parsing, no relocation. Only the attach target
/// (`attach_btf_id`) and the function id (the FT_FUNC_ID_MARKER instructions) change.
///
/// fentry and tp_btf fix their target at load, so they load once per target; this makes
/// those loads cheap and lets them run in parallel. The verifier still runs for each one.
///
/// The instructions carry the first object's map descriptors and the BTF info its BTF
/// descriptor; `owner` keeps that object open for as long as this load is kept.
public final class PreparedLoad: @unchecked Sendable {
    let type: bpf_prog_type
    let attachType: bpf_attach_type
    let name: String
    let instructions: [bpf_insn]
    let functionIDSlots: [Int]
    /// libbpf's options for the first load; the pointers are replaced at each load.
    private let options: bpf_prog_load_opts
    private let funcInfo: [UInt8]
    private let lineInfo: [UInt8]
    /// The program whose object holds the maps and BTF the instructions refer to (set once,
    /// before the load is shared; immutable after).
    var owner: AnyObject?

    /// Made in the prepare-load hook from the final instructions (markers not yet written)
    /// and libbpf's options, whose func/line info are copied (libbpf frees them after load).
    init(program prog: OpaquePointer, instructions: [bpf_insn], functionIDSlots: [Int], options o: bpf_prog_load_opts) {
        type = bpf_program__type(prog)
        attachType = bpf_program__expected_attach_type(prog)
        name = String(cString: bpf_program__name(prog))
        self.instructions = instructions
        self.functionIDSlots = functionIDSlots
        options = o
        func copy(_ p: UnsafeRawPointer?, _ count: UInt32, _ size: UInt32) -> [UInt8] {
            guard let p else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(count) * Int(size)))
        }
        funcInfo = copy(o.func_info, o.func_info_cnt, o.func_info_rec_size)
        lineInfo = copy(o.line_info, o.line_info_cnt, o.line_info_rec_size)
    }

    /// Positions of the ld_imm64 instructions whose value is FT_FUNC_ID_MARKER << 32.
    static func functionIDSlots(_ insns: [bpf_insn]) -> [Int] {
        let marker = Int32(bitPattern: UInt32(Marker.ftFuncIdMarker.rawValue))
        var slots: [Int] = []
        var i = 0
        while i + 1 < insns.count {
            let isLoadImm64 = insns[i].code == UInt8(BPF_LD | BPF_DW | BPF_IMM)
            if isLoadImm64, insns[i].src_reg == 0, insns[i].imm == 0, insns[i + 1].imm == marker { slots.append(i) }
            i += isLoadImm64 ? 2 : 1
        }
        return slots
    }

    /// Writes `id` as the value of each marked ld_imm64.
    static func write(_ id: UInt32, at slots: [Int], in insns: inout [bpf_insn]) {
        for i in slots {
            insns[i].imm = Int32(bitPattern: id)
            insns[i + 1].imm = 0
        }
    }

    /// Loads the program for the kernel function or tracepoint whose vmlinux BTF id is
    /// `target` (a FUNC for fentry, the `btf_trace_*` typedef for tp_btf), reporting
    /// `functionID`; returns the program's descriptor.
    public func load(target: UInt32, functionID: UInt32) throws(BPFError) -> Int32 {
        var insns = instructions
        Self.write(functionID, at: functionIDSlots, in: &insns)
        var o = options
        o.sz = MemoryLayout<bpf_prog_load_opts>.size
        o.attach_btf_id = target
        o.attach_btf_obj_fd = 0 // vmlinux
        o.attach_prog_fd = 0
        o.log_level = 0
        o.log_size = 0
        o.log_buf = nil
        let fd = funcInfo.withUnsafeBytes { fi in
            lineInfo.withUnsafeBytes { li in
                o.func_info = fi.isEmpty ? nil : fi.baseAddress
                o.line_info = li.isEmpty ? nil : li.baseAddress
                // The objects' license section says GPL; libbpf passes it the same way.
                return bpf_prog_load(type, name, "GPL", insns, insns.count, &o)
            }
        }
        guard fd >= 0 else { throw BPFError("load \(name) for BTF id \(target)", errno: -fd) }
        return fd
    }

    /// `load`, then a link to the target fixed at load (fentry, fexit, tp_btf). The link owns
    /// the program's descriptor.
    public func attach(target: UInt32, functionID: UInt32) throws(BPFError) -> BPFLink {
        let t0 = monotonicNanoseconds()
        let prog = try load(target: target, functionID: functionID)
        let t1 = monotonicNanoseconds()
        let link = bpf_link_create(prog, 0, attachType, nil)
        Self.timing.add(load: t1 - t0, link: monotonicNanoseconds() - t1)
        guard link >= 0 else {
            close(prog)
            throw BPFError("attach \(name) to BTF id \(target)", errno: -link)
        }
        return BPFLink(fd: link, programFD: prog, owner: self)
    }

    /// Time inside BPF_PROG_LOAD (the verifier) and BPF_LINK_CREATE (trampoline or tracepoint
    /// link) of prepared loads, summed over threads: the bench's account of attach time.
    public static let timing = Timing()

    public final class Timing: Sendable {
        private let state = Mutex<(loadNs: Double, linkNs: Double, count: Int)>((0, 0, 0))
        public func reset() { state.withLock { $0 = (0, 0, 0) } }
        public func read() -> (loadNs: Double, linkNs: Double, count: Int) { state.withLock { $0 } }
        func add(load: Double, link: Double) { state.withLock { $0.loadNs += load; $0.linkNs += link; $0.count += 1 } }
    }
}
