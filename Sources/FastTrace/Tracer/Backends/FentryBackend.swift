/// fentry (BPF trampolines): the target is fixed at load, so one object, load and verifier
/// run per function (maps shared with the first). The skb is a BTF pointer.
enum FentryBackend: AttachBackend {
    static let directSkb = true

    static var bySkbPosition: [KeyPath<TraceBPF.Programs, BPFProgram>] { [\.fentrySkb1, \.fentrySkb2, \.fentrySkb3, \.fentrySkb4, \.fentrySkb5] }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if let d = drop { return d.skb == 1 ? \.fentryDrop12 : \.fentryDrop23 }
        return bySkbPosition[t.position - 1]
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
}
