/// fentry (BPF trampolines): the target is fixed at load, so one load, verifier run and
/// trampoline per function: libbpf's path for the first of each program variant, prepared
/// loads for the rest (`Tracer.attachEachTarget`). The skb is a BTF pointer.
enum FentryBackend: AttachBackend {
    static let name = "fentry"
    static let feature = "fentry"
    static let targetKind = TracedTarget.Kind.function
    static let directSkb = true
    static let loadsPerTarget = true
    static let section = "ft.fentry"
    /// Removing a trampoline waits, under ftrace's lock, for an RCU-tasks grace period (most
    /// of it the kernel's fixed 100 ms pause between them) and for about three plain RCU
    /// ones; expedited, the plain ones drop from ~18 to ~2 ms each (docs/tracer.md).
    static let detachWaitsForRCU = true
    /// Eight program variants (skb position 0–5, two drop variants).
    static func descriptorsNeeded(targets: Int) -> Int { preparedDescriptors(targets: targets, variants: 8) }
    static var trackingHooks: [String] {
        Tracer.freeFunctions.map { "fentry \($0) (forget freed skbs)" } + Tracer.cloneFunctions.map { "fexit \($0) (follow clones)" }
    }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if let d = drop { return TraceBPF.Programs.fentryDrop(d.skb, d.reason) }
        return TraceBPF.Programs.fentrySkb(t.position)
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        try tracer.attachEachTarget(progress: progress, cancelled: cancelled)
        guard tracer.config.trackSkb, !cancelled(), tracer.hasObjects else { return }
        for f in Tracer.freeFunctions {
            tracer.hook("forget freed skbs at \(f)") { () throws(BPFError) in try tracer.loadTracking(\.fentryUntrack, at: f) }
        }
        for f in Tracer.cloneFunctions {
            tracer.hook("follow clones at \(f)") { () throws(BPFError) in try tracer.loadTracking(\.fexitClone, at: f) }
        }
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        attachBareEach(targets, load: load)
    }
}

extension Backend {
    public static let fentry = Backend(FentryBackend.self)
}
