import CShim
import KernelBTF
import Foundation

/// A trace session: carries out a `TracePlan` (loads, splices, attaches through the plan's
/// backend), drains the per-CPU rings, reads statistics and stacks, and detaches.
public final class Tracer {
    public let plan: TracePlan
    public var backend: Backend { plan.backend }
    public var rejections: [BackendRejection] { plan.rejections }
    public var targets: [TracedTarget] { plan.targets }
    public var dropReasons: DropReasons { plan.dropReasons }
    /// Targets that could not be attached, with the reason.
    public internal(set) var ignored: [(name: String, reason: String)] = []
    public internal(set) var attachedCount = 0
    /// Targets loaded from a prepared load (BPF_PROG_LOAD alone) rather than through libbpf.
    public private(set) var preparedLoadCount = 0

    var config: TraceConfig { plan.config }
    var discovery: Discovery { plan.discovery }
    private var objects: [TraceBPF.Loaded] = []
    /// Whether anything was loaded (the first load failing is not per-target).
    var hasObjects: Bool { !objects.isEmpty }
    /// --filter-track-skb hooks that could not be attached (function: reason), and what the
    /// backend cannot do.
    public internal(set) var trackingNotes: [String] = []
    var links: [BPFLink] = []
    private var rings: RingSet?

    /// A session for `plan`; nothing is loaded or attached yet.
    public init(_ plan: TracePlan) { self.plan = plan }

    /// Plans (discovery, backend choice) and makes a session; nothing is attached yet.
    public convenience init(_ config: TraceConfig) throws(TraceError) {
        self.init(try TracePlan(config))
    }

    deinit { detach() }

    // MARK: attach

    /// Attaches every target; `progress(done, total)`; stops early when `cancelled()`.
    public func attach(progress: (Int, Int) -> Void = { _, _ in }, cancelled: () -> Bool = { false }) throws(TraceError) {
        do {
            try backend.implementation.attach(self, progress: progress, cancelled: cancelled)
            StartupClock.mark("attached")
            ignored += plan.untraceablePrograms
            if !plan.programs.isEmpty, !cancelled() { try ProgramTargets.attach(self) }
        } catch {
            throw TraceError(error)
        }
    }

    /// Opens a trace object configured from the plan; `directSkb` overrides the backend's
    /// choice (BPF-program targets take their skb through probe reads).
    func open(directSkb: Bool? = nil) throws(BPFError) -> TraceBPF.Opened {
        BPFObject.useKernelBTF(config.kernelBTF)
        let opened = try TraceBPF.open()
        var c = opened.config
        c.filterMark = config.filterMark
        c.filterMarkMask = config.filterMarkMask
        c.filterIfindex = config.filterIfindex
        c.filterNetns = config.filterNetns
        c.outputStack = config.outputStack ? 1 : 0
        c.outputCaller = config.outputCaller ? 1 : 0
        c.wakeupEvery = config.effectiveWakeupEvery
        c.filterPcap = plan.filterBodies == nil ? 0 : 1
        c.ftPcapLen = [config.filter, config.tunnelFilterL2, config.tunnelFilterL3].contains { $0?.usesLength == true } ? 1 : 0
        c.ftTunnelL2 = plan.tunnelBodies.l2 == nil ? 0 : 1
        c.ftTunnelL3 = plan.tunnelBodies.l3 == nil ? 0 : 1
        // fentry and tp_btf get the skb as a BTF pointer: its fields are plain loads.
        c.ftDirectSkb = (directSkb ?? backend.implementation.directSkb) ? 1 : 0
        c.trackSkb = config.trackSkb ? 1 : 0
        c.trackByStack = config.trackSkb && config.trackSkbByStack ? 1 : 0
        c.snaplen = UInt32(min(max(config.snapLength, 0), TraceConfig.maxSnapLength))
        c.outputTunnel = config.outputTunnel ? 1 : 0
        c.trackXdp = config.trackSkb && config.traceXDP ? 1 : 0
        c.filterExpr = plan.exprBody == nil ? 0 : 1
        c.skbMetaSize = UInt32(plan.metadataAreaSize)
        c.filterXdpExpr = plan.xdpExprBody == nil ? 0 : 1
        c.xdpMeta = plan.xdpMetadata == nil ? 0 : 1
        c.dumpSize = config.dumpLayout.count > 0 ? UInt32(config.dumpLayout.size) : 0
        c.dumpSkb = config.dumpSkb ? 1 : 0
        c.dumpShinfo = config.dumpSharedInfo ? 1 : 0
        opened.config = c
        if let first = objects.first {
            try opened.maps.rings.reuse(first.maps.rings)
            try opened.maps.stats.reuse(first.maps.stats.map)
            try opened.maps.stacks.reuse(first.maps.stacks)
            try opened.maps.tracked.reuse(first.maps.tracked.map)
            try opened.maps.cloneParents.reuse(first.maps.cloneParents.map)
            try opened.maps.stackSkb.reuse(first.maps.stackSkb.map)
            try opened.maps.skbStack.reuse(first.maps.skbStack.map)
        } else {
            try opened.maps.tracked.setMaxEntries(max(1, config.trackCapacity))
            // One slot per CPU. The inner template keeps its declared size: the kernel does not
            // compare max_entries of ring-buffer inner maps, and libbpf 1.1 crashes resizing
            // an inner template (it has no owning object).
            try opened.maps.rings.setMaxEntries(BPFMap.possibleCPUs)
        }
        return opened
    }

