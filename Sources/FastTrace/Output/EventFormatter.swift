import Foundation

/// What the text and JSON output show.
public struct OutputOptions: Sendable {
    public enum Timestamp: String, CaseIterable, Sendable { case none, relative, absolute, current }
    public var tuple = true
    public var meta = true
    public var tcpFlags = false
    public var stack = false
    public var caller = false
    public var timestamp: Timestamp = .none
    public var json = false
    /// --output-tunnel: an INNER column with the tuple inside VXLAN/Geneve packets (JSON
    /// always has `inner` when the record carries one).
    public var tunnel = false
    /// --output-skb-metadata: the layout of the records' metadata area (nil: none).
    public var skbMetadata: SkbMetadata?
    /// --output-xdp-metadata: the layout of XDP program events' area.
    public var xdpMetadata: SkbMetadata?
    /// --output-netns-names: the NETNS column shows a name where there is one (JSON adds
    /// "netns_name").
    public var netnsNames = false
    public init() {}
}

/// Resolves what the event only carries as numbers: stack ids, caller addresses.
public struct EventContext {
    public var stack: (Int32) -> [UInt64] = { _ in [] }
    public var symbols: KernelSymbols?
    public init(stack: @escaping (Int32) -> [UInt64] = { _ in [] }, symbols: KernelSymbols? = nil) {
        self.stack = stack
        self.symbols = symbols
    }
}

/// Renders events as pwru-style text columns or JSON lines, as bytes into a `ByteBuffer`.
/// The one renderer of live capture, `read`, `journeys` and `export`.
///
/// Speed: every name an event only carries as a number (function, drop reason, process,
/// interface) is rendered once into a cache, already padded for its column and escaped for
/// JSON; numbers, hex and addresses are written in place. docs/output.md gives the JSON key
/// order, which is fixed.
public final class EventFormatter {
    let options: OutputOptions
    let context: EventContext
    let targets: [TracedTarget]
    let drops: DropReasons
    let interfaces: InterfaceNames
    /// Namespace names (--output-netns-names): scanned live, or a log's.
    let netns: NetnsNames
    /// Live: an interface that could not be named is looked up again after this many events
    /// (it may have just been created); a log's recorded names never change.
    private let retryUnnamedAfter: Int
    /// CLOCK_REALTIME − CLOCK_MONOTONIC: bpf_ktime_get_ns is monotonic.
    let bootToWall: Double
    private var lastSeen: [UInt64: UInt64] = [:]
    private let scratch = ByteBuffer(capacity: 1024)
    private var rendered = 0

    /// Rendered names live in `arena`; caches hold their places. The last key of each cache
    /// is remembered, since consecutive events mostly share process and interface.
    private let arena = ByteBuffer(capacity: 1 << 14)
    private var functionCells: [Cells?]
    private var dropCells: [UInt64: Cells] = [:]
    private var processCells: [ProcessKey: Cells] = [:]
    private var lastProcess: (key: ProcessKey, cells: Cells)?
    private var interfaceCells: [UInt64: (cells: Cells, retryAt: Int)] = [:]
    private var lastInterface: (key: UInt64, cells: Cells)?
    private var interfaceNames: [UInt64: Range<Int>] = [:]
    private var clockSecond: Int = .min
    private var clockPrefix: [UInt8] = []

    /// For live events: names resolved now (interfaces looked up again while unnamed).
    public convenience init(options: OutputOptions, targets: [TracedTarget], drops: DropReasons, context: EventContext = .init()) {
        self.init(options: options, targets: targets, drops: drops, context: context, interfaces: InterfaceNames(),
                  retryUnnamed: true, bootToWallNs: currentBootToWallNs())
    }

    /// The designated form: every name source given. `retryUnnamed`: look an unnamed
    /// interface up again later (live); off for recorded names (a log). `bootToWallNs`: the
    /// offset that turns kernel time into wall-clock time.
    public init(options: OutputOptions, targets: [TracedTarget], drops: DropReasons, context: EventContext,
                interfaces: InterfaceNames, retryUnnamed: Bool, bootToWallNs: Int64, netns: NetnsNames? = nil) {
        self.netns = netns ?? (options.netnsNames ? NetnsNames() : NetnsNames(recorded: [:]))
        self.options = options
        self.context = context
        self.targets = targets
        self.drops = drops
        self.interfaces = interfaces
        retryUnnamedAfter = retryUnnamed ? 100_000 : .max
        bootToWall = Double(bootToWallNs) / 1e9
        functionCells = Array(repeating: nil, count: targets.count)
    }

