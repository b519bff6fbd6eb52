import CShim
import KernelBTF
import Foundation

/// Something fasttrace attached to; its index in `Tracer.targets` is the function id events carry.
public struct TracedTarget: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case function, tracepoint }
    public let name: String
    public let kind: Kind
    public let position: Int
    public let module: String?

    public init(name: String, kind: Kind, position: Int, module: String?) {
        self.name = name
        self.kind = kind
        self.position = position
        self.module = module
    }
}

extension Array where Element == TracedTarget {
    /// The function (or tracepoint) an event's `func_id` names; `func#N` outside the table.
    public func name(of id: UInt32) -> String { Int(id) < count ? self[Int(id)].name : "func#\(id)" }
}

/// What to trace and how.
public struct TraceConfig: Sendable {
    public var backend: Backend?              // nil: auto, best first
    public var limit: NameFilter?
    public var modules: [String] = []
    public var allModules = false
    public var ringBytesPerCPU = TraceConfig.defaultRingBytes()
    /// Wake the consumer with a forced wakeup every N records per CPU (a power of two), or
    /// 0: by the kernel's rule on every record (when the consumer has caught up). Epoll
    /// timeouts pick up the rest. docs/tracer.md has the measurements behind the default.
    public var wakeupEvery: UInt32 = 1024

    /// `wakeupEvery`, lowered for small rings so that a ring holds at least 16 wakeup
    /// periods of records: the consumer is always woken long before a ring fills.
    public var effectiveWakeupEvery: UInt32 {
        guard wakeupEvery > 0 else { return 0 }
        let record = MemoryLayout<Event>.size + 8 + (snapLength > 0 ? MemoryLayout<Snap>.size + snapLength : 0)
        let periods = RingSet.validSize(ringBytesPerCPU) / record / 16
        var every = wakeupEvery
        while every > 1 && Int(every) > periods { every /= 2 }
        return every
    }
    public var filterMark: UInt32 = 0
    public var filterMarkMask: UInt32 = 0
    public var filterIfindex: UInt32 = 0
    public var filterNetns: UInt32 = 0
    public var outputStack = false
    /// Record the caller's address (kprobe and kprobe-multi backends).
    public var outputCaller = false
    /// A pcap-filter expression (both link-layer forms), spliced into every program.
    public var filter: PacketFilter?
    /// Keep reporting an skb that matched once, by address, until it is freed.
    public var trackSkb = false
    /// Capacity of the tracked-skb map; matches beyond it are counted (`trackOverflow`).
    public var trackCapacity = 16384
    /// At most this many tracked skbs (a hash map entry each, ~100 bytes of kernel memory).
    public static let maxTrackCapacity = 1 << 24
    /// Ring sizes the kernel and fasttrace accept (bytes per CPU).
    public static let ringSizes = 4096...(1 << 30)
    /// Copy up to this many packet bytes with each event (0: none; at most `maxSnapLength`).
    public var snapLength = 0
    public static let maxSnapLength = Int(Limit.snaplenMax.rawValue)
    /// A discovery made earlier (benchmarks attach many times): used as is, `limit` and
    /// `modules` ignored; with `dropReasons`, the kernel's BTF is not parsed again.
    public var discovery: Discovery?
    public var dropReasons: DropReasons?
    /// Legacy kprobe detach with /sys/kernel/rcu_expedited set (restored afterwards): one
    /// grace period per probe, expedited. docs/benchmarks.md has the numbers.
    public var expediteDetach = true
    public init() {}

    /// Ring bytes per CPU by default: 1/256 of the machine's memory spread over the rings
    /// (one per possible CPU), as a power of two between 4 and 32 MiB. Ring pages are kernel
    /// memory, locked while tracing; docs/tracer.md explains the sizing.
    public static func defaultRingBytes(cpus: Int = BPFMap.possibleCPUs,
                                        memory: UInt64 = ProcessInfo.processInfo.physicalMemory) -> Int {
        let share = Int(min(memory / 256 / UInt64(max(cpus, 1)), UInt64(32 << 20)))
        var size = 4 << 20
        while size * 2 <= share { size *= 2 }
        return size
    }
}

