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
    /// The inner tuple of a tunnel packet (--output-tunnel), from the first event that had one.
    public var inner: Tuple?
    public var skb: UInt64 { events.first?.skb ?? 0 }
    public var drop: Event? { events.last { $0.kind == .drop } }
    /// The first tuple seen (before any NAT), if any event had one.
    public var tuple: Tuple? { events.first { $0.tuple.l3Proto != 0 }?.tuple }
    public var durationNs: UInt64 { (events.last?.tsNs ?? 0) &- (events.first?.tsNs ?? 0) }
    public var startNs: UInt64 { events.first?.tsNs ?? 0 }
}

public enum Journeys {
    /// Functions after which an skb address belongs to no packet.
    static func frees(_ name: String) -> Bool {
        name.hasPrefix("kfree_skb") || name == "consume_skb" || name == "__kfree_skb" || name == "kfree_skbmem"
            || name == "sk_skb_reason_drop" || name == "napi_consume_skb"
    }

    public static let reuseGapNs: UInt64 = 1_000_000
    public static let idleGapNs: UInt64 = 1_000_000_000

    /// Whether `e`, on the address of `last` and not earlier, is another packet: the address
    /// was quiet for `idleGapNs`, or came back after `reuseGapNs` with another flow's tuple.
    static func startsAnother(after last: Event, _ e: Event) -> Bool {
        startsAnother(lastNs: last.tsNs, lastTuple: last.tuple, e)
    }

    @inline(__always) static func startsAnother(lastNs: UInt64, lastTuple: Tuple, _ e: Event) -> Bool {
        let gap = e.tsNs &- lastNs
        guard gap > reuseGapNs else { return false }
        let otherFlow = e.tuple.l3Proto != 0 && lastTuple.l3Proto != 0 && !EventCodec.sameTuple(e.tuple, lastTuple)
        return gap > idleGapNs || otherFlow
    }

    /// Whether the address belongs to no packet after `e`: a drop or a free.
    static func ends(_ e: Event, _ freeing: (UInt32) -> Bool) -> Bool { e.kind == .drop || freeing(e.funcId) }

    /// `frees` per function id, cached: the name test runs once per function.
    static func freeingCache(_ functionName: @escaping (UInt32) -> String) -> (UInt32) -> Bool {
        var cache: [UInt32: Bool] = [:]
        return { id in
            if let v = cache[id] { return v }
            let v = frees(functionName(id))
            cache[id] = v
            return v
        }
    }

    /// Groups `events` (any order) into journeys, ordered by their first event. Holds
    /// everything: for tests and small inputs; logs go through `JourneyBuilder`.
    public static func build(_ events: [Event], functionName: @escaping (UInt32) -> String) -> [Journey] {
        var out: [Journey] = []
        let b = JourneyBuilder(functionName: functionName, reorderWindowNs: .max)
        for e in events { b.add(e) { out.append($0) } }
        b.finish { out.append($0) }
        return out.sorted { ($0.startNs, $0.skb) < ($1.startNs, $1.skb) }
    }
}

/// Builds journeys from a stream of events in constant memory: the only state is the open
/// journeys (one per skb address in flight) and a short reorder window. A journey is handed
/// to `emit` as soon as it ends (free, drop, reuse, or `idleGapNs` without an event), so
/// journeys come out in the order they end, not the order they start.
///
/// Reordering: a log holds events in the order the consumer drained the per-CPU rings, so
/// CPUs interleave in bursts, while each CPU's own events are in time order (but for an
/// interrupt that lands between a reservation and its timestamp). Events wait in a queue per
/// CPU, kept sorted, until the stream is `reorderWindowNs` past them (or `maxBuffered`
/// events wait); the oldest head of all queues goes next. An event later still than that is
/// put in its place in its open journey, and counted in `late`.
public final class JourneyBuilder {
    private let freeing: (UInt32) -> Bool
    private var reorder: ReorderWindow<Event>
    private var releasedNs: UInt64 = 0
    private var open: [UInt64: Journey] = [:]
    private var sinceIdleScan = 0
    /// Events that arrived after the reorder window had passed them.
    public private(set) var late = 0
    /// Events held now: waiting in the reorder window, or in open journeys.
    public var held: Int { reorder.buffered + open.values.reduce(0) { $0 + $1.events.count } }

    public init(functionName: @escaping (UInt32) -> String, reorderWindowNs: UInt64 = 50_000_000, maxBuffered: Int = 1 << 16) {
        freeing = Journeys.freeingCache(functionName)
        reorder = ReorderWindow(windowNs: reorderWindowNs, maxBuffered: maxBuffered)
    }

    /// Inner tuples (--output-tunnel) of events not yet placed, by (skb, time).
    private var inners: [EventKey: Tuple] = [:]
    struct EventKey: Hashable { let skb: UInt64, ns: UInt64 }

    /// Adds one event (with the inner tuple its record carried, if any); calls `emit` for
    /// every journey that has ended by now.
    public func add(_ e: Event, inner: Tuple? = nil, emit: (Journey) -> Void) {
        if let inner { inners[EventKey(skb: e.skb, ns: e.tsNs)] = inner }
        reorder.add(e, cpu: e.cpu) { place($0, emit) }
    }

