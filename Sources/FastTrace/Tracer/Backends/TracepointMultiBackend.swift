/// raw_tp on the sk_buff tracepoints, one program per skb position (6.10+): a raw_tp program
/// is not bound to a tracepoint at load, so three loads (and one for skb:kfree_skb's drop
/// reason) serve every tracepoint; the attach cookie is the function id. The skb, a plain
/// number in a raw_tp context, becomes a BTF pointer again with bpf_rdonly_cast, so the
/// per-hit code is tp_btf's. Where the kernel lacks attach cookies or bpf_rdonly_cast, auto
/// falls through to `tracepoint` (tp_btf, one load per tracepoint). docs/tracer.md has the
/// start-up times of both.
enum TracepointMultiBackend: AttachBackend {
    static let name = "tracepoint-multi"
    static let feature = "tracepoint.multi"
    static let targetKind = TracedTarget.Kind.tracepoint
    static let directSkb = true
    static let loadsPerTarget = false
    static let section = "ft.raw_tp"
    /// One object and a link per tracepoint.
    static func descriptorsNeeded(targets: Int) -> Int { 16 + targets }
    static var trackingHooks: [String] { Tracer.freeTracepoints.map { "skb:\($0) (forget freed skbs)" } }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        t.name == "kfree_skb" ? \.rtpKfreeSkb : TraceBPF.Programs.rtpSkb(t.position)
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        let plan = tracer.plan.functions.enumerated().compactMap { id, t in tracer.program(for: t).map { (id, t, $0) } }
        for t in tracer.plan.functions where tracer.program(for: t) == nil {
            tracer.ignored.append((t.name, "sk_buff is argument \(t.position): no program for it"))
        }
        let opened = try tracer.open()
        tracer.only(opened, Array(Set(plan.map(\.2))) + (tracer.config.trackSkb ? [\.rtpUntrack] : []))
        let loaded = try tracer.load(opened)
        for (done, (id, t, path)) in plan.enumerated() {
            if cancelled() { break }
            do {
                tracer.links.append(try loaded.programs[keyPath: path].attachRawTracepoint(t.name, cookie: UInt64(id)))
                tracer.attachedCount += 1
            } catch {
                tracer.ignored.append((t.name, error.errnoName))
            }
            progress(done + 1, plan.count)
        }
        guard tracer.config.trackSkb, !cancelled() else { return }
        for t in Tracer.freeTracepoints {
            tracer.hook("forget freed skbs at skb:\(t)") { () throws(BPFError) in try loaded.programs.rtpUntrack.attachRawTracepoint(t) }
        }
        tracer.trackingNotes.append("\(name) backend: clones are not followed (no hook at skb_clone), and skbs are forgotten only at skb:kfree_skb and skb:consume_skb; a kprobe or fentry backend tracks exactly")
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        let p = try load(nil)
        return targets.enumerated().compactMap { try? p.attachRawTracepoint($0.element.name, cookie: UInt64($0.offset)) }
    }
}

extension Backend {
    public static let tracepointMulti = Backend(TracepointMultiBackend.self)
}