    public var header: String? {
        guard !options.json else { return nil }
        var cols = [pad("SKB", 18), pad("CPU", 3), pad("PROCESS", 20)]
        if options.timestamp != .none { cols.insert(pad("TIME", 16), at: 0) }
        if options.meta { cols += [pad("NETNS", 10), pad("MARK/x", 10), pad("IFACE", 14), pad("PROTO", 6), pad("MTU", 5), pad("LEN", 5)] }
        if options.tuple { cols.append(pad("TUPLE", 44)) }
        if options.tunnel { cols.append(pad("INNER", 44)) }
        cols.append("FUNC")
        if options.caller { cols.append("CALLER") }
        return cols.joined(separator: " ")
    }

    public func funcName(_ e: Event) -> String {
        let base = targets.name(of: e.funcId)
        switch e.kind {
        case .drop: return "\(base)(\(drops.name(e.dropReason)))"
        case .prog: return programLabel(base, e)
        case .progExit: return "\(programLabel(base, e))(\(ProgramVerdicts.name(e.dropReason, target: base)))"
        default: return base
        }
    }

    /// A tc program target with the direction it ran in and the device, as the skb says:
    /// `tc/ingress/eth0:prog[id 42]` (the device left out when the event has none).
    func programLabel(_ name: String, _ e: Event) -> String {
        guard name.hasPrefix("tc:") else { return name }
        let direction = e.meta.flags & UInt16(MetaFlag.tcIngress.rawValue) != 0 ? "tc/ingress" : "tc/egress"
        let device = ifname(e)
        return direction + (device.isEmpty ? "" : "/" + device) + ":" + name.dropFirst(3)
    }

    public func ifname(_ e: Event) -> String {
        e.meta.ifindex == 0 ? "" : interfaces.name(netns: e.meta.netns, ifindex: e.meta.ifindex)
    }

    /// One line, without the newline (tests and one-off callers; output paths use `render`).
    public func format(_ e: Event, packet: PacketBytes = .none) -> String {
        scratch.removeAll()
        write(e, packet: packet, to: scratch)
        return scratch.string
    }

    /// Appends one event and a newline. Packet bytes (`--snaplen`) appear in JSON only.
    public func render(_ e: Event, packet: PacketBytes = .none, to out: ByteBuffer) {
        write(e, packet: packet, to: out)
        out.byte(0x0a)
    }

    /// Appends one event, without the newline.
    public func write(_ e: Event, packet: PacketBytes = .none, to out: ByteBuffer) {
        rendered &+= 1
        if options.json { json(e, packet: packet, out) } else { text(e, packet: packet, out) }
    }

    /// The metadata layout of `e`'s area: --output-xdp-metadata's for an XDP program's
    /// events, else --output-skb-metadata's.
    func metadataLayout(_ e: Event) -> SkbMetadata? {
        Int(e.funcId) < targets.count && targets[Int(e.funcId)].isXDPProgram ? options.xdpMetadata : options.skbMetadata
    }

    // MARK: text

