import Foundation

/// A capture log as Parquet (docs/fleet.md has the schema): one row per event, in time order,
/// each field in a typed column, the capture's facts as key/value metadata. Rows pass
/// through a reorder window (the log holds CPUs' events interleaved in bursts) and get the
/// id of the journey they belong to, so memory stays constant whatever the log's size.
public final class LogParquetExport {
    /// Columns, in file order. Unsigned kernel values keep their width (UINT8 … UINT64).
    enum Column: Int, CaseIterable {
        case host, tsNs, wallNs, skb, journey, func_, target, funcKind, kind, dropReason, verdict, cpu, pid, tgid, process
        case netns, mark, ifindex, iface, protocol_, mtu, len
        case saddr, daddr, saddrStr, daddrStr, sport, dport, l4Proto, tcpFlags, ipId, seq, ack
        case innerSaddr, innerDaddr, innerSport, innerDport, innerL4Proto
        case packetLink, packetWireLen, packet
    }

    static func makeColumns() -> [ParquetColumn] {
        Column.allCases.map { c -> ParquetColumn in
            switch c {
            case .host: ParquetColumn("host", .byteArray, .string)
            case .tsNs: ParquetColumn("ts_ns", .int64)
            case .wallNs: ParquetColumn("wall_ns", .int64, .timestampNanosUTC)
            case .skb: ParquetColumn("skb", .int64, .unsigned(bits: 64))
            case .journey: ParquetColumn("journey", .int64)
            case .func_: ParquetColumn("func", .byteArray, .string)
            case .target: ParquetColumn("target", .byteArray, .string)
            case .funcKind: ParquetColumn("func_kind", .byteArray, .string)
            case .kind: ParquetColumn("kind", .byteArray, .string)
            case .dropReason: ParquetColumn("drop_reason", .byteArray, .string, optional: true)
            case .verdict: ParquetColumn("verdict", .byteArray, .string, optional: true)
            case .cpu: ParquetColumn("cpu", .int32, .unsigned(bits: 32))
            case .pid: ParquetColumn("pid", .int32, .unsigned(bits: 32))
            case .tgid: ParquetColumn("tgid", .int32, .unsigned(bits: 32))
            case .process: ParquetColumn("process", .byteArray, .string)
            case .netns: ParquetColumn("netns", .int32, .unsigned(bits: 32))
            case .mark: ParquetColumn("mark", .int32, .unsigned(bits: 32))
            case .ifindex: ParquetColumn("ifindex", .int32, .unsigned(bits: 32))
            case .iface: ParquetColumn("iface", .byteArray, .string, optional: true)
            case .protocol_: ParquetColumn("protocol", .int32, .unsigned(bits: 16))
            case .mtu: ParquetColumn("mtu", .int32, .unsigned(bits: 32))
            case .len: ParquetColumn("len", .int32, .unsigned(bits: 32))
            case .saddr: ParquetColumn("saddr", .fixedLenByteArray, optional: true, length: 16)
            case .daddr: ParquetColumn("daddr", .fixedLenByteArray, optional: true, length: 16)
            case .saddrStr: ParquetColumn("saddr_str", .byteArray, .string, optional: true)
            case .daddrStr: ParquetColumn("daddr_str", .byteArray, .string, optional: true)
            case .sport: ParquetColumn("sport", .int32, .unsigned(bits: 16), optional: true)
            case .dport: ParquetColumn("dport", .int32, .unsigned(bits: 16), optional: true)
            case .l4Proto: ParquetColumn("l4_proto", .byteArray, .string, optional: true)
            case .tcpFlags: ParquetColumn("tcp_flags", .int32, .unsigned(bits: 8), optional: true)
            case .ipId: ParquetColumn("ip_id", .int32, .unsigned(bits: 16), optional: true)
            case .seq: ParquetColumn("seq", .int32, .unsigned(bits: 32), optional: true)
            case .ack: ParquetColumn("ack", .int32, .unsigned(bits: 32), optional: true)
            case .innerSaddr: ParquetColumn("inner_saddr_str", .byteArray, .string, optional: true)
            case .innerDaddr: ParquetColumn("inner_daddr_str", .byteArray, .string, optional: true)
            case .innerSport: ParquetColumn("inner_sport", .int32, .unsigned(bits: 16), optional: true)
            case .innerDport: ParquetColumn("inner_dport", .int32, .unsigned(bits: 16), optional: true)
            case .innerL4Proto: ParquetColumn("inner_l4_proto", .byteArray, .string, optional: true)
            case .packetLink: ParquetColumn("packet_link", .byteArray, .string, optional: true)
            case .packetWireLen: ParquetColumn("packet_wire_len", .int32, .unsigned(bits: 32), optional: true)
            case .packet: ParquetColumn("packet", .byteArray, optional: true)
            }
        }
    }

