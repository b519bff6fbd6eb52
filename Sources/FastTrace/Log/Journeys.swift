/// Packet journeys: the events of one skb, in time order, from the first event on its
/// address to the one that frees it (a drop, or a function named like kfree_skb/consume_skb).
/// An address seen again after that is a new packet, so it starts a new journey.
///
/// Not every free is seen (the tracepoint backend has no hook in `__kfree_skb`), so a
/// journey also ends when its address comes back after `reuseGapNs` with another flow's
/// tuple, or after `idleGapNs` whatever the tuple: a rewrite (NAT) happens within a
/// packet's passage, microseconds apart, not a millisecond later.
public struct Journey {
    public var events: [Event]
    public var skb: UInt64 { events.first?.skb ?? 0 }
    public var drop: Event? { events.last { $0.kind == .drop } }
    /// The first tuple seen (before any NAT), if any event had one.
    public var tuple: Tuple? { events.first { $0.tuple.l3Proto != 0 }?.tuple }
    public var durationNs: UInt64 { (events.last?.tsNs ?? 0) &- (events.first?.tsNs ?? 0) }
}

public enum Journeys {
    /// Functions after which an skb address belongs to no packet.
    static func frees(_ name: String) -> Bool {
        name.hasPrefix("kfree_skb") || name == "consume_skb" || name == "__kfree_skb" || name == "kfree_skbmem"
            || name == "sk_skb_reason_drop" || name == "napi_consume_skb"
    }

    public static let reuseGapNs: UInt64 = 1_000_000
    public static let idleGapNs: UInt64 = 1_000_000_000

    /// Groups `events` (any order) into journeys, ordered by their first event.
    /// Holds every event in memory (journeys need a sort); `read` streams instead.
    public static func build(_ events: [Event], functionName: (UInt32) -> String) -> [Journey] {
        let sorted = events.sorted { $0.tsNs < $1.tsNs }
        var open: [UInt64: Int] = [:] // skb → index in `out`
        var out: [Journey] = []
        var freeing: [UInt32: Bool] = [:] // by function id: names are compared once, not per event
        for e in sorted {
            if let i = open[e.skb], let last = out[i].events.last {
                let gap = e.tsNs &- last.tsNs
                let otherFlow = e.tuple.l3Proto != 0 && last.tuple.l3Proto != 0 && !EventCodec.sameTuple(e.tuple, last.tuple)
                if gap > idleGapNs || (otherFlow && gap > reuseGapNs) {
                    open[e.skb] = out.count
                    out.append(Journey(events: [e]))
                } else {
                    out[i].events.append(e)
                }
            } else {
                open[e.skb] = out.count
                out.append(Journey(events: [e]))
            }
            let ends = freeing[e.funcId] ?? {
                let f = frees(functionName(e.funcId))
                freeing[e.funcId] = f
                return f
            }()
            if e.kind == .drop || ends { open[e.skb] = nil }
        }
        return out
    }
}
