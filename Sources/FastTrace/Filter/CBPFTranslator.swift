import Foundation

/// A filter that cannot be compiled, translated or spliced; the message says why.
public struct FilterError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    /// Set when the compile was given up (`PacketFilter.compile`), not refused.
    public private(set) var timedOut = false
    public init(_ description: String) { self.description = description }

    public static func timedOut(seconds: Double) -> FilterError {
        var e = FilterError("compiling took more than \(String(format: "%g", seconds)) s (libpcap's optimiser)")
        e.timedOut = true
        return e
    }
}

/// Translates a classic BPF program (libpcap's output) into the body of the eBPF function
///
///     u32 f(u64 data, u64 caplen, u64 wirelen)
///
/// with the semantics of libpcap's own interpreter (`pcap_filter`): A and X start at 0; loads
/// are big-endian and a load past `caplen` returns 0 (reject); division or modulo by zero
/// returns 0; shifts by 32 or more give 0; the return value is the verdict (0 = no match).
///
/// Packet bytes live in kernel memory at `data`. The prologue copies a window of the first
/// bytes (as many as the program's fixed offsets need, plus room for header-relative loads,
/// at most `windowBytes`; fewer if fewer were captured) to the stack with one
/// `bpf_probe_read_kernel`, so most loads are plain stack loads; loads beyond the window
/// read their bytes on demand.
/// Backward jumps (libpcap's `protochain` loops) are bounded by `loopLimit` iterations, which
/// the verifier needs; a packet needing more never matches. (libpcap's own interpreter can
/// loop forever there: an AH header naming another AH of the same length.)
///
/// Registers: A = r6, X = r7, data = r8, window length = r9 (callee-saved, so they survive
/// helper calls). Stack: wirelen, a 4-byte load buffer, the loop counter, caplen, M[0..15]
/// and the window.
public enum CBPFTranslator {
    public static let windowBytes = 128
    /// Iterations a backward jump may take. Eight covers any RFC 8200 extension-header chain
    /// for `ip6 protochain`; the verifier's cost grows steeply with it (32 exceeds its
    /// one-million-instruction budget for `ip6 protochain 6`).
    public static let loopLimit: Int32 = 8

    static let rA: UInt8 = 6, rX: UInt8 = 7, rData: UInt8 = 8, rWin: UInt8 = 9, fp: UInt8 = 10
    static let wirelenSlot: Int16 = -8, bufferSlot: Int16 = -16, loopSlot: Int16 = -24, caplenSlot: Int16 = -32
    static let memBase: Int16 = -96
    /// Room in the window for loads relative to X (a header length: IPv4 options, TCP
    /// data offset) past the furthest fixed offset.
    static let indirectReach: UInt64 = 64

    /// The window a program needs: up to its furthest fixed-offset load, plus
    /// `indirectReach` if it loads at X + k; 8-byte multiple, at most `windowBytes`.
    static func windowSize(_ live: [CBPFInstruction]) -> Int {
        typealias C = CBPFInstruction
        var end: UInt64 = 0, indirect = false
        for i in live {
            if i.instructionClass == .ld && i.mode == C.modeABS { end = max(end, UInt64(i.k) + UInt64(i.loadBytes)) }
            if i.instructionClass == .ldx && i.mode == C.modeMSH { end = max(end, UInt64(i.k) + 1) }
            if i.instructionClass == .ld && i.mode == C.modeIND { end = max(end, UInt64(i.k) + UInt64(i.loadBytes)); indirect = true }
        }
        if indirect { end += indirectReach }
        return Int(min(UInt64(windowBytes), (end + 7) / 8 * 8))
    }

    /// The body of a function that matches nothing: used when an expression has no form for
    /// a layer (e.g. `arp` on IP packets).
    public static var rejectAll: [EBPFInstruction] { [.mov32(0, imm: 0), .exitInsn] }

