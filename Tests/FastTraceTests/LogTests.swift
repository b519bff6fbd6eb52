@testable import FastTrace
import Foundation
import Testing

/// The capture log: every event back field by field, across frames and CPUs; damaged files
/// give back every intact frame and one warning; other files are refused.
@Suite struct LogTests {
    /// Plausible events: a few flows, each skb through a run of functions, several CPUs,
    /// drops with reasons, stacks, callers, IPv4 and IPv6.
    static func events(_ n: Int, seed: UInt64 = 7) -> [Event] {
        var rng = PacketCorpus.RNG(state: seed)
        var out: [Event] = []
        var ts: UInt64 = 1_000_000_000
        var skb: UInt64 = 0xffff_8881_0000_0000
        var comm = InlineArray<16, CChar>(repeating: 0)
        for (i, c) in "ksoftirqd/1".utf8.enumerated() { comm[i] = CChar(bitPattern: c) }
        while out.count < n {
            skb &+= UInt64(rng.int(64) + 1) * 0x100
            var e = Event()
            e.skb = skb
            e.cpu = UInt32(rng.int(8))
            e.pid = UInt32(rng.int(3) * 1000)
            e.tgid = e.pid
            e.comm = comm
            e.stackId = rng.chance(10) ? Int32(rng.int(4096)) : -1
            e.meta.netns = 4_026_531_840 + UInt32(rng.int(3))
            e.meta.ifindex = UInt32(rng.int(4))
            e.meta.len = UInt32(40 + rng.int(1460))
            e.meta.mtu = 1500
            e.meta.mark = rng.chance(5) ? 0x100 : 0
            let v6 = rng.chance(30)
            e.meta.protocol = v6 ? 0x86DD : 0x0800
            e.tuple.l3Proto = e.meta.protocol
            e.tuple.l4Proto = rng.pick([6, 17, 1])
            e.tuple.sport = UInt16(rng.int(65536))
            e.tuple.dport = rng.pick([80, 443, 53, 8080])
            e.tuple.tcpFlags = rng.pick([0x02, 0x10, 0x18])
            for b in 0..<(v6 ? 16 : 4) { e.tuple.saddr[b] = UInt8(rng.int(256)); e.tuple.daddr[b] = UInt8(rng.int(256)) }
            // Derived from the skb, not drawn, so that the stream stays what the golden files pin.
            if !v6 { e.tuple.ipId = UInt16(truncatingIfNeeded: skb >> 8) }
            if e.tuple.l4Proto == 6 {
                e.tuple.seq = UInt32(truncatingIfNeeded: skb &* 2_654_435_761)
                e.tuple.ack = UInt32(truncatingIfNeeded: skb >> 3)
            }
            for f in 0..<(3 + rng.int(30)) where out.count < n {
                ts &+= UInt64(rng.int(5000))
                e.tsNs = ts &- UInt64(rng.int(2000)) // CPUs interleave: not monotonic
                e.funcId = UInt32(f * 7 % 200)
                e.caller = rng.chance(20) ? 0xffff_ffff_8100_0000 + UInt64(rng.int(1 << 20)) : 0
                if rng.chance(3) { e.meta.len = UInt32(40 + rng.int(1460)) }  // headers pushed/pulled
                if rng.chance(2) { e.tuple.dport = 8080 }                       // NAT
                e.kind = EventKind(rawValue: 0)
                e.dropReason = 0
                if rng.chance(4) { e.kind = .drop; e.dropReason = UInt32(rng.int(120)) }
                out.append(e)
            }
        }
        return out
    }

