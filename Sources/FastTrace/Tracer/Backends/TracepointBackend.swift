/// tp_btf on the sk_buff tracepoints only (skb:kfree_skb, net:netif_receive_skb, …): works
/// where kprobes and trampolines do not (this host). One load per tracepoint; the skb is a
/// BTF pointer.
enum TracepointBackend: AttachBackend {
    static let directSkb = true

    static var bySkbPosition: [KeyPath<TraceBPF.Programs, BPFProgram>] { [\.tpSkb1, \.tpSkb2, \.tpSkb3] }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if t.name == "kfree_skb" { return \.tpKfreeSkb }
        return t.position <= bySkbPosition.count ? bySkbPosition[t.position - 1] : nil
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        try tracer.attachEachTarget(progress: progress, cancelled: cancelled)
        guard tracer.config.trackSkb, !cancelled(), tracer.hasObjects else { return }
        for t in Tracer.freeTracepoints {
            tracer.hook("forget freed skbs at skb:\(t)") { () throws(BPFError) in try tracer.loadTracking(\.tpUntrack, at: t) }
        }
        tracer.trackingNotes.append("tracepoint backend: clones are not followed (no hook at skb_clone), and skbs are forgotten only at skb:kfree_skb and skb:consume_skb; a kprobe or fentry backend tracks exactly")
    }
}