    public static func translate(_ program: [CBPFInstruction]) throws(FilterError) -> [EBPFInstruction] {
        guard !program.isEmpty else { throw FilterError("empty classic BPF program") }
        let reachable = try reachableInstructions(program)
        var e = Emitter()
        e.prologue(program, reachable)
        for pc in program.indices where reachable[pc] {
            e.place(.cbpf(pc))
            try e.translate(program[pc], at: pc)
        }
        return try e.resolve()
    }

    /// Which instructions can run (libpcap's optimiser leaves none unreachable, but the
    /// verifier rejects dead code, so never emit any); also validates every jump target.
    static func reachableInstructions(_ p: [CBPFInstruction]) throws(FilterError) -> [Bool] {
        var seen = [Bool](repeating: false, count: p.count)
        var work = [0]
        func add(_ t: Int, from pc: Int) throws(FilterError) {
            guard t >= 0, t < p.count else { throw FilterError("classic BPF jumps out of the program at \(pc): \(p[pc])") }
            if !seen[t] { work.append(t) }
        }
        while let pc = work.popLast() {
            guard !seen[pc] else { continue }
            seen[pc] = true
            let i = p[pc]
            switch i.instructionClass {
            case .ret: break
            case _ where alwaysRejects(i): break
            case .jmp where i.op == CBPFInstruction.ja:
                try add(pc + 1 + Int(Int32(bitPattern: i.k)), from: pc)
            case .jmp:
                try add(pc + 1 + Int(i.jt), from: pc)
                try add(pc + 1 + Int(i.jf), from: pc)
            default:
                guard pc + 1 < p.count else { throw FilterError("classic BPF program runs off its end at \(pc): \(i)") }
                try add(pc + 1, from: pc)
            }
        }
        return seen
    }

    /// No packet reaches this offset; below it, offsets fit eBPF's signed 32-bit immediates.
    static let offsetLimit = UInt64(Int32.max)

    /// Instructions that return 0 whatever the packet: an absolute load past any packet,
    /// division or modulo by the constant 0. Their successors are dead code.
    static func alwaysRejects(_ i: CBPFInstruction) -> Bool {
        typealias C = CBPFInstruction
        switch i.instructionClass {
        case .ld where i.mode == C.modeABS: return UInt64(i.k) + UInt64(i.loadBytes) > offsetLimit
        case .ldx where i.mode == C.modeMSH: return UInt64(i.k) + 1 > offsetLimit
        case .alu where i.src == C.srcK && (i.op == C.div || i.op == C.mod): return i.k == 0
        default: return false
        }
    }

    enum Label: Hashable {
        case cbpf(Int), reject, local(Int)
    }

    struct Emitter {
        var window = CBPFTranslator.windowBytes
        var windowBase: Int16 { memBase - Int16(window) }
        var out: [EBPFInstruction] = []
        var fixups: [(at: Int, label: Label)] = []
        var labels: [Label: Int] = [:]
        var locals = 0
        typealias I = EBPFInstruction

        mutating func emit(_ i: I) { out.append(i) }
        mutating func jump(_ i: I, to label: Label) {
            fixups.append((out.count, label))
            out.append(i)
        }
        mutating func place(_ l: Label) { labels[l] = out.count }
        mutating func newLabel() -> Label {
            locals += 1
            return .local(locals)
        }

        // MARK: prologue

