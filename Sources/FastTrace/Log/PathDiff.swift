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

    /// `name` gives an event's function name in its own capture (drop reasons included).
    public static func compare(_ a: [Journey], _ nameA: (Event) -> String, _ b: [Journey], _ nameB: (Event) -> String) -> Result {
        func byFlow(_ js: [Journey]) -> [Flow: [Journey]] {
            var m: [Flow: [Journey]] = [:]
            for j in js where j.events.count > 1 { if let f = Flow(j) { m[f, default: []].append(j) } }
            return m
        }
        let fa = byFlow(a), fb = byFlow(b)
        var r = Result()
        r.onlyA = fa.keys.filter { fb[$0] == nil }.sorted()
        r.onlyB = fb.keys.filter { fa[$0] == nil }.sorted()
        for flow in fa.keys.filter({ fb[$0] != nil }).sorted() {
            let ja = fa[flow]!, jb = fb[flow]!
            var found: Divergence?
            for k in 0..<min(ja.count, jb.count) {
                let pa = ja[k].events.map(nameA), pb = jb[k].events.map(nameB)
                guard pa != pb else { continue }
                let n = zip(pa, pb).prefix { $0 == $1 }.count
                found = Divergence(flow: flow, journey: k, common: Array(pa[..<n]), a: Array(pa[n...]), b: Array(pb[n...]),
                                   dropA: ja[k].drop.map(nameA), dropB: jb[k].drop.map(nameB))
                break
            }
            if let found { r.diverging.append(found) } else { r.same.append(flow) }
        }
        return r
    }
}