    func load(_ opened: consuming TraceBPF.Opened) throws(BPFError) -> TraceBPF.Loaded {
        StartupClock.mark(objects.isEmpty ? "first object opened" : "object opened")
        let loaded = try opened.load()
        StartupClock.mark(objects.isEmpty ? "first object loaded (verifier)" : "object loaded")
        if objects.isEmpty {
            rings = try RingSet(outer: loaded.maps.rings, cpus: BPFMap.possibleCPUs,
                                size: RingSet.validSize(config.ringBytesPerCPU))
        }
        objects.append(loaded)
        return loaded
    }

    /// Enables only `keep` (by keypath) in an opened object, with the pcap filter spliced in.
    /// `funcID`: the function id a one-target load reports (fentry, fexit, tp_btf);
    /// `keepPrepared`: keep the load's final form for `PreparedLoad`s.
    func only(_ opened: borrowing TraceBPF.Opened, _ keep: [KeyPath<TraceBPF.Programs, BPFProgram>],
              funcID: UInt32? = nil, keepPrepared: Bool = false) {
        let chosen = keep.map { opened.programs[keyPath: $0] }
        let bodies = plan.spliceBodies
        for p in opened.programs.all {
            p.autoload = chosen.contains { $0 === p }
            guard p.autoload else { continue }
            if !bodies.isEmpty { p.spliceFilters(bodies) }
            if let funcID { p.setFunctionID(funcID) }
            if keepPrepared { p.keepPreparedLoad() }
        }
    }

    /// The program for a target (the plan's choice).
    func program(for t: TracedTarget) -> KeyPath<TraceBPF.Programs, BPFProgram>? { plan.program(for: t) }

    // MARK: --filter-track-skb

    /// Every skb free passes one of these (kfree_skbmem for slab frees, skb_release_head_state
    /// for the rest, including the NAPI cache and bulk frees).
    static let freeFunctions = ["kfree_skbmem", "skb_release_head_state"]
    /// Functions returning a new skb made from their first argument.
    static let cloneFunctions = ["skb_clone", "skb_copy", "__pskb_copy_fclone", "skb_copy_expand"]
    /// Tracepoint mode's only free hooks.
    static let freeTracepoints = ["kfree_skb", "consume_skb"]

    /// Attaches one tracking hook; a failure becomes a note, not an error (the trace still
    /// works, tracking is less complete).
    func hook(_ what: String, _ attach: () throws(BPFError) -> BPFLink) {
        do { links.append(try attach()) } catch { trackingNotes.append("\(what): \(error.errnoName)") }
    }

