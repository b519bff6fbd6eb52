@testable import FastTrace
import Foundation
import Testing

/// The log codec copies `struct ft_event` field by field, so a field added to bpf/events.h
/// would reach the generated `Event` and silently not round-trip. This test takes the
/// fields from the BTF layout the generator emits with `Event` (whatever fields events.h
/// has), fills whole records with random bytes, encodes and decodes them, and names each
/// field whose bytes came back different. A new field fails it until EventCodec handles it.
@Suite struct CodecCoverageTests {
    @Test func everyFieldOfTheEventRoundTrips() throws {
        let layout = Event.btfLayout
        #expect(layout.cName == "ft_event" && layout.fields.count >= 12, "\(layout.fields.map(\.cName))")
        var rng = PacketCorpus.RNG(state: 0xC0DEC)
        var events: [Event] = []
        for i in 0..<64 {
            var e = Event()
            withUnsafeMutableBytes(of: &e) { raw in for j in raw.indices { raw[j] = UInt8(truncatingIfNeeded: rng.next()) } }
            // The codec's conventions, not omissions: -1 means "no stack" and 0 "no caller"
            // (both then absent from the row). Some rows use them.
            if i % 8 == 0 { e.stackId = -1; e.caller = 0 }
            e.tuple.pad = 0 // alignment padding in events.h, not data
            events.append(e)
        }
        var encoder = EventCodec.Encoder()
        for e in events { encoder.append(e) }
        var back: [Event] = []
        try encoder.bytes.withUnsafeBytes { raw in try EventCodec.decode(raw) { e, _ in back.append(e) } }
        #expect(back.count == events.count)
        var lost = Set<String>()
        for (a, b) in zip(events, back) {
            withUnsafeBytes(of: a) { x in
                withUnsafeBytes(of: b) { y in
                    for f in layout.fields where !x[f.offset..<(f.offset + f.size)].elementsEqual(y[f.offset..<(f.offset + f.size)]) {
                        lost.insert(f.cName)
                    }
                }
            }
        }
        #expect(lost.isEmpty, "ft_event fields EventCodec does not carry: \(lost.sorted().joined(separator: ", ")) (bpf/events.h changed? handle them in Log/EventCodec.swift)")
    }

    /// Rows of format 4, written before tuples carried the IPv4 ID and TCP seq/ack, still
    /// decode: every other field as written, the new ones zero. Decoding them as format 5
    /// would misread them (the test proves the version matters).
    @Test func format4RowsStillDecode() throws {
        var events = LogTests.events(500, seed: 4)
        var old = EventCodec.Encoder(version: 4)
        for e in events { old.append(e) }
        for i in events.indices { events[i].tuple.ipId = 0; events[i].tuple.seq = 0; events[i].tuple.ack = 0 }
        var back: [Event] = []
        try old.bytes.withUnsafeBytes { raw in try EventCodec.decode(raw, version: 4) { e, _ in back.append(e) } }
        #expect(back.count == events.count)
        #expect(zip(events, back).allSatisfy { a, b in withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { x.elementsEqual($0) } } })
        var misread: [Event] = []
        let failed = (try? old.bytes.withUnsafeBytes { raw in try EventCodec.decode(raw, version: 5) { e, _ in misread.append(e) } }) == nil
        #expect(failed || !zip(events, misread).allSatisfy { a, b in withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { x.elementsEqual($0) } } })
    }

    /// --output-tunnel's inner tuple travels with its event (and only with it), whatever the
    /// event's kind.
    @Test func innerTuplesRoundTrip() throws {
        var rng = PacketCorpus.RNG(state: 0x1AAE7)
        var encoder = EventCodec.Encoder()
        var sent: [Tuple?] = []
        for i in 0..<200 {
            var e = Event()
            e.skb = UInt64(rng.int(8))
            e.kind = EventKind(rawValue: UInt32(rng.int(6)))
            var t = Tuple()
            withUnsafeMutableBytes(of: &t) { raw in for j in raw.indices { raw[j] = UInt8(truncatingIfNeeded: rng.next()) } }
            if i % 2 == 0 { t.saddr = .init(repeating: 0); t.daddr = .init(repeating: 0) } // the 4-byte form
            t.pad = 0 // alignment padding, not data
            let inner: Tuple? = i % 3 == 0 ? nil : t
            var p = PacketBytes.none
            p.inner = inner
            encoder.append(e, packet: p)
            sent.append(inner)
        }
        var back: [Tuple?] = []
        try encoder.bytes.withUnsafeBytes { raw in try EventCodec.decode(raw) { _, p in back.append(p.inner) } }
        #expect(back.count == sent.count)
        #expect(zip(sent, back).allSatisfy { a, b in
            switch (a, b) {
            case (nil, nil): true
            case let (x?, y?): withUnsafeBytes(of: x) { p in withUnsafeBytes(of: y) { p.elementsEqual($0) } }
            default: false
            }
        })
    }

    /// --output-skb-metadata areas and --output-skb dumps travel with their events, with the
    /// inner tuple or without, and an area without an skb (mask 0) is left out.
    @Test func metadataAndDumpsRoundTrip() throws {
        var rng = PacketCorpus.RNG(state: 0xD0_0D)
        var encoder = EventCodec.Encoder()
        var sent: [(meta: [UInt8]?, dumps: [(UInt32, Int32, [UInt8])], inner: Bool)] = []
        for i in 0..<300 {
            var e = Event()
            e.skb = UInt64(rng.int(8))
            e.kind = EventKind(rawValue: UInt32(rng.int(5)))
            var area = (0..<40).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 4 == 0 { area.replaceSubrange(0..<8, with: [UInt8](repeating: 0, count: 8)) } // no skb
            else { area[7] |= 0x80 }
            let dumps: [(UInt32, Int32, [UInt8])] = (0..<(i % 3)).map { k in
                let text = Array("(struct sk_buff){.len = (unsigned int)\(i),}".utf8.prefix(rng.int(40)))
                return (UInt32(k + 1), k == 1 ? -22 : Int32(text.count + rng.int(3)), text)
            }
            let inner = i % 5 == 0
            sent.append((i % 4 == 0 ? nil : area, dumps, inner))
            // Borrowed views, as the ring gives them: buffers that outlive the append.
            let buffers = ([area] + dumps.map(\.2)).map { bytes -> UnsafeMutableRawBufferPointer in
                let b = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
                b.copyBytes(from: bytes)
                return b
            }
            defer { buffers.forEach { $0.deallocate() } }
            var p = PacketBytes.none
            if inner { p.inner = Tuple() }
            p.metadata = UnsafeRawBufferPointer(buffers[0])
            p.dumps = dumps.indices.map { StructDump(kind: DumpKind(rawValue: dumps[$0].0), length: dumps[$0].1, text: UnsafeRawBufferPointer(buffers[$0 + 1])) }
            encoder.append(e, packet: p)
        }
        var back: [(meta: [UInt8]?, dumps: [(UInt32, Int32, [UInt8])], inner: Bool)] = []
        try encoder.bytes.withUnsafeBytes { raw in
            try EventCodec.decode(raw) { _, p in
                back.append((p.metadata.map { Array($0) }, p.dumps.map { ($0.kind.rawValue, $0.length, Array($0.text)) }, p.inner != nil))
            }
        }
        #expect(back.count == sent.count)
        for (a, b) in zip(sent, back) {
            #expect(a.meta == b.meta && a.inner == b.inner)
            #expect(a.dumps.count == b.dumps.count && zip(a.dumps, b.dumps).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 })
        }
    }
}
