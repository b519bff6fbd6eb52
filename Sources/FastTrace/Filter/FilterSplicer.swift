import BPFAsm

/// Replaces a stub function inside a loadable eBPF program with generated code.
///
/// The mechanism (docs/filters.md): `bpf/pcap_filter.h` declares global `__noinline` stubs
/// whose body loads a marker constant (`l2Magic`, `l3Magic`). libbpf appends every called
/// subprogram to each program and relocates calls, maps and CO-RE accesses; right before
/// BPF_PROG_LOAD it calls our prepare-load hook (custom `ft.*` sections), which finds the stub
/// by its marker, swaps its body for the translated filter and moves everything after it:
/// jump offsets and BPF-to-BPF call offsets that cross the stub, and the BTF func_info and
/// line_info instruction offsets.
public enum FilterSplicer {
    /// Marker constants in the stubs ("FTL2", "FTL3").
    public static let l2Magic: Int32 = 0x4654_4C32
    public static let l3Magic: Int32 = 0x4654_4C33
    /// The tunnel filters' stubs ("FTT2", "FTT3").
    public static let tunnelL2Magic: Int32 = 0x4654_5432
    public static let tunnelL3Magic: Int32 = 0x4654_5433

    /// The program text a splice edits (BPFAsm).
    public typealias Program = LoadableProgram

    static func instructionStarts(_ insns: [EBPFInstruction]) -> [Int] {
        LoadableProgram(instructions: insns).instructionStarts
    }

    /// The stub holding `magic`: from its entry (a call target) to its first exit.
    static func stubRange(_ insns: [EBPFInstruction], starts: [Int], magic: Int32) throws(FilterError) -> ClosedRange<Int>? {
        let markers = starts.filter {
            let i = insns[$0]
            return (i.code == EBPFInstruction.classALU64 | EBPFInstruction.mov || i.code == EBPFInstruction.classALU | EBPFInstruction.mov)
                && i.imm == magic
        }
        guard let marker = markers.first else { return nil }
        guard markers.count == 1 else { throw FilterError("filter stub marker 0x\(String(magic, radix: 16)) appears \(markers.count) times") }
        var entries: [Int] = []
        for i in starts where insns[i].isPseudoCall || insns[i].isPseudoFunc {
            entries.append(i + 1 + Int(insns[i].imm))
        }
        guard let entry = entries.filter({ $0 <= marker }).max() else {
            throw FilterError("filter stub 0x\(String(magic, radix: 16)) is not a called function (inlined?)")
        }
        guard let exit = starts.first(where: { $0 >= marker && insns[$0].isExit }) else {
            throw FilterError("filter stub 0x\(String(magic, radix: 16)) has no exit")
        }
        return entry...exit
    }

    /// Replaces the stub marked `magic` with `body`. Returns false if the program has no such
    /// stub (it never calls it).
    @discardableResult
    public static func splice(_ p: inout Program, magic: Int32, body: [EBPFInstruction]) throws(FilterError) -> Bool {
        let starts = instructionStarts(p.instructions)
        guard let stub = try stubRange(p.instructions, starts: starts, magic: magic) else { return false }
        let delta = body.count - stub.count
        func moved(_ x: Int) -> Int { x > stub.upperBound ? x + delta : x }
        var insns = p.instructions
        for i in starts where !stub.contains(i) {
            var insn = insns[i]
            let usesImm = insn.isPseudoCall || insn.isPseudoFunc || insn.isLongJump
            guard insn.isJump || insn.isPseudoCall || insn.isPseudoFunc else { continue }
            let target = i + 1 + (usesImm ? Int(insn.imm) : Int(insn.off))
            if target > stub.lowerBound && target <= stub.upperBound {
                throw FilterError("instruction \(i) jumps into the filter stub")
            }
            let newOffset = moved(target) - moved(i) - 1
            if usesImm {
                guard let v = Int32(exactly: newOffset) else { throw FilterError("program too large after splicing") }
                insn.imm = v
            } else {
                guard let v = Int16(exactly: newOffset) else {
                    throw FilterError("a jump at \(i) spans \(newOffset) instructions after splicing (limit 32767)")
                }
                insn.off = v
            }
            insns[i] = insn
        }
        insns.replaceSubrange(stub, with: body)
        p.instructions = insns
        for (n, off) in p.funcInfo.enumerated() {
            let o = Int(off)
            if o > stub.lowerBound && o <= stub.upperBound { throw FilterError("a function starts inside the filter stub") }
            p.funcInfo[n] = UInt32(moved(o))
        }
        for (n, off) in p.lineInfo.enumerated() where off != Program.removed {
            let o = Int(off)
            p.lineInfo[n] = o > stub.lowerBound && o <= stub.upperBound ? Program.removed : UInt32(moved(o))
        }
        return true
    }
}

extension BPFProgram {
    /// Replaces the pcap filter stubs (bpf/pcap_filter.h) with these bodies when the program
    /// loads; the program must live in an `ft.*` section (ProgramSections).
    public func spliceFilter(l2: [EBPFInstruction], l3: [EBPFInstruction]) {
        spliceFilters([(FilterSplicer.l2Magic, l2), (FilterSplicer.l3Magic, l3)])
    }

    /// Replaces each stub (by its magic) with its body when the program loads; a stub the
    /// program does not contain is skipped.
    public func spliceFilters(_ bodies: [(magic: Int32, body: [EBPFInstruction])]) {
        rewriteBeforeLoad { p in
            var changed = false
            for b in bodies { changed = try FilterSplicer.splice(&p, magic: b.magic, body: b.body) || changed }
            return changed
        }
    }
}
