@testable import FastTrace
import FastTraceBenchmarks
import Foundation
import Testing

/// `fasttrace export --format parquet`: the encoding's pieces against the specifications,
/// then whole files read back by two independent readers (pyarrow and DuckDB, installed by
/// `make test-deps` into .build/pyvenv) and compared value for value with
/// `fasttrace read --output-json` (Tests/python/parquet_check.py).
@Suite struct ParquetExportTests {
    static var cli: String { TestSupport.productsDir.appendingPathComponent("fasttrace").path }
    static let python = TestSupport.packageRoot.appendingPathComponent(".build/pyvenv/bin/python").path
    static let checker = TestSupport.packageRoot.appendingPathComponent("Tests/python/parquet_check.py").path

    /// Thrift's compact protocol as its specification gives it: short and long field
    /// headers, zigzag varints, bools in the type nibble, short and long list headers,
    /// nested structs with their own field-id deltas, and the stop byte.
    @Test func thriftCompactEncodesAsSpecified() {
        let bytes = ThriftCompactWriter.encode { t in
            t.field(1, i32: 0)                 // 0x15 0x00
            t.field(2, i32: -1)                // 0x15 0x01 (zigzag)
            t.field(20, i64: 300)              // delta 18: 0x06, id zigzag 40, 600 as varint 0xd8 0x04
            t.field(21, bool: true)            // 0x11
            t.field(22, bool: false)           // 0x12
            t.field(23) { s in s.field(1, i32: 7) } // 0x1c, then 0x15 0x0e 0x00
            t.field(24, i8: -2)                // 0x13 0xfe
            t.field(25, list: .i32, count: 20) { l in for i in 0..<20 { l.element(i32: Int32(i)) } }
            t.field(26, string: "ab")          // 0x18 0x02 'a' 'b'
        }
        var want: [UInt8] = [0x15, 0x00, 0x15, 0x01, 0x06, 40, 0xd8, 0x04, 0x11, 0x12, 0x1c, 0x15, 0x0e, 0x00, 0x13, 0xfe]
        want += [0x19, 0xf5, 20] + (0..<20).map { UInt8($0 * 2) }
        want += [0x18, 0x02, 0x61, 0x62, 0x00]
        #expect(bytes == want)
    }

    /// Definition levels: one RLE run when no row (or every row) is null, else bit-packed
    /// groups of eight, least significant bit first, behind a u32 length.
    @Test func definitionLevelsUseTheHybridEncoding() {
        let c = ParquetColumn("x", .int32, optional: true)
        for present in [true, false, true, true, false, false, false, false, true, true] {
            if present { c.append(int32: 1) } else { c.appendNull() }
        }
        #expect(c.encodedLevels(rows: 10) == [3, 0, 0, 0, 0x05, 0b0000_1101, 0b0000_0011])
        let full = ParquetColumn("y", .int64, optional: true)
        for i in 0..<300 { full.append(int64: Int64(i)) }
        #expect(full.encodedLevels(rows: 300) == [3, 0, 0, 0, 0xd8, 0x04, 1]) // run of 300, value 1
        #expect(full.values.count == 300 * 8 && full.minValue == 0 && full.maxValue == 299)
    }

