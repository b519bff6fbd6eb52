// BPFAsm: eBPF instructions as values (cilium/ebpf's `asm/`): the opcode fields, builders for
// what fasttrace generates, and a loadable program's text with its BTF line/func records.
// It knows nothing of libbpf objects or pcap; the BPF layer hands programs to it at load,
// the filter layer generates code with it.
import CShim

/// One eBPF instruction. `ld_imm64` occupies two slots (the second has code 0).
public struct EBPFInstruction: Equatable, Sendable, CustomStringConvertible {
    public var code: UInt8
    public var dst: UInt8
    public var src: UInt8
    public var off: Int16
    public var imm: Int32

    public init(code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) {
        self.code = code
        self.dst = dst
        self.src = src
        self.off = off
        self.imm = imm
    }

    package init(_ raw: bpf_insn) {
        self.init(code: raw.code, dst: raw.dst_reg, src: raw.src_reg, off: raw.off, imm: raw.imm)
    }

    package var raw: bpf_insn {
        var r = bpf_insn()
        r.code = code
        r.dst_reg = dst
        r.src_reg = src
        r.off = off
        r.imm = imm
        return r
    }

    // Opcode fields (<linux/bpf.h>).
    public static let classLD: UInt8 = 0x00, classLDX: UInt8 = 0x01, classST: UInt8 = 0x02, classSTX: UInt8 = 0x03,
                      classALU: UInt8 = 0x04, classJMP: UInt8 = 0x05, classJMP32: UInt8 = 0x06, classALU64: UInt8 = 0x07
    public static let sizeW: UInt8 = 0x00, sizeH: UInt8 = 0x08, sizeB: UInt8 = 0x10, sizeDW: UInt8 = 0x18
    public static let modeIMM: UInt8 = 0x00, modeMEM: UInt8 = 0x60
    public static let srcK: UInt8 = 0x00, srcX: UInt8 = 0x08
    public static let mov: UInt8 = 0xb0, end: UInt8 = 0xd0, toBE: UInt8 = 0x08
    public static let ja: UInt8 = 0x00, jeq: UInt8 = 0x10, jgt: UInt8 = 0x20, jge: UInt8 = 0x30, jset: UInt8 = 0x40,
                      jne: UInt8 = 0x50, call: UInt8 = 0x80, exit: UInt8 = 0x90, jlt: UInt8 = 0xa0, jle: UInt8 = 0xb0
    /// src_reg markers: a call to a BPF function (imm = relative offset) and a function
    /// address load (`ld_imm64` with a relative offset).
    public static let pseudoCall: UInt8 = 1, pseudoFunc: UInt8 = 4
    public static let helperProbeReadKernel: Int32 = 113

    public var instructionClass: UInt8 { code & 0x07 }
    public var op: UInt8 { code & 0xf0 }
    public var isJump: Bool {
        (instructionClass == Self.classJMP || instructionClass == Self.classJMP32) && op != Self.call && op != Self.exit
    }
    public var isExit: Bool { code == Self.classJMP | Self.exit }
    public var isPseudoCall: Bool { code == Self.classJMP | Self.call && src == Self.pseudoCall }
    public var isLoadImm64: Bool { code == Self.classLD | Self.sizeDW | Self.modeIMM }
    public var isPseudoFunc: Bool { isLoadImm64 && src == Self.pseudoFunc }
    /// `gotol`: JMP32|JA carries its offset in imm.
    public var isLongJump: Bool { code == Self.classJMP32 | Self.ja }

    // MARK: builders (the subset the classic translator emits)

    package static func mov64(_ dst: UInt8, _ src: UInt8) -> Self { .init(code: classALU64 | mov | srcX, dst: dst, src: src) }
    package static func mov32(_ dst: UInt8, _ src: UInt8) -> Self { .init(code: classALU | mov | srcX, dst: dst, src: src) }
    package static func mov32(_ dst: UInt8, imm: UInt32) -> Self { .init(code: classALU | mov | srcK, dst: dst, imm: Int32(bitPattern: imm)) }
    package static func mov64(_ dst: UInt8, imm: Int32) -> Self { .init(code: classALU64 | mov | srcK, dst: dst, imm: imm) }
    package static func alu32(_ op: UInt8, _ dst: UInt8, imm: UInt32) -> Self { .init(code: classALU | op | srcK, dst: dst, imm: Int32(bitPattern: imm)) }
    package static func alu32(_ op: UInt8, _ dst: UInt8, _ src: UInt8) -> Self { .init(code: classALU | op | srcX, dst: dst, src: src) }
    package static func alu64(_ op: UInt8, _ dst: UInt8, imm: Int32) -> Self { .init(code: classALU64 | op | srcK, dst: dst, imm: imm) }
    package static func alu64(_ op: UInt8, _ dst: UInt8, _ src: UInt8) -> Self { .init(code: classALU64 | op | srcX, dst: dst, src: src) }
    package static func neg32(_ dst: UInt8) -> Self { .init(code: classALU | 0x80, dst: dst) }
    package static func toBigEndian(_ dst: UInt8, bits: Int32) -> Self { .init(code: classALU | end | toBE, dst: dst, imm: bits) }
    package static func load(_ size: UInt8, _ dst: UInt8, _ src: UInt8, _ off: Int16) -> Self { .init(code: classLDX | modeMEM | size, dst: dst, src: src, off: off) }
    package static func store(_ size: UInt8, _ dst: UInt8, _ off: Int16, _ src: UInt8) -> Self { .init(code: classSTX | modeMEM | size, dst: dst, src: src, off: off) }
    package static func store(_ size: UInt8, _ dst: UInt8, _ off: Int16, imm: Int32) -> Self { .init(code: classST | modeMEM | size, dst: dst, off: off, imm: imm) }
    package static func jump(_ op: UInt8, _ dst: UInt8, imm: UInt32, wide: Bool = false) -> Self {
        .init(code: (wide ? classJMP : classJMP32) | op | srcK, dst: dst, imm: Int32(bitPattern: imm))
    }
    package static func jump(_ op: UInt8, _ dst: UInt8, _ src: UInt8, wide: Bool = false) -> Self {
        .init(code: (wide ? classJMP : classJMP32) | op | srcX, dst: dst, src: src)
    }
    package static var goto: Self { .init(code: classJMP | ja) }
    package static func call(helper: Int32) -> Self { .init(code: classJMP | call, imm: helper) }
    package static var exitInsn: Self { .init(code: classJMP | exit) }

    public var description: String {
        "{code 0x\(String(code, radix: 16)) dst r\(dst) src r\(src) off \(off) imm \(imm)}"
    }
}
