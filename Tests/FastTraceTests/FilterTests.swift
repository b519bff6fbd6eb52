import CShim
@testable import FastTrace
import Foundation
import KernelBTF
import Testing

/// pcap filters: libpcap compile, classic→eBPF translation, splicing, and the differential
/// test of the kernel's verdict against libpcap's interpreter.
@Suite struct FilterTests {
    // MARK: compile

    @Test func invalidExpressionCarriesLibpcapMessage() {
        #expect(throws: FilterError.self) { try PacketFilter("tcp and port") }
        do {
            _ = try PacketFilter("host 999.1.1.1")
            Issue.record("accepted an invalid address")
        } catch {
            #expect(error.description.contains("999.1.1.1") || error.description.contains("syntax"), "\(error)")
        }
    }

    /// --filter-compile-timeout: a compile still running is given up (timedOut), after one
    /// progress call; a quick one is not. 256 hosts take libpcap's optimiser about a second.
    @Test func aSlowCompileIsGivenUp() throws {
        let hosts = (0..<256).map { "host 10.0.\($0).1" }.joined(separator: " or ")
        var notes = 0
        #expect {
            _ = try PacketFilter.compile(hosts, timeout: 0.05, noteAfter: 0.01) { notes += 1 }
        } throws: { ($0 as? FilterError)?.timedOut == true }
        #expect(notes == 1)
        let quick = try PacketFilter.compile("tcp port 80", timeout: 5) { notes += 1 }
        #expect(quick.l2.instructions.count > 3 && notes == 1)
        #expect(throws: FilterError("can't parse filter expression: syntax error")) { try PacketFilter.compile("tcp and", timeout: 5) }
    }

    /// --no-optimize compiles libpcap's unoptimised program: the same verdict on every whole
    /// packet of the corpus (libpcap's interpreter), and longer code. Truncated frames are
    /// left out: the optimiser drops loads whose value cannot matter (`net 0.0.0.0/0`), so
    /// there the optimised program can accept what the unoptimised one rejects for reading
    /// past the end; tcpdump -O behaves the same (docs/filters.md).
    @Test func unoptimisedFiltersDecideAlike() throws {
        let corpus = PacketCorpus.generate(count: 300, seed: 0x0B71).filter { !$0.summary.contains("truncated") }
        var longer = 0
        for e in FilterExpressions.all where !e.contains("protochain") {
            let a = try PacketFilter(e), b = try PacketFilter(e, optimize: false)
            if b.l2.instructions.count > a.l2.instructions.count { longer += 1 }
            for p in corpus {
                #expect(a.l2.verdict(p.frame) == b.l2.verdict(p.frame), "'\(e)' on \(p.summary)")
            }
        }
        #expect(longer > FilterExpressions.all.count / 2)
    }

    @Test func linkLayerOnlyExpressionHasNoIPForm() throws {
        let f = try PacketFilter("arp")
        #expect(f.l3 == nil)
        #expect(f.l3Unavailable != nil)
        let (_, l3) = try f.translated()
        #expect(l3 == CBPFTranslator.rejectAll)
        let g = try PacketFilter("tcp port 80")
        #expect(g.l3 != nil)
    }

    // MARK: translation

    @Test func translatorRejectsMalformedClassicPrograms() {
        typealias C = CBPFInstruction
        let ret = C(code: 0x06, k: 1)
        // Jump past the end.
        #expect(throws: FilterError.self) { try CBPFTranslator.translate([C(code: 0x05 | C.jeq, jt: 5, jf: 0), ret]) }
        // Runs off the end (no return).
        #expect(throws: FilterError.self) { try CBPFTranslator.translate([C(code: 0x00, k: 1)]) }
        // Scratch index out of range.
        #expect(throws: FilterError.self) { try CBPFTranslator.translate([C(code: 0x02, k: 16), ret]) }
        // Unknown opcode (BPF_MISC|BPF_COP).
        #expect(throws: FilterError.self) { try CBPFTranslator.translate([C(code: 0x07 | 0x20), ret]) }
        #expect(throws: FilterError.self) { try CBPFTranslator.translate([]) }
    }

    @Test func translatorSkipsUnreachableCodeAndBoundsLoops() throws {
        typealias C = CBPFInstruction
        // 0: ja +1 ; 1: ret #7 (dead) ; 2: ret #1
        let dead = try CBPFTranslator.translate([C(code: 0x05, k: 1), C(code: 0x06, k: 7), C(code: 0x06, k: 1)])
        #expect(!dead.contains { $0.imm == 7 })
        // A backward jump gets the iteration counter.
        let loop = try CBPFTranslator.translate([C(code: 0x05 | C.jeq, jt: 0, jf: 1, k: 0), C(code: 0x06, k: 0),
                                                 C(code: 0x04 | C.add, k: 1), C(code: 0x05, k: UInt32(bitPattern: -4))])
        #expect(loop.contains { $0.code == EBPFInstruction.classST | EBPFInstruction.modeMEM | EBPFInstruction.sizeDW
            && $0.imm == CBPFTranslator.loopLimit })
    }

    // MARK: splicing

    /// A program calling a two-instruction stub in the middle, with a jump and a call that
    /// cross it and BTF offsets on both sides.
    @Test func spliceMovesEverythingAfterTheStub() throws {
        typealias I = EBPFInstruction
        let magic = FilterSplicer.l2Magic
        let program: [I] = [
            I(code: I.classJMP | I.call, src: I.pseudoCall, imm: 5),            // 0: call 6 (stub)
            I(code: I.classJMP | I.jeq, dst: 0, off: 3, imm: 0),                 // 1: if r0 == 0 goto 5
            I(code: I.classJMP | I.call, src: I.pseudoCall, imm: 5),            // 2: call 8 (other)
            I(code: I.classLD | I.sizeDW, dst: 1, imm: 1), I(code: 0, imm: 0),   // 3-4: ld_imm64
            .exitInsn,                                                           // 5
            .mov64(0, imm: magic), .exitInsn,                                    // 6-7: stub
            .mov64(0, imm: 1), .exitInsn,                                        // 8-9: other
        ]
        var p = FilterSplicer.Program(instructions: program, funcInfo: [0, 6, 8], lineInfo: [0, 1, 6, 7, 8])
        let body: [I] = [.mov32(0, imm: 9), .mov32(1, imm: 1), .mov32(2, imm: 2), .exitInsn]
        #expect(try FilterSplicer.splice(&p, magic: magic, body: body))
        #expect(p.instructions.count == program.count + 2)
        #expect(Array(p.instructions[6..<10]) == body)
        #expect(p.instructions[0].imm == 5)           // still the stub
        #expect(p.instructions[1].off == 3)           // before the stub: unchanged
        #expect(p.instructions[2].imm == 7)           // other moved from 8 to 10
        #expect(p.funcInfo == [0, 6, 10])
        #expect(p.lineInfo == [0, 1, 6, FilterSplicer.Program.removed, 10])
        // A program without the stub is left alone.
        var q = FilterSplicer.Program(instructions: [.mov64(0, imm: 0), .exitInsn])
        #expect(try !FilterSplicer.splice(&q, magic: magic, body: body))
    }

    @Test func spliceRefusesAStubThatIsNotAFunction() {
        typealias I = EBPFInstruction
        var p = FilterSplicer.Program(instructions: [.mov64(0, imm: FilterSplicer.l3Magic), .exitInsn])
        #expect(throws: FilterError.self) { try FilterSplicer.splice(&p, magic: FilterSplicer.l3Magic, body: CBPFTranslator.rejectAll) }
    }
}