    func text(_ e: Event, packet: PacketBytes, _ out: ByteBuffer) {
        let inner = packet.inner
        if options.timestamp != .none {
            let s = out.count
            timestamp(e, out)
            out.pad(from: s, to: 16)
            out.byte(0x20)
        }
        var s = out.count
        out.ascii("0x")
        out.hex(e.skb)
        out.pad(from: s, to: 18)
        out.byte(0x20)
        s = out.count
        out.decimal(e.cpu)
        out.pad(from: s, to: 3)
        out.byte(0x20)
        put(process(e).text, out)
        if options.meta {
            let m = e.meta
            out.byte(0x20)
            s = out.count
            if options.netnsNames, let n = netns.name(m.netns) { out.append(n) } else { out.decimal(m.netns) }
            out.pad(from: s, to: 10)
            out.byte(0x20)
            s = out.count
            out.ascii("0x")
            out.hex(UInt64(m.mark))
            out.pad(from: s, to: 10)
            out.byte(0x20)
            put(interface(e).text, out)
            out.byte(0x20)
            s = out.count
            out.ascii("0x")
            out.hex(UInt64(m.protocol), minDigits: 4)
            out.pad(from: s, to: 6)
            out.byte(0x20)
            s = out.count
            out.decimal(m.mtu)
            out.pad(from: s, to: 5)
            out.byte(0x20)
            s = out.count
            out.decimal(m.len)
            out.pad(from: s, to: 5)
        }
        if options.tuple {
            out.byte(0x20)
            s = out.count
            Self.tuple(e.tuple, flags: options.tcpFlags, to: out)
            out.pad(from: s, to: 44)
        }
        if options.tunnel {
            out.byte(0x20)
            s = out.count
            if let inner { Self.tuple(inner, flags: options.tcpFlags, to: out) } else { out.byte(0x2d) }
            out.pad(from: s, to: 44)
        }
        out.byte(0x20)
        put(function(e).text, out)
        if options.caller {
            out.byte(0x20)
            if e.caller == 0 { out.byte(0x2d) } else { out.append(symbol(e.caller)) }
        }
        if let layout = metadataLayout(e), let values = packet.metadataValues(layout) {
            for (f, v) in zip(layout.fields, values) {
                out.byte(0x20)
                out.append(f.name)
                out.byte(0x3d)
                out.append(v.text)
            }
        }
        if options.stack {
            for frame in context.stack(e.stackId) {
                out.ascii("\n    ")
                out.append(symbol(frame))
            }
        }
        for d in packet.dumps {
            out.ascii("\n    ")
            out.append(d.label)
            out.ascii(": ")
            if let failure = d.failure { out.append(failure) } else { out.append(d.text) }
            if d.isTruncated {
                out.ascii(" …[truncated: ")
                out.decimal(d.text.count)
                out.ascii(" of ")
                out.decimal(Int64(d.length))
                out.ascii(" bytes; --output-skb-size]")
            }
        }
    }

    func timestamp(_ e: Event, _ out: ByteBuffer) {
        switch options.timestamp {
        case .none: return
        case .absolute: out.decimal(e.tsNs)
        case .relative:
            let prev = lastSeen.updateValue(e.tsNs, forKey: e.skb)
            out.decimal(prev.map { e.tsNs &- $0 } ?? 0)
        case .current:
            let t = bootToWall + Double(e.tsNs) / 1e9
            let second = Int(t)
            if second != clockSecond {
                var tt = time_t(t)
                var tmv = tm()
                localtime_r(&tt, &tmv)
                clockPrefix = Array(String(format: "%02d:%02d:%02d.", tmv.tm_hour, tmv.tm_min, tmv.tm_sec).utf8)
                clockSecond = second
            }
            out.append(clockPrefix)
            out.decimal(UInt64(Int((t - Double(Int(t))) * 1e6)), zeroPadTo: 6)
        }
    }

    // MARK: JSON (key order documented in docs/output.md)

