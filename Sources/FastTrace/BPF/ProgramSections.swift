import CShim
import Foundation
import Synchronization
import BPFAsm

/// fasttrace's own program sections (`SEC("ft.kprobe")`, ...): libbpf's standard ones plus a
/// prepare-load hook, which runs after relocation and right before BPF_PROG_LOAD and is the
/// only point where the final instructions can still change (libbpf's
/// `bpf_program__set_insns` contract). Per program, the hook runs the rewrites asked for
/// (`BPFProgram.rewriteBeforeLoad`; the filter layer splices pcap filters with it), writes
/// the function id of a one-target load over its FT_FUNC_ID_MARKER instructions
/// (`setFunctionID`), and keeps the final form when asked (`keepPreparedLoad`), then hands
/// libbpf the result. Nothing here knows what a rewrite does.
///
/// The handlers are process-wide; registration happens once, before the first object is
/// opened (libbpf picks a program's section handler at open).
public enum ProgramSections {
    /// Section name → program type and expected attach type.
    static let sections: [(name: String, type: bpf_prog_type, attach: bpf_attach_type)] = [
        ("ft.kprobe", BPF_PROG_TYPE_KPROBE, bpf_attach_type(0)),
        ("ft.kprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI),
        ("ft.fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY),
        ("ft.fexit", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT),
        ("ft.tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP),
        ("ft.raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, bpf_attach_type(0)),
        ("ft.tc", BPF_PROG_TYPE_SCHED_CLS, bpf_attach_type(0)),
    ]

    typealias Rewrite = @Sendable (inout LoadableProgram) throws -> Bool

    /// What to do to a program at its next load: rewrites (in order), the function id to write
    /// over its FT_FUNC_ID_MARKER instructions, and whether to keep the load's final form for
    /// prepared loads (`PreparedLoad`).
    struct Job {
        var rewrites: [Rewrite] = []
        var functionID: UInt32?
        var capture = false
    }

    /// Pending jobs by program (bpf_program address), failures to report after load, and the
    /// captured loads until taken.
    private static let pending = Mutex<[UInt: Job]>([:])
    private static let failures = Mutex<[UInt: String]>([:])
    private static let captured = Mutex<[UInt: PreparedLoad]>([:])

    private static let registration: Int32 = {
        for s in sections {
            let rc = shim_register_prog_handler(s.name, s.type, s.attach, { prog, opts, _ in
                guard let prog, let opts else { return 0 }
                return ProgramSections.prepare(prog, opts)
            })
            if rc < 0 { return rc }
        }
        return 0
    }()

    /// Registers the handlers (idempotent); called before any object is opened.
    static func register() {
        let rc = registration
        precondition(rc >= 0, "libbpf_register_prog_handler failed: \(rc)")
    }

    static func key(_ prog: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(prog))) }

    static func addRewrite(_ rewrite: @escaping Rewrite, for prog: OpaquePointer) {
        pending.withLock { $0[key(prog), default: Job()].rewrites.append(rewrite) }
    }

    static func setFunctionID(_ id: UInt32, for prog: OpaquePointer) {
        pending.withLock { $0[key(prog), default: Job()].functionID = id }
    }

    static func capture(_ prog: OpaquePointer) {
        pending.withLock { $0[key(prog), default: Job()].capture = true }
    }

    /// The load kept by `capture`, once (nil when the program did not load).
    static func takeCaptured(_ prog: OpaquePointer) -> PreparedLoad? {
        captured.withLock { $0.removeValue(forKey: key(prog)) }
    }

    /// After load: the hook's error for this program, if it failed or never ran (a program
    /// outside the `ft.*` sections); forgets the program either way.
    static func finish(_ prog: OpaquePointer, loaded: Bool) -> String? {
        let unapplied = pending.withLock { $0.removeValue(forKey: key(prog)) } != nil
        let failure = failures.withLock { $0.removeValue(forKey: key(prog)) }
        if !loaded { _ = takeCaptured(prog) }
        if let failure { return failure }
        return unapplied && loaded ? "section \(String(cString: bpf_program__section_name(prog))) has no load hook (use an ft.* section)" : nil
    }

    /// The prepare-load hook: rewrite, keep the result when asked, write the function id,
    /// and hand libbpf the final instructions and fixed-up BTF offsets. A failure is kept for
    /// `finish` and fails the load with EINVAL. Every ft.* load passes here, so a program
    /// that reads its function id cannot load without one.
    static func prepare(_ prog: OpaquePointer, _ opts: UnsafeMutablePointer<bpf_prog_load_opts>) -> Int32 {
        let job = pending.withLock { $0[key(prog)] } ?? Job()
        do {
            for rewrite in job.rewrites { try apply(rewrite, prog, opts) }
            try writeFunctionID(job, prog, opts)
            pending.withLock { _ = $0.removeValue(forKey: key(prog)) }
            return 0
        } catch {
            failures.withLock { $0[key(prog)] = "\(error)" }
            return -EINVAL
        }
    }

    private static func writeFunctionID(_ job: Job, _ prog: OpaquePointer, _ opts: UnsafeMutablePointer<bpf_prog_load_opts>) throws {
        let n = bpf_program__insn_cnt(prog)
        guard let raw = bpf_program__insns(prog) else { return }
        var insns = Array(UnsafeBufferPointer(start: raw, count: n))
        let slots = PreparedLoad.functionIDSlots(insns)
        guard !slots.isEmpty else { return }
        guard let id = job.functionID else {
            throw RewriteFailure(description: "the program reads its function id and none was set (BPFProgram.setFunctionID)")
        }
        if job.capture {
            let p = PreparedLoad(program: prog, instructions: insns, functionIDSlots: slots, options: opts.pointee)
            captured.withLock { $0[key(prog)] = p }
        }
        PreparedLoad.write(id, at: slots, in: &insns)
        let rc = bpf_program__set_insns(prog, &insns, insns.count)
        guard rc == 0 else { throw RewriteFailure(description: "bpf_program__set_insns: \(BPFError.name(ofErrno: -rc))") }
    }

    struct RewriteFailure: Error, CustomStringConvertible { let description: String }

    private static func apply(_ rewrite: Rewrite, _ prog: OpaquePointer, _ opts: UnsafeMutablePointer<bpf_prog_load_opts>) throws {
        let n = bpf_program__insn_cnt(prog)
        guard let raw = bpf_program__insns(prog) else { throw RewriteFailure(description: "program has no instructions") }
        let o = opts.pointee
        let funcInfo = BTFExtRecords(base: o.func_info, count: Int(o.func_info_cnt), size: Int(o.func_info_rec_size))
        let lineInfo = BTFExtRecords(base: o.line_info, count: Int(o.line_info_cnt), size: Int(o.line_info_rec_size))
        var p = LoadableProgram(instructions: (0..<n).map { EBPFInstruction(raw[$0]) },
                                funcInfo: funcInfo.offsets, lineInfo: lineInfo.offsets)
        guard try rewrite(&p) else { return }
        funcInfo.write(p.funcInfo)
        opts.pointee.line_info_cnt = UInt32(lineInfo.write(p.lineInfo))
        var out = p.instructions.map(\.raw)
        let rc = bpf_program__set_insns(prog, &out, out.count)
        guard rc == 0 else { throw RewriteFailure(description: "bpf_program__set_insns: \(BPFError.name(ofErrno: -rc))") }
    }

    /// func_info / line_info records: each starts with its u32 instruction offset. libbpf
    /// owns the memory (the prog's own copy, used only for this load), so it is edited in place.
    struct BTFExtRecords {
        let base: UnsafeMutableRawPointer?
        let count: Int
        let size: Int

        init(base: UnsafeRawPointer?, count: Int, size: Int) {
            self.base = base.map { UnsafeMutableRawPointer(mutating: $0) }
            self.count = base == nil ? 0 : count
            self.size = size
        }

        var offsets: [UInt32] { (0..<count).map { base!.load(fromByteOffset: $0 * size, as: UInt32.self) } }

        /// Writes offsets back, dropping `removed` records (compacting); returns the new count.
        @discardableResult
        func write(_ offsets: [UInt32]) -> Int {
            guard let base else { return 0 }
            var kept = 0
            for (i, off) in offsets.enumerated() where off != LoadableProgram.removed {
                if kept != i { (base + kept * size).copyMemory(from: base + i * size, byteCount: size) }
                (base + kept * size).storeBytes(of: off, as: UInt32.self)
                kept += 1
            }
            return kept
        }
    }
}
