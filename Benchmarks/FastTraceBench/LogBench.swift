import FastTrace
import FastTraceBenchmarks
import Foundation

/// Capture-log throughput on a synthetic but realistic stream: 200 flows, each packet seen
/// by a 25-function path on one CPU, packets interleaved across 4 CPUs.
enum LogBench {
    static func events(_ n: Int) -> [Event] {
        var out: [Event] = []
        out.reserveCapacity(n)
        var ts: UInt64 = 5_000_000_000, skb: UInt64 = 0xffff_8881_0000_0000, seed: UInt64 = 1
        func rnd(_ m: Int) -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int((seed >> 33) % UInt64(m)) }
        var comm = InlineArray<16, CChar>(repeating: 0)
        for (i, c) in "nginx".utf8.enumerated() { comm[i] = CChar(bitPattern: c) }
        while out.count < n {
            let flow = rnd(200)
            skb = 0xffff_8881_0000_0000 + UInt64(rnd(4096)) * 0x100
            var e = Event()
            e.skb = skb
            e.cpu = UInt32(flow % 4)
            e.pid = 1000 + UInt32(flow % 8)
            e.tgid = 1000
            e.comm = comm
            e.stackId = -1
            e.meta.netns = 4_026_531_840
            e.meta.ifindex = 2
            e.meta.mtu = 1500
            e.meta.len = UInt32(60 + flow * 7)
            e.meta.protocol = 0x0800
            e.tuple.l3Proto = 0x0800
            e.tuple.l4Proto = 6
            e.tuple.sport = UInt16(30000 + flow)
            e.tuple.dport = 443
            e.tuple.tcpFlags = 0x10
            e.tuple.saddr[0] = 10; e.tuple.saddr[3] = UInt8(flow % 250 + 1)
            e.tuple.daddr[0] = 10; e.tuple.daddr[3] = 200
            for f in 0..<25 where out.count < n {
                ts &+= UInt64(200 + rnd(800))
                e.tsNs = ts
                e.funcId = UInt32(f * 3 + flow % 3)
                e.kind = EventKind(rawValue: 0)
                e.dropReason = 0
                if f == 24 && flow % 50 == 0 { e.kind = .drop; e.dropReason = 12 }
                out.append(e)
            }
        }
        return out
    }

    static func run(repeats: Int) throws -> [Stat] {
        let n = 1_000_000
        let evs = events(n)
        let header = LogHeader(kernelRelease: KernelInfo.release, hostname: "bench", cpus: 4, backend: "bench", filter: nil,
                               arguments: [], targets: (0..<80).map { TracedTarget(name: "f\($0)", kind: .function, position: 1, module: nil) },
                               targetAddresses: Array(repeating: 0, count: 80), dropReasons: DropReasons(names: [:]),
                               bootToWallNs: 0, startedAt: Date())
        let path = NSTemporaryDirectory() + "fasttrace-bench-\(getpid()).ftlog"
        defer { unlink(path) }
        var append: [Double] = [], total: [Double] = [], read: [Double] = [], bytes: [Double] = []
        for _ in 0..<repeats {
            var o = LogWriter.Options()
            o.queueDepth = 1 << 16
            let w = try LogWriter(path: path, header: header, options: o)
            var t = benchNow()
            for e in evs { w.append(e) }
            append.append(Double(n) / ((benchNow() - t) / 1e9) / 1e6)
            try w.finish(lostPerCPU: [])
            total.append(Double(n) / ((benchNow() - t) / 1e9) / 1e6)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            bytes.append(Double(size) / Double(n))
            let r = try LogReader(path: path)
            var count = 0
            t = benchNow()
            r.forEachEvent { _ in count += 1; return true }
            read.append(Double(count) / ((benchNow() - t) / 1e9) / 1e6)
        }
        return [
            Stat("log: bytes per event (1M events, 200 flows × 25-function paths)", unit: "B", bytes),
            Stat("log: encode on the consumer thread", unit: "M events/s", append),
            Stat("log: write incl. compression and fsync", unit: "M events/s", total),
            Stat("log: read (decompress + decode)", unit: "M events/s", read),
        ]
    }
}
