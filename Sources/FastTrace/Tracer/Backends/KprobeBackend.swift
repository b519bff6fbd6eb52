/// Legacy kprobes: one object, one perf-event link per function (about two descriptors
/// each), attached in parallel; detach waits for RCU per probe (see RCUExpedited).
enum KprobeBackend: AttachBackend {
    static let name = "kprobe"
    static let feature = "kprobe"
    static let targetKind = TracedTarget.Kind.function
    static let directSkb = false
    static let loadsPerTarget = false
    static let section = "ft.kprobe"
    static let detachWaitsForRCU = true
    /// A perf event and a link per function (one shared program).
    static func descriptorsNeeded(targets: Int) -> Int { 2 * targets }
    static var trackingHooks: [String] {
        Tracer.freeFunctions.map { "kprobe \($0) (forget freed skbs)" } + Tracer.cloneFunctions.map { "kprobe+kretprobe \($0) (follow clones)" }
    }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if let d = drop { return TraceBPF.Programs.kprobeDrop(d.skb, d.reason) }
        return TraceBPF.Programs.kprobeSkb(t.position)
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        let plan = tracer.plan.functions.enumerated().compactMap { id, t in tracer.program(for: t).map { (id, t, $0) } }
        let opened = try tracer.open()
        tracer.only(opened, Array(Set(plan.map(\.2))) + (tracer.config.trackSkb ? [\.kprobeUntrack, \.kprobeClone, \.kretprobeClone] : []))
        let loaded = try tracer.load(opened)
        let results = ParallelAttach.run(plan.count, progress: { progress($0, plan.count) }, cancelled: cancelled) { i in
            let (id, t, path) = plan[i]
            return Result { () throws(BPFError) -> BPFLink in
                try loaded.programs[keyPath: path].attachKprobe(function: t.name, cookie: UInt64(id))
            }
        }
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let link)?: tracer.links.append(link); tracer.attachedCount += 1
            case .failure(let e)?: tracer.ignored.append((plan[i].1.name, "\(e.errnoName)"))
            case nil: break // cancelled before this one
            }
        }
        guard tracer.config.trackSkb, !cancelled() else { return }
        let p = loaded.programs
        tracer.attachTrackingProbes(untrack: p.kprobeUntrack, clone: p.kprobeClone, cloneReturn: p.kretprobeClone) { prog, f, ret throws(BPFError) in
            try prog.attachKprobe(function: f, retprobe: ret)
        }
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        let p = try load(nil)
        return targets.compactMap { try? p.attachKprobe(function: $0.name) }
    }
}

extension Backend {
    public static let kprobe = Backend(KprobeBackend.self)
}
