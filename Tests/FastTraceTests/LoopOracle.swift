@testable import FastTrace

/// How many backward jumps libpcap's interpreter takes on a packet, by following the same
/// rules (pcap_filter in bpf_filter.c) with a step budget. libpcap's `protochain` loops can
/// spin forever (an AH header pointing at another AH of the same length sets X to the same
/// value), so the differential test only hands libpcap the packets this oracle shows to
/// terminate; the rest are the cases where the translated filter stops after
/// `CBPFTranslator.loopLimit` iterations and rejects.
///
/// It also says when the run reads a scratch slot M[k] that nothing stored to on that path.
/// libpcap's interpreter leaves M[] uninitialised (stack garbage), so its verdict is then
/// undefined; libpcap's optimiser never emits such reads, but its unoptimised output
/// (`--no-optimize`) can, on paths that skip the store. fasttrace defines the value as 0.
enum LoopOracle {
    /// nil when the program takes more than `limit` backward jumps.
    static func backwardJumps(_ p: [CBPFInstruction], packet: [UInt8], wirelen: Int, limit: Int) -> Int? {
        var unset = false
        return run(p, packet: packet, wirelen: wirelen, limit: limit, readsUnset: &unset)
    }

    /// Whether libpcap's verdict on this packet depends on uninitialised memory.
    static func readsUnsetMemory(_ p: [CBPFInstruction], packet: [UInt8], wirelen: Int, limit: Int) -> Bool {
        var unset = false
        _ = run(p, packet: packet, wirelen: wirelen, limit: limit, readsUnset: &unset)
        return unset
    }

    static func run(_ p: [CBPFInstruction], packet: [UInt8], wirelen: Int, limit: Int, readsUnset: inout Bool) -> Int? {
        typealias C = CBPFInstruction
        var a: UInt32 = 0, x: UInt32 = 0, mem = [UInt32](repeating: 0, count: 16)
        var stored = [Bool](repeating: false, count: 16)
        var pc = 0, loops = 0
        let buflen = UInt64(packet.count)
        func load(_ off: UInt64, _ n: Int) -> UInt32? {
            guard off + UInt64(n) <= buflen else { return nil }
            return (0..<n).reduce(UInt32(0)) { $0 << 8 | UInt32(packet[Int(off) + $1]) }
        }
        while pc < p.count {
            let i = p[pc]
            pc += 1
            switch i.instructionClass {
            case .ret: return loops
            case .ld, .ldx:
                var v: UInt32
                switch i.mode {
                case C.modeIMM: v = i.k
                case C.modeMEM:
                    if !stored[Int(i.k & 15)] { readsUnset = true }
                    v = mem[Int(i.k & 15)]
                case C.modeLEN: v = UInt32(wirelen)
                case C.modeABS: guard let r = load(UInt64(i.k), i.loadBytes) else { return loops }; v = r
                case C.modeIND: guard let r = load(UInt64(x) + UInt64(i.k), i.loadBytes) else { return loops }; v = r
                case C.modeMSH: guard let r = load(UInt64(i.k), 1) else { return loops }; v = (r & 0xf) << 2
                default: return loops
                }
                if i.instructionClass == .ld { a = v } else { x = v }
            case .st: mem[Int(i.k & 15)] = a; stored[Int(i.k & 15)] = true
            case .stx: mem[Int(i.k & 15)] = x; stored[Int(i.k & 15)] = true
            case .alu:
                let v = i.src == C.srcX ? x : i.k
                switch i.op {
                case C.add: a &+= v
                case C.sub: a &-= v
                case C.mul: a &*= v
                case C.div: if v == 0 { return loops }; a /= v
                case C.mod: if v == 0 { return loops }; a %= v
                case C.and: a &= v
                case C.or: a |= v
                case C.xor: a ^= v
                case C.lsh: a = v < 32 ? a << v : 0
                case C.rsh: a = v < 32 ? a >> v : 0
                case C.neg: a = 0 &- a
                default: return loops
                }
            case .jmp:
                if i.op == C.ja {
                    let k = Int(Int32(bitPattern: i.k))
                    if k < 0 { loops += 1; if loops > limit { return nil } }
                    pc += k
                } else {
                    let v = i.src == C.srcX ? x : i.k
                    let taken: Bool
                    switch i.op {
                    case C.jeq: taken = a == v
                    case C.jgt: taken = a > v
                    case C.jge: taken = a >= v
                    default: taken = a & v != 0
                    }
                    pc += Int(taken ? i.jt : i.jf)
                }
            case .misc: if i.code & 0xf8 == C.txa { a = x } else { x = a }
            }
        }
        return loops
    }
}
