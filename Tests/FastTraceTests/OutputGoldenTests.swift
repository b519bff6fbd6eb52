@testable import FastTrace
import Foundation
import Testing

/// Pins the text and JSON output of a fixed log byte for byte (Fixtures/golden/). The text
/// files were produced by the String-based formatter that preceded the byte renderer, so
/// they also prove the renderer prints what fasttrace always printed. The JSON files fix the
/// documented key order (docs/output.md).
///
/// To regenerate after an intended format change: FASTTRACE_UPDATE_GOLDEN=1 swift test
/// --filter OutputGoldenTests, then review the diff.
@Suite struct OutputGoldenTests {
    static let goldenDir = TestSupport.packageRoot.appendingPathComponent("Tests/FastTraceTests/Fixtures/golden")

    /// LogTests' plausible stream, made stranger: odd process names (quotes, backslashes,
    /// UTF-8, control bytes, a full 16 bytes), unknown functions and drop reasons, packet
    /// bytes, netns inodes that exist nowhere (so interface names are "ifN" on any machine).
    static func events() -> [(Event, [UInt8]?)] {
        let comms = ["ksoftirqd/1", "a\"b\\c", "naïve-α", "tab\there", "sixteen-bytes-xx", "", "nginx"]
        var rng = PacketCorpus.RNG(state: 99)
        return LogTests.events(3000, seed: 11).enumerated().map { i, base in
            var e = base
            e.meta.netns = 7000 + e.meta.netns % 3
            let name = Array(comms[rng.int(comms.count)].utf8.prefix(16))
            e.comm = InlineArray(repeating: 0)
            for (k, c) in name.enumerated() { e.comm[k] = CChar(bitPattern: c) }
            if i % 97 == 0 { e.funcId = 4000 }                 // outside the function table
            if i % 89 == 0 { e.meta.protocol = 0x0806; e.tuple = Tuple() } // no tuple (ARP)
            if e.kind == .drop && i % 2 == 0 { e.dropReason = 2 } // a named reason
            let packet: [UInt8]? = i % 5 == 0 ? rng.bytes(1 + rng.int(80)) : nil
            return (e, packet)
        }
    }

    static func log() throws -> String {
        let path = TestSupport.temporaryDirectory("golden").appendingPathComponent("fixed.ftlog").path
        var o = LogWriter.Options()
        o.frameEvents = 700
        o.frameInterval = 3600 // frames cut by count only: the made-up timestamps are long past
        o.queueDepth = 1 << 20
        var header = LogTests.header()
        header.snapLength = 96
        let w = try LogWriter(path: path, header: header, options: o)
        for (e, bytes) in events() {
            if let bytes {
                bytes.withUnsafeBytes { raw in
                    w.append(e, packet: PacketBytes(link: Link(rawValue: e.tuple.l3Proto == 0x86DD ? 2 : 1),
                                                    wireLength: UInt32(raw.count + 10), bytes: raw))
                }
            } else {
                w.append(e)
            }
        }
        try w.finish(lostPerCPU: [0, 0, 0, 0, 0, 0, 0, 0])
        return path
    }

    static let cases: [(file: String, options: OutputOptions)] = {
        var plain = OutputOptions()
        var flags = OutputOptions()
        flags.tcpFlags = true
        flags.timestamp = .absolute
        var relative = OutputOptions()
        relative.timestamp = .relative
        relative.meta = false
        var json = OutputOptions()
        json.json = true
        plain.tuple = true
        return [("read.txt", plain), ("read-flags-absolute.txt", flags), ("read-relative-nometa.txt", relative), ("read.jsonl", json)]
    }()

    static func render(_ path: String, _ options: OutputOptions) throws -> [UInt8] {
        let reader = try LogReader(path: path)
        let formatter = EventFormatter(options: options, log: reader)
        var out: [UInt8] = []
        if let h = formatter.header { out += Array(h.utf8) + [0x0a] }
        reader.forEachEvent(packets: { e, p in
            out += Array(formatter.format(e, packet: p).utf8) + [0x0a]
            return true
        })
        return out
    }

    @Test(arguments: 0..<4) func outputIsPinned(_ index: Int) throws {
        let (file, options) = Self.cases[index]
        let got = try Self.render(try Self.log(), options)
        let golden = Self.goldenDir.appendingPathComponent(file)
        if ProcessInfo.processInfo.environment["FASTTRACE_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.goldenDir, withIntermediateDirectories: true)
            try Data(got).write(to: golden)
        }
        let want = try [UInt8](Data(contentsOf: golden))
        #expect(got.count > 3000 * 40)
        if got != want {
            let g = String(decoding: got, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let w = String(decoding: want, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(g, w).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("\(file) differs (\(got.count) vs \(want.count) bytes); first at line \((first?.offset ?? min(g.count, w.count)) + 1):\n got: \(first?.element.0 ?? "")\nwant: \(first?.element.1 ?? "")")
        }
    }
}
