@testable import FastTrace
import Testing

/// Journeys built as a stream: the same journeys as grouping the whole log at once, from
/// events in the order a log holds them (per-CPU bursts), with bounded state.
@Suite struct JourneyTests {
    static let names = ["ip_rcv", "nf_hook_slow", "ip_local_deliver", "udp_rcv", "tcp_v4_rcv", "consume_skb", "kfree_skb_reason"]

    /// Packets of several flows on 4 CPUs, 8 in flight per CPU, each through a path ending
    /// in a free (every 20th in a drop); addresses reused from a small pool; then arranged
    /// as a consumer drains rings: every 0.5 ms (of event time), each CPU's new events in
    /// turn, CPUs in a random order.
    static func logOrder(_ n: Int, seed: UInt64) -> [Event] {
        var rng = PacketCorpus.RNG(state: seed)
        var perCPU: [[Event]] = Array(repeating: [], count: 4)
        var ts: UInt64 = 1_000_000_000
        var flight: [(e: Event, step: Int, len: Int)] = []
        var made = 0
        func fresh() -> (Event, Int, Int) {
            var e = Event()
            e.skb = 0xffff_8881_0000_0000 + UInt64(rng.int(64)) * 0x100
            e.cpu = UInt32(rng.int(4))
            e.tuple.l3Proto = 0x0800
            e.tuple.dport = UInt16(1000 + rng.int(5))
            return (e, 0, 2 + rng.int(4))
        }
        // Addresses in flight are distinct, as in a kernel.
        func freshDistinct() -> (Event, Int, Int) {
            while true {
                let f = fresh()
                if !flight.contains(where: { $0.e.skb == f.0.skb }) { return f }
            }
        }
        for _ in 0..<32 { flight.append(freshDistinct()) }
        while made < n {
            let i = rng.int(flight.count)
            ts += UInt64(1 + rng.int(400))
            var p = flight[i]
            p.e.tsNs = ts
            if p.step < p.len {
                p.e.funcId = UInt32(p.step % 5)
                p.e.kind = EventKind(rawValue: 0)
                p.step += 1
                flight[i] = p
            } else {
                let drop = rng.int(20) == 0
                p.e.funcId = drop ? 6 : 5
                if drop { p.e.kind = .drop; p.e.dropReason = 2 }
                flight[i] = (Event(), 0, 0)
                flight[i] = freshDistinct()
            }
            perCPU[Int(p.e.cpu)].append(p.e)
            made += 1
        }
        var out: [Event] = []
        var at = [0, 0, 0, 0]
        var until: UInt64 = 1_000_000_000
        while out.count < made {
            until += 500_000
            for cpu in [0, 1, 2, 3].shuffled(using: &rng) {
                while at[cpu] < perCPU[cpu].count && perCPU[cpu][at[cpu]].tsNs < until {
                    out.append(perCPU[cpu][at[cpu]])
                    at[cpu] += 1
                }
            }
        }
        return out
    }

    static func key(_ j: Journey) -> [UInt64] { j.events.flatMap { [$0.tsNs, $0.skb, UInt64($0.funcId)] } }

    @Test func streamingGivesTheJourneysOfTheWholeLog() {
        let events = Self.logOrder(60_000, seed: 5)
        let whole = Journeys.build(events) { Self.names[Int($0)] }
        var streamed: [Journey] = []
        let b = JourneyBuilder(functionName: { Self.names[Int($0)] }, reorderWindowNs: 2_000_000)
        for e in events { b.add(e) { streamed.append($0) } }
        b.finish { streamed.append($0) }
        #expect(b.late == 0)
        #expect(streamed.count == whole.count)
        #expect(streamed.count > 10_000)
        let same = Set(streamed.map(Self.key)) == Set(whole.map(Self.key))
        #expect(same, "streamed journeys differ from the whole-log grouping")
        #expect(streamed.allSatisfy { j in zip(j.events, j.events.dropFirst()).allSatisfy { $0.tsNs <= $1.tsNs } })
    }

    @Test func stateStaysBoundedAsTheLogGrows() {
        let b = JourneyBuilder(functionName: { Self.names[Int($0)] }, reorderWindowNs: 2_000_000, maxBuffered: 4096)
        var most = 0, emitted = 0
        for e in Self.logOrder(300_000, seed: 9) {
            b.add(e) { _ in emitted += 1 }
            most = max(most, b.held)
        }
        #expect(emitted > 50_000)
        #expect(most <= 4096 + 32 * 8, "held \(most) events at once")
    }

    /// An event that comes after the window closed still lands in its journey, in time order.
    @Test func aLateEventJoinsItsOpenJourney() {
        var e = Event()
        e.skb = 0x1000
        e.tuple.l3Proto = 0x0800
        var events: [Event] = []
        for (ts, f) in [(1_000, 0), (2_000, 1), (9_000_000, 2)] as [(UInt64, UInt32)] {
            e.tsNs = ts
            e.funcId = f
            events.append(e)
        }
        var late = e
        late.tsNs = 1_500
        late.funcId = 3
        events.append(late)
        var out: [Journey] = []
        let b = JourneyBuilder(functionName: { Self.names[Int($0)] }, reorderWindowNs: 1_000_000)
        for x in events { b.add(x) { out.append($0) } }
        b.finish { out.append($0) }
        #expect(b.late == 1)
        #expect(out.count == 1)
        #expect(out.first?.events.map(\.funcId) == [0, 3, 1, 2])
    }
}