/// The differential test: the kernel's verdict on generated packets against libpcap's.
extension ExclusiveSuites {
@Suite struct FilterKernelTests {
    // MARK: kernel differential test

    static var canTestRun: Bool {
        KernelInfo.isRoot && ((try? BTF.vmlinux())?.find("bpf_cast_to_kern_ctx", kind: .func) != nil)
    }

    /// A filter loaded into filtertest.bpf.c's two test programs.
    struct KernelFilter {
        let filter: PacketFilter
        let loaded: FiltertestBPF.Loaded

        init(_ expression: String, optimize: Bool = true) throws {
            filter = try PacketFilter(expression, optimize: optimize)
            let (l2, l3) = try filter.translated()
            let opened = try FiltertestBPF.open()
            var c = opened.config
            c.ftPcapLen = 1 // the test compares `len` too (the tracer sets it only when used)
            opened.config = c
            opened.programs.pcapTestL2.spliceFilter(l2: l2, l3: l3)
            opened.programs.pcapTestL3.spliceFilter(l2: l2, l3: l3)
            loaded = try opened.load()
        }

        /// The verdict for `packet` (starting at the MAC header for L2, the network header
        /// for L3) of which only `caplen` bytes were captured.
        func run(l2: Bool, packet: [UInt8], caplen: Int) throws -> UInt32 {
            // The kernel refuses to test-run frames whose ethertype promises a header they
            // lack; pad to a minimum frame and hide the padding with caplen/wirelen.
            var frame = l2 ? packet : [UInt8](repeating: 0x02, count: 12) + [0x88, 0xb5] + packet
            let padded = frame.count < 80
            if padded { frame += [UInt8](repeating: 0, count: 80 - frame.count) }
            let g = loaded.bss.pointer
            g.pointee.override = padded || caplen < packet.count ? 1 : 0
            g.pointee.caplen = UInt32(caplen)
            g.pointee.wirelen = UInt32(packet.count)
            return try (l2 ? loaded.programs.pcapTestL2 : loaded.programs.pcapTestL3).testRun(packet: frame)
        }
    }

