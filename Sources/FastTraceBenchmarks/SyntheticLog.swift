import FastTrace
import Foundation

/// A generated capture log for post-processing benchmarks and tests (`fasttrace-bench
/// genlog`, the offline bench, the Parquet export's memory test): realistic in shape (a
/// receive path per packet, frees and drops, addresses reused, CPUs interleaved), written as
/// a stream, so any size costs the same memory.
public enum SyntheticLog {
    /// The function table of the generated logs: a receive path, then a free or a drop.
    static let path = ["__netif_receive_skb_core", "ip_rcv", "ip_rcv_core", "nf_hook_slow", "ip_rcv_finish", "ip_route_input_noref",
                       "ip_local_deliver", "ip_local_deliver_finish", "ip_protocol_deliver_rcu", "udp_rcv", "__udp4_lib_rcv",
                       "udp_queue_rcv_skb", "__udp_enqueue_schedule_skb", "skb_consume_udp"]
    static let freeID = UInt32(path.count), dropID = UInt32(path.count + 1)
    static let targets = (path + ["consume_skb", "kfree_skb_reason"]).map { TracedTarget(name: $0, kind: .function, position: 1, module: nil) }

    /// Writes `n` events: packets of 200 flows, 16 in flight at once across 4 CPUs (so the
    /// file interleaves them), each through `path` and then freed (2% dropped), skb addresses
    /// reused from a pool as the slab allocator does. Streamed: memory does not grow with n.
    public static func write(_ n: Int, to file: String) throws {
        let header = LogHeader(kernelRelease: KernelInfo.release, hostname: "bench", cpus: 4, backend: "bench", filter: "udp",
                               arguments: ["fasttrace-bench"], targets: targets, targetAddresses: Array(repeating: 0, count: targets.count),
                               dropReasons: DropReasons(names: [12: "SKB_DROP_REASON_NETFILTER_DROP"]),
                               bootToWallNs: 1_700_000_000_000_000_000, startedAt: Date(timeIntervalSince1970: 1_700_000_000))
        var o = LogWriter.Options()
        o.queueDepth = 1 << 16
        let w = try LogWriter(path: file, header: header, options: o)
        var comm = InlineArray<16, CChar>(repeating: 0)
        for (i, c) in "iperf3".utf8.enumerated() { comm[i] = CChar(bitPattern: c) }
        var seed: UInt64 = 1
        func rnd(_ m: Int) -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int((seed >> 33) % UInt64(m)) }
        struct InFlight { var e: Event; var step: Int }
        var flight: [InFlight] = []
        var ts: UInt64 = 5_000_000_000
        var written = 0
        var ipID: UInt16 = 0
        func newPacket() -> InFlight {
            let flow = rnd(200)
            var e = Event()
            e.skb = 0xffff_8881_0000_0000 + UInt64(rnd(8192)) * 0x100
            e.cpu = UInt32(rnd(4))
            e.pid = 4000 + UInt32(flow % 4)
            e.tgid = 4000
            e.comm = comm
            e.stackId = -1
            e.meta.netns = 4_026_531_840
            e.meta.ifindex = 1
            e.meta.mtu = 65536
            e.meta.len = UInt32(92 + flow % 50)
            e.meta.protocol = 0x0800
            e.tuple.l3Proto = 0x0800
            e.tuple.l4Proto = 17
            e.tuple.sport = UInt16(30000 + flow)
            e.tuple.dport = 9999
            ipID &+= 1
            e.tuple.ipId = ipID
            e.tuple.saddr[0] = 127; e.tuple.saddr[3] = 1
            e.tuple.daddr[0] = 127; e.tuple.daddr[3] = 1
            return InFlight(e: e, step: 0)
        }
        for _ in 0..<16 { flight.append(newPacket()) }
        while written < n {
            let i = rnd(flight.count)
            var p = flight[i]
            ts &+= UInt64(50 + rnd(300))
            p.e.tsNs = ts
            if p.step < path.count {
                p.e.funcId = UInt32(p.step)
                p.e.kind = EventKind(rawValue: 0)
                p.e.dropReason = 0
                p.step += 1
                flight[i] = p
            } else {
                let dropped = rnd(50) == 0
                p.e.funcId = dropped ? dropID : freeID
                if dropped { p.e.kind = .drop; p.e.dropReason = 12 }
                flight[i] = newPacket()
            }
            w.append(p.e)
            written += 1
        }
        try w.finish(lostPerCPU: [0, 0, 0, 0])
    }

}