    /// The kprobe backends' tracking hooks: `attach(program, function, as return probe)`.
    func attachTrackingProbes(untrack: BPFProgram, clone: BPFProgram, cloneReturn: BPFProgram,
                              _ attach: (BPFProgram, String, Bool) throws(BPFError) -> BPFLink) {
        for f in Self.freeFunctions { hook("forget freed skbs at \(f)") { () throws(BPFError) in try attach(untrack, f, false) } }
        for f in Self.cloneFunctions {
            hook("follow clones at \(f)") { () throws(BPFError) in try attach(clone, f, false) }
            hook("follow clones at \(f) (return)") { () throws(BPFError) in try attach(cloneReturn, f, true) }
        }
    }

    /// One fentry/fexit or tp_btf tracking hook: its own load, maps shared.
    func loadTracking(_ path: KeyPath<TraceBPF.Programs, BPFProgram>, at target: String) throws(BPFError) -> BPFLink {
        let opened = try open()
        only(opened, [path])
        try opened.programs[keyPath: path].setAttachTarget(function: target)
        return try load(opened).programs[keyPath: path].attachTrace()
    }

    /// fentry and tp_btf: the target is fixed at load, so one load per target, maps shared.
    /// The first target of each program variant goes through libbpf (open, relocation, load)
    /// and keeps its final form; the others load that form with BPF_PROG_LOAD alone, in
    /// parallel (`PreparedLoad`). Targets without a usable BTF id (modules, --kernel-btf)
    /// each take libbpf's path.
    func attachEachTarget(progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        let total = plan.functions.count
        let ids = runningKernelBTFIDs
        struct Variant: Hashable { let program: KeyPath<TraceBPF.Programs, BPFProgram>, directSkb: Bool }
        var prepared: [Variant: PreparedLoad] = [:]
        var later: [(id: Int, name: String, target: UInt32, load: PreparedLoad)] = []
        var done = 0
        for (id, t) in plan.functions.enumerated() {
            if cancelled() { return }
            guard let path = program(for: t) else {
                ignored.append((t.name, "sk_buff is argument \(t.position): no program for it"))
                continue
            }
            // A function without an skb gets it from a map: a number, not a BTF pointer.
            let directSkb: Bool? = t.position == 0 ? false : nil
            let variant = Variant(program: path, directSkb: directSkb ?? backend.implementation.directSkb)
            let btfID = ids[t.name]
            if let btfID, let p = prepared[variant] {
                later.append((id, t.name, btfID, p))
                continue
            }
            let opened = try open(directSkb: directSkb)
            only(opened, [path], funcID: UInt32(id), keepPrepared: btfID != nil)
            try opened.programs[keyPath: path].setAttachTarget(function: t.name)
            do {
                let program = try load(opened).programs[keyPath: path]
                if let kept = program.preparedLoad() { prepared[variant] = kept }
                links.append(try program.attachTrace())
                attachedCount += 1
            } catch {
                if objects.isEmpty { throw error } // the first load failing is not per-target
                ignored.append((t.name, error.errnoName))
            }
            done += 1
            progress(done, total)
        }
        let first = done
        let results = ParallelAttach.run(later.count, progress: { progress(first + $0, total) }, cancelled: cancelled) { i in
            let l = later[i]
            return Result { () throws(BPFError) -> BPFLink in try l.load.attach(target: l.target, functionID: UInt32(l.id)) }
        }
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let link)?: links.append(link); attachedCount += 1; preparedLoadCount += 1
            case .failure(let e)?: ignored.append((later[i].name, e.errnoName))
            case nil: break // cancelled before this one
            }
        }
    }

    /// Target name → its id in the running kernel's vmlinux BTF (FUNC, or `btf_trace_*` for
    /// tracepoints); empty with --kernel-btf, whose ids need not be the kernel's.
    private var runningKernelBTFIDs: [String: UInt32] {
        guard config.kernelBTF == nil else { return [:] }
        let pairs = backend.tracesTracepoints ? discovery.tracepoints.map { ($0.name, $0.btfID) } : discovery.functions.map { ($0.name, $0.btfID) }
        return Dictionary(pairs.compactMap { n, id in id.map { (n, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: events

    /// Drains every ring into `body`; waits up to `timeoutMs` first when nothing is pending.
    /// The packet bytes (`--snaplen`) are borrowed from the ring: valid during the call only.
    @discardableResult
    public func poll(timeoutMs: Int32, _ body: (Event, PacketBytes) -> Void) -> Int {
        guard let rings else { return 0 }
        let innerTuple = config.outputTunnel, metadataSize = plan.metadataAreaSize, dumps = config.dumpLayout
        let decode: (UnsafeRawBufferPointer) -> Void = { raw in
            guard raw.count >= MemoryLayout<Event>.size else { return }
            let e = raw.loadUnaligned(as: Event.self)
            body(e, PacketBytes.parse(record: raw, event: e, innerTuple: innerTuple, metadataSize: metadataSize,
                                      dumps: dumps.count > 0 ? dumps : (0, 0)))
        }
        var n = rings.drain(decode)
        if n == 0 {
            rings.wait(timeoutMs: timeoutMs)
            n = rings.drain(decode)
        }
        return n
    }

    /// The kernel stack recorded under `id` (--output-stack), innermost frame first.
    public func stack(_ id: Int32) -> [UInt64] {
        guard id >= 0, let first = objects.first else { return [] }
        var key = UInt32(id)
        var frames = [UInt64](repeating: 0, count: Int(Limit.stackDepth.rawValue))
        guard bpf_map_lookup_elem(first.maps.stacks.fd, &key, &frames) == 0 else { return [] }
        return Array(frames.prefix { $0 != 0 })
    }

    /// Descriptors of the loaded programs: libbpf's and the prepared loads' (for run statistics).
    public var loadedProgramFDs: [Int32] {
        objects.flatMap { $0.programs.all.map(\.fd).filter { $0 >= 0 } } + links.map(\.ownProgramFD).filter { $0 >= 0 }
    }

    /// Records the BPF side could not reserve (rings full), summed over CPUs.
    public var lost: UInt64 { stat(.lost) }
    /// The same, per CPU.
    public var lostPerCPU: [UInt64] { perCPU(.lost) }
    /// First kernel address of each target (0 for tracepoints), for the log's function table.
    public var targetAddresses: [UInt64] {
        let byName = Dictionary(discovery.functions.map { ($0.name, $0.addresses.first ?? 0) }, uniquingKeysWith: { a, _ in a })
        return targets.map { $0.kind == .function ? byName[$0.name] ?? 0 : 0 }
    }
    /// Records submitted by the BPF side.
    public var submitted: UInt64 { stat(.submitted) }
    /// Matched skbs that could not be tracked because the tracked map was full.
    public var trackOverflow: UInt64 { stat(.trackOverflow) }

    /// A `stats` slot (enum ft_stat in events.h) on every CPU.
    private func perCPU(_ slot: Stat) -> [UInt64] {
        guard let first = objects.first else { return [] }
        do { return try first.maps.stats.lookup(slot.rawValue) } catch {
            countersFailure = error
            return []
        }
    }

    /// Set when the kernel-side counters (submitted, lost, track overflow) could not be read:
    /// the counts read as 0 then, and a caller must say that loss is unknown.
    public private(set) var countersFailure: BPFError?

    private func stat(_ slot: Stat) -> UInt64 { perCPU(slot).reduce(0, +) }

    /// Detaches everything (links in parallel: legacy kprobe detach waits for RCU per probe;
    /// `parallel: false` is for benchmarks).
    public func detach(parallel: Bool = true, progress: (Int, Int) -> Void = { _, _ in }) {
        let all = links
        links = []
        let knob = backend.implementation.detachWaitsForRCU && config.expediteDetach && all.count > 8 ? RCUExpedited() : nil
        knob?.set(true)
        defer { knob?.restore() }
        if !parallel {
            for (i, l) in all.enumerated() {
                l.detach()
                progress(i + 1, all.count)
            }
            return
        }
        _ = ParallelAttach.run(all.count, progress: { progress($0, all.count) }, cancelled: { false }) { i in
            all[i].detach()
            return Result<Void, BPFError>.success(())
        }
    }
}