        mutating func prologue(_ p: [CBPFInstruction], _ reachable: [Bool]) {
            let live = p.indices.filter { reachable[$0] }.map { p[$0] }
            let loads = live.contains { ($0.instructionClass == .ld && ($0.mode == CBPFInstruction.modeABS || $0.mode == CBPFInstruction.modeIND))
                || ($0.instructionClass == .ldx && $0.mode == CBPFInstruction.modeMSH) }
            let usesLen = live.contains { ($0.instructionClass == .ld || $0.instructionClass == .ldx) && $0.mode == CBPFInstruction.modeLEN }
            let memRead = Set(live.filter { ($0.instructionClass == .ld || $0.instructionClass == .ldx) && $0.mode == CBPFInstruction.modeMEM }.map(\.k))
            let loops = p.indices.contains { pc in
                reachable[pc] && p[pc].instructionClass == .jmp && p[pc].op == CBPFInstruction.ja && Int32(bitPattern: p[pc].k) < 0
            }
            emit(.mov64(rData, 1))
            if usesLen { emit(.store(I.sizeDW, fp, wirelenSlot, 3)) }
            emit(.mov32(rA, imm: 0))
            emit(.mov32(rX, imm: 0))
            // The verifier rejects reads of stack never written; libpcap leaves M[] undefined.
            for k in memRead.sorted() where k < 16 { emit(.store(I.sizeW, fp, memBase + Int16(k) * 4, imm: 0)) }
            if loops { emit(.store(I.sizeDW, fp, loopSlot, imm: CBPFTranslator.loopLimit)) }
            guard loads else { return }
            window = max(8, CBPFTranslator.windowSize(live))
            // rWin = min(caplen, window); copy that much of the packet to the stack.
            emit(.store(I.sizeDW, fp, caplenSlot, 2))
            emit(.mov64(rWin, 2))
            emit(.init(code: I.classJMP | I.jle | I.srcK, dst: rWin, off: 1, imm: Int32(window)))
            emit(.mov64(rWin, imm: Int32(window)))
            emit(.mov64(1, fp))
            emit(.alu64(0x00, 1, imm: Int32(windowBase)))
            emit(.mov64(2, rWin))
            emit(.mov64(3, rData))
            emit(.call(helper: I.helperProbeReadKernel))
            // Unreadable memory: an empty window, so every load takes the on-demand path
            // (which fails the same way and rejects).
            emit(.init(code: I.classJMP | I.jeq | I.srcK, dst: 0, off: 1, imm: 0))
            emit(.mov64(rWin, imm: 0))
        }

        // MARK: instructions

        mutating func translate(_ i: CBPFInstruction, at pc: Int) throws(FilterError) {
            typealias C = CBPFInstruction
            if alwaysRejects(i) {
                emit(.mov32(0, imm: 0))
                emit(.exitInsn)
                return
            }
            switch i.instructionClass {
            case .ld, .ldx:
                let dst = i.instructionClass == .ld ? rA : rX
                switch i.mode {
                case C.modeIMM: emit(.mov32(dst, imm: i.k))
                case C.modeMEM: emit(.load(I.sizeW, dst, fp, try memSlot(i, pc)))
                case C.modeLEN:
                    emit(.load(I.sizeDW, dst, fp, wirelenSlot))
                    emit(.mov32(dst, dst))
                case C.modeABS where dst == rA:
                    try loadAbsolute(k: i.k, bytes: i.loadBytes, into: rA)
                case C.modeIND where dst == rA:
                    try loadIndirect(k: i.k, bytes: i.loadBytes, into: rA)
                case C.modeMSH where dst == rX && i.size == C.sizeB:
                    try loadAbsolute(k: i.k, bytes: 1, into: rX)
                    emit(.alu32(0x50, rX, imm: 0xf))
                    emit(.alu32(0x60, rX, imm: 2))
                default: throw unsupported(i, pc)
                }
            case .st: emit(.store(I.sizeW, fp, try memSlot(i, pc), rA))
            case .stx: emit(.store(I.sizeW, fp, try memSlot(i, pc), rX))
            case .alu: try alu(i, pc)
            case .jmp: try jumpInstruction(i, pc)
            case .ret:
                switch i.code & 0x18 {
                case C.srcK: emit(.mov32(0, imm: i.k))
                case C.retA: emit(.mov32(0, rA))
                default: throw unsupported(i, pc)
                }
                emit(.exitInsn)
            case .misc:
                switch i.code & 0xf8 {
                case C.tax: emit(.mov32(rX, rA))
                case C.txa: emit(.mov32(rA, rX))
                default: throw unsupported(i, pc)
                }
            }
        }

        func unsupported(_ i: CBPFInstruction, _ pc: Int) -> FilterError {
            FilterError("unsupported classic BPF instruction at \(pc): \(i) (code 0x\(String(i.code, radix: 16)))")
        }

