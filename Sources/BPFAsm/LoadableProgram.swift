/// A program as libbpf is about to load it: instructions plus the instruction offsets of its
/// BTF func_info and line_info records. A rewrite (`BPFProgram.rewriteBeforeLoad`) edits it;
/// a line_info offset of `removed` marks a record that pointed into replaced code and must
/// be dropped.
public struct LoadableProgram: Equatable, Sendable {
    public var instructions: [EBPFInstruction]
    public var funcInfo: [UInt32]
    public var lineInfo: [UInt32]
    public static let removed = UInt32.max

    public init(instructions: [EBPFInstruction], funcInfo: [UInt32] = [], lineInfo: [UInt32] = []) {
        self.instructions = instructions
        self.funcInfo = funcInfo
        self.lineInfo = lineInfo
    }

    /// Indices of real instructions (the second slot of an ld_imm64 is not one).
    public var instructionStarts: [Int] {
        var starts: [Int] = []
        var i = 0
        while i < instructions.count {
            starts.append(i)
            i += instructions[i].isLoadImm64 ? 2 : 1
        }
        return starts
    }
}