    struct Mismatch: CustomStringConvertible {
        let expression: String, layer: String, packet: PacketCorpus.Packet, caplen: Int, kernel: UInt32, libpcap: UInt32
        var description: String {
            "'\(expression)' \(layer) caplen \(caplen): kernel \(kernel), libpcap \(libpcap) — \(packet.summary) — \(packet.frame.map { String(format: "%02x", $0) }.joined())"
        }
    }

    /// Kernel runs, libpcap matches, runs libpcap would loop past the bound, and mismatches
    /// of one loaded filter over `corpus` (L2 and L3, each also with its caplen cut).
    struct Comparison {
        /// `undefined`: runs where libpcap read an unset scratch slot (LoopOracle), not compared.
        var runs = 0, matches = 0, endless = 0, undefined = 0
        var mismatches: [Mismatch] = []
    }

    static func compare(_ k: KernelFilter, _ expression: String, corpus: [PacketCorpus.Packet], into c: inout Comparison) throws {
        let limit = Int(CBPFTranslator.loopLimit)
        for p in corpus {
            let l3 = Array(p.frame.dropFirst(p.l3Offset))
            for cut in p.caplenCut.map({ [nil, $0] }) ?? [nil] {
                let caplen = cut ?? p.frame.count
                let l3Caplen = max(0, caplen - p.l3Offset)
                // libpcap would loop past the translator's bound (or forever): expect 0.
                func libpcap(_ prog: PcapProgram?, _ bytes: [UInt8], _ wirelen: Int) -> UInt32 {
                    guard let prog else { return 0 }
                    if LoopOracle.backwardJumps(prog.instructions, packet: bytes, wirelen: wirelen, limit: limit - 1) == nil {
                        c.endless += 1
                        return 0
                    }
                    return prog.verdict(bytes, wirelen: wirelen)
                }
                func undefined(_ prog: PcapProgram?, _ bytes: [UInt8], _ wirelen: Int) -> Bool {
                    guard let prog, LoopOracle.readsUnsetMemory(prog.instructions, packet: bytes, wirelen: wirelen, limit: limit - 1) else { return false }
                    c.undefined += 1
                    return true
                }
                let l2Want = libpcap(k.filter.l2, Array(p.frame.prefix(caplen)), p.frame.count)
                let l2Got = try k.run(l2: true, packet: p.frame, caplen: caplen)
                let l3Want = libpcap(k.filter.l3, Array(l3.prefix(l3Caplen)), l3.count)
                let l3Got = try k.run(l2: false, packet: l3, caplen: l3Caplen)
                c.runs += 2
                c.matches += (l2Want != 0 ? 1 : 0) + (l3Want != 0 ? 1 : 0)
                if l2Got != l2Want, !undefined(k.filter.l2, Array(p.frame.prefix(caplen)), p.frame.count) { c.mismatches.append(.init(expression: expression, layer: "L2", packet: p, caplen: caplen, kernel: l2Got, libpcap: l2Want)) }
                if l3Got != l3Want, !undefined(k.filter.l3, Array(l3.prefix(l3Caplen)), l3.count) { c.mismatches.append(.init(expression: expression, layer: "L3", packet: p, caplen: l3Caplen, kernel: l3Got, libpcap: l3Want)) }
            }
        }
    }

