/// tp_btf on the sk_buff tracepoints only (skb:kfree_skb, net:netif_receive_skb, …): works
/// where kprobes and trampolines do not (this host). One load per tracepoint (prepared, as
/// fentry's); the skb is a BTF pointer.
enum TracepointBackend: AttachBackend {
    static let name = "tracepoint"
    static let feature = "tp_btf"
    static let targetKind = TracedTarget.Kind.tracepoint
    static let directSkb = true
    static let loadsPerTarget = true
    static let section = "ft.tp_btf"
    /// Four program variants (skb position 1–3, skb:kfree_skb).
    static func descriptorsNeeded(targets: Int) -> Int { preparedDescriptors(targets: targets, variants: 4) }
    static var trackingHooks: [String] { Tracer.freeTracepoints.map { "skb:\($0) (forget freed skbs)" } }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        t.name == "kfree_skb" ? \.tpKfreeSkb : TraceBPF.Programs.tpSkb(t.position)
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        try tracer.attachEachTarget(progress: progress, cancelled: cancelled)
        guard tracer.config.trackSkb, !cancelled(), tracer.hasObjects else { return }
        for t in Tracer.freeTracepoints {
            tracer.hook("forget freed skbs at skb:\(t)") { () throws(BPFError) in try tracer.loadTracking(\.tpUntrack, at: t) }
        }
        tracer.trackingNotes.append("tracepoint backend: clones are not followed (no hook at skb_clone), and skbs are forgotten only at skb:kfree_skb and skb:consume_skb; a kprobe or fentry backend tracks exactly")
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        attachBareEach(targets, load: load)
    }
}

extension Backend {
    public static let tracepoint = Backend(TracepointBackend.self)
}