    static func header() -> LogHeader {
        LogHeader(kernelRelease: "6.18.0-test", hostname: "host", cpus: 8, backend: "tracepoint", filter: "tcp",
                  arguments: ["fasttrace", "tcp"], targets: (0..<200).map { TracedTarget(name: "f\($0)", kind: .function, position: 1, module: nil) },
                  targetAddresses: Array(repeating: 0, count: 200), dropReasons: DropReasons(names: [2: "SKB_DROP_REASON_NOT_SPECIFIED"]),
                  bootToWallNs: 1_700_000_000_000_000_000, startedAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    static func write(_ events: [Event], frameEvents: Int, to path: String) throws -> LogTrailer {
        var o = LogWriter.Options()
        o.frameEvents = frameEvents
        o.frameInterval = 3600 // frames cut by count only: the made-up timestamps are long past
        o.queueDepth = 1 << 20 // never drop in tests
        let w = try LogWriter(path: path, header: header(), options: o)
        for e in events { w.append(e) }
        try w.finish(lostPerCPU: [0, 3, 0, 0, 0, 0, 0, 0])
        return try #require(LogReader(path: path).trailer)
    }

    static func read(_ path: String) throws -> (events: [Event], reader: LogReader) {
        let r = try LogReader(path: path)
        var out: [Event] = []
        r.forEachEvent { out.append($0); return true }
        return (out, r)
    }

    @Test func everyEventComesBackFieldByField() throws {
        let events = Self.events(100_000)
        let path = TestSupport.temporaryDirectory("log").appendingPathComponent("a.ftlog").path
        let trailer = try Self.write(events, frameEvents: 1000, to: path)
        #expect(trailer.frames.count == 100)
        #expect(trailer.events == 100_000)
        #expect(trailer.lostPerCPU == [0, 3, 0, 0, 0, 0, 0, 0])
        let (back, reader) = try Self.read(path)
        #expect(reader.header == Self.header())
        #expect(reader.damageWarning == nil)
        #expect(back.count == events.count)
        let firstDiff = zip(back, events).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstDiff == nil, "event \(firstDiff?.offset ?? -1) differs: \(String(describing: firstDiff?.element))")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        print("log: \(events.count) events in \(size) bytes, \(String(format: "%.1f", Double(size) / Double(events.count))) bytes/event")
    }

    /// `zstd -d` decodes the whole file: the header and trailer are skippable frames.
    @Test func zstdToolReadsTheWholeFile() throws {
        let path = TestSupport.temporaryDirectory("log").appendingPathComponent("z.ftlog").path
        _ = try Self.write(Self.events(5000), frameEvents: 500, to: path)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd") else { return }
        let r = try TestSupport.run("/usr/bin/zstd", ["-t", path])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func truncationAtAHundredPointsKeepsEveryWholeFrame() throws {
        let events = Self.events(20_000, seed: 11)
        let dir = TestSupport.temporaryDirectory("log")
        let path = dir.appendingPathComponent("t.ftlog").path
        let trailer = try Self.write(events, frameEvents: 400, to: path)
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let start = Int(trailer.frames[0].offset)
        var checked = 0
        for i in 0..<100 {
            let cut = start + (data.count - start) * i / 100 + (i % 7)
            let cutPath = dir.appendingPathComponent("cut\(i).ftlog").path
            FileManager.default.createFile(atPath: cutPath, contents: Data(data[..<min(cut, data.count)]))
            let (back, reader) = try Self.read(cutPath)
            let whole = trailer.frames.filter { Int($0.offset) + Int($0.size) <= cut }.reduce(0) { $0 + Int($1.events) }
            #expect(back.count == whole, "cut at \(cut): \(back.count) events, \(whole) in whole frames")
            #expect(Array(back) == Array(events.prefix(back.count)))
            #expect(reader.damageWarning != nil, "cut at \(cut) of \(data.count): a warning")
            checked += 1
        }
        #expect(checked == 100)
    }

    @Test func flippedBytesLoseOnlyTheirFrames() throws {
        let events = Self.events(20_000, seed: 13)
        let dir = TestSupport.temporaryDirectory("log")
        let path = dir.appendingPathComponent("f.ftlog").path
        let trailer = try Self.write(events, frameEvents: 400, to: path)
        let clean = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var rng = PacketCorpus.RNG(state: 99)
        for round in 0..<20 {
            var data = clean
            var hit = Set<Int>() // frames touched
            for _ in 0..<(1 + rng.int(4)) {
                let f = trailer.frames[rng.int(trailer.frames.count)]
                let at = Int(f.offset) + rng.int(Int(f.size))
                data[at] ^= UInt8(1 << rng.int(8))
                hit.insert(Int(f.offset))
            }
            let p = dir.appendingPathComponent("flip\(round).ftlog").path
            FileManager.default.createFile(atPath: p, contents: Data(data))
            let (back, reader) = try Self.read(p)
            // Expected: the events of untouched frames, in order.
            var expected: [Event] = []
            var i = 0
            for f in trailer.frames {
                if !hit.contains(Int(f.offset)) { expected += events[i..<(i + Int(f.events))] }
                i += Int(f.events)
            }
            #expect(back == expected, "round \(round): \(back.count) events back, \(expected.count) in intact frames")
            #expect(reader.damageWarning != nil)
        }
    }

    /// One skb address, three packets: a NAT-ed one (tuple changes within microseconds: one
    /// journey), ended by a drop; a reuse right after; a reuse by another flow 5 ms later
    /// with no free seen in between.
    @Test func journeysSplitOnFreesAndReuseButNotOnNAT() {
        func ev(_ ts: UInt64, _ f: UInt32, dport: UInt16, drop: Bool = false) -> Event {
            var e = Event()
            e.skb = 0xffff_8881_0000_1000
            e.tsNs = ts
            e.funcId = f
            e.tuple.l3Proto = 0x0800
            e.tuple.dport = dport
            if drop { e.kind = .drop; e.dropReason = 3 }
            return e
        }
        let names = ["ip_rcv", "nf_hook_slow", "tcp_v4_rcv", "kfree_skb_reason"]
        let events = [ev(1000, 0, dport: 80), ev(2000, 1, dport: 80), ev(3000, 2, dport: 8080), ev(4000, 3, dport: 8080, drop: true),
                      ev(5000, 0, dport: 443), ev(6000, 2, dport: 443),
                      ev(5_006_000, 0, dport: 22)].shuffled()
        let j = Journeys.build(events) { names[Int($0)] }
        #expect(j.map(\.events.count) == [4, 2, 1])
        #expect(j[0].drop?.dropReason == 3)
        #expect(j[0].tuple?.dport == 80)
        #expect(j[1].drop == nil)
    }

    @Test func otherFilesAreRefused() throws {
        let dir = TestSupport.temporaryDirectory("log")
        for (name, bytes) in [("empty", [UInt8]()), ("text", Array("hello, this is not a log at all\n".utf8)),
                              ("zstd", [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])] {
            let p = dir.appendingPathComponent(name).path
            FileManager.default.createFile(atPath: p, contents: Data(bytes))
            #expect {
                _ = try LogReader(path: p)
            } throws: { ($0 as? LogError).map { if case .notALog = $0 { true } else { false } } ?? false }
        }
    }
    /// A frame closes --frame-interval after its first event happened in the kernel, not
    /// after the consumer took it from the ring: an event that waited 0.4 s in the ring
    /// leaves 0.1 s of a 0.5 s interval. A backlog long past still gets a tenth.
    @Test func framesCloseOnTheEventsClock() throws {
        func deadline(_ eventNs: UInt64) -> Double { LogWriter.deadline(eventNs: eventNs, now: 10, interval: 0.5) }
        #expect(abs(deadline(9_600_000_000) - 10.1) < 1e-9)
        #expect(abs(deadline(1_000_000_000) - 10.05) < 1e-9)
        #expect(abs(deadline(20_000_000_000) - 10.5) < 1e-9) // not this clock
        var o = LogWriter.Options()
        o.frameInterval = 0.5
        let path = TestSupport.temporaryDirectory("log").appendingPathComponent("clock.ftlog").path
        let w = try LogWriter(path: path, header: Self.header(), options: o)
        var e = Self.events(1)[0]
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        e.tsNs = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec) - 400_000_000
        w.append(e)
        let due = try #require(w.secondsUntilFrameCloses)
        #expect(due <= 0.11, "due in \(due) s")
        usleep(UInt32(due * 1e6) + 20_000)
        w.tick()
        #expect(w.secondsUntilFrameCloses == nil, "the frame closed")
        try w.finish(lostPerCPU: [])
        #expect(try LogReader(path: path).trailer?.frames.count == 1)
    }
}