    // MARK: tunnel filters

    /// `frame` inside VXLAN (UDP 4789) or Geneve (UDP 6081, `optionWords` of options) over
    /// IPv4 or IPv6, behind an outer Ethernet header.
    static func encapsulate(_ frame: [UInt8], geneve: Bool, v6: Bool, optionWords: Int = 0) -> [UInt8] {
        let tunnel: [UInt8] = geneve
            ? [UInt8(optionWords & 0x3f), 0, 0x65, 0x58, 0, 0, 42, 0] + [UInt8](repeating: 0xab, count: optionWords * 4)
            : [0x08, 0, 0, 0, 0, 0, 42, 0]
        let udpLength = 8 + tunnel.count + frame.count
        let udp = PacketCorpus.be16(40000) + PacketCorpus.be16(geneve ? 6081 : 4789) + PacketCorpus.be16(udpLength) + [0, 0]
        let ip: [UInt8] = v6
            ? [0x60, 0, 0, 0] + PacketCorpus.be16(udpLength) + [17, 64] + [UInt8](repeating: 0x20, count: 16) + [UInt8](repeating: 0x21, count: 16)
            : [0x45, 0] + PacketCorpus.be16(20 + udpLength) + [0, 1, 0x40, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2]
        let eth: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2] + (v6 ? [0x86, 0xdd] : [0x08, 0x00])
        return eth + ip + udp + tunnel + frame
    }

