/// Clock offsets between hosts, from packets seen leaving one host and arriving at another
/// (`fasttrace fleet align`, docs/fleet.md).
///
/// Each host's events are put on its wall clock (event time + the capture's boot-to-wall
/// offset). With θ the offset of host Y's clock from host X's, a packet X→Y left X (last
/// seen there at x) before it reached Y (first seen there at y): θ < y − x. A packet Y→X
/// gives θ > y′ − x′. The tightest of each is the interval [lo, hi], its midpoint the
/// estimate. Hosts are chained from the reference along the pairs that matched most
/// packets. Where traffic between two hosts is one-way, the missing side comes from the
/// kernels' own error bounds (adjtimex maxerror), recorded in each capture.
///
/// Matching survives NAT, since it uses what NAT leaves alone: TCP's (seq, ack, flags) with
/// the IPv4 ID; else the IPv4 ID and protocol. A tunnelled packet (--output-tunnel) is also
/// matched by its inner packet's identity.
public struct ClockAlignment: Sendable {
    public struct Host: Sendable {
        public let name: String
        /// θ: how far this host's clock is ahead of the reference's; subtract it from the
        /// host's wall-clock times to put them on the reference's clock.
        public var offsetNs: Int64 = 0
        public var loNs: Int64 = 0, hiNs: Int64 = 0
        public var reference: String
        public var pairs = 0
        /// two-way: bounded by packets both ways; one-way: one side from the clock error
        /// bound; reference; none: no packet shared with the other hosts.
        public var quality: String
        /// Packets that left this host toward another (last seen on a transmit path) and
        /// how many of them another capture saw arrive.
        public var sent = 0, matched = 0
        /// Rate of this host's clock against the reference's, parts per billion (0 when
        /// fewer than two windows were bounded both ways).
        public var driftPpb: Int64 = 0
        /// The windows of the pair that placed this host (its neighbour's clock).
        public var windows: [Window] = []
    }

    /// A bound on θ(Y) − θ(X) from one packet, taken at a time on X's clock.
    public struct Bound: Sendable { public let atNs: Int64; public let valueNs: Int64 }

    /// One window of a pair: its bounds both ways (nil where no packet went that way).
    public struct Window: Sendable, Equatable {
        public let startNs: Int64, endNs: Int64
        public let loNs: Int64?, hiNs: Int64?
        public let pairs: Int
        public var midpointNs: Int64? { loNs.flatMap { lo in hiNs.map { lo / 2 + $0 / 2 } } }
    }

    /// Groups bounds into windows of `widthNs` from the first bound.
    static func windows(lows: [Bound], highs: [Bound], widthNs: Int64) -> [Window] {
        let all = lows.map(\.atNs) + highs.map(\.atNs)
        guard let start = all.min(), widthNs > 0 else { return [] }
        var lo: [Int64: Int64] = [:], hi: [Int64: Int64] = [:], count: [Int64: Int] = [:]
        for b in lows {
            let w = (b.atNs &- start) / widthNs
            lo[w] = max(lo[w] ?? .min, b.valueNs)
            count[w, default: 0] += 1
        }
        for b in highs {
            let w = (b.atNs &- start) / widthNs
            hi[w] = min(hi[w] ?? .max, b.valueNs)
            count[w, default: 0] += 1
        }
        return count.keys.sorted().map { w in
            Window(startNs: start &+ w &* widthNs, endNs: start &+ (w &+ 1) &* widthNs, loNs: lo[w], hiNs: hi[w], pairs: count[w] ?? 0)
        }
    }

    /// The least-squares slope of the windows' midpoints against their centres (ns of offset
    /// per ns of time): the drift. nil with fewer than two windows bounded both ways.
    static func drift(_ windows: [Window]) -> Double? {
        let points = windows.compactMap { w in w.midpointNs.map { (x: Double(w.startNs / 2 + w.endNs / 2), y: Double($0)) } }
        guard points.count >= 2 else { return nil }
        let n = Double(points.count)
        let mx = points.reduce(0) { $0 + $1.x } / n, my = points.reduce(0) { $0 + $1.y } / n
        let sxx = points.reduce(0) { $0 + ($1.x - mx) * ($1.x - mx) }
        guard sxx > 0 else { return nil }
        return points.reduce(0) { $0 + ($1.x - mx) * ($1.y - my) } / sxx
    }

    public private(set) var hosts: [Host] = []

