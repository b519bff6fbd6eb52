/// Compiles a resolved expression into the body of `ft_skb_expr(__u64 skb)` (bpf/trace.bpf.c),
/// spliced in at load like the pcap filter. Every path is read with bpf_probe_read_kernel, so
/// a bad or NULL pointer anywhere makes the whole expression "no match" rather than a fault.
///
/// The code is plain post-order evaluation: each node leaves its value in a stack slot of its
/// own (r10 - 8·(k+1)), strings are read into a buffer below the slots; r6 holds the root,
/// r7 the pointer being followed. No short-circuit: every read is safe, and the expressions
/// are small (at most `maxNodes` nodes).
public enum ExprCompiler {
    /// The stub's marker ("FTEX").
    public static let magic: Int32 = 0x4654_4558
    /// The --output-skb-metadata stub's marker ("FTEM").
    public static let metadataMagic: Int32 = 0x4654_454D
    /// The xdp_buff stubs' markers (--filter-xdp-expr "FTXX", --output-xdp-metadata "FTXM").
    public static let xdpMagic: Int32 = 0x4654_5858
    public static let xdpMetadataMagic: Int32 = 0x4654_584D
    static let maxNodes = 20
    static let maxString = 32

    typealias I = EBPFInstruction
    static let r0: UInt8 = 0, r1: UInt8 = 1, r2: UInt8 = 2, r3: UInt8 = 3, r6: UInt8 = 6, r7: UInt8 = 7, r10: UInt8 = 10
    static let add: UInt8 = 0x00, or: UInt8 = 0x40, and: UInt8 = 0x50, lsh: UInt8 = 0x60, rsh: UInt8 = 0x70, xor: UInt8 = 0xa0, arsh: UInt8 = 0xc0

    struct Builder {
        var code: [I] = []
        var slots = 0
        /// Jumps to patch to the final "return 0" (a read failed).
        var toFail: [Int] = []

        mutating func emit(_ i: I) { code.append(i) }
        mutating func slot() throws(ExprError) -> Int16 {
            slots += 1
            guard slots <= ExprCompiler.maxNodes else { throw ExprError(message: "expression too large (at most \(ExprCompiler.maxNodes) terms)", column: 1) }
            return Int16(-8 * slots)
        }
        /// if `reg` `op` imm: fail.
        mutating func failIf(_ op: UInt8, _ reg: UInt8, _ imm: UInt32) {
            toFail.append(code.count)
            emit(.jump(op, reg, imm: imm, wide: true))
        }
        /// Points the failure jumps emitted since `mark` (a count of `toFail`) at `target`
        /// instead of the common failure.
        mutating func redirectFailures(since mark: Int, to target: Int) {
            for at in toFail[mark...] { code[at].off = Int16(target - at - 1) }
            toFail.removeSubrange(mark...)
        }
        /// dst = (condition emitted by `jumpIfTrue` holds) ? 1 : 0.
        mutating func bool(into slot: Int16, _ jumpIfTrue: I) {
            emit(.mov64(r2, imm: 1))
            var j = jumpIfTrue
            j.off = 1
            emit(j)
            emit(.mov64(r2, imm: 0))
            emit(.store(I.sizeDW, r10, slot, r2))
        }
    }

    public static func compile(_ e: ResolvedExpr) throws(ExprError) -> [EBPFInstruction] {
        var b = Builder()
        b.emit(.mov64(r6, r1))
        let result = try node(e, &b)
        b.emit(.load(I.sizeDW, r0, r10, result))
        b.emit(.jump(I.jne, r0, imm: 0, wide: true).with(off: 2))
        b.emit(.mov64(r0, imm: 0))
        b.emit(.exitInsn)
        b.emit(.mov64(r0, imm: 1))
        b.emit(.exitInsn)
        let fail = b.code.count
        b.emit(.mov64(r0, imm: 0))
        b.emit(.exitInsn)
        for at in b.toFail { b.code[at].off = Int16(fail - at - 1) }
        return b.code
    }