    /// One event waiting in the reorder window, with copies of what its record carried.
    struct Row: TimeOrdered {
        var event: Event
        var inner: Tuple?
        var packet: [UInt8]?
        var link: Link
        var wireLength: UInt32
        var tsNs: UInt64 { event.tsNs }
    }

    private let writer: ParquetWriter
    private let columns: [ParquetColumn]
    private let formatter: EventFormatter
    private let header: LogHeader
    private let host: [UInt8]
    private var reorder = ReorderWindow<Row>(windowNs: 50_000_000, maxBuffered: 1 << 16)
    private let tagger: JourneyTagger
    private var names: [NameKey: [UInt8]] = [:]
    private var processes: [ProcessKey: [UInt8]] = [:]
    private var interfaces: [UInt64: [UInt8]] = [:]
    private let scratch = ByteBuffer(capacity: 64)
    private var failure: ParquetWriter.Failure?
    public private(set) var rows = 0

    private struct NameKey: Hashable { let funcId: UInt32, kind: UInt32, reason: UInt32, flags: UInt16, netns: UInt32, ifindex: UInt32 }
    private struct ProcessKey: Hashable { let comm0: UInt64, comm1: UInt64 }

    /// `write` takes the file's bytes in order; `hostName` overrides the capture's.
    public init(log: LogReader, hostName: String? = nil, rowGroupRows: Int = 1 << 17,
                write: @escaping ([UInt8]) -> Bool) {
        header = log.header
        let name = hostName ?? log.header.hostname
        host = Array(name.utf8)
        formatter = EventFormatter(options: { var o = OutputOptions(); o.json = true; return o }(), log: log)
        let targets = log.header.targets
        tagger = JourneyTagger { targets.name(of: $0) }
        columns = Self.makeColumns()
        writer = ParquetWriter(columns: columns, metadata: Self.metadata(log, host: name),
                               createdBy: "fasttrace version \(FastTraceVersion.string)", rowGroupRows: rowGroupRows, write: write)
    }

    /// The capture's facts, for engines to read without the log (docs/fleet.md).
    static func metadata(_ log: LogReader, host: String) -> [(String, String)] {
        let h = log.header, t = log.trailer
        var m: [(String, String)] = [
            ("fasttrace.schema", "1"),
            ("fasttrace.host", host),
            ("fasttrace.kernel_release", h.kernelRelease),
            ("fasttrace.backend", h.backend),
            ("fasttrace.cpus", String(h.cpus)),
            ("fasttrace.log_format", String(h.formatVersion)),
            ("fasttrace.arguments", h.arguments.joined(separator: " ")),
            ("fasttrace.started_at", ISO8601DateFormatter().string(from: h.startedAt)),
            ("fasttrace.boot_to_wall_ns", String(h.bootToWallNs)),
        ]
        if let f = h.filter { m.append(("fasttrace.filter", f)) }
        if let c = h.clockSync {
            m += [("fasttrace.clock_synchronised", String(c.synchronised)), ("fasttrace.clock_max_error_us", String(c.maxErrorUs)),
                  ("fasttrace.clock_est_error_us", String(c.estErrorUs))]
        }
        if let t {
            m += [("fasttrace.events", String(t.events)), ("fasttrace.lost", String(t.lostPerCPU.reduce(0, +))),
                  ("fasttrace.writer_dropped", String(t.writerDropped)),
                  ("fasttrace.ended_at", ISO8601DateFormatter().string(from: t.endedAt))]
            if let b = t.bootToWallEndNs { m.append(("fasttrace.boot_to_wall_end_ns", String(b))) }
        } else {
            m.append(("fasttrace.complete", "false")) // no trailer: the capture did not stop cleanly
        }
        return m
    }

    /// Adds one event (rows leave the reorder window in time order).
    public func add(_ e: Event, _ p: PacketBytes) {
        let row = Row(event: e, inner: p.inner, packet: p.isEmpty ? nil : p.copiedBytes, link: p.link, wireLength: p.wireLength)
        reorder.add(row, cpu: e.cpu) { write($0) }
    }

    /// Writes what the window still holds, the last row group and the footer.
    public func finish() throws(ParquetWriter.Failure) {
        reorder.drain { write($0) }
        if let failure { throw failure }
        try writer.finish()
    }

