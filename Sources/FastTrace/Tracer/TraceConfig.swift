import Foundation

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
        let metadata = max((skbMetadata.map { 8 + 16 * $0.split(separator: ",").count } ?? 0) + (outputSkbCB ? 56 : 0),
                           xdpMetadata.map { 8 + 16 * $0.split(separator: ",").count } ?? 0) // about
        let dumps = dumpLayout.count * (MemoryLayout<Dump>.size + dumpLayout.size)
        let record = MemoryLayout<Event>.size + 8 + (outputTunnel ? MemoryLayout<Tuple>.size : 0) + metadata + dumps
            + (snapLength > 0 ? MemoryLayout<Snap>.size + snapLength : 0)
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
    /// Also trace every loaded tc (SCHED_CLS) program, entry and verdict (fentry/fexit).
    public var traceTC = false
    /// Also trace every loaded XDP program, entry and verdict, on the xdp_buff.
    public var traceXDP = false
    /// The loaded programs to consider (tests); nil: listed from the kernel.
    public var loadedPrograms: [LoadedProgram]?
    /// --filter-tunnel-pcap-l2 / -l3: pcap filters on the inner packet of VXLAN/Geneve
    /// packets (the first from the inner MAC header, the second from the inner IP header).
    /// When given, only tunnel packets whose inner packet matches are reported.
    public var tunnelFilterL2: PacketFilter?
    /// --filter-skb-expr: a C expression over `skb`, resolved against the kernel's BTF by the
    /// plan and compiled to eBPF (Expr/).
    public var skbExpression: String?
    /// --output-skb-metadata: comma-separated member paths of `skb` each record carries.
    public var skbMetadata: String?
    /// --filter-xdp-expr / --output-xdp-metadata: the same over `xdp` (struct xdp_buff) at a
    /// traced XDP program (needs `traceXDP`).
    public var xdpExpression: String?
    public var xdpMetadata: String?
    /// --output-skb-cb: `skb->cb` as hex words with each event (a metadata field).
    public var outputSkbCB = false
    /// --output-skb / --output-skb-shared-info: the struct printed from BTF with each event,
    /// at most `dumpSize` bytes of text each (the rest is cut and marked).
    public var dumpSkb = false
    public var dumpSharedInfo = false
    public var dumpSize = 2048
    public static let maxDumpSize = Int(Limit.dumpSizeMax.rawValue)
    /// The dumps as the record carries them: how many, and the bytes of text each (rounded
    /// up to 8).
    var dumpLayout: (count: Int, size: Int) {
        ((dumpSkb ? 1 : 0) + (dumpSharedInfo ? 1 : 0), (min(max(dumpSize, 8), TraceConfig.maxDumpSize) + 7) / 8 * 8)
    }
    /// --kernel-btf: the BTF file to resolve discovery, drop reasons and expressions against
    /// (nil: /sys/kernel/btf/vmlinux).
    public var kernelBTF: String?
    /// --output-tunnel: records carry the inner tuple of VXLAN/Geneve packets.
    public var outputTunnel = false
    public var tunnelFilterL3: PacketFilter?
    /// Keep reporting an skb that matched once, by address, until it is freed.
    public var trackSkb = false
    /// --filter-track-skb-by-stackid: also remember which kernel stack each tracked skb is on
    /// (needs `trackSkb`): skbs made on that stack while it is alive are tracked too, and
    /// functions without an skb on it are reported for it (`nonSkbFunctions`).
    public var trackSkbByStack = false
    /// --filter-non-skb-funcs: kernel functions without an sk_buff argument to attach too,
    /// reported for the skb their stack is busy with (needs `trackSkbByStack`).
    public var nonSkbFunctions: NameFilter?
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
    /// Where discovery keeps its answer for the boot (the CLI: /run/fasttrace); nil: none.
    public var discoveryCache: DiscoveryCache?
    public var dropReasons: DropReasons?
    /// Legacy kprobe and fentry detach with /sys/kernel/rcu_expedited set (restored
    /// afterwards): grace periods per hook, expedited. docs/benchmarks.md has the numbers.
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
