import FastTrace
import Foundation
import KernelBTF
import Testing

/// --filter-skb-expr and --output-skb-metadata against the kernel: the compiled code runs on
/// skbs the kernel builds for BPF_PROG_TEST_RUN (filtertest.bpf.c), whose fields the test
/// chose (mark, priority, timestamp, device by ifindex, length, destination MAC → pkt_type,
/// ethertype → protocol). An evaluator written here over those values must agree with every
/// verdict; the metadata area must hold those values. Exclusive: 220,000 test-run skbs would
/// reach a concurrent unfiltered capture.
extension ExclusiveSuites {
@Suite(.serialized) struct ExprKernelTests {
    static var canRun: Bool { FilterKernelTests.canTestRun }

    /// A network device of this namespace, as sysfs describes it.
    struct Device {
        let name: String, ifindex: UInt32, mtu: UInt64, mac: [UInt8], broadcast: [UInt8]

        /// eth_type_trans's pkt_type for a frame to `dest` received on this device.
        func packetType(_ dest: [UInt8]) -> UInt64 {
            if dest == mac { return 0 }
            if dest[0] & 1 != 0 { return dest == broadcast ? 1 : 2 }
            return 3
        }
    }

    static func devices() -> [Device] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        func read(_ n: String, _ f: String) -> String {
            ((try? String(contentsOfFile: "/sys/class/net/\(n)/\(f)", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return names.sorted().compactMap { n in
            guard let index = UInt32(read(n, "ifindex")), let mtu = UInt64(read(n, "mtu")) else { return nil }
            let mac = read(n, "address").split(separator: ":").compactMap { UInt8($0, radix: 16) }
            let broadcast = read(n, "broadcast").split(separator: ":").compactMap { UInt8($0, radix: 16) }
            guard mac.count == 6, broadcast.count == 6 else { return nil }
            return Device(name: n, ifindex: index, mtu: mtu, mac: mac, broadcast: broadcast)
        }.prefix(4).map { $0 }
    }

    /// An skb the test asks the kernel for, and the values its fields will have.
    struct Sample {
        var packet: [UInt8]
        var skb: BPFProgram.TestSkb
        /// Member path → value as the program reads it.
        var numbers: [String: UInt64]
        var name: String
    }

    /// The same samples and expressions on every run.
    typealias Rng = PacketCorpus.RNG

    static let netns: UInt64 = {
        var st = stat()
        return stat("/proc/self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
    }()

    static func samples(_ count: Int, devices: [Device], rng: inout Rng) -> [Sample] {
        let marks: [UInt32] = [0, 0x10, 0x20, 0xff, 0x1_0010, 0xdead_beef]
        return (0..<count).map { _ in
            let d = rng.pick(devices)
            let size = 60 + rng.int(1440)
            // Destination: this device, broadcast, multicast, another host.
            let kind = rng.int(4)
            let other: [UInt8] = d.mac == [2, 0, 0, 0, 0, 1] ? [2, 0, 0, 0, 0, 2] : [2, 0, 0, 0, 0, 1]
            let dest = [d.mac, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], other][kind]
            let type: UInt16 = rng.pick([0x0800, 0x86dd, 0x0806])
            var packet = dest + [0x02, 0x11, 0x22, 0x33, 0x44, 0x55, UInt8(type >> 8), UInt8(type & 0xff)]
            packet += (0..<(size - 14)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if type == 0x0800 { packet[14] = 0x45 } else if type == 0x86dd { packet[14] = 0x60 }
            let mark = rng.pick(marks), priority = UInt32(rng.int(8)), tstamp = rng.next() >> 2
            let skb = BPFProgram.TestSkb(mark: mark, priority: priority, ifindex: d.ifindex, tstamp: tstamp)
            let numbers: [String: UInt64] = [
                "skb->len": UInt64(size), "skb->mark": UInt64(mark), "skb->priority": UInt64(priority),
                "skb->protocol": UInt64(type.byteSwapped), // __be16 read as stored
                "skb->pkt_type": d.packetType(dest), // lo's broadcast address is 00:…: ff:… is multicast there
                "skb->tstamp": tstamp, "skb->data_len": 0,
                "skb->dev->ifindex": UInt64(d.ifindex), "skb->dev->mtu": d.mtu,
                "skb->dev->nd_net.net->ns.inum": netns,
            ]
            return Sample(packet: packet, skb: skb, numbers: numbers, name: d.name)
        }
    }

    // MARK: the generator and the evaluator

    static let numberPaths = ["skb->len", "skb->mark", "skb->priority", "skb->protocol", "skb->pkt_type", "skb->tstamp",
                              "skb->data_len", "skb->dev->ifindex", "skb->dev->mtu", "skb->dev->nd_net.net->ns.inum"]
    static let packetNames = ["PACKET_HOST": UInt64(0), "PACKET_BROADCAST": 1, "PACKET_MULTICAST": 2, "PACKET_OTHERHOST": 3]

    /// A random expression of at most `atoms` comparisons (the compiler takes 20 terms).
    static func expression(_ rng: inout Rng, samples: [Sample], names: [String], atoms: Int) -> String {
        func literal(_ v: UInt64) -> String {
            switch rng.int(3) {
            case 0: "0x" + String(v, radix: 16)
            case 1 where v > 0 && v < 1 << 30: "0" + String(v, radix: 8)
            default: String(v)
            }
        }
        func atom() -> String {
            let path = rng.pick(numberPaths)
            let seen = rng.pick(samples).numbers[path] ?? 0
            let near = [seen, seen &+ 1, seen == 0 ? 0 : seen - 1, UInt64(rng.int(4096))][rng.int(4)]
            let op = rng.pick(["==", "!=", "<", "<=", ">", ">="])
            switch rng.int(8) {
            case 0: return "skb->dev->name \(rng.pick(["==", "!="])) \"\(rng.pick(names + ["nope"]))\""
            case 1: return "skb->pkt_type \(rng.pick(["==", "!="])) \(rng.pick(Array(packetNames.keys).sorted()))"
            case 2: return "(\(path) & \(literal(UInt64(rng.int(0x10000))))) \(op) \(literal(near & 0xffff))"
            case 3: return path // truth value
            case 4: return "(\(path) ^ \(literal(near))) \(op) \(literal(UInt64(rng.int(16))))"
            case 5: return "(\(path) | \(literal(UInt64(rng.int(256))))) \(op) \(literal(near))"
            default: return "\(path) \(op) \(literal(near))"
            }
        }
        func tree(_ n: Int) -> String {
            if n <= 1 { return rng.int(5) == 0 ? "!(\(atom()))" : atom() }
            let left = 1 + rng.int(n - 1)
            let e = "\(tree(left)) \(rng.pick(["&&", "||"])) \(tree(n - left))"
            return rng.int(3) == 0 ? "!(\(e))" : "(\(e))"
        }
        return tree(1 + rng.int(atoms))
    }

    /// C's meaning of `e` for a sample: 64-bit unsigned values, comparisons and logic give 0/1.
    static func evaluate(_ e: Expr, _ s: Sample) -> UInt64 {
        switch e {
        case .number(let n, _): return n
        case .name(let n, _): return packetNames[n] ?? .max
        case .string: return 0
        case .path(let root, let steps, _):
            var text = root
            for step in steps {
                switch step {
                case .member(let m, let arrow, _): text += (arrow ? "->" : ".") + m
                case .index(let i, _): text += "[\(i)]"
                }
            }
            return s.numbers[text] ?? .max
        case .not(let x, _): return evaluate(x, s) == 0 ? 1 : 0
        case .binary(let op, let a, let b, _):
            if case .string(let text, _) = b { return (s.name == text) == (op == .eq) ? 1 : 0 }
            let x = evaluate(a, s), y = evaluate(b, s)
            switch op {
            case .and: return x != 0 && y != 0 ? 1 : 0
            case .or: return x != 0 || y != 0 ? 1 : 0
            case .bitAnd: return x & y
            case .bitOr: return x | y
            case .bitXor: return x ^ y
            case .eq: return x == y ? 1 : 0
            case .ne: return x != y ? 1 : 0
            case .lt: return x < y ? 1 : 0
            case .le: return x <= y ? 1 : 0
            case .gt: return x > y ? 1 : 0
            case .ge: return x >= y ? 1 : 0
            }
        }
    }

    /// filtertest.bpf.c with only `program` loaded, its stub (`magic`) replaced by `body`.
    static func load(_ program: KeyPath<FiltertestBPF.Programs, BPFProgram>, magic: Int32, body: [EBPFInstruction]) throws -> FiltertestBPF.Loaded {
        let opened = try FiltertestBPF.open()
        let chosen = opened.programs[keyPath: program]
        for p in opened.programs.all where p !== chosen { p.autoload = false }
        chosen.spliceFilters([(magic, body)])
        return try opened.load()
    }

    // MARK: tests

    /// ≥200 generated expressions over 1,000 kernel-made skbs: the compiled verdict equals the
    /// evaluator's on every run.
    @Test(.enabled(if: canRun, "needs root and bpf_cast_to_kern_ctx (kernel 6.3+)"))
    func compiledVerdictEqualsTheEvaluator() throws {
        let devices = Self.devices()
        try #require(!devices.isEmpty)
        var rng = Rng(state: 16)
        let samples = Self.samples(1000, devices: devices, rng: &rng)
        let btf = try BTF.vmlinux()
        let resolver = try ExprResolver(btf: btf)
        var runs = 0, holds = 0, mismatches: [String] = []
        let count = 220
        for _ in 0..<count {
            // Within the compiler's 20 terms (larger ones are refused, as the CLI does).
            var text = "", parsed = Expr.number(0, column: 1), body: [EBPFInstruction] = []
            while body.isEmpty {
                text = Self.expression(&rng, samples: samples, names: devices.map(\.name), atoms: 4)
                parsed = try ExprParser.parse(text)
                body = (try? ExprCompiler.compile(try resolver.resolve(parsed))) ?? []
            }
            let loaded = try Self.load(\.exprTest, magic: ExprCompiler.magic, body: body)
            for s in samples {
                let got = try loaded.programs.exprTest.testRun(packet: s.packet, skb: s.skb)
                let want = Self.evaluate(parsed, s) != 0
                runs += 1
                if want { holds += 1 }
                if (got != 0) != want, mismatches.count < 10 {
                    mismatches.append("'\(text)' on \(s.name) \(s.numbers.sorted { $0.key < $1.key }): kernel \(got), evaluator \(want)")
                }
            }
        }
        print("skb expressions: \(count) expressions × \(samples.count) skbs = \(runs) kernel runs, \(holds) true, \(runs - holds) false, \(mismatches.count) mismatches")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        // Neither side is trivially constant.
        #expect(holds > runs / 10 && holds < runs * 9 / 10)
    }

    /// The metadata area the compiled code fills holds the sample's own values, read back
    /// with the layout (bitfield, byte order, pointer paths, string).
    @Test(.enabled(if: canRun, "needs root and bpf_cast_to_kern_ctx (kernel 6.3+)"))
    func metadataHoldsTheSkbsValues() throws {
        let devices = Self.devices()
        try #require(!devices.isEmpty)
        var rng = Rng(state: 61)
        let samples = Self.samples(1000, devices: devices, rng: &rng)
        // ml_priv_type: a BTF enum (only CAN devices set it): named from the kernel's BTF.
        let paths = ["skb->len", "skb->mark", "skb->pkt_type", "skb->protocol", "skb->tstamp", "skb->dev->ml_priv_type",
                     "skb->dev->nd_net.net->ns.inum"]
        let layout = try SkbMetadata((paths + ["skb->dev->name"]).joined(separator: ","), btf: try BTF.vmlinux())
        let loaded = try Self.load(\.exprMetaTest, magic: ExprCompiler.metadataMagic, body: ExprCompiler.compileMetadata(layout))
        var wrong: [String] = []
        for s in samples {
            _ = try loaded.programs.exprMetaTest.testRun(packet: s.packet, skb: s.skb)
            let area = withUnsafeBytes(of: loaded.bss.pointer.pointee.metaOut) { Array($0) }
            let values = area.withUnsafeBytes { layout.values($0) }
            var want: [SkbMetadata.Value] = paths.map { p in
                if p == "skb->dev->ml_priv_type" { return .named("ML_PRIV_NONE", 0) }
                let v = s.numbers[p] ?? .max
                if p == "skb->pkt_type" { return .named(Self.packetNames.first { $0.value == v }?.key ?? "?", v) }
                if p == "skb->tstamp" { return .signed(Int64(v)) } // ktime_t is s64
                return .number(v)
            }
            want.append(.string(s.name))
            if values != want, wrong.count < 5 { wrong.append("\(s.name): \(String(describing: values)) ≠ \(want)") }
        }
        #expect(wrong.isEmpty, "\(wrong.joined(separator: "\n"))")
    }

    /// ≥100 bad expressions, through the real command: each is refused with one line that
    /// names the column, exit 2, and no crash.
    @Test func badExpressionsAreOneLineWithAColumn() throws {
        let cli = TestSupport.productsDir.appendingPathComponent("fasttrace").path
        var bad = [
            "", " ", "skb", "skb->", "skb->len ==", "== 1", "skb->len == 1 &&", "(skb->len == 1", "skb->len == 1)",
            "skb->len === 1", "skb->len = 1", "skb->len + 1 == 2", "skb->len == -1", "skb->len == 1.5", "skb->len == 0x",
            "skb->len == 09", "skb->len == 99999999999999999999999", "skb.len == 1", "skb->dev.ifindex == 1",
            "skb->len->x == 1", "skb->nosuch == 1", "skb->dev->nosuch == 1", "sk->len == 1", "len == 1",
            "skb->dev->name == 1", "skb->dev->name", "skb->len == \"x\"", "skb->dev->name == \"0123456789abcdefXYZ\"",
            "skb->dev->name == \"eth0", "skb->cb[99] == 1", "skb->cb[x] == 1", "skb->cb[1 == 1", "skb->len[0] == 1",
            "skb->pkt_type == PACKET_NOPE", "skb->len == NOT_AN_ENUM", "skb->dev == 1 && skb->dev->ifindex->x == 1",
            "skb->dev->dev", "!", "!(", "()", "skb->len == 1 ||| 2", "skb->len @ 1", "skb->len == 1 # c", "skb->len == '1'",
            "skb->headers.nope == 1", "skb->len.x == 1", "skb->sk->__sk_common.nope == 1", "skb->dev->name[0] == 1 && skb->",
        ]
        // Mutations of good expressions: a character dropped, doubled or replaced.
        let good = ["skb->mark == 0x10 && skb->len > 100", "!(skb->dev->name == \"eth0\") || skb->pkt_type == PACKET_HOST",
                    "(skb->dev->ifindex & 0xff) != 0"]
        var rng = Rng(state: 7)
        var tried = Set(bad)
        while bad.count < 130 {
            var chars = Array(rng.pick(good))
            let at = rng.int(chars.count)
            switch rng.int(3) {
            case 0: chars.remove(at: at)
            case 1: chars.insert(rng.pick(Array("@$#(]->.\"=|")), at: at)
            default: chars[at] = rng.pick(Array("@$)[;"))
            }
            let text = String(chars)
            guard !tried.contains(text), (try? ExprResolver(btf: BTF.vmlinux()).resolve(ExprParser.parse(text))) == nil else { continue }
            tried.insert(text)
            bad.append(text)
        }
        var failures: [String] = []
        for text in bad {
            let r = try TestSupport.run(cli, ["--filter-skb-expr", text, "--dry-run"])
            let lines = r.stderr.split(separator: "\n")
            if r.status != 2 || lines.count != 1 || !r.stderr.hasPrefix("fasttrace: --filter-skb-expr") || !r.stderr.contains("column ") {
                failures.append("'\(text)': exit \(r.status): \(r.stderr)")
            }
        }
        print("bad skb expressions: \(bad.count) tried, \(bad.count - failures.count) refused with one line, a column and exit 2")
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }
}
}