public struct TraceError: Error, CustomStringConvertible {
    /// What the failure says about its cause (the CLI's exit status follows it).
    public enum Kind: Sendable { case runtime, badInput, kernelFeature }
    public let description: String
    public let kind: Kind
    /// The errno behind it, when a system call failed (EMFILE: the open-file limit).
    public let errno: Int32?
    init(_ d: String, kind: Kind = .runtime, errno: Int32? = nil) {
        description = d
        self.kind = kind
        self.errno = errno
    }
    init(_ e: BPFError) { self.init(e.description, errno: e.errno) }
}

/// The packet tracer: discovers targets, attaches the chosen backend, drains per-CPU rings.
public final class Tracer {
    public let backend: Backend
    public let rejections: [BackendRejection]
    public let targets: [TracedTarget]
    public let dropReasons: DropReasons
    /// Targets that could not be attached, with the reason.
    public internal(set) var ignored: [(name: String, reason: String)] = []
    public internal(set) var attachedCount = 0

    let config: TraceConfig
    let discovery: Discovery
    private var objects: [TraceBPF.Loaded] = []
    /// Whether anything was loaded (the first load failing is not per-target).
    var hasObjects: Bool { !objects.isEmpty }
    private let filterBodies: (l2: [EBPFInstruction], l3: [EBPFInstruction])?
    /// --filter-track-skb hooks that could not be attached (function: reason), and what the
    /// backend cannot do.
    public internal(set) var trackingNotes: [String] = []
    var links: [BPFLink] = []
    private var rings: RingSet?

    /// Discovery and backend choice; nothing is attached yet.
    public init(_ config: TraceConfig) throws(TraceError) {
        self.config = config
        do {
            filterBodies = try config.filter?.translated()
        } catch {
            throw TraceError("pcap filter '\(PacketFilter.abbreviated(config.filter!.expression))': \(error.description)", kind: .badInput)
        }
        // Parsed once: discovery and drop-reason names (skipped when both are given).
        let vmlinux = config.discovery != nil && config.dropReasons != nil ? nil : try? BTF.vmlinux()
        if let given = config.discovery {
            discovery = given
        } else {
            do {
                discovery = try Discovery.run(.init(limit: config.limit, modules: config.modules, allModules: config.allModules),
                                              vmlinux: vmlinux)
            } catch {
                throw TraceError(error.description)
            }
        }
        if let b = config.backend {
            let f = FeatureProbe.probe(b.feature)
            guard f.ok else { throw TraceError("backend \(b.rawValue) unavailable: \(f.errno ?? "?") (\(f.detail))", kind: .kernelFeature) }
            backend = b
            rejections = []
        } else {
            let (b, r) = Backend.choose()
            guard let b else {
                throw TraceError("no attach mode works on this kernel: " + r.map(\.description).joined(separator: "; "), kind: .kernelFeature)
            }
            backend = b
            rejections = r
        }
        switch backend {
        case .tracepoint:
            targets = discovery.tracepoints.map { TracedTarget(name: $0.name, kind: .tracepoint, position: $0.position, module: nil) }
        default:
            targets = discovery.functions.map { TracedTarget(name: $0.name, kind: .function, position: $0.position, module: $0.module) }
        }
        dropReasons = config.dropReasons ?? DropReasons.current(btf: vmlinux)
        guard !targets.isEmpty else {
            throw TraceError("nothing to attach: no \(backend == .tracepoint ? "sk_buff tracepoint" : "sk_buff function") matches" + (config.limit.map { " --limit-funcs '\($0.pattern)'" } ?? ""))
        }
    }

    deinit { detach() }

    // MARK: attach

    /// Attaches every target; `progress(done, total)`; stops early when `cancelled()`.
    public func attach(progress: (Int, Int) -> Void = { _, _ in }, cancelled: () -> Bool = { false }) throws(TraceError) {
        do {
            try backend.implementation.attach(self, progress: progress, cancelled: cancelled)
        } catch let e as BPFError {
            throw TraceError(e)
        } catch let e as TraceError {
            throw e
        } catch {
            throw TraceError("\(error)")
        }
    }

    /// Drop functions: (skb position, reason position) → the program variant that reads the reason.
    static let dropFunctions: [String: (skb: Int, reason: Int)] = [
        "kfree_skb_reason": (1, 2), "sk_skb_reason_drop": (2, 3),
    ]