    /// One packet's sightings on one host (wall clock): first and last, and the first and
    /// last on a receive and on a transmit path.
    struct Sighting {
        var first: Int64, last: Int64
        var firstRx: Int64?, lastRx: Int64?, firstTx: Int64?, lastTx: Int64?
        /// It left this host: a transmit after every receive (a freeing event after the
        /// transmit, as on a NIC's TX completion, does not undo that).
        var departed: Bool { lastTx.map { tx in lastRx.map { tx > $0 } ?? true } ?? false }
        /// It arrived here: a receive before any transmit (veth fires net_dev_xmit on the
        /// receiving side too, after netif_rx).
        var arrived: Bool { firstRx.map { rx in firstTx.map { rx <= $0 } ?? true } ?? false }

        mutating func add(_ wall: Int64, rx: Bool, tx: Bool) {
            first = min(first, wall)
            last = max(last, wall)
            if rx { firstRx = min(firstRx ?? wall, wall); lastRx = max(lastRx ?? wall, wall) }
            if tx { firstTx = min(firstTx ?? wall, wall); lastTx = max(lastTx ?? wall, wall) }
        }
    }

    struct Key: Hashable { let proto: UInt8; let ipId: UInt16; let seq: UInt32; let ack: UInt32; let flags: UInt8 }

    static func key(_ t: Tuple) -> Key? {
        guard t.l3Proto == 0x0800 || t.l3Proto == 0x86DD else { return nil }
        if t.l4Proto == 6 { return Key(proto: 6, ipId: t.ipId, seq: t.seq, ack: t.ack, flags: t.tcpFlags) }
        guard t.l3Proto == 0x0800, t.ipId != 0 else { return nil } // IPv6 and ID 0 (DF, atomic) carry no identity
        return Key(proto: t.l4Proto, ipId: t.ipId, seq: 0, ack: 0, flags: 0)
    }

    static func receivePath(_ name: String) -> Bool {
        ["netif_rx", "netif_receive", "napi_gro", "gro_receive", "ip_rcv", "ipv6_rcv", "__netif_receive"].contains { name.contains($0) }
    }
    static func transmitPath(_ name: String) -> Bool {
        ["xmit", "ip_finish_output", "ip6_finish_output", "neigh_"].contains { name.contains($0) }
    }

    /// Keys seen more than once far apart (a 16-bit ID wraps; a retransmission repeats TCP's
    /// key) are ambiguous: a packet's sightings on one host span at most this.
    static let maxTransitNs: Int64 = 2_000_000_000

