/// The encoding of events inside one log frame (docs/log-format.md): one row per event,
/// each field stored only when it differs from a reference event, numbers as varints.
///
/// The reference is the last event of the same skb in this frame (a packet keeps its tuple,
/// meta and task from function to function) or, for an skb new to the frame, the previous
/// event. Timestamps are deltas from the previous event (zigzag: CPUs interleave). State
/// starts empty in every frame, so each frame decodes on its own.
public enum EventCodec {
    enum Flag {
        static let newSkb: UInt8 = 0x01, meta: UInt8 = 0x02, tuple: UInt8 = 0x04, task: UInt8 = 0x08
        static let kind: UInt8 = 0x10, stack: UInt8 = 0x20, caller: UInt8 = 0x40, packet: UInt8 = 0x80
    }

    public struct Encoder {
        public private(set) var bytes: [UInt8] = []
        public private(set) var count = 0
        private var lastTs: UInt64 = 0
        private var previous = Event()
        private var skbIndex: [UInt64: Int] = [:]
        private var lastOfSkb: [Event] = []

        /// The log format whose rows to write: the current one, or an older one for tests
        /// that prove old logs still read.
        let version: Int

        public init(capacity: Int = 1 << 20, version: Int = LogFormat.version) {
            self.version = version
            bytes.reserveCapacity(capacity)
        }

        public mutating func append(_ e: Event, packet: PacketBytes = .none) {
            var flags: UInt8 = 0
            let known = skbIndex[e.skb]
            let ref = known.map { lastOfSkb[$0] } ?? previous
            if known == nil { flags |= Flag.newSkb }
            if !sameMeta(e.meta, ref.meta) { flags |= Flag.meta }
            if !sameTuple(e.tuple, ref.tuple) { flags |= Flag.tuple }
            if e.pid != ref.pid || e.tgid != ref.tgid || !sameComm(e.comm, ref.comm) { flags |= Flag.task }
            // The metadata area only when the event has an skb (the mask's top bit).
            let metadata = packet.metadata.flatMap { $0.count >= 8 && $0.loadUnaligned(as: UInt64.self) & SkbMetadata.hasSkb != 0 ? $0 : nil }
            if e.kind.rawValue != 0 || e.dropReason != 0 || packet.inner != nil || metadata != nil || !packet.dumps.isEmpty { flags |= Flag.kind }
            if e.stackId != -1 { flags |= Flag.stack }
            if e.caller != 0 { flags |= Flag.caller }
            if !packet.isEmpty { flags |= Flag.packet }
            bytes.append(flags)
            putZigzag(Int64(bitPattern: e.tsNs &- lastTs))
            lastTs = e.tsNs
            if let known {
                putVarint(UInt64(known))
                lastOfSkb[known] = e
            } else {
                putFixed(e.skb)
                skbIndex[e.skb] = lastOfSkb.count
                lastOfSkb.append(e)
            }
            putVarint(UInt64(e.funcId))
            putVarint(UInt64(e.cpu))
            if flags & Flag.task != 0 {
                putVarint(UInt64(e.pid))
                putVarint(UInt64(e.tgid))
                var comm = withUnsafeBytes(of: e.comm) { Array($0) }
                while let last = comm.last, last == 0 { comm.removeLast() }
                bytes.append(UInt8(comm.count))
                bytes += comm
            }
            if flags & Flag.meta != 0 {
                let m = e.meta
                for v in [m.netns, m.mark, m.ifindex, m.len, m.mtu, UInt32(m.protocol), UInt32(m.flags)] { putVarint(UInt64(v)) }
            }
            if flags & Flag.tuple != 0 { putTuple(e.tuple) }
            if flags & Flag.kind != 0 {
                // kind << 3, | 1 when an inner tuple (--output-tunnel) follows the drop reason,
                // | 2 when a metadata area (--output-skb-metadata) follows that, | 4 when
                // struct dumps (--output-skb) follow.
                putVarint(UInt64(e.kind.rawValue) << 3 | (packet.inner != nil ? 1 : 0) | (metadata != nil ? 2 : 0)
                          | (packet.dumps.isEmpty ? 0 : 4))
                putVarint(UInt64(e.dropReason))
                if let inner = packet.inner { putTuple(inner) }
                if let metadata {
                    putVarint(UInt64(metadata.count))
                    bytes += metadata
                }
                if !packet.dumps.isEmpty {
                    putVarint(UInt64(packet.dumps.count))
                    for d in packet.dumps {
                        bytes.append(UInt8(truncatingIfNeeded: d.kind.rawValue))
                        putZigzag(Int64(d.length))
                        putVarint(UInt64(d.text.count))
                        bytes += d.text
                    }
                }
            }
            if flags & Flag.stack != 0 { putZigzag(Int64(e.stackId)) }
            if flags & Flag.caller != 0 { putFixed(e.caller) }
            if flags & Flag.packet != 0 {
                bytes.append(UInt8(truncatingIfNeeded: packet.link.rawValue))
                putVarint(UInt64(packet.wireLength))
                putVarint(UInt64(packet.bytes.count))
                bytes += packet.bytes
            }
            previous = e
            count += 1
        }