    private func write(_ r: Row) {
        guard failure == nil else { return }
        let e = r.event
        let c = columns
        c[Column.host.rawValue].append(utf8: host)
        c[Column.tsNs.rawValue].append(int64: Int64(bitPattern: e.tsNs))
        c[Column.wallNs.rawValue].append(int64: Int64(bitPattern: e.tsNs) &+ header.bootToWallNs)
        c[Column.skb.rawValue].append(uint64: e.skb)
        c[Column.journey.rawValue].append(int64: Int64(bitPattern: tagger.tag(e)))
        c[Column.func_.rawValue].append(utf8: functionName(e))
        c[Column.target.rawValue].append(utf8: targetName(e.funcId))
        c[Column.funcKind.rawValue].append(utf8: funcKind(e.funcId))
        c[Column.kind.rawValue].append(utf8: Self.kindNames[Int(min(e.kind.rawValue, 5))])
        if e.kind == .drop { c[Column.dropReason.rawValue].append(utf8: reasonName(e.dropReason)) } else { c[Column.dropReason.rawValue].appendNull() }
        if e.kind == .progExit {
            c[Column.verdict.rawValue].append(string: ProgramVerdicts.name(e.dropReason, target: header.targets.name(of: e.funcId)))
        } else { c[Column.verdict.rawValue].appendNull() }
        c[Column.cpu.rawValue].append(uint32: e.cpu)
        c[Column.pid.rawValue].append(uint32: e.pid)
        c[Column.tgid.rawValue].append(uint32: e.tgid)
        c[Column.process.rawValue].append(utf8: process(e))
        let m = e.meta
        c[Column.netns.rawValue].append(uint32: m.netns)
        c[Column.mark.rawValue].append(uint32: m.mark)
        c[Column.ifindex.rawValue].append(uint32: m.ifindex)
        if m.ifindex == 0 { c[Column.iface.rawValue].appendNull() } else { c[Column.iface.rawValue].append(utf8: interface(e)) }
        c[Column.protocol_.rawValue].append(uint32: UInt32(m.protocol))
        c[Column.mtu.rawValue].append(uint32: m.mtu)
        c[Column.len.rawValue].append(uint32: m.len)
        outer(e.tuple)
        inner(r.inner)
        if let bytes = r.packet {
            c[Column.packetLink.rawValue].append(utf8: r.link == .ethernet ? Self.ethernet : Self.raw)
            c[Column.packetWireLen.rawValue].append(uint32: r.wireLength)
            c[Column.packet.rawValue].append(utf8: bytes)
        } else {
            for k in [Column.packetLink, .packetWireLen, .packet] { c[k.rawValue].appendNull() }
        }
        rows += 1
        do { try writer.endRow() } catch { failure = error }
    }

    static let kindNames: [[UInt8]] = ["func", "drop", "loss", "prog", "prog_exit", "unknown"].map { Array($0.utf8) }
    static let ethernet = Array("ethernet".utf8), raw = Array("raw".utf8)

    private func outer(_ t: Tuple) {
        let c = columns
        let v4 = t.l3Proto == 0x0800, v6 = t.l3Proto == 0x86DD
        guard v4 || v6 else {
            for k in [Column.saddr, .daddr, .saddrStr, .daddrStr, .sport, .dport, .l4Proto, .tcpFlags, .ipId, .seq, .ack] {
                c[k.rawValue].appendNull()
            }
            return
        }
        Self.mapped(t.saddr, v6: v6) { c[Column.saddr.rawValue].append(bytes: $0) }
        Self.mapped(t.daddr, v6: v6) { c[Column.daddr.rawValue].append(bytes: $0) }
        c[Column.saddrStr.rawValue].append(utf8: address(t.saddr, v6: v6))
        c[Column.daddrStr.rawValue].append(utf8: address(t.daddr, v6: v6))
        c[Column.sport.rawValue].append(uint32: UInt32(t.sport))
        c[Column.dport.rawValue].append(uint32: UInt32(t.dport))
        c[Column.l4Proto.rawValue].append(utf8: EventFormatter.l4Bytes[Int(t.l4Proto)])
        c[Column.tcpFlags.rawValue].append(uint32: UInt32(t.tcpFlags))
        if v4 { c[Column.ipId.rawValue].append(uint32: UInt32(t.ipId)) } else { c[Column.ipId.rawValue].appendNull() }
        if t.l4Proto == 6 {
            c[Column.seq.rawValue].append(uint32: t.seq)
            c[Column.ack.rawValue].append(uint32: t.ack)
        } else {
            c[Column.seq.rawValue].appendNull()
            c[Column.ack.rawValue].appendNull()
        }
    }