    func open(funcID: UInt32 = 0) throws(BPFError) -> TraceBPF.Opened {
        let opened = try TraceBPF.open()
        var c = opened.config
        c.funcId = funcID
        c.filterMark = config.filterMark
        c.filterMarkMask = config.filterMarkMask
        c.filterIfindex = config.filterIfindex
        c.filterNetns = config.filterNetns
        c.outputStack = config.outputStack ? 1 : 0
        c.outputCaller = config.outputCaller ? 1 : 0
        c.wakeupEvery = config.effectiveWakeupEvery
        c.filterPcap = filterBodies == nil ? 0 : 1
        c.ftPcapLen = config.filter?.usesLength == true ? 1 : 0
        // fentry and tp_btf get the skb as a BTF pointer: its fields are plain loads.
        c.ftDirectSkb = backend.implementation.directSkb ? 1 : 0
        c.trackSkb = config.trackSkb ? 1 : 0
        c.snaplen = UInt32(min(max(config.snapLength, 0), TraceConfig.maxSnapLength))
        opened.config = c
        if let first = objects.first {
            try opened.maps.rings.reuse(first.maps.rings)
            try opened.maps.stats.reuse(first.maps.stats.map)
            try opened.maps.stacks.reuse(first.maps.stacks)
            try opened.maps.tracked.reuse(first.maps.tracked.map)
            try opened.maps.cloneParents.reuse(first.maps.cloneParents.map)
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
        let loaded = try opened.load()
        if objects.isEmpty {
            rings = try RingSet(outer: loaded.maps.rings, cpus: BPFMap.possibleCPUs,
                                size: RingSet.validSize(config.ringBytesPerCPU))
        }
        objects.append(loaded)
        return loaded
    }

    /// Enables only `keep` (by keypath) in an opened object, with the pcap filter spliced in.
    func only(_ opened: borrowing TraceBPF.Opened, _ keep: [KeyPath<TraceBPF.Programs, BPFProgram>]) {
        let chosen = keep.map { opened.programs[keyPath: $0] }
        for p in opened.programs.all {
            p.autoload = chosen.contains { $0 === p }
            if p.autoload, let f = filterBodies { p.spliceFilter(l2: f.l2, l3: f.l3) }
        }
    }

    /// The program for a target: the backend's drop variant for drop functions, else by skb
    /// position.
    func program(for t: TracedTarget) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        let drop = Self.dropFunctions[t.name].flatMap { $0.skb == t.position ? $0 : nil }
        return backend.implementation.program(for: t, drop: drop)
    }

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

    /// fentry and tp_btf: the target is fixed at load, so one load per target (maps shared).
    func attachEachTarget(progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        for (id, t) in targets.enumerated() {
            if cancelled() { break }
            guard let path = program(for: t) else {
                ignored.append((t.name, "sk_buff is argument \(t.position): no program for it"))
                continue
            }
            let opened = try open(funcID: UInt32(id))
            only(opened, [path])
            try opened.programs[keyPath: path].setAttachTarget(function: t.name)
            do {
                let loaded = try load(opened)
                links.append(try loaded.programs[keyPath: path].attachTrace())
                attachedCount += 1
            } catch {
                if objects.isEmpty { throw error } // the first load failing is not per-target
                ignored.append((t.name, error.errnoName))
            }
            progress(id + 1, targets.count)
        }
    }

    // MARK: events

    /// Drains every ring into `body`; waits up to `timeoutMs` first when nothing is pending.
    /// The packet bytes (`--snaplen`) are borrowed from the ring: valid during the call only.
    @discardableResult
    public func poll(timeoutMs: Int32, _ body: (Event, PacketBytes) -> Void) -> Int {
        guard let rings else { return 0 }
        let decode: (UnsafeRawBufferPointer) -> Void = { raw in
            guard raw.count >= MemoryLayout<Event>.size else { return }
            body(raw.loadUnaligned(as: Event.self), PacketBytes.parse(record: raw))
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

    /// The loaded programs (for run statistics).
    public var loadedPrograms: [BPFProgram] {
        objects.flatMap { $0.programs.all.filter { $0.fd >= 0 } }
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
        guard let first = objects.first, let v = try? first.maps.stats.lookup(slot.rawValue) else { return [] }
        return v
    }

    private func stat(_ slot: Stat) -> UInt64 { perCPU(slot).reduce(0, +) }

    /// Detaches everything (links in parallel: legacy kprobe detach waits for RCU per probe;
    /// `parallel: false` is for benchmarks).
    public func detach(parallel: Bool = true, progress: (Int, Int) -> Void = { _, _ in }) {
        let all = links
        links = []
        let knob = backend == .kprobe && config.expediteDetach && all.count > 8 ? RCUExpedited() : nil
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
