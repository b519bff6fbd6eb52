/// One way of attaching the trace programs (cilium/ebpf's `link/` has one file per attach
/// type; so does this folder). A backend says which program variant traces a target and
/// attaches every target, through the tracer's shared steps (`open`, `only`, `load`,
/// `hook`). Adding one: a `Backend` case (Backend.swift: its feature probe and auto's
/// order), a file here, and its line in `Backend.implementation`.
protocol AttachBackend {
    /// Whether the programs get the skb as a BTF pointer (plain loads) rather than from
    /// pt_regs: sets `ft_direct_skb` in the programs' config.
    static var directSkb: Bool { get }

    /// The program variant that traces `target`, or nil when none can. `drop` is set for a
    /// drop function whose skb is at `target.position`.
    static func program(for target: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>?

    /// Attaches every target of `tracer`, then the --filter-track-skb hooks when asked;
    /// `progress(done, total)`; stops early when `cancelled()`.
    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError)
}

extension Backend {
    /// The registration: one line per backend.
    var implementation: any AttachBackend.Type {
        switch self {
        case .kprobeMulti: KprobeMultiBackend.self
        case .kprobe: KprobeBackend.self
        case .fentry: FentryBackend.self
        case .tracepoint: TracepointBackend.self
        }
    }
}