    /// Aligns `logs` (the first is the reference); bounds are also grouped in windows of
    /// `windowNs` to fit a drift.
    public init(logs: [LogReader], windowNs: Int64 = 10_000_000_000) {
        var sightings: [[Key: Sighting]] = []
        var ambiguous = Set<Key>()
        for log in logs {
            let names = log.header.targets
            var paths: [UInt32: (rx: Bool, tx: Bool)] = [:] // by function id
            var seen: [Key: Sighting] = [:]
            let b2w = log.header.bootToWallNs
            log.forEachEvent(packets: { e, p in
                let wall = Int64(bitPattern: e.tsNs) &+ b2w
                let (rx, tx) = paths[e.funcId] ?? {
                    let name = names.name(of: e.funcId), v = (rx: Self.receivePath(name), tx: Self.transmitPath(name))
                    paths[e.funcId] = v
                    return v
                }()
                for t in [e.tuple, p.inner].compactMap({ $0 }) {
                    guard let k = Self.key(t) else { continue }
                    var s = seen[k] ?? Sighting(first: wall, last: wall)
                    if wall &- s.last > Self.maxTransitNs || s.first &- wall > Self.maxTransitNs { ambiguous.insert(k) }
                    s.add(wall, rx: rx, tx: tx)
                    seen[k] = s
                }
                return true
            })
            sightings.append(seen)
        }

        // Pairwise bounds on θ(Y) − θ(X).
        struct Edge {
            /// Every bound with the (X-clock) time it was taken at: for windows and drift.
            var lows: [Bound] = [], highs: [Bound] = []
            var lo: Int64 { lows.lazy.map(\.valueNs).max() ?? .min }
            var hi: Int64 { highs.lazy.map(\.valueNs).min() ?? .max }
            var pairs: Int { lows.count + highs.count }
        }
        var edges: [[Edge]] = Array(repeating: Array(repeating: Edge(), count: logs.count), count: logs.count)
        var sent = Array(repeating: 0, count: logs.count), matched = Array(repeating: 0, count: logs.count)
        for x in logs.indices {
            for (k, sx) in sightings[x] where sx.departed && !ambiguous.contains(k) {
                sent[x] += 1
                var found = false
                for y in logs.indices where y != x {
                    guard let sy = sightings[y][k], sy.arrived, !(sy.departed && sx.arrived),
                          let left = sx.lastTx, let reached = sy.firstRx else { continue }
                    found = true
                    // X→Y: θ(Y) − θ(X) < y − x (its first receive on Y, its last transmit on
                    // X): an upper bound for edge (x, y) and a lower bound for edge (y, x).
                    // Each edge's bounds are timed on its own first host's clock.
                    let bound = reached &- left
                    edges[x][y].highs.append(Bound(atNs: left, valueNs: bound))
                    edges[y][x].lows.append(Bound(atNs: reached, valueNs: 0 &- bound))
                }
                if found { matched[x] += 1 }
            }
        }

        // Chain from the reference: each step takes the unplaced host with the most packets
        // shared with a placed one.
        // The kernels' error bounds (µs → ns; a damaged header's value is clamped to a day).
        let errors: [Int64?] = logs.map { $0.header.clockSync.map { min(max($0.maxErrorUs, 0), 86_400_000_000) * 1000 } }
        var placed: [Int: (offset: Int64, lo: Int64, hi: Int64, drift: Double)] = [0: (0, 0, 0, 0)]
        hosts = logs.enumerated().map { i, l in
            Host(name: l.header.hostname, reference: logs[0].header.hostname, quality: i == 0 ? "reference" : "none",
                 sent: sent[i], matched: matched[i])
        }
        while placed.count < logs.count {
            var best: (x: Int, y: Int, pairs: Int)?
            for x in placed.keys { for y in logs.indices where placed[y] == nil && edges[x][y].pairs > (best?.pairs ?? 0) { best = (x, y, edges[x][y].pairs) } }
            guard let (x, y, pairs) = best else { break }
            let e = edges[x][y]
            var (edgeLo, edgeHi) = (e.lo, e.hi)
            var quality = "two-way"
            if edgeLo == .min || edgeHi == .max {
                // One side from the kernels' error bounds; without them, only the bound the
                // packets give is known, and the other side is that bound (no honest width).
                if let ex = errors[x], let ey = errors[y] {
                    quality = "one-way"
                    if edgeLo == .min { edgeLo = min(edgeHi, 0) &- (ex &+ ey) }
                    if edgeHi == .max { edgeHi = max(edgeLo, 0) &+ (ex &+ ey) }
                } else {
                    quality = "one-way-unbounded"
                    if edgeLo == .min { edgeLo = edgeHi }
                    if edgeHi == .max { edgeHi = edgeLo }
                }
            }
            // θ(Y) − θ(X) ∈ [lo, hi].
            let base = placed[x]!
            let lo = base.lo &+ edgeLo, hi = base.hi &+ edgeHi
            let theta = lo / 2 + hi / 2
            // Windows: the edge's time is X's clock; the chain adds the drifts.
            let windows = Self.windows(lows: e.lows, highs: e.highs, widthNs: windowNs)
            let drift = base.drift + (Self.drift(windows) ?? 0)
            placed[y] = (theta, lo, hi, drift)
            hosts[y].windows = windows
            hosts[y].driftPpb = Int64((drift * 1e9).rounded())
            hosts[y].offsetNs = theta
            hosts[y].loNs = lo
            hosts[y].hiNs = hi
            hosts[y].pairs = pairs
            hosts[y].quality = lo > hi ? "inconsistent" : quality
        }
    }
}

extension ClockAlignment {
    /// The offsets as Parquet rows (host, reference, offset_ns, lo_ns, hi_ns, drift_ppb,
    /// pairs, quality): what `export` and the fleet SQL join on.
    public func parquet(write: @escaping ([UInt8]) -> Bool) throws(ParquetWriter.Failure) {
        let cols = [ParquetColumn("host", .byteArray, .string), ParquetColumn("reference", .byteArray, .string),
                    ParquetColumn("offset_ns", .int64), ParquetColumn("lo_ns", .int64), ParquetColumn("hi_ns", .int64),
                    ParquetColumn("drift_ppb", .int64), ParquetColumn("pairs", .int64), ParquetColumn("quality", .byteArray, .string)]
        let w = ParquetWriter(columns: cols, metadata: [("fasttrace.schema", "offsets/1")],
                              createdBy: "fasttrace version \(FastTraceVersion.string)", write: write)
        for h in hosts {
            cols[0].append(string: h.name)
            cols[1].append(string: h.reference)
            cols[2].append(int64: h.offsetNs)
            cols[3].append(int64: h.loNs)
            cols[4].append(int64: h.hiNs)
            cols[5].append(int64: h.driftPpb)
            cols[6].append(int64: Int64(h.pairs))
            cols[7].append(string: h.quality)
            try w.endRows(1)
        }
        try w.finish()
    }
}
