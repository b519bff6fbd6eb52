import Foundation

/// Kernel text addresses → `function+0xoffset`, from /proc/kallsyms (needs root for real addresses).
public final class KernelSymbols {
    private var addresses: [UInt64] = []
    private var names: [String] = []

    public init(kallsyms: String = "/proc/kallsyms") {
        var pairs: [(UInt64, String)] = []
        if let data = readFile(kallsyms) {
            forEachLine(data) { f in
                guard f.count >= 3, f.isTextType(1), let addr = f.hex(0), addr != 0 else { return }
                pairs.append((addr, String(decoding: f.bytes(2), as: UTF8.self)))
            }
        }
        pairs.sort { $0.0 < $1.0 }
        addresses = pairs.map(\.0)
        names = pairs.map(\.1)
    }

    public var isEmpty: Bool { addresses.isEmpty }

    /// The symbol containing `address`, as `name+0xoff`; the hex address when unknown.
    public func describe(_ address: UInt64) -> String {
        var lo = 0, hi = addresses.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if addresses[mid] <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return "0x" + String(address, radix: 16) }
        let off = address - addresses[lo - 1]
        return off == 0 ? names[lo - 1] : "\(names[lo - 1])+0x\(String(off, radix: 16))"
    }
}