        func memSlot(_ i: CBPFInstruction, _ pc: Int) throws(FilterError) -> Int16 {
            guard i.k < 16 else { throw FilterError("classic BPF scratch index M[\(i.k)] out of range at \(pc)") }
            return memBase + Int16(i.k) * 4
        }

        mutating func alu(_ i: CBPFInstruction, _ pc: Int) throws(FilterError) {
            typealias C = CBPFInstruction
            let op = UInt8(i.op)
            let known: Set<UInt16> = [C.add, C.sub, C.mul, C.div, C.or, C.and, C.lsh, C.rsh, C.neg, C.mod, C.xor]
            guard known.contains(i.op) else { throw unsupported(i, pc) }
            if i.op == C.neg {
                emit(.neg32(rA))
                return
            }
            let isDiv = i.op == C.div || i.op == C.mod
            let isShift = i.op == C.lsh || i.op == C.rsh
            if i.src == C.srcX {
                if isDiv { jump(.jump(I.jeq, rX, imm: 0), to: .reject) }
                if isShift {
                    let zero = newLabel(), done = newLabel()
                    jump(.jump(I.jge, rX, imm: 32), to: zero)
                    emit(.alu32(op, rA, rX))
                    jump(.goto, to: done)
                    place(zero)
                    emit(.mov32(rA, imm: 0))
                    place(done)
                } else {
                    emit(.alu32(op, rA, rX))
                }
            } else if isShift && i.k >= 32 {
                emit(.mov32(rA, imm: 0))
            } else {
                emit(.alu32(op, rA, imm: i.k))
            }
        }

        mutating func jumpInstruction(_ i: CBPFInstruction, _ pc: Int) throws(FilterError) {
            typealias C = CBPFInstruction
            if i.op == C.ja {
                let target = pc + 1 + Int(Int32(bitPattern: i.k))
                if target <= pc {
                    // A loop: count iterations so the verifier sees it end.
                    emit(.load(I.sizeDW, 1, fp, loopSlot))
                    emit(.alu64(0x00, 1, imm: -1))
                    emit(.store(I.sizeDW, fp, loopSlot, 1))
                    jump(.jump(I.jeq, 1, imm: 0, wide: true), to: .reject)
                }
                if target != pc + 1 { jump(.goto, to: .cbpf(target)) }
                return
            }
            guard [C.jeq, C.jgt, C.jge, C.jset].contains(i.op) else { throw unsupported(i, pc) }
            let t = pc + 1 + Int(i.jt), f = pc + 1 + Int(i.jf)
            if t == f {
                if t != pc + 1 { jump(.goto, to: .cbpf(t)) }
                return
            }
            let op = UInt8(i.op)
            func cond(_ op: UInt8) -> I { i.src == C.srcX ? .jump(op, rA, rX) : .jump(op, rA, imm: i.k) }
            // Fall through to the true branch when the inverse condition exists.
            let inverse: [UInt16: UInt8] = [C.jeq: I.jne, C.jgt: I.jle, C.jge: I.jlt]
            if t == pc + 1, let inv = inverse[i.op] {
                jump(cond(inv), to: .cbpf(f))
                return
            }
            jump(cond(op), to: .cbpf(t))
            if f != pc + 1 { jump(.goto, to: .cbpf(f)) }
        }

        // MARK: packet loads

        /// dst = big-endian `bytes` at packet offset k.
        mutating func loadAbsolute(k: UInt32, bytes: Int, into dst: UInt8) throws(FilterError) {
            let end = UInt64(k) + UInt64(bytes)
            if end <= UInt64(window) {
                // Past the window length means past caplen (the window is min(caplen, size)).
                jump(.jump(I.jlt, rWin, imm: UInt32(end), wide: true), to: .reject)
                loadWindow(offset: windowBase + Int16(k), bytes: bytes, into: dst)
            } else {
                emit(.load(I.sizeDW, 1, fp, caplenSlot))
                jump(.jump(I.jlt, 1, imm: UInt32(end), wide: true), to: .reject)
                emit(.mov64(3, rData))
                emit(.alu64(0x00, 3, imm: Int32(k)))
                readOnDemand(bytes: bytes, into: dst)
            }
        }

