@testable import FastTrace
import Foundation
import Testing

/// Seeded random damage to capture logs, each damaged log read back through everything that
/// reads logs (reader, text and JSON rendering, journeys, stats). A trap fails the run; the
/// checks are that every frame the damage did not touch is read back, and that a truncated
/// log gives exactly the events of the frames before the cut.
///
/// `make test` runs FASTTRACE_FUZZ_ITERATIONS (default 1,000) per test with seed 1; `make
/// fuzz` many more with a new seed. The seed is printed; FASTTRACE_FUZZ_SEED repeats a run.
@Suite struct LogFuzzTests {
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["FASTTRACE_FUZZ_ITERATIONS"] ?? "") ?? 1000 }
    /// Fixed for `make test` (a failure there is the same on every run); `make fuzz` passes a new one.
    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["FASTTRACE_FUZZ_SEED"] ?? "") ?? 1 }

    /// --output-skb-metadata's layout in the base log's header: a number, a string, a
    /// bitfield with names.
    static let metadata = SkbMetadata(fields: [
        .init(name: "skb->mark", kind: .unsigned, offset: 8, size: 8, bitOffset: 0, bits: 0, width: 4),
        .init(name: "skb->dev->name", kind: .chars, offset: 16, size: 16, bitOffset: 0, bits: 0, width: 1),
        .init(name: "skb->pkt_type", kind: .unsigned, offset: 32, size: 8, bitOffset: 0, bits: 3, names: ["0": "PACKET_HOST"], width: 1),
    ], size: 40)

    static var baseHeader: LogHeader {
        var h = LogTests.header()
        h.skbMetadata = metadata
        return h
    }

    /// A small log: 12 frames of 25 events with packet bytes on some, metadata areas and
    /// struct dumps (format 4) on others, and its frame index.
    static let base: (bytes: [UInt8], frames: [LogFrameIndex], events: Int) = {
        let path = TestSupport.temporaryDirectory("fuzzbase").appendingPathComponent("base.ftlog").path
        var o = LogWriter.Options()
        o.frameEvents = 25
        o.frameInterval = 3600 // frames cut by count only: the made-up timestamps are long past
        o.queueDepth = 1 << 20
        let w = try! LogWriter(path: path, header: baseHeader, options: o)
        let events = LogTests.events(300, seed: 3)
        for (i, e) in events.enumerated() {
            if i % 4 == 0 {
                let bytes = [UInt8](repeating: UInt8(i & 0xff), count: 40)
                bytes.withUnsafeBytes { w.append(e, packet: PacketBytes(link: Link(rawValue: 1), wireLength: 60, bytes: $0)) }
            } else if i % 4 == 1 {
                var area = [UInt8](repeating: 0, count: 40)
                area[0] = 0x07
                area[7] = 0x80 // has an skb, three fields read
                area[8] = UInt8(i & 0xff)
                area.replaceSubrange(16..<20, with: Array("eth0".utf8))
                let text = Array("(struct sk_buff){.len = (unsigned int)\(i),}".utf8)
                area.withUnsafeBytes { a in
                    text.withUnsafeBytes { t in
                        var p = PacketBytes.none
                        p.metadata = a
                        p.dumps = [StructDump(kind: .skb, length: Int32(t.count + i % 3), text: t)]
                        w.append(e, packet: p)
                    }
                }
            } else {
                w.append(e)
            }
        }
        try! w.finish(lostPerCPU: [0, 0])
        let bytes = try! [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let trailer = try! LogReader(path: path).trailer!
        return (bytes, trailer.frames, events.count)
    }()

    enum Damage {
        case bits([Int])                       // flipped bits (byte offset × 8 + bit)
        case overwrite(Int, [UInt8])
        case insert(Int, [UInt8])
        case delete(Range<Int>)
        case truncate(Int)
        case word(Int, UInt64, width: Int)     // a length-like field set to an extreme

        /// Byte ranges of the original that the damage changes (inserts and deletes shift
        /// what follows, but leave it intact).
        var touched: [Range<Int>] {
            switch self {
            case .bits(let bits): bits.map { ($0 / 8)..<($0 / 8 + 1) }
            case .overwrite(let at, let b): [at..<(at + b.count)]
            case .insert(let at, _): [at..<(at + 1)]
            case .delete(let r): [r.lowerBound..<(r.upperBound + 1)]
            case .truncate(let at): [at..<Int.max]
            case .word(let at, _, let w): [at..<(at + w)]
            }
        }

        func apply(_ b: inout [UInt8]) {
            switch self {
            case .bits(let bits): for x in bits { b[x / 8] ^= 1 << UInt8(x % 8) }
            case .overwrite(let at, let bytes): b.replaceSubrange(at..<min(b.count, at + bytes.count), with: bytes.prefix(b.count - at))
            case .insert(let at, let bytes): b.insert(contentsOf: bytes, at: at)
            case .delete(let r): b.removeSubrange(r)
            case .truncate(let at): b.removeSubrange(at...)
            case .word(let at, let v, let w): withUnsafeBytes(of: v.littleEndian) { for k in 0..<w { b[at + k] = $0[k] } }
            }
        }
    }

    static func randomDamage(_ rng: inout PacketCorpus.RNG, size: Int) -> Damage {
        switch rng.int(6) {
        case 0: return .bits((0..<(1 + rng.int(8))).map { _ in rng.int(size * 8) })
        case 1:
            let at = rng.int(size)
            return .overwrite(at, rng.bytes(1 + rng.int(min(512, size - at))))
        case 2: return .insert(rng.int(size), rng.bytes(1 + rng.int(256)))
        case 3:
            let at = rng.int(size)
            return .delete(at..<min(size, at + 1 + rng.int(512)))
        case 4: return .truncate(rng.int(size))
        default:
            let w = rng.pick([4, 8])
            let values: [UInt64] = [0, 1, 7, .max, 1 << 63, UInt64(UInt32.max), UInt64(size), UInt64(size) - 8]
            return .word(rng.int(size - w), rng.pick(values), width: w)
        }
    }

    /// Reads `path` through everything a user can run on a log; returns the events read.
    static func readEverything(_ path: String) -> Int? {
        guard let reader = try? LogReader(path: path) else { return nil }
        var text = OutputOptions()
        text.timestamp = .relative
        text.tcpFlags = true
        var json = OutputOptions()
        json.json = true
        let t = EventFormatter(options: text, log: reader), j = EventFormatter(options: json, log: reader)
        let out = ByteBuffer(capacity: 1 << 16)
        var stats = LogStats()
        let journeys = JourneyBuilder(functionName: { reader.header.targets.name(of: $0) })
        var n = 0
        reader.forEachEvent(packets: { e, p in
            t.render(e, packet: p, to: out)
            j.render(e, packet: p, to: out)
            out.removeAll()
            stats.add(e)
            journeys.add(e) { j.renderJourneyJSON($0, to: out); t.renderJourney($0, to: out); out.removeAll() }
            n += 1
            return true
        })
        journeys.finish { t.renderJourney($0, to: out) }
        _ = stats.render(header: reader.header, trailer: reader.trailer)
        _ = reader.damageWarning
        return n
    }

    @Test func everyUntouchedFrameIsReadWhateverTheDamage() throws {
        let seed = Self.seed
        var rng = PacketCorpus.RNG(state: seed)
        let (bytes, frames, _) = Self.base
        let path = TestSupport.temporaryDirectory("fuzz").appendingPathComponent("damaged.ftlog").path
        let identity = 0..<(8 + LogFormat.headerTag.count)
        var refused = 0, failures: [String] = []
        for i in 0..<Self.iterations {
            let damage = Self.randomDamage(&rng, size: bytes.count)
            var b = bytes
            damage.apply(&b)
            FileManager.default.createFile(atPath: path, contents: Data(b))
            let touched = damage.touched
            let intact = frames.filter { f in
                let r = Int(f.offset)..<(Int(f.offset) + Int(f.size))
                return !touched.contains { $0.overlaps(r) }
            }
            let expected = intact.reduce(0) { $0 + Int($1.events) }
            guard let n = Self.readEverything(path) else {
                // Refusing is right only when the file no longer says it is a log.
                if !touched.contains(where: { $0.overlaps(identity) }) { failures.append("#\(i) \(damage): refused") }
                refused += 1
                continue
            }
            if case .truncate = damage {
                if n != expected { failures.append("#\(i) \(damage): \(n) events, \(expected) before the cut") }
            } else if n < expected {
                failures.append("#\(i) \(damage): \(n) events, \(expected) in untouched frames")
            }
            if failures.count > 5 { break }
        }
        print("log fuzz: seed \(seed), \(Self.iterations) damaged logs, \(refused) refused as not a log, \(failures.count) failures")
        #expect(failures.isEmpty, "seed \(seed): \(failures.joined(separator: "\n"))")
    }

    /// Any one flipped bit before the first event frame (header and its copy) loses no
    /// event; in the header proper, the copy also keeps the function names.
    @Test func aFlippedHeaderBitLosesNothing() throws {
        let (bytes, frames, total) = Self.base
        let first = Int(frames[0].offset)
        let headerEnd = 8 + Int(UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }))
        let path = TestSupport.temporaryDirectory("hdr").appendingPathComponent("h.ftlog").path
        var rng = PacketCorpus.RNG(state: Self.seed)
        var failures: [String] = []
        for _ in 0..<Self.iterations {
            let bit = rng.int(first * 8)
            var b = bytes
            b[bit / 8] ^= 1 << UInt8(bit % 8)
            FileManager.default.createFile(atPath: path, contents: Data(b))
            guard let reader = try? LogReader(path: path) else { failures.append("bit \(bit): refused"); continue }
            var n = 0
            reader.forEachEvent { _ in n += 1; return true }
            if n != total { failures.append("bit \(bit): \(n) of \(total) events") }
            if bit / 8 >= 8 + LogFormat.headerTag.count, bit / 8 < headerEnd, reader.header != Self.baseHeader {
                failures.append("bit \(bit): the header copy was not used")
            }
            if failures.count > 5 { break }
        }
        print("header fuzz: seed \(Self.seed), \(Self.iterations) single-bit flips before the first event frame, \(failures.count) failures")
        #expect(failures.isEmpty, "seed \(Self.seed): \(failures.joined(separator: "\n"))")
    }
}
