/// One way of attaching the trace programs (cilium/ebpf's `link/` has one file per attach
/// type; so does this folder). A backend names itself, says how to probe the kernel for it,
/// which program variant traces a target, and attaches every target through the tracer's
/// shared steps (`open`, `only`, `load`, `hook`).
///
/// Adding one: a file here with a type conforming to `AttachBackend`, and its line in
/// `Backend.builtIn` below (its place there is its place in auto's order). Nothing else
/// switches on backends: the tracer, the plan, the CLI and the bench ask the protocol.
protocol AttachBackend: SendableMetatype {
    /// The name users type after `--backend`.
    static var name: String { get }
    /// The `fasttrace features` row that says whether the kernel offers it.
    static var feature: String { get }
    /// Probes the running kernel (default: the feature row's probe).
    static func probe() -> Feature
    /// What it attaches to: kernel functions or tracepoints.
    static var targetKind: TracedTarget.Kind { get }
    /// Whether the programs get the skb as a BTF pointer (plain loads) rather than from
    /// pt_regs: sets `ft_direct_skb` in the programs' config.
    static var directSkb: Bool { get }
    /// Whether each target needs its own load (the target is fixed at load: fentry, tp_btf).
    static var loadsPerTarget: Bool { get }
    /// The program section its programs live in (`ft.kprobe.multi`, ...): the bench picks
    /// its empty program by it.
    static var section: String { get }
    /// Whether detaching waits for RCU grace periods per link (legacy kprobes, fentry): the
    /// tracer expedites grace periods while it detaches many.
    static var detachWaitsForRCU: Bool { get }
    /// About how many descriptors attaching `targets` targets takes (KernelInfo adds rings
    /// and a margin).
    static func descriptorsNeeded(targets: Int) -> Int
    /// The hooks --filter-track-skb adds (for plans and notes).
    static var trackingHooks: [String] { get }

    /// The program variant that traces `target`, or nil when none can. `drop` is set for a
    /// drop function whose skb is at `target.position`.
    static func program(for target: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>?

    /// Attaches every target of `tracer`, then the --filter-track-skb hooks when asked;
    /// `progress(done, total)`; stops early when `cancelled()`.
    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError)

    /// Attaches a bare program of this backend's `section` to `targets`, outside a trace (the
    /// bench's empty programs). `load(target)` opens and loads a fresh copy, with its target
    /// fixed when one is given (`loadsPerTarget`). Targets that fail are left out, as the
    /// tracer leaves them out.
    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink]
}

extension AttachBackend {
    static func probe() -> Feature { FeatureProbe.probe(feature) }
    static var detachWaitsForRCU: Bool { false }

    /// Descriptors of one-target loads (`Tracer.attachEachTarget`): an object per program
    /// variant through libbpf (its program, its link, its own descriptor for each shared map:
    /// 9, measured on 6.18), then a program and a link per prepared load. Module targets take
    /// libbpf's path each and are not counted: running out is reported as EMFILE, by name.
    static func preparedDescriptors(targets: Int, variants: Int) -> Int {
        9 * min(targets, variants) + 2 * max(0, targets - variants)
    }

    /// `attachBare` for backends that load once per target and attach by BTF (fentry, tp_btf).
    static func attachBareEach(_ targets: [TracedTarget], load: (String?) throws(BPFError) -> BPFProgram) -> [BPFLink] {
        targets.compactMap { t in
            guard let p = try? load(t.name) else { return nil }
            return try? p.attachTrace()
        }
    }
}

extension Backend {
    /// The registration: one line per backend, best first (auto tries them in this order).
    static let builtIn: [any AttachBackend.Type] = [
        KprobeMultiBackend.self,
        KprobeBackend.self,
        FentryBackend.self,
        TracepointMultiBackend.self,
        TracepointBackend.self,
    ]
}