    func json(_ e: Event, packet: PacketBytes, _ out: ByteBuffer) {
        out.ascii("{\"type\":\"event\",\"time_ns\":")
        out.decimal(e.tsNs)
        out.ascii(",\"skb\":\"0x")
        out.hex(e.skb)
        out.ascii("\",\"cpu\":")
        out.decimal(e.cpu)
        out.ascii(",\"pid\":")
        out.decimal(e.pid)
        out.ascii(",\"tgid\":")
        out.decimal(e.tgid)
        out.ascii(",\"process\":")
        put(process(e).json, out)
        out.ascii(",\"func\":")
        put(function(e).json, out)
        out.ascii(",\"func_kind\":\"")
        if Int(e.funcId) < targets.count {
            switch targets[Int(e.funcId)].kind {
            case .function: out.ascii("function")
            case .tracepoint: out.ascii("tracepoint")
            case .bpfProgram: out.ascii("bpf_program")
            }
        } else { out.ascii("unknown") }
        out.byte(0x22)
        if e.kind == .drop {
            out.ascii(",\"drop_reason\":")
            out.jsonString(drops.name(e.dropReason))
            out.ascii(",\"drop_reason_value\":")
            out.decimal(e.dropReason)
        }
        if e.kind == .progExit {
            out.ascii(",\"verdict\":")
            out.jsonString(ProgramVerdicts.name(e.dropReason, target: targets.name(of: e.funcId)))
            out.ascii(",\"verdict_value\":")
            out.decimal(Int64(Int32(bitPattern: e.dropReason)))
        }
        let m = e.meta
        out.ascii(",\"netns\":")
        out.decimal(m.netns)
        if options.netnsNames, let n = netns.name(m.netns) {
            out.ascii(",\"netns_name\":")
            out.jsonString(n)
        }
        out.ascii(",\"mark\":")
        out.decimal(m.mark)
        out.ascii(",\"ifindex\":")
        out.decimal(m.ifindex)
        out.ascii(",\"iface\":")
        if m.ifindex == 0 { out.ascii("\"\"") } else { put(interface(e).json, out) }
        out.ascii(",\"protocol\":")
        out.decimal(m.protocol)
        out.ascii(",\"mtu\":")
        out.decimal(m.mtu)
        out.ascii(",\"len\":")
        out.decimal(m.len)
        jsonTuple(",\"tuple\":", e.tuple, out)
        if let inner = packet.inner { jsonTuple(",\"inner\":", inner, out) }
        if let layout = metadataLayout(e), let values = packet.metadataValues(layout) {
            out.ascii(",\"metadata\":{")
            for (i, (f, v)) in zip(layout.fields, values).enumerated() {
                if i > 0 { out.byte(0x2c) }
                out.jsonString(f.name)
                out.byte(0x3a)
                switch v {
                case .number(let n): out.decimal(n)
                case .signed(let n): out.decimal(n)
                case .named(let name, _): out.jsonString(name)
                case .pointer: out.jsonString(v.text)
                case .string(let s): out.jsonString(s)
                case .words(let w):
                    out.byte(0x5b)
                    for (j, x) in w.enumerated() {
                        if j > 0 { out.byte(0x2c) }
                        out.decimal(x)
                    }
                    out.byte(0x5d)
                case .unreadable: out.ascii("null")
                }
            }
            out.byte(0x7d)
        }
        for d in packet.dumps {
            out.ascii(",\"")
            out.append(d.label)
            out.ascii("_dump\":")
            if d.failure != nil { out.ascii("null") } else { out.jsonString(d.text) }
            out.ascii(",\"")
            out.append(d.label)
            out.ascii("_dump_len\":")
            out.decimal(Int64(d.length))
        }
        if e.stackId >= 0 {
            out.ascii(",\"stack_id\":")
            out.decimal(e.stackId)
            if options.stack {
                out.ascii(",\"stack\":[")
                for (i, frame) in context.stack(e.stackId).enumerated() {
                    if i > 0 { out.byte(0x2c) }
                    out.jsonString(symbol(frame))
                }
                out.byte(0x5d)
            }
        }
        if options.caller, e.caller != 0 {
            out.ascii(",\"caller\":")
            out.jsonString(symbol(e.caller))
        }
        if !packet.isEmpty {
            out.ascii(",\"packet\":{\"link\":\"")
            out.ascii(packet.link == .ethernet ? "ethernet" : "raw")
            out.ascii("\",\"wire_len\":")
            out.decimal(packet.wireLength)
            out.ascii(",\"hex\":\"")
            out.hexBytes(packet.bytes)
            out.ascii("\"}")
        }
        out.byte(0x7d)
    }

    // MARK: cached cells

    /// A name rendered for the text column (padded) and as a JSON string, in `arena`.
    struct Cells {
        let text: Range<Int>
        let json: Range<Int>
    }

    private func store(text: String, json: String) -> Cells {
        let t = arena.count
        arena.append(text)
        let j = arena.count
        arena.jsonString(json)
        return Cells(text: t..<j, json: j..<arena.count)
    }

    @inline(__always) func put(_ r: Range<Int>, _ out: ByteBuffer) {
        out.append(UnsafeRawBufferPointer(rebasing: arena.bytes[r]))
    }

    struct ProcessKey: Hashable {
        let tgid: UInt32
        let comm0: UInt64, comm1: UInt64
    }

