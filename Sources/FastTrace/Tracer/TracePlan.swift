import KernelBTF

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

/// What a trace will load and attach, and why, decided before any BPF is loaded: the
/// backend (and the ones auto passed over), the targets with the program variant of each,
/// the filter's eBPF, the map sizes and the tracking hooks. Given a discovery, drop names
/// and a probe it needs no kernel, so it is tested without one; `fasttrace --dry-run`
/// prints it. A `Tracer` (the session) carries a plan out.
public struct TracePlan: Sendable {
    public let config: TraceConfig
    public let backend: Backend
    public let rejections: [BackendRejection]
    public let discovery: Discovery
    /// What will be attached; a target's index is the function id its events carry.
    public let targets: [TracedTarget]
    public let dropReasons: DropReasons
    /// The pcap filter as eBPF, for both link-layer forms (nil: no filter).
    let filterBodies: (l2: [EBPFInstruction], l3: [EBPFInstruction])?

    /// Drop functions: (skb position, reason position) → the program variant that reads the reason.
    static let dropFunctions: [String: (skb: Int, reason: Int)] = [
        "kfree_skb_reason": (1, 2), "sk_skb_reason_drop": (2, 3),
    ]

    /// Translates the filter, discovers targets (unless `config.discovery` is given) and
    /// picks the backend: `config.backend`, or the first that `probe` accepts.
    public init(_ config: TraceConfig, probe: (Backend) -> Feature = { $0.probe() }) throws(TraceError) {
        self.config = config
        do {
            filterBodies = try config.filter?.translated()
        } catch {
            throw TraceError("pcap filter '\(PacketFilter.abbreviated(config.filter!.expression))': \(error.description)", kind: .badInput, cause: .filter(error))
        }
        // The kernel's BTF, parsed once for discovery and drop-reason names (not at all when
        // both are given).
        var vmlinux: BTF?
        if config.discovery == nil || config.dropReasons == nil {
            do { vmlinux = try BTF.vmlinux() } catch {
                throw TraceError("\(error.description): fasttrace needs kernel BTF (CONFIG_DEBUG_INFO_BTF)", kind: .kernelFeature, cause: .btf(error))
            }
        }
        if let given = config.discovery {
            discovery = given
        } else {
            do {
                discovery = try Discovery.run(.init(limit: config.limit, modules: config.modules, allModules: config.allModules),
                                              vmlinux: vmlinux)
            } catch {
                throw TraceError(error.description, cause: .discovery(error))
            }
        }
        if let b = config.backend {
            let f = probe(b)
            guard f.ok else { throw TraceError("backend \(b.rawValue) unavailable: \(f.errno ?? "?") (\(f.detail))", kind: .kernelFeature) }
            backend = b
            rejections = []
        } else {
            let (b, r) = Backend.choose(probe: probe)
            guard let b else {
                throw TraceError("no attach mode works on this kernel: " + r.map(\.description).joined(separator: "; "), kind: .kernelFeature)
            }
            backend = b
            rejections = r
        }
        targets = switch backend.implementation.targetKind {
        case .tracepoint:
            discovery.tracepoints.map { TracedTarget(name: $0.name, kind: .tracepoint, position: $0.position, module: nil) }
        case .function:
            discovery.functions.map { TracedTarget(name: $0.name, kind: .function, position: $0.position, module: $0.module) }
        }
        dropReasons = config.dropReasons ?? DropReasons.current(btf: vmlinux)
        guard !targets.isEmpty else {
            throw TraceError("nothing to attach: no \(backend.tracesTracepoints ? "sk_buff tracepoint" : "sk_buff function") matches" + (config.limit.map { " --limit-funcs '\($0.pattern)'" } ?? ""))
        }
    }

    /// The program for a target: the backend's drop variant for drop functions, else by skb
    /// position; nil when none can trace it.
    func program(for t: TracedTarget) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        let drop = Self.dropFunctions[t.name].flatMap { $0.skb == t.position ? $0 : nil }
        return backend.implementation.program(for: t, drop: drop)
    }

    /// The C name of the program that will trace `t`, or nil.
    public func programName(for t: TracedTarget) -> String? {
        program(for: t).flatMap { TraceBPF.Programs.cNames[$0] }
    }

    /// About how many descriptors carrying this plan out takes: the backend's, one per ring
    /// and a margin for maps, BTF and output.
    public func descriptorsNeeded(cpus: Int = BPFMap.possibleCPUs) -> Int {
        backend.implementation.descriptorsNeeded(targets: targets.count) + cpus + 64
    }

    /// The plan in words, for `--dry-run`: a header, then one line per target.
    public func describe(cpus: Int = BPFMap.possibleCPUs) -> [String] {
        let impl = backend.implementation
        var lines: [String] = []
        let why = config.backend != nil ? "asked for" : rejections.isEmpty ? "auto: the first this kernel offers"
            : "auto, after " + rejections.map(\.description).joined(separator: "; ")
        lines.append("backend: \(backend.rawValue) (\(why))")
        let programs = targets.map(programName(for:))
        let usable = programs.compactMap { $0 }
        let kind = backend.tracesTracepoints ? "tracepoints" : "functions"
        var counts: [String: Int] = [:]
        for p in usable { counts[p, default: 0] += 1 }
        lines.append("targets: \(targets.count) \(kind), \(usable.count) traceable; programs: "
                     + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        lines.append("loads: " + (impl.loadsPerTarget ? "\(usable.count) (the target is fixed at load: one object per target, maps shared)"
                                                       : "1 (one object; \(counts.count) program variants)"))
        if let f = config.filter, let b = filterBodies {
            lines.append("pcap filter: '\(PacketFilter.abbreviated(f.expression))': \(b.l2.count) eBPF instructions (link layer), \(b.l3.count) (IP layer), spliced into every program")
        }
        var meta: [String] = []
        if config.filterMarkMask != 0 { meta.append(String(format: "mark 0x%x/0x%x", config.filterMark, config.filterMarkMask)) }
        if config.filterIfindex != 0 { meta.append("ifindex \(config.filterIfindex)") }
        if config.filterNetns != 0 { meta.append("netns \(config.filterNetns)") }
        if !meta.isEmpty { lines.append("meta filters: " + meta.joined(separator: ", ")) }
        let ring = RingSet.validSize(config.ringBytesPerCPU)
        lines.append("rings: \(cpus) × \(ring >> 10) KiB, wakeup every \(config.effectiveWakeupEvery) records; snaplen \(config.snapLength)")
        if config.trackSkb {
            lines.append("tracking (--filter-track-skb): up to \(config.trackCapacity) skbs; hooks: " + impl.trackingHooks.joined(separator: ", "))
        }
        lines.append("descriptors: about \(descriptorsNeeded(cpus: cpus)) (backend \(impl.descriptorsNeeded(targets: targets.count)), rings \(cpus), margin 64)")
        for (t, p) in zip(targets, programs) {
            let module = t.module.map { " [\($0)]" } ?? ""
            lines.append("  \(t.name)\(module)  skb arg \(t.position)  " + (p ?? "— not traced: no program for sk_buff at argument \(t.position)"))
        }
        return lines
    }
}
