import Foundation

/// `fasttrace journeys` output, rendered as bytes like the event lines.
extension EventFormatter {
    /// A title line, `skb 0x… TUPLE [inner TUPLE] — N events, D µs[, dropped: FUNC(REASON)]`, then one
    /// line per event: its time from the journey's start, function, interface and length.
    public func renderJourney(_ j: Journey, to out: ByteBuffer) {
        guard let first = j.events.first else { return }
        out.ascii("skb 0x")
        out.hex(j.skb)
        if let t = j.tuple {
            out.byte(0x20)
            Self.tuple(t, flags: false, to: out)
        }
        if let t = j.inner {
            out.ascii(" inner ")
            Self.tuple(t, flags: false, to: out)
        }
        out.append(String(format: " — %d events, %.1f µs", j.events.count, Double(j.durationNs) / 1000))
        if let d = j.drop {
            out.ascii(", dropped: ")
            put(function(d).text, out)
        }
        out.byte(0x0a)
        for e in j.events {
            // "%+10.3f µs": the offset in ns is an integer, so the three decimals are exact.
            let ns = e.tsNs &- first.tsNs
            var digits = ByteBuffer.digitCount(ns / 1000) + 5 // sign, point, three decimals
            out.ascii("  ")
            while digits < 10 { out.byte(0x20); digits += 1 }
            out.byte(0x2b)
            out.decimal(ns / 1000)
            out.byte(0x2e)
            out.decimal(ns % 1000, zeroPadTo: 3)
            out.ascii(" µs  ")
            put(function(e).text, out)
            let iface = interfaceName(e)
            if !iface.isEmpty {
                out.ascii("  ")
                put(iface, out)
            }
            out.ascii("  len ")
            out.decimal(e.meta.len)
            out.byte(0x0a)
        }
    }

    /// One JSON object: `{"type":"journey","skb":"0x…"[,"inner":{…}],"events":[EVENT,…]}`.
    public func renderJourneyJSON(_ j: Journey, to out: ByteBuffer) {
        out.ascii("{\"type\":\"journey\",\"skb\":\"0x")
        out.hex(j.skb)
        out.byte(0x22)
        if let t = j.inner { jsonTuple(",\"inner\":", t, out) }
        out.ascii(",\"events\":[")
        for (i, e) in j.events.enumerated() {
            if i > 0 { out.byte(0x2c) }
            write(e, to: out)
        }
        out.ascii("]}\n")
    }
}
