import Foundation

/// A capture log as Parquet (docs/fleet.md has the schema): one row per event, in time order,
/// each field in a typed column, the capture's facts as key/value metadata. Rows pass
/// through a reorder window (the log holds CPUs' events interleaved in bursts) and get the
/// id of the journey they belong to, so memory stays constant whatever the log's size.
///
/// Two threads: the caller's decodes, reorders and tags rows and hands them over in batches;
/// a worker fills the columns, compresses and writes. The caller's thread touches `reorder`,
/// `slots`, `tagger` and `batch`; the worker everything that names or writes (caches,
/// `columns`, `writer`), until `finish()` has joined it.
public final class LogParquetExport: @unchecked Sendable {
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

    /// One event between the log and its row, with copies of what its record carried.
    struct Row {
        var event: Event
        var inner: Tuple?
        var packet: [UInt8]?
        var link: Link
        var wireLength: UInt32
        var journey: UInt64 = 0
    }

    /// What the reorder window moves around: a row's time and its slot in `slots`, so that
    /// sorting copies 16 bytes, not the row.
    struct Pending: TimeOrdered {
        let tsNs: UInt64
        let slot: Int32
    }

    private let writer: ParquetWriter
    private let columns: [ParquetColumn]
    private let formatter: EventFormatter
    private let header: LogHeader
    private let host: [UInt8]
    private var reorder = ReorderWindow<Pending>(windowNs: 50_000_000, maxBuffered: 1 << 16)
    /// Rows waiting in the window or in the batch, and the free slots among them.
    private var slots: [Row] = []
    private var freeSlots: [Int32] = []
    private let tagger: JourneyTagger
    private var names = NameCache<NameKey>()
    private var reasons = NameCache<UInt32>()
    private var processes = NameCache<ProcessKey>()
    private var interfaces = NameCache<UInt64>()
    private let scratch = ByteBuffer(capacity: 64)
    private var failure: ParquetWriter.Failure?
    /// Rows written (read it after `finish()`).
    public private(set) var rows = 0

    private struct NameKey: Hashable { let funcId: UInt32, kind: UInt32, reason: UInt32, flags: UInt16, netns: UInt32, ifindex: UInt32 }
    private struct ProcessKey: Hashable { let comm0: UInt64, comm1: UInt64 }

