@testable import FastTrace
import Foundation
import Testing

extension ExclusiveSuites {
/// Inputs the filter fuzzer found, kept as fixed cases.
@Suite struct FilterRegressionTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = [], it = hex.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    /// `make fuzz` (seed 1796283716) reported the kernel accepting what libpcap rejected.
    /// After a `geneve` term, libpcap's program (optimised or not) computes later offsets
    /// from M[2], which only the geneve branch stores: on a packet that skips that branch,
    /// libpcap's interpreter reads stack garbage (its verdict changed from run to run), and
    /// fasttrace reads 0. The comparison now leaves such runs out
    /// (LoopOracle.readsUnsetMemory); this keeps the case and fasttrace's defined answer.
    @Test(.enabled(if: FilterKernelTests.canTestRun, "needs root and bpf_cast_to_kern_ctx (kernel 6.3+)"))
    func unsetScratchSlotIsUndefinedInLibpcapOnly() throws {
        let e = "geneve and ip || len != ((len | (200031 ^ icmp6[40:2])) / (len * (arp[20:1] | len)))"
        let frame = Self.bytes("00112233445501005e00000186dd6c322388005406ffff02000000000000000000000000000120010db8000000000000000000000001138d0050f8784d8a7ab5e96850024cad30e33bf6a779d35b8fee384ae9b5974b371b4f6249ed2771721ccd13d5cdbc47489db995bd2c974f526a16e3f372f5564579237e39b540f350827cd8d3cd357065f95809")
        let limit = Int(CBPFTranslator.loopLimit) - 1
        for optimize in [true, false] {
            let k = try FilterKernelTests.KernelFilter(e, optimize: optimize)
            #expect(LoopOracle.readsUnsetMemory(k.filter.l2.instructions, packet: frame, wirelen: frame.count, limit: limit))
            // M[2] = 0: icmp6[40:2] is read at 40 + 40 bytes, the divisor is not 0, the
            // relation holds.
            #expect(try k.run(l2: true, packet: frame, caplen: frame.count) == 262_144, "optimize \(optimize)")
        }
        // A plain expression reads no unset slot.
        let plain = try FilterKernelTests.KernelFilter("tcp port 80")
        #expect(!LoopOracle.readsUnsetMemory(plain.filter.l2.instructions, packet: frame, wirelen: frame.count, limit: limit))
    }
}
}