        /// dst = big-endian `bytes` at packet offset X + k.
        mutating func loadIndirect(k: UInt32, bytes: Int, into dst: UInt8) throws(FilterError) {
            emit(.mov64(3, rX)) // X is kept zero-extended
            if k <= UInt32(Int32.max) {
                if k != 0 { emit(.alu64(0x00, 3, imm: Int32(k))) }
            } else {
                emit(.mov32(4, imm: k))
                emit(.alu64(0x00, 3, 4))
            }
            // Signed compare against rWin - bytes (which may be negative): on the fall-through
            // path the verifier then knows 0 <= r3 <= window - bytes.
            let slow = newLabel(), done = newLabel()
            emit(.mov64(4, rWin))
            emit(.alu64(0x00, 4, imm: -Int32(bytes)))
            jump(.init(code: I.classJMP | 0x60 | I.srcX, dst: 3, src: 4), to: slow) // jsgt r3, r4
            emit(.mov64(1, fp))
            emit(.alu64(0x00, 1, imm: Int32(windowBase)))
            emit(.alu64(0x00, 1, 3))
            loadBytes(base: 1, offset: 0, bytes: bytes, into: dst)
            jump(.goto, to: done)
            place(slow)
            emit(.mov64(4, 3))
            emit(.alu64(0x00, 4, imm: Int32(bytes)))
            emit(.load(I.sizeDW, 1, fp, caplenSlot))
            jump(.jump(I.jgt, 4, 1, wide: true), to: .reject)
            emit(.alu64(0x00, 3, rData))
            readOnDemand(bytes: bytes, into: dst)
            place(done)
        }

        /// From the stack copy at a fixed offset: aligned loads plus a byte swap, or bytes.
        mutating func loadWindow(offset: Int16, bytes: Int, into dst: UInt8) {
            if bytes > 1, Int(offset) % bytes == 0 {
                emit(.load(bytes == 2 ? I.sizeH : I.sizeW, dst, fp, offset))
                emit(.toBigEndian(dst, bits: Int32(bytes * 8)))
            } else {
                loadBytes(base: fp, offset: offset, bytes: bytes, into: dst)
            }
        }

        /// Big-endian assembly byte by byte (any alignment, variable offsets included).
        mutating func loadBytes(base: UInt8, offset: Int16, bytes: Int, into dst: UInt8) {
            emit(.load(I.sizeB, dst, base, offset))
            for n in 1..<max(bytes, 1) {
                emit(.alu32(0x60, dst, imm: 8))
                emit(.load(I.sizeB, 0, base, offset + Int16(n)))
                emit(.alu32(0x40, dst, 0))
            }
        }

        /// dst = `bytes` read from kernel address r3 (bounds already checked).
        mutating func readOnDemand(bytes: Int, into dst: UInt8) {
            emit(.mov64(1, fp))
            emit(.alu64(0x00, 1, imm: Int32(bufferSlot)))
            emit(.mov64(2, imm: Int32(bytes)))
            emit(.call(helper: I.helperProbeReadKernel))
            jump(.jump(I.jne, 0, imm: 0, wide: true), to: .reject)
            emit(.load(bytes == 4 ? I.sizeW : bytes == 2 ? I.sizeH : I.sizeB, dst, fp, bufferSlot))
            if bytes > 1 { emit(.toBigEndian(dst, bits: Int32(bytes * 8))) }
        }

        // MARK: labels

        mutating func resolve() throws(FilterError) -> [EBPFInstruction] {
            if fixups.contains(where: { $0.label == .reject }) {
                place(.reject)
                emit(.mov32(0, imm: 0))
                emit(.exitInsn)
            }
            for (at, label) in fixups {
                guard let target = labels[label] else { throw FilterError("internal: unplaced label \(label)") }
                let off = target - at - 1
                guard let o = Int16(exactly: off) else {
                    throw FilterError("filter too large: a jump spans \(off) eBPF instructions (limit 32767)")
                }
                out[at].off = o
            }
            return out
        }
    }
}
