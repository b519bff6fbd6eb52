import ArgumentParser
import FastTrace
import Foundation

extension Backend: ExpressibleByArgument {}

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace packets through the kernel (the default command).",
        discussion: """
        Attaches to every kernel function (or, without kprobes and fentry, every tracepoint) that takes a struct sk_buff, and prints one line per packet per function: where each packet went and, for drops, why (kfree_skb_reason(SKB_DROP_REASON_...)).

        The optional filter is a pcap-filter(7) expression, as for tcpdump. libpcap compiles it for Ethernet frames and for bare IP packets; fasttrace translates both to eBPF and runs the first on skbs with a MAC header, the second otherwise. Link-layer-only expressions (arp, ether host, vlan) never match skbs without a MAC header. See docs/filters.md.

        Examples:
          fasttrace 'host 10.0.0.1 and tcp port 80'      # like tcpdump
          fasttrace --filter-track-skb 'tcp dst port 80' # follow it through NAT
          fasttrace --limit-funcs 'ip_.*|kfree_skb.*'    # a few functions
          fasttrace --backend kprobe --output-json       # a backend, JSON lines
          fasttrace --filter-mark 0x100/0xff00 --duration 10

        Stop with Ctrl-C (any time, attach included): everything is detached, a summary with event and loss counts is printed, and the exit status is 0.
        """)

    @Argument(help: ArgumentHelp("pcap-filter(7) expression, e.g. 'tcp and dst port 8080' (words are joined, as tcpdump does).", valueName: "pcap filter"))
    var filter: [String] = []

    @Flag(name: .customLong("no-optimize"), help: "Compile the pcap filter without libpcap's optimiser: at once even for huge expressions, at some cost per packet (docs/filters.md).")
    var noOptimize = false

    @Option(name: .customLong("filter-compile-timeout"), parsing: .unconditional, help: ArgumentHelp("Give up compiling the pcap filter after this many seconds (libpcap's optimiser can take minutes on huge expressions).", valueName: "seconds"))
    var filterCompileTimeout: Double = 30

    @Flag(name: .customLong("filter-track-skb"), help: "Once an skb matches, keep reporting it (by address, clones included) until it is freed, even after NAT or a tc program rewrites it.")
    var filterTrackSkb = false

    @Flag(name: .customLong("filter-track-skb-by-stackid"), help: "With --filter-track-skb (implied): a tracked skb owns the kernel stack it is on until it is freed; skbs made on that stack meanwhile are tracked too (a bridge freeing and rebuilding one, a reply). Broad: see docs/filters.md.")
    var filterTrackSkbByStack = false

    @Option(name: .customLong("filter-non-skb-funcs"), help: ArgumentHelp("Also attach to kernel functions without an sk_buff argument whose names match this extended regex (e.g. 'fib_table_lookup|__udp4_lib_lookup'), reported for the tracked skb whose stack they run on. Implies --filter-track-skb-by-stackid. kprobe-multi, kprobe or fentry only.", valueName: "regex"))
    var filterNonSkbFuncs: String?

    @Flag(name: .customLong("filter-trace-tc"), help: "Also trace every loaded tc BPF program (fentry and fexit): each shows as tc/ingress/DEV:NAME[id N] where a packet enters it, and with its verdict (TC_ACT_OK, TC_ACT_SHOT, ...) where it leaves. Needs fentry (docs/tracer.md).")
    var filterTraceTC = false

    @Flag(name: .customLong("filter-trace-xdp"), help: "Also trace every loaded XDP program (fentry and fexit on its xdp_buff): xdp:NAME[id N], with its verdict (XDP_PASS, XDP_DROP, ...) where it returns. The pcap filter runs on the packet's data; --filter-track-skb does not follow an xdp_buff. Needs fentry.")
    var filterTraceXDP = false

    @Option(name: .customLong("filter-skb-expr"), help: ArgumentHelp("Only skbs for which this C expression over skb holds, e.g. 'skb->dev->ifindex == 9 && (skb->mark & 0xff) != 0' or 'skb->dev->name == \"eth0\"': member paths through pointers, [N], == != < <= > >= & | ^ && || ! and parentheses, numbers, enum names, strings. Resolved against the kernel's BTF (docs/filters.md).", valueName: "expr"))
    var filterSkbExpr: String?

    @Option(name: .customLong("output-skb-metadata"), help: ArgumentHelp("Print these members of each event's skb as name=value (JSON: a \"metadata\" object), e.g. 'skb->mark,skb->hash,skb->dev->name,skb->pkt_type': up to 8 member paths as in --filter-skb-expr; enums by name, char arrays as strings, ? when a pointer on the way is NULL. Kept in the log.", valueName: "paths"))
    var outputSkbMetadata: String?

    @Flag(name: .customLong("output-skb"), help: "Print each event's struct sk_buff as the kernel prints it from BTF (bpf_snprintf_btf, compact, zero fields left out) on a line of its own (JSON: \"skb_dump\"), cut at --output-skb-size bytes and marked so. Kept in the log. Costly: every record grows by that size.")
    var outputSkb = false
    @Flag(name: .customLong("output-skb-shared-info"), help: "The same for the skb's struct skb_shared_info (frags, GSO, timestamps; JSON: \"shinfo_dump\").")
    var outputSkbSharedInfo = false
    @Option(name: .customLong("output-skb-size"), parsing: .unconditional, help: ArgumentHelp("Bytes of text kept per struct for --output-skb and --output-skb-shared-info (8 to \(TraceConfig.maxDumpSize)).", valueName: "bytes"))
    var outputSkbSize = 2048

    @Option(name: .customLong("filter-xdp-expr"), help: ArgumentHelp("With --filter-trace-xdp: only packets for which this C expression over xdp (struct xdp_buff) holds at a traced XDP program, e.g. 'xdp->rxq->dev->ifindex == 4 && xdp->frame_sz >= 4096': member paths, comparisons and logic as for --filter-skb-expr. Applied at the program's entry and at its exit, like the pcap filter (--filter-track-skb keeps a packet that matched at entry).", valueName: "expr"))
    var filterXdpExpr: String?
    @Option(name: .customLong("output-xdp-metadata"), help: ArgumentHelp("With --filter-trace-xdp: print these members of the xdp_buff at each traced XDP program event, e.g. 'xdp->rxq->queue_index,xdp->frame_sz,xdp->rxq->dev->name'. Kept in the log.", valueName: "paths"))
    var outputXdpMetadata: String?

    @Flag(name: .customLong("output-skb-cb"), help: "Print skb->cb (48 bytes, the layers' private control block) as 12 u32 words in hex, as skb->cb=[…] (JSON: numbers). Kept in the log.")
    var outputSkbCB = false

    @Option(name: .customLong("kernel-btf"), help: ArgumentHelp("Read the kernel's types from this BTF file (raw BTF, e.g. a BTFHub file, or a vmlinux with a .BTF section) instead of /sys/kernel/btf/vmlinux: for discovery, drop-reason names, expressions and CO-RE.", valueName: "file"))
    var kernelBTF: String?

    @Option(name: .customLong("filter-tunnel-pcap-l2"), help: ArgumentHelp("Only VXLAN (UDP 4789) and Geneve (UDP 6081) packets whose inner Ethernet frame matches this pcap-filter expression (with the main filter, both must match).", valueName: "expr"))
    var filterTunnelL2: String?
    @Option(name: .customLong("filter-tunnel-pcap-l3"), help: ArgumentHelp("Only VXLAN and Geneve packets whose inner IP packet matches this pcap-filter expression.", valueName: "expr"))
    var filterTunnelL3: String?

    @Option(name: .customLong("filter-track-max"), parsing: .unconditional, help: ArgumentHelp("How many skbs --filter-track-skb can follow at once; matches beyond it are counted and reported.", valueName: "n"))
    var filterTrackMax = 16384

    @Option(help: ArgumentHelp("auto, kprobe-multi, kprobe, fentry or tracepoint. auto tries them in that order and says why each was passed over.", valueName: "backend"))
    var backend: String = "auto"

    @Flag(name: .customLong("dry-run"), help: "Print what would be loaded and attached, and why (backend, programs per target, filter, maps, tracking hooks, descriptors), then exit. Loads only the feature probes.")
    var dryRun = false

    @Option(name: [.customLong("limit-funcs"), .customLong("filter-func")],
            help: ArgumentHelp("Only functions/tracepoints whose whole name matches this POSIX extended regex.", valueName: "regex"))
    var limitFuncs: String?

    @Option(name: .customLong("kmods"), help: ArgumentHelp("Also trace these modules' functions (comma-separated).", valueName: "mod,..."))
    var kmods: [String] = []

    @Flag(name: .customLong("all-kmods"), help: "Also trace the functions of every loaded module with BTF.")
    var allKmods = false

    @Option(name: .customLong("filter-mark"), help: ArgumentHelp("Only packets with this mark (MARK or MARK/MASK, hex or decimal).", valueName: "mark[/mask]"))
    var filterMark: String?

    @Option(name: .customLong("filter-ifname"), help: ArgumentHelp("Only packets on this interface, resolved in the --filter-netns namespace (default: fasttrace's own).", valueName: "name"))
    var filterIfname: String?

    @Option(name: .customLong("filter-netns"), help: ArgumentHelp("Only packets in this network namespace: /proc/PID/ns/net, /run/netns/NAME or inode:N.", valueName: "netns"))
    var filterNetns: String?

    @OptionGroup(title: "Output") var outputFlags: OutputFlags
    @Flag(name: .customLong("output-stack"), help: "Print the kernel stack of each event.")
    var outputStack = false
    @Flag(name: .customLong("output-caller"), help: "Print the calling function (kprobe and kprobe-multi backends; '-' otherwise).")
    var outputCaller = false
    @Option(name: .customLong("output-limit-lines"), parsing: .unconditional, help: ArgumentHelp("Stop after this many events.", valueName: "n"))
    var outputLimitLines: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?
    @Option(name: .customLong("ready-file"), help: ArgumentHelp("Create this file once attached (for scripts and tests).", valueName: "path"))
    var readyFile: String?
    @Option(name: [.customShort("w"), .customLong("output-file")], help: ArgumentHelp("Write a compressed capture log (read it with `fasttrace read`, `fasttrace stats`). Events are not printed unless --print.", valueName: "file"))
    var outputFile: String?
    @Flag(help: "With -w, replace an existing file (without it, fasttrace refuses to overwrite one, or to write through a symbolic link).")
    var force = false
    @Option(name: .customLong("host-name"), help: ArgumentHelp("With -w, the name this host's capture carries (default: the host name): `fasttrace fleet` and the Parquet export tell hosts apart by it.", valueName: "name"))
    var hostName: String?
    @Flag(name: .customLong("print"), help: "With -w, also print every event.")
    var printEvents = false
    @Option(name: .customLong("frame-interval"), parsing: .unconditional, help: ArgumentHelp("With -w, close a compressed frame at least this often while events flow: a crash loses at most this much.", valueName: "seconds"))
    var frameInterval: Double = 1.0
    @Option(parsing: .unconditional, help: ArgumentHelp("Copy up to this many bytes of each packet with its events (0 = none, at most \(TraceConfig.maxSnapLength)): the linear part, from the MAC header or, before there is one, the network header. For `fasttrace export` to pcapng and for JSON (a \"packet\" object). Each event's ring record grows by this much.", valueName: "bytes"))
    var snaplen = 0
    @Flag(name: .customLong("no-expedite-detach"), help: "With legacy kprobes or fentry, do not set /sys/kernel/rcu_expedited while detaching (it is restored afterwards; it makes detach 1.2-3x faster, see docs/benchmarks.md).")
    var noExpediteDetach = false
    @Option(name: .customLong("ring-size"), parsing: .unconditional, help: ArgumentHelp("Ring buffer bytes per CPU, rounded up to a power of two (default: 1/256 of memory over the CPUs, 4 to 32 MiB; here \(TraceConfig.defaultRingBytes() >> 20) MiB).", valueName: "bytes"))
    var ringSize: Int?
    @Option(name: .customLong("summary-file"), help: ArgumentHelp("At exit, write the counts as one JSON object to this file: events taken from the rings, records the programs submitted, lost in the kernel (rings full), dropped by the output and the log, written (docs/output.md).", valueName: "path"))
    var summaryFile: String?
    @Option(name: .customLong("wakeup-every"), parsing: .unconditional, help: ArgumentHelp("Wake the consumer with a forced wakeup every N records per CPU (a power of two), or 0 to let the kernel wake it whenever it has caught up (one wakeup per record at low rates). See docs/tracer.md.", valueName: "n"))
    var wakeupEvery: Int = Int(TraceConfig().wakeupEvery)

    /// Every option turned into a configuration, without touching the kernel: a bad value is
    /// a `UsageError` (exit 2). Separate from `run` so the fuzzer can drive it in-process.
    func makeConfig() throws(UsageError) -> TraceConfig {
        var config = TraceConfig()
        config.discoveryCache = DiscoveryCache.standard
        guard filterCompileTimeout.isFinite, filterCompileTimeout > 0 else {
            throw UsageError("--filter-compile-timeout: '\(filterCompileTimeout)' is not a finite number of seconds above 0")
        }
        if !filter.isEmpty { config.filter = try compileFilter(filter.joined(separator: " ")) }
        if let e = filterSkbExpr {
            do { _ = try ExprParser.parse(e) } catch { throw UsageError("--filter-skb-expr '\(e)': \(error.description)") }
            config.skbExpression = e
        }
        if let list = outputSkbMetadata {
            for part in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard !part.allSatisfy({ $0 == " " }) else { throw UsageError("--output-skb-metadata '\(list)': an empty field (paths are separated by commas)") }
                do { _ = try ExprParser.parse(String(part)) } catch {
                    throw UsageError("--output-skb-metadata '\(list)': '\(part.trimmingCharacters(in: .whitespaces))': \(error.description)")
                }
            }
            config.skbMetadata = list
        }
        config.kernelBTF = kernelBTF
        if let e = filterXdpExpr {
            do { _ = try ExprParser.parse(e) } catch { throw UsageError("--filter-xdp-expr '\(e)': \(error.description)") }
            config.xdpExpression = e
        }
        config.xdpMetadata = outputXdpMetadata
        config.outputSkbCB = outputSkbCB
        guard (8...TraceConfig.maxDumpSize).contains(outputSkbSize) else {
            throw UsageError("--output-skb-size: \(outputSkbSize) is not between 8 and \(TraceConfig.maxDumpSize)")
        }
        config.dumpSkb = outputSkb
        config.dumpSharedInfo = outputSkbSharedInfo
        config.dumpSize = outputSkbSize
        if let e = filterTunnelL2 { config.tunnelFilterL2 = try compileFilter(e, flag: "--filter-tunnel-pcap-l2") }
        if let e = filterTunnelL3 { config.tunnelFilterL3 = try compileFilter(e, flag: "--filter-tunnel-pcap-l3") }
        guard (1...TraceConfig.maxTrackCapacity).contains(filterTrackMax) else {
            throw UsageError("--filter-track-max: \(filterTrackMax) is not between 1 and \(TraceConfig.maxTrackCapacity)")
        }
        if let hostName, let why = LogHeader.hostNameProblem(hostName) { throw UsageError("--host-name: '\(hostName)' \(why)") }
        guard frameInterval.isFinite, frameInterval > 0 else { throw UsageError("--frame-interval: '\(frameInterval)' is not a finite number of seconds above 0") }
        if let duration, !(duration.isFinite && duration > 0) { throw UsageError("--duration: '\(duration)' is not a finite number of seconds above 0") }
        if let n = outputLimitLines, n < 1 { throw UsageError("--output-limit-lines: \(n) is not 1 or more") }
        if let ringSize, !TraceConfig.ringSizes.contains(ringSize) {
            throw UsageError("--ring-size: \(ringSize) is not between \(TraceConfig.ringSizes.lowerBound) and \(TraceConfig.ringSizes.upperBound) bytes")
        }
        guard (0...(1 << 20)).contains(wakeupEvery), wakeupEvery & (wakeupEvery - 1) == 0 || wakeupEvery == 0 else {
            throw UsageError("--wakeup-every: \(wakeupEvery) is not 0 or a power of two up to 1048576")
        }
        guard (0...TraceConfig.maxSnapLength).contains(snaplen) else { throw UsageError("--snaplen: \(snaplen) is not between 0 and \(TraceConfig.maxSnapLength)") }
        config.snapLength = snaplen
        config.expediteDetach = !noExpediteDetach
        config.trackSkbByStack = filterTrackSkbByStack || filterNonSkbFuncs != nil
        config.trackSkb = filterTrackSkb || config.trackSkbByStack
        if let r = filterNonSkbFuncs {
            do { config.nonSkbFunctions = try NameFilter(r) } catch {
                throw UsageError("--filter-non-skb-funcs '\(r)': \(error.description)")
            }
        }
        config.traceTC = filterTraceTC
        config.traceXDP = filterTraceXDP
        config.outputTunnel = outputFlags.outputTunnel
        config.trackCapacity = filterTrackMax
        if backend != "auto" {
            guard let b = Backend(rawValue: backend) else {
                throw UsageError("--backend: '\(backend)' is not one of auto, \(Backend.names.joined(separator: ", "))")
            }
            config.backend = b
        }
        if let limitFuncs {
            do { config.limit = try NameFilter(limitFuncs) } catch { throw UsageError("--limit-funcs: \(error.description)") }
        }
        config.modules = kmods.flatMap { $0.split(separator: ",").map(String.init) }
        config.allModules = allKmods
        config.outputStack = outputStack
        config.outputCaller = outputCaller
        if let ringSize { config.ringBytesPerCPU = ringSize }
        config.wakeupEvery = UInt32(wakeupEvery)
        if let filterMark { (config.filterMark, config.filterMarkMask) = try parseMark(filterMark) }
        if let filterNetns { config.filterNetns = try parseNetns(filterNetns) }
        if let filterIfname {
            // An ifindex only means something within one namespace: pin the namespace too.
            let names = InterfaceNames()
            if config.filterNetns == 0 { config.filterNetns = names.ownNetns }
            guard let idx = names.index(of: filterIfname, netns: config.filterNetns) else {
                throw UsageError("--filter-ifname: no interface '\(filterIfname)' in \(filterNetns.map { "network namespace \($0)" } ?? "fasttrace's network namespace")")
            }
            config.filterIfindex = idx
        }
        return config
    }

    /// The pcap filter, compiled with a progress note after 2 s and a time limit.
    func compileFilter(_ expression: String, flag: String = "pcap filter") throws(UsageError) -> PacketFilter {
        do {
            let filter = try PacketFilter.compile(expression, optimize: !noOptimize, timeout: filterCompileTimeout) {
                note("compiling the pcap filter: libpcap's optimiser is slow on large expressions (--no-optimize skips it; giving up after \(String(format: "%g", filterCompileTimeout)) s)")
            }
            _ = try filter.translated() // a filter too large for eBPF is bad input too, found before any kernel work
            return filter
        } catch where error.timedOut {
            throw UsageError("\(flag): \(error.description): add --no-optimize (compiled at once, a little slower per packet: docs/filters.md) or raise --filter-compile-timeout")
        } catch {
            throw UsageError("\(flag) '\(PacketFilter.abbreviated(expression))': \(error.description)")
        }
    }

    /// Tests only: FASTTRACE_TEST_CLOCK_SHIFT_NS moves the capture's wall clock, as if this
    /// host's clock were that far ahead (fleet align must find it).
    var testClockShift: Int64 { ProcessInfo.processInfo.environment["FASTTRACE_TEST_CLOCK_SHIFT_NS"].flatMap { Int64($0) } ?? 0 }

    func run() throws {
        let config: TraceConfig
        do { config = try makeConfig() } catch { fail(error.message, status: error.status) }
        if let expression = config.filter?.expression, let why = config.filter?.l3Unavailable {
            note("note: '\(escapeControl(expression))' has no form for packets without a MAC header (libpcap: \(why)); those never match")
        }
        guard KernelInfo.isRoot else { fail("tracing needs root (CAP_BPF and CAP_PERFMON): run with sudo", status: 3) }

        if dryRun {
            do {
                for line in try TracePlan(config).describe() { print(escapeControl(line)) }
            } catch {
                fail(error)
            }
            return
        }

        // Every output path is checked before anything is attached.
        var logFile: LogFile?
        if let outputFile {
            do { logFile = try LogFile.create(outputFile, force: force) } catch { fail("-w: \(error.description)", status: 2) }
        }
        if let readyFile {
            // Not NSString.deletingLastPathComponent: Foundation traps on a one-character path
            // ("R"), swift-corelibs-foundation in Swift 6.3.
            let dir = readyFile.lastIndex(of: "/").map { String(readyFile[..<$0]) } ?? "."
            guard access(dir.isEmpty ? "/" : dir, W_OK) == 0 else {
                logFile?.discard()
                fail("--ready-file: cannot create \(readyFile): \(String(cString: strerror(errno)))", status: 2)
            }
        }

        StopSignal.install()
        let tracer: Tracer
        do { tracer = try Tracer(config) } catch {
            logFile?.discard()
            fail(error)
        }
        let files = KernelInfo.raiseOpenFileLimit()
        let needed = tracer.plan.descriptorsNeeded()
        guard files >= needed else {
            logFile?.discard()
            fail("\(tracer.backend.rawValue) on \(tracer.targets.count) targets needs about \(needed) open files, and the limit is \(files) (ulimit -Hn): raise it, or trace fewer functions (--limit-funcs)", status: 2)
        }
        // Why auto passed over a backend: after the checks, so that an error stays one line.
        for r in tracer.rejections { note("\(r) → next") }
        let start = Date()
        let progress = Progress(label: "Attaching", enabled: isatty(2) == 1)
        do {
            try tracer.attach(progress: progress.update, cancelled: { StopSignal.requested })
        } catch {
            progress.finish()
            tracer.detach()
            logFile?.discard()
            if error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem {
                fail("\(error.description): the open-file limit is \(files) (ulimit -n); raise it, or trace fewer functions (--limit-funcs)")
            }
            fail(error.description)
        }
        progress.finish()
        // The estimate above can be short (other open files, a kernel needing more per
        // probe): running out is an error naming the limit, never a silently partial trace.
        let exhausted = tracer.ignored.filter { $0.reason == "EMFILE" || $0.reason == "ENFILE" }
        if let first = exhausted.first {
            tracer.detach()
            logFile?.discard()
            let which = first.reason == "ENFILE" ? "the system's open-file table is full (fs.file-max)" : "the open-file limit is \(files) (ulimit -n)"
            fail("\(exhausted.count) of \(tracer.targets.count) targets could not be attached (\(first.reason)): \(which); raise it, or trace fewer functions (--limit-funcs)")
        }
        for (asked, prefix, flag) in [(filterTraceTC, "tc:", "--filter-trace-tc"), (filterTraceXDP, "xdp:", "--filter-trace-xdp")]
        where asked && !tracer.plan.programs.contains(where: { $0.name.hasPrefix(prefix) }) {
            note("\(flag): no \(prefix.dropLast()) program with BTF is loaded; programs loaded from now on are not traced")
        }
        let kind = (tracer.backend.tracesTracepoints ? "tracepoints" : "functions") + (tracer.plan.programs.isEmpty ? "" : " and BPF programs")
        note("Attached \(tracer.attachedCount) \(kind) (\(tracer.ignored.count) ignored) via \(tracer.backend.rawValue) in \(Int(Date().timeIntervalSince(start) * 1000)) ms")
        for n in tracer.trackingNotes { note("--filter-track-skb: \(n)") }
        if !tracer.ignored.isEmpty {
            let shown = tracer.ignored.prefix(8).map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")
            note("ignored: \(shown)\(tracer.ignored.count > 8 ? ", … \(tracer.ignored.count - 8) more" : "")")
        }
        StartupClock.mark("ready")
        if let readyFile, !StopSignal.requested {
            let fd = open(readyFile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 { close(fd) } else { note("--ready-file: cannot create \(readyFile): \(String(cString: strerror(errno)))") }
        }

        var options = outputFlags.options
        options.skbMetadata = tracer.plan.skbMetadata
        options.xdpMetadata = tracer.plan.xdpMetadata
        options.stack = outputStack
        options.caller = outputCaller
        let context = EventContext(stack: tracer.stack, symbols: outputStack || outputCaller ? KernelSymbols() : nil)
        let formatter = EventFormatter(options: options, targets: tracer.targets, drops: tracer.dropReasons, context: context)
        var log: LogWriter?
        if let logFile {
            var o = LogWriter.Options()
            o.frameInterval = frameInterval
            if outputFlags.outputNetnsNames { o.netnsNames = NetnsNames() }
            var header = LogHeader(kernelRelease: KernelInfo.release, hostname: hostName ?? KernelInfo.hostName,
                                   cpus: BPFMap.possibleCPUs, backend: tracer.backend.rawValue, filter: config.filter?.expression,
                                   arguments: CommandLine.arguments, targets: tracer.targets, targetAddresses: tracer.targetAddresses,
                                   dropReasons: tracer.dropReasons, bootToWallNs: LogHeader.currentBootToWall() &+ testClockShift, startedAt: Date())
            o.clockShiftNs = testClockShift
            header.snapLength = snaplen
            header.clockSync = ClockSync.current()
            header.skbMetadata = tracer.plan.skbMetadata
            header.xdpMetadata = tracer.plan.xdpMetadata
            do { log = try LogWriter(file: logFile, header: header, options: o) } catch {
                tracer.detach()
                fail("-w: \(error.description)")
            }
        }
        let output = log == nil || printEvents ? LiveOutput(formatter: formatter, header: formatter.header) : nil
        let capture = CaptureLoop(tracer: tracer, log: log, output: output, limit: outputLimitLines)
        capture.run(until: { StopSignal.requested }, deadline: duration.map { monotonicSeconds() + $0 })
        // Detach first so nothing new arrives, then drain what the rings still hold: events
        // already produced when Ctrl-C came are printed, not dropped.
        let detachStart = Date()
        let detachProgress = Progress(label: "Detaching", enabled: isatty(2) == 1)
        tracer.detach(progress: detachProgress.update)
        detachProgress.finish()
        capture.drainRemaining()
        let detachMs = Int(Date().timeIntervalSince(detachStart) * 1000)
        let lost = tracer.lost
        let overflow = tracer.trackOverflow
        if let output, isatty(2) == 1, output.rendered + 100_000 < UInt64(capture.events) {
            note("printing the \(UInt64(capture.events) - output.rendered) events still queued; Ctrl-C again to skip them (they are counted)")
        }
        output?.finish(abandon: { StopSignal.count >= 2 })
        let outputDropped = output?.dropped ?? 0
        if outputFlags.outputJSON {
            let line = "{\"type\":\"summary\",\"events\":\(capture.events),\"lost\":\(lost),\"output_dropped\":\(outputDropped),\"track_overflow\":\(overflow),\"log_dropped\":\(log?.dropped ?? 0)}"
            if let output { output.line(line) } else { print(line) } // -w without --print: the summary alone
        }
        if let log {
            do { try log.finish(lostPerCPU: tracer.lostPerCPU, trackOverflow: overflow, outputDropped: outputDropped) } catch { fail("-w: \(error.description)") }
            note("\(log.written) events written to \(log.path)\(log.dropped > 0 ? ", \(log.dropped) dropped (compression fell behind)" : "")")
        }
        if let failure = output?.failure { note("output: \(failure); the events after it were not printed") }
        if overflow > 0 {
            note("--filter-track-skb: \(overflow) matching skbs were not tracked (all \(filterTrackMax) slots busy); raise --filter-track-max")
        }
        if let summaryFile {
            let counts = TraceSummary(backend: tracer.backend.rawValue, attached: tracer.attachedCount, events: capture.events,
                                      submitted: tracer.submitted, lost: lost, outputDropped: outputDropped, printed: output?.rendered ?? 0,
                                      logDropped: log?.dropped ?? 0, logWritten: log?.written ?? 0, trackOverflow: overflow)
            do { try counts.write(to: summaryFile) } catch { note("--summary-file: cannot write \(summaryFile): \(error.localizedDescription)") }
        }
        if let failure = tracer.countersFailure { note("kernel counters unreadable (\(failure.description)): the number of events lost in the kernel is unknown") }
        var losses = "\(lost) lost"
        if outputDropped > 0 { losses += ", \(outputDropped) not printed (output fell behind)" }
        note("\(capture.events) events, \(losses); detached and drained in \(detachMs) ms")
    }

    func parseMark(_ s: String) throws(UsageError) -> (UInt32, UInt32) {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func num(_ x: String) throws(UsageError) -> UInt32 {
            let v = x.lowercased().hasPrefix("0x") ? UInt32(x.dropFirst(2), radix: 16) : UInt32(x)
            guard let v else { throw UsageError("--filter-mark: '\(s)' is not MARK or MARK/MASK (32-bit numbers, hex with 0x)") }
            return v
        }
        return (try num(parts[0]), parts.count > 1 ? try num(parts[1]) : 0xffff_ffff)
    }

    func parseNetns(_ s: String) throws(UsageError) -> UInt32 {
        if s.hasPrefix("inode:") {
            guard let v = UInt32(s.dropFirst(6)) else { throw UsageError("--filter-netns: '\(s)' is not inode:N") }
            return v
        }
        switch InterfaceNames.networkNamespace(at: s) {
        case .success(let inode): return inode
        case .failure(let why): throw UsageError("--filter-netns: \(why)")
        }
    }
}