    /// --filter-tunnel-pcap-l2/-l3 in the kernel give libpcap's verdict on the inner packet
    /// (the inner frame, or its IP packet when the inner ethertype is IPv4/IPv6; the kernel
    /// answers 0xdead when there is no such view) for VXLAN and Geneve over IPv4 and IPv6.
    @Test(.enabled(if: canTestRun, "needs root and bpf_cast_to_kern_ctx (kernel 6.3+)"))
    func tunnelFiltersGiveLibpcapsVerdictOnTheInnerPacket() throws {
        let corpus = PacketCorpus.generate(count: 300, seed: 0x7E77_E1)
        let expressions = FilterExpressions.all
        let limit = Int(CBPFTranslator.loopLimit)
        var runs = 0, matches = 0, skipped = 0
        var mismatches: [String] = []
        for expression in expressions {
            let filter = try PacketFilter(expression)
            let (l2, l3) = try filter.translated()
            let opened = try FiltertestBPF.open()
            var c = opened.config
            c.ftPcapLen = 1
            opened.config = c
            for p in opened.programs.all { p.autoload = p === opened.programs.pcapTestTunL2 || p === opened.programs.pcapTestTunL3 }
            opened.programs.pcapTestTunL2.spliceFilters([(FilterSplicer.tunnelL2Magic, l2)])
            opened.programs.pcapTestTunL3.spliceFilters([(FilterSplicer.tunnelL3Magic, l3)])
            let loaded = try opened.load()
            func libpcap(_ prog: PcapProgram?, _ bytes: [UInt8]) -> UInt32? {
                guard let prog else { return 0 }
                // Runs libpcap itself would not finish or decide: left out, as in the differential above.
                if LoopOracle.backwardJumps(prog.instructions, packet: bytes, wirelen: bytes.count, limit: limit - 1) == nil
                    || LoopOracle.readsUnsetMemory(prog.instructions, packet: bytes, wirelen: bytes.count, limit: limit - 1) { return nil }
                return prog.verdict(bytes, wirelen: bytes.count)
            }
            for (i, p) in corpus.enumerated() {
                let packet = Self.encapsulate(p.frame, geneve: i % 2 == 1, v6: i % 3 == 0, optionWords: i % 4)
                let type = p.frame.count >= 14 ? Int(p.frame[12]) << 8 | Int(p.frame[13]) : 0
                let inner3 = Array(p.frame.dropFirst(14))
                let want2 = libpcap(filter.l2, p.frame)
                let want3: UInt32? = type == 0x0800 || type == 0x86dd ? libpcap(filter.l3, inner3) : 0xdead
                let got2 = try loaded.programs.pcapTestTunL2.testRun(packet: packet)
                let got3 = try loaded.programs.pcapTestTunL3.testRun(packet: packet)
                for (layer, want, got) in [("L2", want2, got2), ("L3", want3, got3)] {
                    guard let want else { skipped += 1; continue }
                    runs += 1
                    if want != 0 && want != 0xdead { matches += 1 }
                    if got != want { mismatches.append("'\(expression)' \(layer): kernel \(got), libpcap \(want) — \(p.summary)") }
                }
            }
        }
        print("tunnel differential: \(expressions.count) expressions × \(corpus.count) encapsulated packets, \(runs) kernel runs, \(matches) matches, \(mismatches.count) mismatches, \(skipped) left out (libpcap loops or reads unset memory)")
        #expect(matches > runs / 20, "the corpus should match a fair share")
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "\n"))")
        // Not a tunnel: plain UDP to another port has no inner packet.
        var plain = Self.encapsulate(corpus[0].frame, geneve: false, v6: false)
        plain[14 + 20 + 2] = 0x13 // dport 4789 -> 5001
        let f = try PacketFilter("ip")
        let opened = try FiltertestBPF.open()
        for p in opened.programs.all { p.autoload = p === opened.programs.pcapTestTunL2 }
        opened.programs.pcapTestTunL2.spliceFilters([(FilterSplicer.tunnelL2Magic, try f.translated().l2)])
        #expect(try opened.load().programs.pcapTestTunL2.testRun(packet: plain) == 0xdead)
    }

    @Test(.enabled(if: canTestRun, "needs root and bpf_cast_to_kern_ctx (kernel 6.3+)"))
    func kernelVerdictEqualsLibpcap() throws {
        let corpus = PacketCorpus.generate(count: 1200, seed: 0x5EED_F11E)
        let expressions = FilterExpressions.all
        let limit = Int(CBPFTranslator.loopLimit)
        var c = Comparison()
        for expression in expressions {
            let k: KernelFilter
            do { k = try KernelFilter(expression) } catch {
                Issue.record("'\(expression)': \(error)")
                continue
            }
            try Self.compare(k, expression, corpus: corpus, into: &c)
        }
        let pairs = expressions.count * corpus.count
        let (runs, matches, endless, mismatches) = (c.runs, c.matches, c.endless, c.mismatches)
        print("pcap differential: \(expressions.count) expressions × \(corpus.count) packets = \(pairs) pairs, \(runs) kernel runs (L2 and L3, with caplen cuts), \(matches) matches, \(mismatches.count) mismatches; \(endless) runs where libpcap loops more than \(limit) times (AH chains; it may never stop) and the kernel rejects")
        #expect(expressions.count >= 200 && corpus.count >= 1000)
        #expect(matches > runs / 20, "the corpus should match a fair share of filters")
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).map(\.description).joined(separator: "\n"))")
    }
}
}
