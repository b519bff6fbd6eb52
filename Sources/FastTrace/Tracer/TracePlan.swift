import KernelBTF

/// Something fasttrace attached to; its index in `Tracer.targets` is the function id events carry.
public struct TracedTarget: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case function, tracepoint
        /// A loaded BPF program (--filter-trace-tc): named `tc:FUNC[id N]`.
        case bpfProgram = "bpf_program"
    }
    public let name: String
    public let kind: Kind
    public let position: Int
    public let module: String?
    /// For a BPF program: its id when traced, and its main function (the attach target).
    public let programID: UInt32?
    public let programFunction: String?

    public init(name: String, kind: Kind, position: Int, module: String?, programID: UInt32? = nil, programFunction: String? = nil) {
        self.name = name
        self.kind = kind
        self.position = position
        self.module = module
        self.programID = programID
        self.programFunction = programFunction
    }

    /// A tc or XDP program as a target: `tc:NAME[id N]`, `xdp:NAME[id N]`.
    init(program p: LoadedProgram) {
        self.init(name: "\(p.kindPrefix):\(p.name)[id \(p.id)]", kind: .bpfProgram, position: 1, module: nil,
                  programID: p.id, programFunction: p.name)
    }

    /// Whether this is an XDP program target (its argument is an xdp_buff, not an skb).
    var isXDPProgram: Bool { kind == .bpfProgram && name.hasPrefix("xdp:") }
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
    /// Kernel functions or tracepoints (the backend's), then BPF programs (`programs`); a
    /// target's index in `targets` is the function id its events carry.
    public var targets: [TracedTarget] { functions + programs }
    /// What the backend attaches: kernel functions or tracepoints.
    public let functions: [TracedTarget]
    /// BPF programs traced with fentry/fexit (--filter-trace-tc).
    public let programs: [TracedTarget]
    /// Loaded programs that cannot be traced, and why (no BTF).
    public let untraceablePrograms: [(name: String, reason: String)]
    public let dropReasons: DropReasons
    /// The pcap filter as eBPF, for both link-layer forms (nil: no filter).
    let filterBodies: (l2: [EBPFInstruction], l3: [EBPFInstruction])?
    /// The tunnel filters as eBPF: the Ethernet form of --filter-tunnel-pcap-l2 and the IP
    /// form of --filter-tunnel-pcap-l3.
    let tunnelBodies: (l2: [EBPFInstruction]?, l3: [EBPFInstruction]?)

    /// --filter-skb-expr compiled (nil: none).
    let exprBody: [EBPFInstruction]?
    /// --output-skb-metadata resolved: the record area's layout (nil: none).
    public let skbMetadata: SkbMetadata?
    /// --filter-xdp-expr compiled, and --output-xdp-metadata's layout (XDP events' area).
    let xdpExprBody: [EBPFInstruction]?
    public let xdpMetadata: SkbMetadata?
    /// The metadata area's bytes in every record: the larger layout (0: none).
    public var metadataAreaSize: Int { max(skbMetadata?.size ?? 0, xdpMetadata?.size ?? 0) }

    /// Every stub body to splice into a program: the pcap filter's, the tunnel filters', the
    /// expressions' and the metadata code. Built once: every load splices the same bodies.
    private(set) var spliceBodies: [(magic: Int32, body: [EBPFInstruction])] = []

    private func makeSpliceBodies() -> [(magic: Int32, body: [EBPFInstruction])] {
        var b: [(magic: Int32, body: [EBPFInstruction])] = []
        if let f = filterBodies { b += [(FilterSplicer.l2Magic, f.l2), (FilterSplicer.l3Magic, f.l3)] }
        if let t = tunnelBodies.l2 { b.append((FilterSplicer.tunnelL2Magic, t)) }
        if let t = tunnelBodies.l3 { b.append((FilterSplicer.tunnelL3Magic, t)) }
        if let x = exprBody { b.append((ExprCompiler.magic, x)) }
        if let x = xdpExprBody { b.append((ExprCompiler.xdpMagic, x)) }
        if metadataAreaSize > 0 {
            // Both stubs fill the area when it exists: an skb event with only XDP fields asked
            // for still zeroes it, and says "no metadata".
            b.append((ExprCompiler.metadataMagic, ExprCompiler.compileMetadata(skbMetadata ?? .empty, areaSize: metadataAreaSize)))
            if let x = xdpMetadata { b.append((ExprCompiler.xdpMetadataMagic, ExprCompiler.compileMetadata(x, areaSize: metadataAreaSize))) }
        }
        return b
    }

    /// `text` (an expression over `root`, a `struct rootStruct *`) compiled against `btf`, or
    /// nil without one; errors are bad input named by `flag`.
    static func compileExpression(_ text: String?, flag: String, root: String, rootStruct: String, btf: BTF?) throws(TraceError) -> [EBPFInstruction]? {
        guard let text else { return nil }
        guard let btf else { throw TraceError("\(flag) needs the kernel's BTF", kind: .kernelFeature) }
        do {
            return try ExprCompiler.compile(try ExprResolver(btf: btf, root: root, rootStruct: rootStruct).resolve(try ExprParser.parse(text)))
        } catch {
            throw TraceError("\(flag) '\(text)': \(error.description)", kind: .badInput)
        }
    }

    /// A metadata list's record layout (nil: none asked for); errors as for expressions.
    static func metadataLayout(_ list: String?, cb: Bool = false, flag: String, root: String, rootStruct: String, btf: BTF?) throws(TraceError) -> SkbMetadata? {
        guard list != nil || cb else { return nil }
        guard let btf else { throw TraceError("\(flag) needs the kernel's BTF", kind: .kernelFeature) }
        do { return try SkbMetadata(list, cb: cb, btf: btf, root: root, rootStruct: rootStruct) } catch {
            throw TraceError("\(flag) '\(list ?? "")': \(error.description)", kind: .badInput)
        }
    }

    /// The BTF that names the kernel's types: --kernel-btf's file (ELF, e.g. a vmlinux, or raw
    /// BTF such as /sys/kernel/btf/vmlinux or a BTFHub file), else the running kernel's. A
    /// file that cannot be read is bad input (exit 2); a kernel without BTF is a missing
    /// feature (exit 3).
    static func kernelBTF(_ path: String?) throws(TraceError) -> BTF {
        guard let path else {
            do { return try BTF.vmlinux() } catch {
                throw TraceError("\(error.description): fasttrace needs kernel BTF (CONFIG_DEBUG_INFO_BTF), or --kernel-btf FILE", kind: .kernelFeature, cause: .btf(error))
            }
        }
        Libbpf.captureLog() // libbpf's complaints about the file become our one line
        defer { _ = Libbpf.takeLog() }
        do { return try BTF.file(path) } catch {
            throw TraceError("--kernel-btf \(path): \(error.description): give a vmlinux with BTF or a raw BTF file", kind: .badInput, cause: .btf(error))
        }
    }

    /// Drop functions: (skb position, reason position) → the program variant that reads the reason.
    static let dropFunctions: [String: (skb: Int, reason: Int)] = [
        "kfree_skb_reason": (1, 2), "sk_skb_reason_drop": (2, 3),
    ]

    /// Translates the filter, discovers targets (unless `config.discovery` is given) and
    /// picks the backend: `config.backend`, or the first that `probe` accepts.
    /// `featureProbe` answers the other `fasttrace features` rows (tests replace it too).
    public init(_ config: TraceConfig, probe: (Backend) -> Feature = { $0.probe() },
                featureProbe: (String) -> Feature = FeatureProbe.probe) throws(TraceError) {
        self.config = config
        StartupClock.mark("before the plan")
        do {
            filterBodies = try config.filter?.translated()
        } catch {
            throw TraceError("pcap filter '\(PacketFilter.abbreviated(config.filter!.expression))': \(error.description)", kind: .badInput, cause: .filter(error))
        }
        do {
            tunnelBodies = (try config.tunnelFilterL2?.translated().l2, try config.tunnelFilterL3?.translated().l3)
        } catch {
            throw TraceError("tunnel filter: \(error.description)", kind: .badInput, cause: .filter(error))
        }
        // The kernel's BTF, parsed once for discovery and drop-reason names (not at all when
        // both are given).
        var vmlinux: BTF?
        if config.discovery == nil || config.dropReasons == nil || config.skbExpression != nil || config.skbMetadata != nil || config.outputSkbCB
            || config.xdpExpression != nil || config.xdpMetadata != nil
            || config.kernelBTF != nil {
            StartupClock.mark("pcap filter")
            vmlinux = try Self.kernelBTF(config.kernelBTF)
            StartupClock.mark("kernel BTF parsed")
        }
        exprBody = try Self.compileExpression(config.skbExpression, flag: "--filter-skb-expr", root: "skb", rootStruct: "sk_buff", btf: vmlinux)
        skbMetadata = try Self.metadataLayout(config.skbMetadata, cb: config.outputSkbCB, flag: "--output-skb-metadata",
                                              root: "skb", rootStruct: "sk_buff", btf: vmlinux)
        for (flag, given) in [("--filter-xdp-expr", config.xdpExpression), ("--output-xdp-metadata", config.xdpMetadata)] where given != nil && !config.traceXDP {
            throw TraceError("\(flag) applies to traced XDP programs: add --filter-trace-xdp", kind: .badInput)
        }
        xdpExprBody = try Self.compileExpression(config.xdpExpression, flag: "--filter-xdp-expr", root: "xdp", rootStruct: "xdp_buff", btf: vmlinux)
        xdpMetadata = try Self.metadataLayout(config.xdpMetadata, flag: "--output-xdp-metadata", root: "xdp", rootStruct: "xdp_buff", btf: vmlinux)
        // The backend first: discovery then looks only for what it attaches to.
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
        StartupClock.mark("backend probed (\(backend.rawValue))")
        if let given = config.discovery {
            discovery = given
        } else {
            let options = Discovery.Options(limit: config.limit, modules: config.modules, allModules: config.allModules,
                                            nonSkb: config.nonSkbFunctions,
                                            // Only what the backend attaches to: a tracepoint backend skips the
                                            // function scan and kallsyms (most of start-up, docs/benchmarks.md).
                                            scope: backend.tracesTracepoints ? .tracepoints : .functions)
            // The running kernel's answer is kept for the boot (not a --kernel-btf file's).
            let cache = config.kernelBTF == nil ? config.discoveryCache : nil
            let key = cache == nil ? "" : DiscoveryCache.key(options)
            if let cached = cache?.load(key: key) {
                discovery = cached
            } else {
                do { discovery = try Discovery.run(options, vmlinux: vmlinux) } catch {
                    throw TraceError(error.description, cause: .discovery(error))
                }
                cache?.store(discovery, key: key)
            }
        }
        if let f = config.nonSkbFunctions, backend.tracesTracepoints {
            throw TraceError("--filter-non-skb-funcs '\(f.pattern)' attaches to kernel functions, which backend \(backend.rawValue) cannot: use kprobe-multi, kprobe or fentry"
                             + (rejections.isEmpty ? "" : " (this kernel refused them: " + rejections.map(\.description).joined(separator: "; ") + ")"),
                             kind: .kernelFeature)
        }
        if let f = config.nonSkbFunctions, !discovery.functions.contains(where: { $0.position == 0 }) {
            throw TraceError("--filter-non-skb-funcs '\(f.pattern)': no attachable kernel function without an sk_buff argument matches", kind: .badInput)
        }
        functions = backend.tracesTracepoints
            ? discovery.tracepoints.map { TracedTarget(name: $0.name, kind: .tracepoint, position: $0.position, module: nil) }
            : discovery.functions.map { TracedTarget(name: $0.name, kind: .function, position: $0.position, module: $0.module) }
        StartupClock.mark("discovery")
        dropReasons = config.dropReasons ?? DropReasons.current(btf: vmlinux)
        (programs, untraceablePrograms) = try Self.programTargets(config, probe: featureProbe)
        if config.dumpSkb || config.dumpSharedInfo {
            let f = featureProbe("bpf_snprintf_btf")
            guard f.ok else {
                throw TraceError("\(config.dumpSkb ? "--output-skb" : "--output-skb-shared-info") prints with bpf_snprintf_btf, which this kernel refuses (\(f.errno ?? "?")): it needs Linux 5.10+ with CONFIG_DEBUG_INFO_BTF; --output-skb-metadata reads single members without it",
                                 kind: .kernelFeature)
            }
        }
        guard !functions.isEmpty else {
            throw TraceError("nothing to attach: no \(backend.tracesTracepoints ? "sk_buff tracepoint" : "sk_buff function") matches" + (config.limit.map { " --limit-funcs '\($0.pattern)'" } ?? ""))
        }
        spliceBodies = makeSpliceBodies()
        StartupClock.mark("rest of the plan")
    }

    /// --filter-trace-tc / --filter-trace-xdp: every loaded tc or XDP program, checked against
    /// the kernel first (fentry and fexit on programs). A kernel without them is an error naming why: the trace is
    /// never silently less than asked.
    static func programTargets(_ config: TraceConfig, probe: (String) -> Feature) throws(TraceError)
        -> ([TracedTarget], [(name: String, reason: String)]) {
        var types: [UInt32] = []
        if config.traceTC { types.append(LoadedProgram.schedCls) }
        if config.traceXDP { types.append(LoadedProgram.xdp) }
        guard !types.isEmpty else { return ([], []) }
        let flags = [config.traceTC ? "--filter-trace-tc" : nil, config.traceXDP ? "--filter-trace-xdp" : nil].compactMap { $0 }.joined(separator: " and ")
        let f = probe("bpf_prog_trace")
        guard f.ok else {
            throw TraceError("\(flags) traces BPF programs with fentry/fexit, which this kernel refuses (\(f.errno ?? "?")): use a kernel with BPF trampolines (5.5+, not locked down); `fasttrace features` shows bpf_prog_trace", kind: .badInput)
        }
        let loaded: [LoadedProgram]
        if let given = config.loadedPrograms { loaded = given.filter { types.contains($0.type) } } else {
            do { loaded = try LoadedProgram.all(ofTypes: Set(types)) } catch {
                throw TraceError("\(flags): \(error.description)", cause: .bpf(error))
            }
        }
        let traceable = loaded.filter(\.hasBTF).map(TracedTarget.init(program:))
        let without = loaded.filter { !$0.hasBTF }.map { ("\($0.kindPrefix):\($0.name)[id \($0.id)]", "loaded without BTF: fentry cannot attach to it") }
        return (traceable, without)
    }

    /// The program for a target: for a BPF program the fentry/fexit pair (`fentryProg` named
    /// here); else the backend's drop variant for drop functions, else by skb position; nil
    /// when none can trace it.
    func program(for t: TracedTarget) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        if t.kind == .bpfProgram { return t.isXDPProgram ? \.fentryXdp : \.fentryProg }
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
        backend.implementation.descriptorsNeeded(targets: functions.count) + 10 * programs.count + cpus + 64
    }

    /// The plan in words, for `--dry-run`: a header, then one line per target.
    public func describe(cpus: Int = BPFMap.possibleCPUs) -> [String] {
        let impl = backend.implementation
        var lines: [String] = []
        let why = config.backend != nil ? "asked for" : rejections.isEmpty ? "auto: the first this kernel offers"
            : "auto, after " + rejections.map(\.description).joined(separator: "; ")
        lines.append("backend: \(backend.rawValue) (\(why))")
        let variants = targets.map(programName(for:))
        let usable = variants.compactMap { $0 }
        let kind = (backend.tracesTracepoints ? "tracepoints" : "functions") + (programs.isEmpty ? "" : " and BPF programs")
        var counts: [String: Int] = [:]
        for p in usable { counts[p, default: 0] += 1 }
        lines.append("targets: \(targets.count) \(kind), \(usable.count) traceable; programs: "
                     + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        lines.append("loads: " + (impl.loadsPerTarget ? "\(usable.count) (the target is fixed at load: one object per target, maps shared)"
                                                       : "1 (one object; \(counts.count) program variants)"))
        if let f = config.filter, let b = filterBodies {
            lines.append("pcap filter: '\(PacketFilter.abbreviated(f.expression))': \(b.l2.count) eBPF instructions (link layer), \(b.l3.count) (IP layer), spliced into every program")
        }
        for (flag, f, b) in [("--filter-tunnel-pcap-l2", config.tunnelFilterL2, tunnelBodies.l2), ("--filter-tunnel-pcap-l3", config.tunnelFilterL3, tunnelBodies.l3)] {
            if let f, let b {
                lines.append("\(flag) '\(PacketFilter.abbreviated(f.expression))': \(b.count) eBPF instructions, on the inner packet of VXLAN (UDP 4789) and Geneve (UDP 6081) packets")
            }
        }
        if let text = config.skbExpression, let x = exprBody {
            lines.append("--filter-skb-expr '\(text)': \(x.count) eBPF instructions, reads through bpf_probe_read_kernel")
        }
        for (flag, layout) in [("--output-skb-metadata", skbMetadata), ("--output-xdp-metadata", xdpMetadata)] {
            guard let m = layout else { continue }
            lines.append("\(flag): \(m.fields.count) fields, \(metadataAreaSize) bytes per record: "
                         + m.fields.map { "\($0.name) (\($0.path?.typeName ?? "?"))" }.joined(separator: ", "))
        }
        if let text = config.xdpExpression, let x = xdpExprBody {
            lines.append("--filter-xdp-expr '\(text)': \(x.count) eBPF instructions, on traced XDP programs' xdp_buff")
        }
        if let path = config.kernelBTF { lines.append("kernel BTF: \(path) (--kernel-btf)") }
        var meta: [String] = []
        if config.filterMarkMask != 0 { meta.append(String(format: "mark 0x%x/0x%x", config.filterMark, config.filterMarkMask)) }
        if config.filterIfindex != 0 { meta.append("ifindex \(config.filterIfindex)") }
        if config.filterNetns != 0 { meta.append("netns \(config.filterNetns)") }
        if !meta.isEmpty { lines.append("meta filters: " + meta.joined(separator: ", ")) }
        if config.trackSkbByStack {
            let others = functions.filter { $0.position == 0 }.count
            lines.append("--filter-track-skb-by-stackid: tracked skbs own the kernel stack they are on; skbs made on it are tracked too"
                         + (others > 0 ? "; \(others) functions without an skb (--filter-non-skb-funcs) report that skb" : ""))
        }
        let ring = RingSet.validSize(config.ringBytesPerCPU)
        lines.append("rings: \(cpus) × \(ring >> 10) KiB, wakeup every \(config.effectiveWakeupEvery) records; snaplen \(config.snapLength)")
        if config.traceTC || config.traceXDP {
            lines.append("BPF programs (--filter-trace-tc/-xdp): \(programs.count) traced with fentry+fexit, one load each"
                         + (untraceablePrograms.isEmpty ? "" : "; \(untraceablePrograms.count) without BTF, not traced"))
        }
        if config.trackSkb {
            lines.append("tracking (--filter-track-skb): up to \(config.trackCapacity) skbs; hooks: " + impl.trackingHooks.joined(separator: ", "))
        }
        lines.append("descriptors: about \(descriptorsNeeded(cpus: cpus)) (backend \(impl.descriptorsNeeded(targets: functions.count)), programs \(10 * programs.count), rings \(cpus), margin 64)")
        for (t, p) in zip(targets, variants) {
            let module = t.module.map { " [\($0)]" } ?? ""
            lines.append("  \(t.name)\(module)  skb arg \(t.position)  " + (p ?? "— not traced: no program for sk_buff at argument \(t.position)"))
        }
        return lines
    }
}