    /// Ends the stream: every remaining event is placed, and every open journey is emitted,
    /// in the order of their first events.
    public func finish(emit: (Journey) -> Void) {
        reorder.drain { place($0, emit) }
        for j in open.values.sorted(by: { ($0.startNs, $0.skb) < ($1.startNs, $1.skb) }) { emit(j) }
        open.removeAll()
    }

    private func place(_ e: Event, _ emit: (Journey) -> Void) {
        if e.tsNs < releasedNs { late += 1 } else { releasedNs = e.tsNs }
        if var j = open.removeValue(forKey: e.skb), let last = j.events.last {
            if e.tsNs >= last.tsNs && Journeys.startsAnother(after: last, e) {
                emit(j)
                j = Journey(events: [e])
            } else if e.tsNs >= last.tsNs {
                j.events.append(e)
            } else { // late: into its place by time
                let at = j.events.lastIndex { $0.tsNs <= e.tsNs }.map { $0 + 1 } ?? 0
                j.events.insert(e, at: at)
            }
            finishOrKeep(j, e, emit)
        } else {
            finishOrKeep(Journey(events: [e]), e, emit)
        }
        sinceIdleScan += 1
        if sinceIdleScan >= 4096 {
            sinceIdleScan = 0
            emitIdle(emit)
        }
    }

    private func finishOrKeep(_ j: Journey, _ e: Event, _ emit: (Journey) -> Void) {
        var j = j
        if !inners.isEmpty, let t = inners.removeValue(forKey: EventKey(skb: e.skb, ns: e.tsNs)), j.inner == nil { j.inner = t }
        if Journeys.ends(e, freeing) { emit(j) } else { open[e.skb] = j }
    }

    /// Journeys whose address has been quiet for `idleGapNs` of stream time are over.
    private func emitIdle(_ emit: (Journey) -> Void) {
        guard releasedNs > Journeys.idleGapNs else { return }
        let cutoff = releasedNs - Journeys.idleGapNs
        var idle: [Journey] = []
        for j in open.values where (j.events.last?.tsNs ?? 0) < cutoff { idle.append(j) }
        for j in idle.sorted(by: { ($0.startNs, $0.skb) < ($1.startNs, $1.skb) }) {
            open[j.skb] = nil
            emit(j)
        }
    }
}

/// Something with a kernel timestamp: what a reorder window sorts.
protocol TimeOrdered { var tsNs: UInt64 { get } }
extension Event: TimeOrdered {}

/// Restores time order to a stream whose per-CPU parts are each (nearly) in order, as a log
/// holds them: elements wait in a queue per CPU, kept sorted, until the stream is `windowNs`
/// past them (or `maxBuffered` wait); the oldest head of all queues is released next.
struct ReorderWindow<Element: TimeOrdered> {
    let windowNs: UInt64
    let maxBuffered: Int
    private var queues: [CPUQueue<Element>] = []
    private var newestNs: UInt64 = 0
    private(set) var buffered = 0

    init(windowNs: UInt64, maxBuffered: Int) {
        self.windowNs = windowNs
        self.maxBuffered = maxBuffered
    }

    /// Adds `e`, seen on `cpu`; releases every element the window has passed, oldest first.
    mutating func add(_ e: Element, cpu: UInt32, release: (Element) -> Void) {
        newestNs = max(newestNs, e.tsNs)
        let cpu = Int(min(cpu, 4095))
        while queues.count <= cpu { queues.append(CPUQueue()) }
        queues[cpu].insert(e)
        buffered += 1
        while buffered > 0 {
            guard let (cpu, ts) = oldestHead() else { break }
            guard buffered > maxBuffered || (windowNs != .max && ts &+ windowNs <= newestNs) else { break }
            release(queues[cpu].removeFirst())
            buffered -= 1
        }
    }

    /// Releases everything still waiting, oldest first.
    mutating func drain(release: (Element) -> Void) {
        while let (cpu, _) = oldestHead() { release(queues[cpu].removeFirst()) }
        buffered = 0
    }

    private func oldestHead() -> (Int, UInt64)? {
        var best: (Int, UInt64)?
        for i in queues.indices {
            if let ts = queues[i].firstTs, best == nil || ts < best!.1 { best = (i, ts) }
        }
        return best
    }
}

/// One CPU's waiting elements, in time order: a FIFO that inserts from the tail, since a
/// CPU's events arrive in order but for small local inversions.
struct CPUQueue<Element: TimeOrdered> {
    private var events: [Element] = []
    private var head = 0

    var firstTs: UInt64? { head < events.count ? events[head].tsNs : nil }

    mutating func insert(_ e: Element) {
        events.append(e)
        var i = events.count - 1
        while i > head && events[i - 1].tsNs > e.tsNs {
            events[i] = events[i - 1]
            i -= 1
        }
        events[i] = e
    }

    mutating func removeFirst() -> Element {
        let e = events[head]
        head += 1
        if head == events.count {
            events.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= events.count {
            events.removeFirst(head)
            head = 0
        }
        return e
    }
}
