/// `fasttrace diff A B`: where the paths of the same flows diverge between two captures
/// (typically a working and a failing attempt of one connection).
///
/// Flows are matched on what stays the same across attempts: protocol, destination address
/// and destination port of a journey's first tuple (the source port is usually ephemeral).
/// For each flow in both captures, the k-th journey of A is compared with the k-th of B by
/// their function names (drop reasons included); the first pair that differs is reported
/// with the common prefix and where each side went next. A journey of a single event (a free
/// seen on its own, e.g. a socket's copy released) says nothing about a path and is ignored.
public enum PathDiff {
    public struct Flow: Hashable, Comparable, Sendable {
        public let l4: UInt8
        public let daddr: [UInt8]
        public let dport: UInt16
        public let v6: Bool

        init?(_ j: Journey) {
            guard let t = j.tuple else { return nil }
            let isV6 = t.l3Proto == 0x86DD
            l4 = t.l4Proto
            v6 = isV6
            daddr = withUnsafeBytes(of: t.daddr) { Array($0.prefix(isV6 ? 16 : 4)) }
            dport = t.dport
        }

        public static func < (a: Flow, b: Flow) -> Bool {
            if a.l4 != b.l4 { return a.l4 < b.l4 }
            if a.daddr != b.daddr { return a.daddr.lexicographicallyPrecedes(b.daddr) }
            return a.dport < b.dport
        }
    }

    public struct Divergence: Sendable {
        public let flow: Flow
        /// Which journey of the flow (0 = the first, e.g. the SYN).
        public let journey: Int
        public let common: [String]
        /// The rest of each path from the first difference (empty: that path ended).
        public let a: [String]
        public let b: [String]
        public let dropA: String?
        public let dropB: String?
    }

    public struct Result: Sendable {
        public var diverging: [Divergence] = []
        public var same: [Flow] = []
        public var onlyA: [Flow] = []
        public var onlyB: [Flow] = []
    }

    /// A journey reduced to what the comparison needs: its start and its steps, each a
    /// function id with the drop reason (so a log's journeys fit in a few bytes per event).
    public struct Path: Sendable {
        public let start: UInt64
        public let steps: [UInt64]
        public let drop: UInt64?

        public init(_ j: Journey) {
            start = j.startNs
            steps = j.events.map(Path.step)
            drop = j.drop.map(Path.step)
        }

        /// A step: the function id in the low 32 bits; above it the kind (bits 61-63: 0
        /// function, 1 drop, 3 program entry, 4 program exit, as `ft_event_kind`), the tc
        /// direction (bit 60) and the drop reason or verdict (bits 32-59; verdict −1 wraps).
        static func step(_ e: Event) -> UInt64 {
            switch e.kind {
            case .drop, .prog, .progExit:
                return UInt64(e.kind.rawValue & 7) << 61 | UInt64(e.meta.flags & 1) << 60
                    | UInt64(e.dropReason & 0x0fff_ffff) << 32 | UInt64(e.funcId)
            default:
                return UInt64(e.funcId)
            }
        }

        /// The event a step stands for (enough for its function name).
        public static func event(_ step: UInt64) -> Event {
            var e = Event()
            e.funcId = UInt32(truncatingIfNeeded: step)
            let kind = UInt32(step >> 61)
            guard kind != 0 else { return e }
            e.kind = EventKind(rawValue: kind)
            e.meta.flags = UInt16(step >> 60 & 1)
            let value = UInt32(truncatingIfNeeded: step >> 32) & 0x0fff_ffff
            e.dropReason = e.kind == .progExit && value == 0x0fff_ffff ? UInt32.max : value
            return e
        }
    }

    /// The paths of one capture, by flow; fed journeys as they end.
    public struct Paths: Sendable {
        public private(set) var byFlow: [Flow: [Path]] = [:]
        public init() {}

        /// A journey of a single event (a free seen on its own) says nothing about a path.
        public mutating func add(_ j: Journey) {
            guard j.events.count > 1, let f = Flow(j) else { return }
            byFlow[f, default: []].append(Path(j))
        }
    }

    /// `name` gives a step's function name in its own capture (drop reasons included).
    public static func compare(_ a: Paths, _ nameA: (Event) -> String, _ b: Paths, _ nameB: (Event) -> String) -> Result {
        let fa = a.byFlow, fb = b.byFlow
        var r = Result()
        r.onlyA = fa.keys.filter { fb[$0] == nil }.sorted()
        r.onlyB = fb.keys.filter { fa[$0] == nil }.sorted()
        for flow in fa.keys.filter({ fb[$0] != nil }).sorted() {
            // Journeys are collected as they end: put each flow's back in the order they began.
            let ja = fa[flow]!.sorted { $0.start < $1.start }, jb = fb[flow]!.sorted { $0.start < $1.start }
            var found: Divergence?
            for k in 0..<min(ja.count, jb.count) {
                guard ja[k].steps != jb[k].steps else { continue }
                let pa = ja[k].steps.map { nameA(Path.event($0)) }, pb = jb[k].steps.map { nameB(Path.event($0)) }
                guard pa != pb else { continue }
                let n = zip(pa, pb).prefix { $0 == $1 }.count
                found = Divergence(flow: flow, journey: k, common: Array(pa[..<n]), a: Array(pa[n...]), b: Array(pb[n...]),
                                   dropA: ja[k].drop.map { nameA(Path.event($0)) }, dropB: jb[k].drop.map { nameB(Path.event($0)) })
                break
            }
            if let found { r.diverging.append(found) } else { r.same.append(flow) }
        }
        return r
    }
}