    private func inner(_ t: Tuple?) {
        let c = columns
        guard let t, t.l3Proto == 0x0800 || t.l3Proto == 0x86DD else {
            for k in [Column.innerSaddr, .innerDaddr, .innerSport, .innerDport, .innerL4Proto] { c[k.rawValue].appendNull() }
            return
        }
        let v6 = t.l3Proto == 0x86DD
        c[Column.innerSaddr.rawValue].append(utf8: address(t.saddr, v6: v6))
        c[Column.innerDaddr.rawValue].append(utf8: address(t.daddr, v6: v6))
        c[Column.innerSport.rawValue].append(uint32: UInt32(t.sport))
        c[Column.innerDport.rawValue].append(uint32: UInt32(t.dport))
        c[Column.innerL4Proto.rawValue].append(utf8: EventFormatter.l4Bytes[Int(t.l4Proto)])
    }

    /// 16 bytes: IPv6 as is, IPv4 mapped (::ffff:a.b.c.d), so one column holds both.
    static func mapped(_ a: InlineArray<16, UInt8>, v6: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        var out = InlineArray<16, UInt8>(repeating: 0)
        if v6 {
            out = a
        } else {
            out[10] = 0xff
            out[11] = 0xff
            for i in 0..<4 { out[12 + i] = a[i] }
        }
        withUnsafeBytes(of: out) { body($0) }
    }

    private func address(_ a: InlineArray<16, UInt8>, v6: Bool) -> [UInt8] {
        scratch.removeAll()
        EventFormatter.address(a, v6: v6, to: scratch)
        return Array(scratch.bytes)
    }

    // MARK: names, cached (the formatter's, so that they equal `read --output-json`'s)

    private var targetNames: [[UInt8]?] = []
    private func targetName(_ id: UInt32) -> [UInt8] {
        let i = Int(id)
        if i < 1 << 20 {
            if i >= targetNames.count { targetNames += Array(repeating: nil, count: i + 1 - targetNames.count) }
            if let n = targetNames[i] { return n }
            let n = Array(header.targets.name(of: id).utf8)
            targetNames[i] = n
            return n
        }
        return Array(header.targets.name(of: id).utf8)
    }

    private func funcKind(_ id: UInt32) -> [UInt8] {
        guard Int(id) < header.targets.count else { return Self.unknown }
        switch header.targets[Int(id)].kind {
        case .function: return Self.function
        case .tracepoint: return Self.tracepoint
        case .bpfProgram: return Self.bpfProgram
        }
    }
    static let unknown = Array("unknown".utf8), function = Array("function".utf8), tracepoint = Array("tracepoint".utf8)
    static let bpfProgram = Array("bpf_program".utf8)

    private func functionName(_ e: Event) -> [UInt8] {
        if e.kind == .func { return targetName(e.funcId) }
        let key = NameKey(funcId: e.funcId, kind: e.kind.rawValue, reason: e.dropReason, flags: e.meta.flags & 1,
                          netns: e.kind == .prog || e.kind == .progExit ? e.meta.netns : 0,
                          ifindex: e.kind == .prog || e.kind == .progExit ? e.meta.ifindex : 0)
        if let n = names[key] { return n }
        if names.count >= 1 << 16 { names.removeAll() }
        let n = Array(formatter.funcName(e).utf8)
        names[key] = n
        return n
    }

    private var reasons: [UInt32: [UInt8]] = [:]
    private func reasonName(_ r: UInt32) -> [UInt8] {
        if let n = reasons[r] { return n }
        if reasons.count >= 1 << 16 { reasons.removeAll() }
        let n = Array(header.drops.name(r).utf8)
        reasons[r] = n
        return n
    }

    private func process(_ e: Event) -> [UInt8] {
        let words = withUnsafeBytes(of: e.comm) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        let key = ProcessKey(comm0: words.0, comm1: words.1)
        if let n = processes[key] { return n }
        if processes.count >= 1 << 16 { processes.removeAll() }
        let n = Array(e.commString.utf8)
        processes[key] = n
        return n
    }

    private func interface(_ e: Event) -> [UInt8] {
        let key = UInt64(e.meta.netns) << 32 | UInt64(e.meta.ifindex)
        if let n = interfaces[key] { return n }
        if interfaces.count >= 1 << 16 { interfaces.removeAll() }
        let n = Array(formatter.ifname(e).utf8)
        interfaces[key] = n
        return n
    }
}