    /// `write` takes the file's bytes in order; `hostName` overrides the capture's.
    public init(log: LogReader, hostName: String? = nil, rowGroupRows: Int = 1 << 16,
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
        batch.reserveCapacity(Self.batchSize)
        startWriting()
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
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(free)] = row
        } else {
            slot = Int32(slots.count)
            slots.append(row)
        }
        reorder.add(Pending(tsNs: e.tsNs, slot: slot), cpu: e.cpu) { take($0.slot) }
    }

    /// Writes what the window still holds, the last row group and the footer.
    public func finish() throws(ParquetWriter.Failure) {
        reorder.drain { take($0.slot) }
        handOver()
        queue.close()
        workerDone.wait()
        if let failure { throw failure }
        try writer.finish()
    }

    /// Rows go to the worker a batch at a time, and are written column by column: each
    /// column's loop stays in its own buffer.
    static let batchSize = 4096
    private var batch: [Row] = []
    private let queue = BoundedQueue<[Row]>(capacity: 8)
    private let workerDone = DispatchSemaphore(value: 0)

    private func take(_ slot: Int32) {
        var row = slots[Int(slot)]
        slots[Int(slot)].packet = nil // the bytes go with the row
        freeSlots.append(slot)
        row.journey = tagger.tag(row.event)
        batch.append(row)
        if batch.count >= Self.batchSize { handOver() }
    }

    /// Emptied batches, back from the worker: reused, so that the two threads do not
    /// allocate and free a megabyte a batch across malloc arenas (which grows the heap).
    private var spares: [[Row]] = []
    private let sparesLock = NSLock()

    private func handOver() {
        guard !batch.isEmpty else { return }
        _ = queue.put(batch)
        batch = sparesLock.withLock { spares.popLast() } ?? []
        batch.reserveCapacity(Self.batchSize)
    }

    private func startWriting() {
        startWorker { [self] in
            while var rows = queue.take() {
                if failure == nil { // else drain, so that the reader never waits forever
                    rows.withUnsafeBufferPointer { all in
                        for column in Column.allCases { fill(column, columns[column.rawValue], RowPointers(all: all)) }
                    }
                    self.rows += rows.count
                    do throws(ParquetWriter.Failure) { try writer.endRows(rows.count) } catch { failure = error }
                }
                rows.removeAll(keepingCapacity: true)
                sparesLock.withLock { spares.append(rows) }
            }
            workerDone.signal()
        }
    }

    /// A batch's rows, read in place.
    struct RowPointers: Sequence {
        let all: UnsafeBufferPointer<Row>
        struct Iterator: IteratorProtocol {
            let all: UnsafeBufferPointer<Row>
            var i = 0
            /// A pointer, not a copy: each column reads a field or two of a large row.
            @inline(__always) mutating func next() -> UnsafePointer<Row>? {
                guard i < all.count else { return nil }
                defer { i += 1 }
                return all.baseAddress! + i
            }
        }
        func makeIterator() -> Iterator { Iterator(all: all) }
    }

    private func fill(_ column: Column, _ c: ParquetColumn, _ rows: RowPointers) {
        switch column {
        case .host: host.withUnsafeBytes { h in for _ in rows { c.append(bytes: h) } }
        case .tsNs: for r in rows { c.append(int64: Int64(bitPattern: r.pointee.event.tsNs)) }
        case .wallNs: for r in rows { c.append(int64: Int64(bitPattern: r.pointee.event.tsNs) &+ header.bootToWallNs) }
        case .skb: for r in rows { c.append(uint64: r.pointee.event.skb) }
        case .journey: for r in rows { c.append(int64: Int64(bitPattern: r.pointee.journey)) }
        case .func_: for r in rows { c.append(utf8: functionName(r.pointee.event)) }
        case .target: for r in rows { c.append(utf8: targetName(r.pointee.event.funcId)) }
        case .funcKind: for r in rows { c.append(utf8: funcKind(r.pointee.event.funcId)) }
        case .kind: for r in rows { c.append(utf8: Self.kindNames[Int(min(r.pointee.event.kind.rawValue, 5))]) }
        case .dropReason:
            for r in rows { if r.pointee.event.kind == .drop { c.append(utf8: reasonName(r.pointee.event.dropReason)) } else { c.appendNull() } }
        case .verdict:
            for r in rows {
                let e = r.pointee.event
                if e.kind == .progExit { c.append(string: ProgramVerdicts.name(e.dropReason, target: header.targets.name(of: e.funcId))) } else { c.appendNull() }
            }
        case .cpu: for r in rows { c.append(uint32: r.pointee.event.cpu) }
        case .pid: for r in rows { c.append(uint32: r.pointee.event.pid) }
        case .tgid: for r in rows { c.append(uint32: r.pointee.event.tgid) }
        case .process: for r in rows { c.append(utf8: process(r.pointee.event)) }
        case .netns: for r in rows { c.append(uint32: r.pointee.event.meta.netns) }
        case .mark: for r in rows { c.append(uint32: r.pointee.event.meta.mark) }
        case .ifindex: for r in rows { c.append(uint32: r.pointee.event.meta.ifindex) }
        case .iface: for r in rows { if r.pointee.event.meta.ifindex == 0 { c.appendNull() } else { c.append(utf8: interface(r.pointee.event)) } }
        case .protocol_: for r in rows { c.append(uint32: UInt32(r.pointee.event.meta.protocol)) }
        case .mtu: for r in rows { c.append(uint32: r.pointee.event.meta.mtu) }
        case .len: for r in rows { c.append(uint32: r.pointee.event.meta.len) }
        case .saddr, .daddr:
            for r in rows {
                let t = r.pointee.event.tuple
                guard let v6 = Self.ipVersion6(t) else { c.appendNull(); continue }
                Self.mapped(column == .saddr ? t.saddr : t.daddr, v6: v6) { c.append(bytes: $0) }
            }
        case .saddrStr, .daddrStr:
            for r in rows {
                let t = r.pointee.event.tuple
                guard let v6 = Self.ipVersion6(t) else { c.appendNull(); continue }
                append(address: column == .saddrStr ? t.saddr : t.daddr, v6: v6, to: c)
            }
        case .sport: for r in rows { tupleValue(r.pointee.event.tuple, c) { UInt32($0.sport) } }
        case .dport: for r in rows { tupleValue(r.pointee.event.tuple, c) { UInt32($0.dport) } }
        case .l4Proto:
            for r in rows { if Self.ipVersion6(r.pointee.event.tuple) == nil { c.appendNull() } else { c.append(utf8: EventFormatter.l4Bytes[Int(r.pointee.event.tuple.l4Proto)]) } }
        case .tcpFlags: for r in rows { tupleValue(r.pointee.event.tuple, c) { UInt32($0.tcpFlags) } }
        case .ipId: for r in rows { tupleValue(r.pointee.event.tuple, c, when: r.pointee.event.tuple.l3Proto == 0x0800) { UInt32($0.ipId) } }
        case .seq: for r in rows { tupleValue(r.pointee.event.tuple, c, when: r.pointee.event.tuple.l4Proto == 6) { $0.seq } }
        case .ack: for r in rows { tupleValue(r.pointee.event.tuple, c, when: r.pointee.event.tuple.l4Proto == 6) { $0.ack } }
        case .innerSaddr, .innerDaddr:
            for r in rows {
                guard let t = r.pointee.inner, let v6 = Self.ipVersion6(t) else { c.appendNull(); continue }
                append(address: column == .innerSaddr ? t.saddr : t.daddr, v6: v6, to: c)
            }
        case .innerSport: for r in rows { tupleValue(r.pointee.inner, c) { UInt32($0.sport) } }
        case .innerDport: for r in rows { tupleValue(r.pointee.inner, c) { UInt32($0.dport) } }
        case .innerL4Proto:
            for r in rows {
                if let t = r.pointee.inner, Self.ipVersion6(t) != nil { c.append(utf8: EventFormatter.l4Bytes[Int(t.l4Proto)]) } else { c.appendNull() }
            }
        case .packetLink: for r in rows { if r.pointee.packet == nil { c.appendNull() } else { c.append(utf8: r.pointee.link == .ethernet ? Self.ethernet : Self.raw) } }
        case .packetWireLen: for r in rows { if r.pointee.packet == nil { c.appendNull() } else { c.append(uint32: r.pointee.wireLength) } }
        case .packet: for r in rows { if let p = r.pointee.packet { c.append(utf8: p) } else { c.appendNull() } }
        }
    }

    static let kindNames: [[UInt8]] = ["func", "drop", "loss", "prog", "prog_exit", "unknown"].map { Array($0.utf8) }
    static let ethernet = Array("ethernet".utf8), raw = Array("raw".utf8)

    /// nil for a tuple that is neither IPv4 nor IPv6 (its columns are null), else whether it
    /// is IPv6.
    @inline(__always) static func ipVersion6(_ t: Tuple) -> Bool? {
        t.l3Proto == 0x86DD ? true : t.l3Proto == 0x0800 ? false : nil
    }

    /// One UINT value of an IPv4/IPv6 tuple, null without one or where `when` is false.
    @inline(__always) private func tupleValue(_ t: Tuple?, _ c: ParquetColumn, when: Bool = true, _ value: (Tuple) -> UInt32) {
        if let t, when, Self.ipVersion6(t) != nil { c.append(uint32: value(t)) } else { c.appendNull() }
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

    /// The address as text, as `read --output-json` writes it.
    private func append(address a: InlineArray<16, UInt8>, v6: Bool, to c: ParquetColumn) {
        scratch.removeAll()
        EventFormatter.address(a, v6: v6, to: scratch)
        c.append(bytes: scratch.bytes)
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
        let program = e.kind == .prog || e.kind == .progExit
        let key = NameKey(funcId: e.funcId, kind: e.kind.rawValue, reason: e.dropReason, flags: e.meta.flags & 1,
                          netns: program ? e.meta.netns : 0, ifindex: program ? e.meta.ifindex : 0)
        return names.get(key) { formatter.funcName(e) }
    }

    private func reasonName(_ r: UInt32) -> [UInt8] { reasons.get(r) { header.drops.name(r) } }

    private func process(_ e: Event) -> [UInt8] {
        let words = withUnsafeBytes(of: e.comm) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        return processes.get(ProcessKey(comm0: words.0, comm1: words.1)) { e.commString }
    }

    private func interface(_ e: Event) -> [UInt8] {
        interfaces.get(UInt64(e.meta.netns) << 32 | UInt64(e.meta.ifindex)) { formatter.ifname(e) }
    }
}

/// Names as UTF-8, made once per key: the last one aside (consecutive rows mostly share a
/// process, an interface, a drop site), the rest in a table that is emptied when it holds
/// 65,536 (a stream of ever new keys must not grow memory).
struct NameCache<Key: Hashable> {
    private var table: [Key: [UInt8]] = [:]
    private var last: (key: Key, name: [UInt8])?

    mutating func get(_ key: Key, make: () -> String) -> [UInt8] {
        if let l = last, l.key == key { return l.name }
        let name: [UInt8]
        if let known = table[key] {
            name = known
        } else {
            if table.count >= 1 << 16 { table.removeAll() }
            name = Array(make().utf8)
            table[key] = name
        }
        last = (key, name)
        return name
    }
}
