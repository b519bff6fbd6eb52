/// Legacy kprobes: one object, one perf-event link per function (about two descriptors
/// each), attached in parallel; detach waits for RCU per probe (see RCUExpedited).
enum KprobeBackend: AttachBackend {
    static let directSkb = false

    static var bySkbPosition: [KeyPath<TraceBPF.Programs, BPFProgram>] { [\.kprobeSkb1, \.kprobeSkb2, \.kprobeSkb3, \.kprobeSkb4, \.kprobeSkb5] }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if let d = drop { return d.skb == 1 ? \.kprobeDrop12 : \.kprobeDrop23 }
        return bySkbPosition[t.position - 1]
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        let plan = tracer.targets.enumerated().compactMap { id, t in tracer.program(for: t).map { (id, t, $0) } }
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
}
