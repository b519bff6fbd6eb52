/// One classic BPF instruction, as libpcap's `pcap_compile` produces it.
public struct CBPFInstruction: Equatable, Sendable, CustomStringConvertible {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    // Field masks and values of the classic encoding (<pcap/bpf.h>).
    public enum Class: UInt16 { case ld = 0x00, ldx = 0x01, st = 0x02, stx = 0x03, alu = 0x04, jmp = 0x05, ret = 0x06, misc = 0x07 }
    public static let sizeW: UInt16 = 0x00, sizeH: UInt16 = 0x08, sizeB: UInt16 = 0x10
    public static let modeIMM: UInt16 = 0x00, modeABS: UInt16 = 0x20, modeIND: UInt16 = 0x40,
                      modeMEM: UInt16 = 0x60, modeLEN: UInt16 = 0x80, modeMSH: UInt16 = 0xa0
    public static let srcK: UInt16 = 0x00, srcX: UInt16 = 0x08, retA: UInt16 = 0x10
    public static let ja: UInt16 = 0x00, jeq: UInt16 = 0x10, jgt: UInt16 = 0x20, jge: UInt16 = 0x30, jset: UInt16 = 0x40
    public static let tax: UInt16 = 0x00, txa: UInt16 = 0x80
    /// ALU operations; their values are the same in eBPF.
    public static let add: UInt16 = 0x00, sub: UInt16 = 0x10, mul: UInt16 = 0x20, div: UInt16 = 0x30,
                      or: UInt16 = 0x40, and: UInt16 = 0x50, lsh: UInt16 = 0x60, rsh: UInt16 = 0x70,
                      neg: UInt16 = 0x80, mod: UInt16 = 0x90, xor: UInt16 = 0xa0

    public var instructionClass: Class { Class(rawValue: code & 0x07)! }
    public var size: UInt16 { code & 0x18 }
    public var mode: UInt16 { code & 0xe0 }
    public var op: UInt16 { code & 0xf0 }
    public var src: UInt16 { code & 0x08 }
    /// Bytes a load of this size reads.
    public var loadBytes: Int { size == Self.sizeW ? 4 : size == Self.sizeH ? 2 : 1 }

    /// tcpdump -d style, e.g. `ldh [12]`, `jeq #0x800 jt 2 jf 5`.
    public var description: String {
        let sz = size == Self.sizeW ? "" : size == Self.sizeH ? "h" : "b"
        switch instructionClass {
        case .ld, .ldx:
            let r = instructionClass == .ld ? "ld" : "ldx"
            switch mode {
            case Self.modeIMM: return "\(r) #\(k)"
            case Self.modeABS: return "\(r)\(sz) [\(k)]"
            case Self.modeIND: return "\(r)\(sz) [x + \(k)]"
            case Self.modeMEM: return "\(r) M[\(k)]"
            case Self.modeLEN: return "\(r) #pktlen"
            case Self.modeMSH: return "ldxb 4*([\(k)]&0xf)"
            default: return "\(r) ?\(code)"
            }
        case .st: return "st M[\(k)]"
        case .stx: return "stx M[\(k)]"
        case .alu:
            let names: [UInt16: String] = [Self.add: "add", Self.sub: "sub", Self.mul: "mul", Self.div: "div", Self.or: "or",
                                           Self.and: "and", Self.lsh: "lsh", Self.rsh: "rsh", Self.neg: "neg", Self.mod: "mod", Self.xor: "xor"]
            if op == Self.neg { return "neg" }
            return "\(names[op] ?? "alu?") \(src == Self.srcX ? "x" : "#\(k)")"
        case .jmp:
            if op == Self.ja { return "ja \(Int32(bitPattern: k))" }
            let names: [UInt16: String] = [Self.jeq: "jeq", Self.jgt: "jgt", Self.jge: "jge", Self.jset: "jset"]
            return "\(names[op] ?? "j?") \(src == Self.srcX ? "x" : "#0x\(String(k, radix: 16))") jt \(jt) jf \(jf)"
        case .ret: return "ret \(code & 0x18 == Self.retA ? "a" : "#\(k)")"
        case .misc: return code & 0xf8 == Self.txa ? "txa" : "tax"
        }
    }
}
