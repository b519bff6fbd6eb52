/// Journey ids for a stream of events already in time order (the Parquet export's `journey`
/// column): the rules `JourneyBuilder` groups by (Journeys.startsAnother, Journeys.ends),
/// without holding the journeys. The only state is the last event of each address in flight;
/// an address quiet for `Journeys.idleGapNs` is forgotten, which the rules would end anyway.
///
/// Ids count journeys in the order they start, from 1: unique within one capture.
public final class JourneyTagger {
    /// What the rules read of an address's last event: its time and tuple.
    private struct Open { var id: UInt64; var lastNs: UInt64; var tuple: Tuple }
    private var open: [UInt64: Open] = [:]
    private let freeing: (UInt32) -> Bool
    private var next: UInt64 = 1
    private var newestNs: UInt64 = 0
    private var sinceIdleScan = 0

    public init(functionName: @escaping (UInt32) -> String) {
        freeing = Journeys.freeingCache(functionName)
    }

    /// The journey `e` belongs to.
    public func tag(_ e: Event) -> UInt64 {
        let id: UInt64
        if let o = open[e.skb], e.tsNs < o.lastNs || !Journeys.startsAnother(lastNs: o.lastNs, lastTuple: o.tuple, e) {
            id = o.id
        } else {
            id = next
            next += 1
        }
        if Journeys.ends(e, freeing) {
            open[e.skb] = nil
        } else if let o = open[e.skb], o.id == id, e.tsNs < o.lastNs {
            // A late event joins its journey without moving its end back (as JourneyBuilder).
        } else {
            open[e.skb] = Open(id: id, lastNs: e.tsNs, tuple: e.tuple)
        }
        newestNs = max(newestNs, e.tsNs)
        sinceIdleScan += 1
        if sinceIdleScan >= 1 << 14 {
            sinceIdleScan = 0
            if newestNs > Journeys.idleGapNs {
                let cutoff = newestNs - Journeys.idleGapNs
                open = open.filter { $0.value.lastNs >= cutoff }
            }
        }
        return id
    }
}
