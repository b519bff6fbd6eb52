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
}