    /// Emits `e`; returns the slot holding its value.
    static func node(_ e: ResolvedExpr, _ b: inout Builder) throws(ExprError) -> Int16 {
        switch e {
        case .number(let n):
            let s = try b.slot()
            if n <= UInt64(Int32.max) {
                b.emit(.mov64(r0, imm: Int32(n)))
            } else {
                b.emit(I(code: I.classLD | I.sizeDW | I.modeIMM, dst: r0, imm: Int32(bitPattern: UInt32(truncatingIfNeeded: n))))
                b.emit(I(code: 0, imm: Int32(bitPattern: UInt32(truncatingIfNeeded: n >> 32))))
            }
            b.emit(.store(I.sizeDW, r10, s, r0))
            return s
        case .path(let p):
            return try path(p, &b)
        case .string:
            throw ExprError(message: "a string can only be compared with a char array member", column: 1)
        case .not(let x):
            let v = try node(x, &b)
            let s = try b.slot()
            b.emit(.load(I.sizeDW, r0, r10, v))
            b.bool(into: s, .jump(I.jeq, r0, imm: 0, wide: true))
            return s
        case .binary(let op, .path(let p), .string(let text)), .binary(let op, .string(let text), .path(let p)):
            return try string(p, text, negate: op == .ne, &b)
        case .binary(let op, let x, let y):
            let a = try node(x, &b), c = try node(y, &b)
            let s = try b.slot()
            b.emit(.load(I.sizeDW, r0, r10, a))
            b.emit(.load(I.sizeDW, r1, r10, c))
            let signed = isSigned(x) || isSigned(y)
            switch op {
            case .bitAnd, .bitOr, .bitXor:
                b.emit(.alu64(op == .bitAnd ? and : op == .bitOr ? or : xor, r0, r1))
                b.emit(.store(I.sizeDW, r10, s, r0))
            case .and, .or:
                // Both sides as 0/1, then the bitwise form.
                for r in [r0, r1] {
                    b.emit(.jump(I.jeq, r, imm: 0, wide: true).with(off: 1))
                    b.emit(.mov64(r, imm: 1))
                }
                b.emit(.alu64(op == .and ? and : or, r0, r1))
                b.emit(.store(I.sizeDW, r10, s, r0))
            case .eq: b.bool(into: s, .jump(I.jeq, r0, r1, wide: true))
            case .ne: b.bool(into: s, .jump(I.jne, r0, r1, wide: true))
            case .lt: b.bool(into: s, .jump(signed ? 0xc0 : I.jlt, r0, r1, wide: true))
            case .le: b.bool(into: s, .jump(signed ? 0xd0 : I.jle, r0, r1, wide: true))
            case .gt: b.bool(into: s, .jump(signed ? 0x60 : I.jgt, r0, r1, wide: true))
            case .ge: b.bool(into: s, .jump(signed ? 0x70 : I.jge, r0, r1, wide: true))
            }
            return s
        }
    }

    static func isSigned(_ e: ResolvedExpr) -> Bool {
        guard case .path(let p) = e else { return false }
        switch p.value {
        case .integer(let signed), .enumeration(_, let signed): return signed
        default: return false
        }
    }

    /// r7 = the pointer the last load of `p` reaches (the root when there is none); a failed
    /// read jumps to the failure (`Builder.toFail`).
    static func follow(_ p: ResolvedPath, scratch: Int16, _ b: inout Builder) {
        b.emit(.mov64(r7, r6))
        for off in p.loads {
            b.emit(.mov64(r1, r10))
            b.emit(.alu64(add, r1, imm: Int32(scratch)))
            b.emit(.mov64(r2, imm: 8))
            b.emit(.mov64(r3, r7))
            b.emit(.alu64(add, r3, imm: Int32(off)))
            b.emit(.call(helper: I.helperProbeReadKernel))
            b.failIf(I.jne, r0, 0)
            b.emit(.load(I.sizeDW, r7, r10, scratch))
            b.failIf(I.jeq, r7, 0)
        }
    }