    static func check(_ parquet: String, log: String, host: String, minimum: Int = 1) throws -> String {
        #expect(FileManager.default.isExecutableFile(atPath: python), "no \(python): run `make test-deps`")
        let dir = URL(fileURLWithPath: parquet).deletingLastPathComponent()
        let json = dir.appendingPathComponent("read.jsonl").path, journeys = dir.appendingPathComponent("journeys.jsonl").path
        for (args, out) in [(["read", log, "--output-json"], json), (["journeys", log, "--output-json"], journeys)] {
            let r = try TestSupport.run(cli, args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            try Data(r.stdout.utf8).write(to: URL(fileURLWithPath: out))
        }
        let r = try TestSupport.run(python, [checker, parquet, json, journeys, host, String(minimum)])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    /// A log with what a real capture on this host rarely has: IPv6, inner tuples, drops,
    /// BPF-program verdicts, packet bytes, events without a tuple, functions outside the
    /// table, odd process names.
    @Test func everyKindOfEventReadsBackExactly() throws {
        let dir = TestSupport.temporaryDirectory("parquet-synthetic")
        let log = dir.appendingPathComponent("synthetic.ftlog").path
        var header = LogTests.header()
        header.snapLength = 96
        header.targets.append(TracedTarget(name: "tc:cls_drop", kind: .bpfProgram, position: 1, module: nil))
        let progId = UInt32(header.targets.count - 1)
        var o = LogWriter.Options()
        o.frameInterval = 3600
        o.queueDepth = 1 << 20
        let w = try LogWriter(path: log, header: header, options: o)
        var rng = PacketCorpus.RNG(state: 0xFA7)
        for (i, pair) in OutputGoldenTests.events().enumerated() {
            var (e, bytes) = pair
            if i % 53 == 0 { e.kind = .progExit; e.funcId = progId; e.dropReason = UInt32(rng.int(3)) }
            if i % 59 == 0 { e.kind = .prog; e.funcId = progId; e.dropReason = 0 }
            var inner: Tuple?
            if i % 7 == 0 {
                var t = Tuple()
                t.l3Proto = i % 14 == 0 ? 0x86DD : 0x0800
                t.l4Proto = 6
                t.sport = UInt16(rng.int(65536))
                t.dport = 443
                for b in 0..<(t.l3Proto == 0x86DD ? 16 : 4) { t.saddr[b] = UInt8(rng.int(256)); t.daddr[b] = UInt8(rng.int(256)) }
                inner = t
            }
            if let bytes {
                bytes.withUnsafeBytes { raw in
                    w.append(e, packet: PacketBytes(link: Link(rawValue: e.tuple.l3Proto == 0x86DD ? 2 : 1), wireLength: UInt32(raw.count + 10),
                                                    bytes: raw, inner: inner))
                }
            } else {
                var p = PacketBytes.none
                p.inner = inner
                w.append(e, packet: p)
            }
        }
        try w.finish(lostPerCPU: [0, 0, 0, 0, 0, 0, 0, 0])

        let parquet = dir.appendingPathComponent("synthetic.parquet").path
        let r = try TestSupport.run(Self.cli, ["export", log, "--format", "parquet", "-o", parquet])
        #expect(r.status == 0, "\(r.stderr)")
        let facts = try Self.check(parquet, log: log, host: header.hostname, minimum: 3000)
        #expect(facts.contains("with an inner tuple") && !facts.contains(" 0 with an inner tuple"), "\(facts)")
        #expect(!facts.contains(" 0 with bytes"), "\(facts)")

        // --host-name replaces the recorded name.
        let renamed = dir.appendingPathComponent("renamed.parquet").path
        #expect(try TestSupport.run(Self.cli, ["export", log, "--format", "parquet", "--host-name", "node-7", "-o", renamed]).status == 0)
        _ = try Self.check(renamed, log: log, host: "node-7")
        // Parquet is binary: refused on a terminal is tested by CLI tests; refused without
        // bytes is pcapng's rule only, so a log without --snaplen exports too (above: 2/3 of
        // the events have none).
    }

    /// Peak memory is set by the row group and the reorder window, not by the log: a log ten
    /// times longer costs (nearly) the same.
    @Test func memoryDoesNotGrowWithTheLog() throws {
        let dir = TestSupport.temporaryDirectory("parquet-memory")
        var peaks: [Int] = []
        for n in [200_000, 2_000_000] {
            let log = dir.appendingPathComponent("\(n).ftlog").path, out = dir.appendingPathComponent("\(n).parquet").path
            try SyntheticLog.write(n, to: log)
            // The child's own peak RSS, from the kernel (ru_maxrss of the waited-for child).
            let r = try TestSupport.run(Self.python, ["-c", """
                import resource, subprocess, sys
                rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
                print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
                """, Self.cli, "export", log, "--format", "parquet", "-o", out])
            let fields = r.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect(fields.count == 2 && fields[0] == 0, "\(r.stdout) \(r.stderr)")
            peaks.append(fields.last ?? 0)
            unlink(log)
        }
        #expect(peaks[0] > 0 && Double(peaks[1]) <= Double(peaks[0]) * 1.15, "peak RSS \(peaks[0]) KiB for 200k events, \(peaks[1]) KiB for 2M")
    }
}

extension ExclusiveSuites {
    /// A real capture on this kernel: UDP and TCP over loopback from other processes, with
    /// packet bytes, at least 100,000 events; every column equals `read --output-json`.
    @Suite(.enabled(if: KernelInfo.isRoot, "needs root (BPF)"))
    struct ParquetCaptureTests {
        @Test func aRealCaptureReadsBackExactly() throws {
            let dir = TestSupport.temporaryDirectory("parquet-capture")
            let log = dir.appendingPathComponent("cap.ftlog").path, ready = dir.appendingPathComponent("ready").path
            let cli = ParquetExportTests.cli
            let p = Process()
            p.executableURL = URL(fileURLWithPath: cli)
            p.arguments = ["-w", log, "--snaplen", "96", "--host-name", "host-a", "--ready-file", ready, "--duration", "120",
                           "udp port 39871 or tcp port 39872"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let start = Date()
            while !FileManager.default.fileExists(atPath: ready) && p.isRunning && Date().timeIntervalSince(start) < 60 { usleep(50_000) }
            #expect(FileManager.default.fileExists(atPath: ready), "the capture did not start")
            let tcp = try TestSupport.run(ParquetExportTests.python, ["-c", """
                import socket
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", 39872)); s.listen()
                c = socket.create_connection(("127.0.0.1", 39872)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                a, _ = s.accept()
                for i in range(3000):
                    c.sendall(b"x" * 40); a.recv(100)
                c.close(); a.close()
                """])
            #expect(tcp.status == 0, "\(tcp.stderr)")
            let udp = try TestSupport.run(cli, ["flood", "--port", "39871", "--count", "25000", "--rate", "25000"])
            #expect(udp.status == 0, "\(udp.stderr)")
            usleep(300_000)
            p.interrupt()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)

            let parquet = dir.appendingPathComponent("cap.parquet").path
            let r = try TestSupport.run(cli, ["export", log, "--format", "parquet", "-o", parquet])
            #expect(r.status == 0, "\(r.stderr)")
            let facts = try ParquetExportTests.check(parquet, log: log, host: "host-a", minimum: 100_000)
            #expect(!facts.contains(" 0 with TCP seq/ack") && !facts.contains(" 0 with bytes"), "\(facts)")
            print(facts)
        }
    }
}