    /// `[comm(tgid)]` padded to 20 characters, and `comm` as a JSON string.
    private func process(_ e: Event) -> Cells {
        let words = withUnsafeBytes(of: e.comm) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        let key = ProcessKey(tgid: e.tgid, comm0: words.0, comm1: words.1)
        if let l = lastProcess, l.key == key { return l.cells }
        let cells: Cells
        if let c = processCells[key] {
            cells = c
        } else {
            if processCells.count >= 1 << 16 { resetArena() }
            let comm = e.commString
            cells = store(text: pad("[\(comm)(\(e.tgid))]", 20), json: comm)
            processCells[key] = cells
        }
        lastProcess = (key, cells)
        return cells
    }

    /// `name:ifindex` padded to 14 characters (empty for no device), and the name as JSON.
    private func interface(_ e: Event) -> Cells {
        let key = UInt64(e.meta.netns) << 32 | UInt64(e.meta.ifindex)
        if let l = lastInterface, l.key == key { return l.cells }
        if let c = interfaceCells[key], c.retryAt > rendered {
            lastInterface = (key, c.cells)
            return c.cells
        }
        if interfaceCells.count >= 1 << 16 { resetArena() }
        let name = ifname(e)
        let cells = store(text: pad(e.meta.ifindex == 0 ? "" : "\(name):\(e.meta.ifindex)", 14), json: name)
        // Live, an interface not found yet may appear: look again after a while.
        let unnamed = e.meta.ifindex != 0 && name == "if\(e.meta.ifindex)"
        let retry = unnamed && retryUnnamedAfter < .max ? rendered + retryUnnamedAfter : .max
        interfaceCells[key] = (cells, retry)
        lastInterface = retry == .max ? (key, cells) : nil
        return cells
    }

    /// The bare interface name (empty for no device), in `arena`.
    func interfaceName(_ e: Event) -> Range<Int> {
        let key = UInt64(e.meta.netns) << 32 | UInt64(e.meta.ifindex)
        if let r = interfaceNames[key] { return r }
        if interfaceNames.count >= 1 << 16 { resetArena() }
        let start = arena.count
        arena.append(ifname(e))
        interfaceNames[key] = start..<arena.count
        return start..<arena.count
    }

    /// The function, with `(REASON)` for drops.
    func function(_ e: Event) -> Cells {
        let id = Int(e.funcId)
        if e.kind == .func, id < functionCells.count, let c = functionCells[id] { return c }
        if e.kind == .prog || e.kind == .progExit { return programFunction(e) }
        // Drops and program events: keyed by reason or verdict, kind and direction too.
        let flags = UInt64(e.meta.flags & 1) << 27
        let key = UInt64(e.dropReason) << 32 | UInt64(e.kind.rawValue & 0x7) << 28 | flags | UInt64(e.funcId & 0x7ff_ffff)
        if let c = dropCells[key] { return c }
        if dropCells.count >= 1 << 16 { resetArena() }
        let name = funcName(e)
        let c = store(text: name, json: name)
        if e.kind == .func, id < functionCells.count { functionCells[id] = c } else { dropCells[key] = c }
        return c
    }

    /// Program events' names depend on direction, device and verdict too.
    private struct ProgramKey: Hashable { let funcId: UInt32, kind: UInt32, flags: UInt16, verdict: UInt32, netns: UInt32, ifindex: UInt32 }
    private var programCells: [ProgramKey: Cells] = [:]

    private func programFunction(_ e: Event) -> Cells {
        let key = ProgramKey(funcId: e.funcId, kind: e.kind.rawValue, flags: e.meta.flags & 1,
                             verdict: e.kind == .progExit ? e.dropReason : 0, netns: e.meta.netns, ifindex: e.meta.ifindex)
        if let c = programCells[key] { return c }
        if programCells.count >= 1 << 16 { resetArena() }
        let name = funcName(e)
        let c = store(text: name, json: name)
        programCells[key] = c
        return c
    }

    /// Bounds the caches (a stream of ever new processes or interfaces).
    private func resetArena() {
        arena.removeAll()
        functionCells = Array(repeating: nil, count: targets.count)
        dropCells.removeAll()
        programCells.removeAll()
        processCells.removeAll()
        interfaceCells.removeAll()
        interfaceNames.removeAll()
        lastProcess = nil
        lastInterface = nil
    }