    /// The body of `ft_skb_meta(__u64 skb, void *out)` (bpf/skb_expr.h) for
    /// --output-skb-metadata (and of `ft_xdp_meta`): zeroes the `areaSize` bytes (at least
    /// the layout's), copies each field's bytes to its offset and sets its mask bit when the
    /// read succeeded; with no object (0), or no fields, the mask stays 0.
    public static func compileMetadata(_ m: SkbMetadata, areaSize: Int = 0) -> [EBPFInstruction] {
        let r8: UInt8 = 8, r9: UInt8 = 9
        var b = Builder()
        b.emit(.mov64(r6, r1))
        b.emit(.mov64(r8, r2))
        for at in stride(from: 0, to: max(m.size, areaSize), by: 8) { b.emit(.store(I.sizeDW, r8, Int16(at), imm: 0)) }
        guard !m.fields.isEmpty else {
            b.emit(.mov64(r0, imm: 0))
            b.emit(.exitInsn)
            return b.code
        }
        b.emit(.mov64(r9, imm: 0))
        let noSkb = b.code.count
        b.emit(.jump(I.jeq, r6, imm: 0, wide: true))
        b.emit(.mov64(r9, imm: 1))
        b.emit(.alu64(lsh, r9, imm: 63))
        for (i, f) in m.fields.enumerated() {
            guard let p = f.path else { continue }
            // A failed read skips only this field: its failures jump to the next one.
            let mark = b.toFail.count
            follow(p, scratch: -8, &b)
            b.emit(.mov64(r1, r8))
            b.emit(.alu64(add, r1, imm: Int32(f.offset)))
            b.emit(.mov64(r2, imm: Int32(f.kind == .chars || f.kind == .words ? f.size : min(p.size, 8))))
            b.emit(.mov64(r3, r7))
            b.emit(.alu64(add, r3, imm: Int32(p.offset)))
            b.emit(.call(helper: I.helperProbeReadKernel))
            b.failIf(I.jne, r0, 0)
            b.emit(.alu64(or, r9, imm: Int32(1 << i))) // i ≤ maxFields: a positive imm
            b.redirectFailures(since: mark, to: b.code.count)
        }
        b.code[noSkb].off = Int16(b.code.count - noSkb - 1)
        b.emit(.store(I.sizeDW, r8, 0, r9))
        b.emit(.mov64(r0, imm: 0))
        b.emit(.exitInsn)
        return b.code
    }

    static func path(_ p: ResolvedPath, _ b: inout Builder) throws(ExprError) -> Int16 {
        let s = try b.slot()
        follow(p, scratch: s, &b)
        b.emit(.store(I.sizeDW, r10, s, imm: 0))
        b.emit(.mov64(r1, r10))
        b.emit(.alu64(add, r1, imm: Int32(s)))
        b.emit(.mov64(r2, imm: Int32(min(p.size, 8))))
        b.emit(.mov64(r3, r7))
        b.emit(.alu64(add, r3, imm: Int32(p.offset)))
        b.emit(.call(helper: I.helperProbeReadKernel))
        b.failIf(I.jne, r0, 0)
        b.emit(.load(I.sizeDW, r0, r10, s))
        if p.bits > 0 {
            if p.bitOffset > 0 { b.emit(.alu64(rsh, r0, imm: Int32(p.bitOffset))) }
            b.emit(.alu64(and, r0, imm: Int32((1 << p.bits) - 1)))
        } else if isSigned(.path(p)), p.size < 8 {
            let shift = Int32(64 - 8 * p.size)
            b.emit(.alu64(lsh, r0, imm: shift))
            b.emit(.alu64(arsh, r0, imm: shift))
        }
        b.emit(.store(I.sizeDW, r10, s, r0))
        return s
    }

    /// `p == "text"` as C's strncmp over the array: the bytes, then a NUL unless the text
    /// fills the array.
    static func string(_ p: ResolvedPath, _ text: [UInt8], negate: Bool, _ b: inout Builder) throws(ExprError) -> Int16 {
        guard case .chars(let count) = p.value, count <= maxString else {
            throw ExprError(message: "strings are compared with char arrays of at most \(maxString) bytes", column: 1)
        }
        let s = try b.slot()
        let buffer = Int16(-8 * maxNodes - maxString)
        follow(p, scratch: s, &b)
        b.emit(.mov64(r1, r10))
        b.emit(.alu64(add, r1, imm: Int32(buffer)))
        b.emit(.mov64(r2, imm: Int32(count)))
        b.emit(.mov64(r3, r7))
        b.emit(.alu64(add, r3, imm: Int32(p.offset)))
        b.emit(.call(helper: I.helperProbeReadKernel))
        b.failIf(I.jne, r0, 0)
        // Compare; any difference jumps to "unequal".
        var toUnequal: [Int] = []
        let expect = text + (text.count < count ? [0] : [])
        for (i, byte) in expect.enumerated() {
            b.emit(.load(I.sizeB, r0, r10, buffer + Int16(i)))
            toUnequal.append(b.code.count)
            b.emit(.jump(I.jne, r0, imm: UInt32(byte), wide: true))
        }
        b.emit(.store(I.sizeDW, r10, s, imm: negate ? 0 : 1))
        b.emit(I.goto.with(off: 1))
        let unequal = b.code.count
        b.emit(.store(I.sizeDW, r10, s, imm: negate ? 1 : 0))
        for at in toUnequal { b.code[at].off = Int16(unequal - at - 1) }
        return s
    }
}

extension EBPFInstruction {
    func with(off: Int16) -> Self {
        var i = self
        i.off = off
        return i
    }
}
