/// kprobe.multi (5.18+, CONFIG_FPROBE): one object, one link per program variant, the
/// functions by address, the function id in each address's cookie. The fastest attach.
enum KprobeMultiBackend: AttachBackend {
    static let name = "kprobe-multi"
    static let feature = "kprobe.multi"
    static let targetKind = TracedTarget.Kind.function
    static let directSkb = false
    static let loadsPerTarget = false
    static let section = "ft.kprobe.multi"
    /// A few links in all, one per program variant.
    static func descriptorsNeeded(targets: Int) -> Int { 16 }
    static var trackingHooks: [String] {
        Tracer.freeFunctions.map { "kprobe.multi \($0) (forget freed skbs)" } + Tracer.cloneFunctions.map { "kprobe.multi entry+return \($0) (follow clones)" }
    }

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if let d = drop { return TraceBPF.Programs.kmultiDrop(d.skb, d.reason) }
        return TraceBPF.Programs.kmultiSkb(t.position)
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        var groups: [KeyPath<TraceBPF.Programs, BPFProgram>: [Int]] = [:]
        for (id, t) in tracer.plan.functions.enumerated() {
            if let p = tracer.program(for: t) { groups[p, default: []].append(id) }
        }
        let opened = try tracer.open()
        tracer.only(opened, Array(groups.keys) + (tracer.config.trackSkb ? [\.kmultiUntrack, \.kmultiClone, \.kmultiRetClone] : []))
        let loaded = try tracer.load(opened)
        let addresses = Dictionary(tracer.discovery.functions.map { ($0.name, $0.addresses) }, uniquingKeysWith: { a, _ in a })
        var done = 0
        for (path, ids) in groups.sorted(by: { $0.value.first! < $1.value.first! }) {
            var addrs: [UInt] = [], cookies: [UInt64] = []
            for id in ids {
                let a = addresses[tracer.plan.functions[id].name] ?? []
                if a.isEmpty { tracer.ignored.append((tracer.plan.functions[id].name, "no address in kallsyms")); continue }
                for x in a { addrs.append(UInt(x)); cookies.append(UInt64(id)) }
            }
            guard !addrs.isEmpty else { continue }
            tracer.links.append(try loaded.programs[keyPath: path].attachKprobeMulti(addresses: addrs, cookies: cookies))
            tracer.attachedCount += ids.count
            done += ids.count
            progress(done, tracer.plan.functions.count)
        }
        guard tracer.config.trackSkb else { return }
        let p = loaded.programs
        tracer.attachTrackingProbes(untrack: p.kmultiUntrack, clone: p.kmultiClone, cloneReturn: p.kmultiRetClone) { prog, f, ret throws(BPFError) in
            try prog.attachKprobeMulti(symbols: [f], retprobe: ret)
        }
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        let p = try load(nil)
        return [try p.attachKprobeMulti(addresses: targets.flatMap { addresses[$0.name] ?? [] }.map { UInt($0) })]
    }
}

extension Backend {
    public static let kprobeMulti = Backend(KprobeMultiBackend.self)
}