        private mutating func putTuple(_ t: Tuple) {
            putVarint(UInt64(t.l3Proto))
            bytes.append(t.l4Proto)
            bytes.append(t.tcpFlags)
            putVarint(UInt64(t.sport))
            putVarint(UInt64(t.dport))
            let s = withUnsafeBytes(of: t.saddr) { Array($0) }, d = withUnsafeBytes(of: t.daddr) { Array($0) }
            let short = s[4...].allSatisfy { $0 == 0 } && d[4...].allSatisfy { $0 == 0 }
            bytes.append(short ? 4 : 16)
            bytes += short ? s[..<4] : s[...]
            bytes += short ? d[..<4] : d[...]
            if version >= 5 {
                putVarint(UInt64(t.ipId))
                putVarint(UInt64(t.seq))
                putVarint(UInt64(t.ack))
            }
        }

        private mutating func putVarint(_ v: UInt64) {
            var v = v
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7f) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        private mutating func putZigzag(_ v: Int64) { putVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
        private mutating func putFixed(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    }

    public struct DecodeError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Decodes a whole frame payload; `body` sees each event in order, with its packet bytes
    /// (borrowed from `data`).
    public static func decode(_ data: UnsafeRawBufferPointer, version: Int = LogFormat.version,
                              _ body: (Event, PacketBytes) -> Void) throws(DecodeError) {
        var r = Reader(data: data, version: version)
        var lastTs: UInt64 = 0
        var previous = Event()
        var lastOfSkb: [Event] = []
        while !r.atEnd {
            let flags = try r.byte()
            var e: Event
            let slot: Int
            let ts = lastTs &+ UInt64(bitPattern: try r.zigzag())
            if flags & Flag.newSkb != 0 {
                e = previous
                e.skb = try r.fixed()
                slot = lastOfSkb.count
                lastOfSkb.append(e)
            } else {
                slot = Int(try r.varint())
                guard slot < lastOfSkb.count else { throw DecodeError(description: "skb reference \(slot) out of range") }
                e = lastOfSkb[slot]
            }
            e.tsNs = ts
            lastTs = ts
            e.funcId = UInt32(truncatingIfNeeded: try r.varint())
            e.cpu = UInt32(truncatingIfNeeded: try r.varint())
            if flags & Flag.task != 0 {
                e.pid = UInt32(truncatingIfNeeded: try r.varint())
                e.tgid = UInt32(truncatingIfNeeded: try r.varint())
                let n = Int(try r.byte())
                guard n <= 16 else { throw DecodeError(description: "comm of \(n) bytes") }
                let b = try r.bytes(n)
                var comm = InlineArray<16, CChar>(repeating: 0)
                for i in 0..<n { comm[i] = CChar(bitPattern: b[i]) }
                e.comm = comm
            }
            if flags & Flag.meta != 0 {
                e.meta.netns = UInt32(truncatingIfNeeded: try r.varint())
                e.meta.mark = UInt32(truncatingIfNeeded: try r.varint())
                e.meta.ifindex = UInt32(truncatingIfNeeded: try r.varint())
                e.meta.len = UInt32(truncatingIfNeeded: try r.varint())
                e.meta.mtu = UInt32(truncatingIfNeeded: try r.varint())
                e.meta.protocol = UInt16(truncatingIfNeeded: try r.varint())
                e.meta.flags = UInt16(truncatingIfNeeded: try r.varint())
            }
            if flags & Flag.tuple != 0 { e.tuple = try r.tuple() }
            var inner: Tuple?
            var metadata: UnsafeRawBufferPointer?
            var dumps: [StructDump] = []
            if flags & Flag.kind != 0 {
                let v = try r.varint()
                // Format 3 shifts the kind to make room for the inner-tuple bit, format 4 for
                // the metadata bit too.
                let kind = version >= 4 ? v >> 3 : version >= 3 ? v >> 1 : v
                e.kind = EventKind(rawValue: UInt32(truncatingIfNeeded: kind))
                e.dropReason = UInt32(truncatingIfNeeded: try r.varint())
                if version >= 3, v & 1 != 0 { inner = try r.tuple() }
                if version >= 4, v & 2 != 0 {
                    let n = Int(try r.varint())
                    guard n >= 8, n <= 8 + (SkbMetadata.maxFields + 1) * SkbMetadata.maxChars else { throw DecodeError(description: "metadata area of \(n) bytes") }
                    metadata = try r.bytes(n)
                }
                if version >= 4, v & 4 != 0 {
                    let count = try r.varint()
                    guard count <= 2 else { throw DecodeError(description: "\(count) struct dumps") }
                    for _ in 0..<count {
                        let kind = try r.byte()
                        let length = try r.zigzag()
                        let n = Int(try r.varint())
                        guard n <= Int(Limit.dumpSizeMax.rawValue), let length = Int32(exactly: length) else {
                            throw DecodeError(description: "struct dump of \(n) bytes")
                        }
                        dumps.append(StructDump(kind: DumpKind(rawValue: UInt32(kind)), length: length, text: try r.bytes(n)))
                    }
                }
            } else {
                e.kind = EventKind(rawValue: 0)
                e.dropReason = 0
            }
            e.stackId = flags & Flag.stack != 0 ? Int32(truncatingIfNeeded: try r.zigzag()) : -1
            e.caller = flags & Flag.caller != 0 ? try r.fixed() : 0
            var packet = PacketBytes.none
            packet.inner = inner
            packet.metadata = metadata
            packet.dumps = dumps
            if flags & Flag.packet != 0 {
                let link = try r.byte()
                let wire = try r.varint()
                let n = Int(try r.varint())
                guard link != 0, n <= 1 << 16, wire <= UInt32.max else { throw DecodeError(description: "packet bytes: link \(link), \(n) of \(wire) bytes") }
                packet = PacketBytes(link: Link(rawValue: UInt32(link)), wireLength: UInt32(wire), bytes: try r.bytes(n), inner: inner)
                packet.metadata = metadata
                packet.dumps = dumps
            }
            lastOfSkb[slot] = e
            previous = e
            body(e, packet)
        }
    }

    struct Reader {
        let data: UnsafeRawBufferPointer
        var version = LogFormat.version
        var at = 0
        var atEnd: Bool { at >= data.count }

        mutating func tuple() throws(DecodeError) -> Tuple {
            var t = Tuple()
            t.l3Proto = UInt16(truncatingIfNeeded: try varint())
            t.l4Proto = try byte()
            t.tcpFlags = try byte()
            t.sport = UInt16(truncatingIfNeeded: try varint())
            t.dport = UInt16(truncatingIfNeeded: try varint())
            let n = Int(try byte())
            guard n == 4 || n == 16 else { throw DecodeError(description: "address of \(n) bytes") }
            let s = try bytes(n), d = try bytes(n)
            var sa = InlineArray<16, UInt8>(repeating: 0), da = InlineArray<16, UInt8>(repeating: 0)
            for i in 0..<n { sa[i] = s[i]; da[i] = d[i] }
            t.saddr = sa
            t.daddr = da
            if version >= 5 { // format 5 adds what matches a packet across hosts
                t.ipId = UInt16(truncatingIfNeeded: try varint())
                t.seq = UInt32(truncatingIfNeeded: try varint())
                t.ack = UInt32(truncatingIfNeeded: try varint())
            }
            return t
        }

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard at < data.count else { throw DecodeError(description: "truncated event") }
            defer { at += 1 }
            return data[at]
        }
        mutating func varint() throws(DecodeError) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64 else { throw DecodeError(description: "varint too long") }
                v |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        mutating func zigzag() throws(DecodeError) -> Int64 {
            let v = try varint()
            return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
        }
        mutating func fixed() throws(DecodeError) -> UInt64 {
            guard at + 8 <= data.count else { throw DecodeError(description: "truncated event") }
            defer { at += 8 }
            return UInt64(littleEndian: data.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
        mutating func bytes(_ n: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
            guard at + n <= data.count else { throw DecodeError(description: "truncated event") }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: data[at..<(at + n)])
        }
    }

    static func sameMeta(_ a: Meta, _ b: Meta) -> Bool {
        a.netns == b.netns && a.mark == b.mark && a.ifindex == b.ifindex && a.len == b.len && a.mtu == b.mtu
            && a.protocol == b.protocol && a.flags == b.flags
    }
    static func sameTuple(_ a: Tuple, _ b: Tuple) -> Bool {
        a.tcpFlags == b.tcpFlags && a.ipId == b.ipId && a.seq == b.seq && a.ack == b.ack && sameAddressesAndPorts(a, b)
    }
    /// Whether two tuples name the same endpoints (what NAT rewrites), whatever their flags
    /// and sequence numbers.
    static func sameAddressesAndPorts(_ a: Tuple, _ b: Tuple) -> Bool {
        a.l3Proto == b.l3Proto && a.l4Proto == b.l4Proto && a.sport == b.sport && a.dport == b.dport
            && withUnsafeBytes(of: a.saddr) { x in withUnsafeBytes(of: b.saddr) { x.elementsEqual($0) } }
            && withUnsafeBytes(of: a.daddr) { x in withUnsafeBytes(of: b.daddr) { x.elementsEqual($0) } }
    }
    static func sameComm(_ a: InlineArray<16, CChar>, _ b: InlineArray<16, CChar>) -> Bool {
        withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { x.elementsEqual($0) } }
    }
}