    func symbol(_ address: UInt64) -> String {
        context.symbols?.describe(address) ?? "0x" + String(address, radix: 16)
    }

    // MARK: tuples

    static let l4Names: [UInt8: String] = [1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6", 132: "sctp"]
    static let l4Bytes: [[UInt8]] = (0...255).map { Array((l4Names[UInt8($0)] ?? String($0)).utf8) }
    static let flagBytes: [[UInt8]] = (0...255).map { Array(tcpFlagNames(UInt8($0)).utf8) }

    static func address(_ bytes: InlineArray<16, UInt8>, v6: Bool, to out: ByteBuffer) {
        if !v6 {
            for i in 0..<4 {
                if i > 0 { out.byte(0x2e) }
                out.decimal(bytes[i])
            }
            return
        }
        withUnsafeBytes(of: bytes) { raw in
            var buf = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0)) // ≥ INET6_ADDRSTRLEN
            withUnsafeMutableBytes(of: &buf) { b in
                let p = b.baseAddress!.assumingMemoryBound(to: CChar.self)
                guard inet_ntop(AF_INET6, raw.baseAddress, p, socklen_t(b.count)) != nil else { return }
                out.append(UnsafeRawBufferPointer(start: p, count: strlen(p)))
            }
        }
    }

    /// `saddr:sport->daddr:dport(proto)`, IPv6 in brackets, as pwru prints it; nothing for
    /// packets that are neither IPv4 nor IPv6.
    /// `key` then the tuple as a JSON object, for IPv4/IPv6 only.
    func jsonTuple(_ key: StaticString, _ t: Tuple, _ out: ByteBuffer) {
        guard t.l3Proto == 0x0800 || t.l3Proto == 0x86DD else { return }
        let v6 = t.l3Proto == 0x86DD
        out.ascii(key)
        out.ascii("{\"saddr\":\"")
        Self.address(t.saddr, v6: v6, to: out)
        out.ascii("\",\"sport\":")
        out.decimal(t.sport)
        out.ascii(",\"daddr\":\"")
        Self.address(t.daddr, v6: v6, to: out)
        out.ascii("\",\"dport\":")
        out.decimal(t.dport)
        out.ascii(",\"l4_proto\":\"")
        out.append(Self.l4Bytes[Int(t.l4Proto)])
        out.ascii("\",\"tcp_flags\":\"")
        out.append(Self.flagBytes[Int(t.tcpFlags)])
        out.ascii("\"")
        // What matches a packet across hosts: the IPv4 ID, TCP's seq and ack (none elsewhere).
        if !v6 {
            out.ascii(",\"ip_id\":")
            out.decimal(t.ipId)
        }
        if t.l4Proto == 6 {
            out.ascii(",\"seq\":")
            out.decimal(t.seq)
            out.ascii(",\"ack\":")
            out.decimal(t.ack)
        }
        out.ascii("}")
    }

    static func tuple(_ t: Tuple, flags: Bool, to out: ByteBuffer) {
        guard t.l3Proto == 0x0800 || t.l3Proto == 0x86DD else { return }
        let v6 = t.l3Proto == 0x86DD
        if v6 { out.byte(0x5b) }
        address(t.saddr, v6: v6, to: out)
        out.ascii(v6 ? "]:" : ":")
        out.decimal(t.sport)
        out.ascii("->")
        if v6 { out.byte(0x5b) }
        address(t.daddr, v6: v6, to: out)
        out.ascii(v6 ? "]:" : ":")
        out.decimal(t.dport)
        out.byte(0x28)
        out.append(l4Bytes[Int(t.l4Proto)])
        out.byte(0x29)
        if flags, t.l4Proto == 6 {
            out.byte(0x3a)
            out.append(flagBytes[Int(t.tcpFlags)])
        }
    }

    public static func tuple(_ t: Tuple, flags: Bool = false) -> String {
        let b = ByteBuffer(capacity: 128)
        tuple(t, flags: flags, to: b)
        return b.string
    }

    public static func tcpFlagNames(_ f: UInt8) -> String {
        let names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
        let set = names.indices.filter { f & (1 << $0) != 0 }.map { names[$0] }
        return set.isEmpty ? "-" : set.joined(separator: "|")
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
