/// Names of BPF program return values. tc's `TC_ACT_*` are macros in uapi
/// `<linux/pkt_cls.h>`, so the kernel's BTF does not carry them; they are listed here as the
/// uapi headers define them (a stable ABI), and `xdp_action` with them for symmetry.
public enum ProgramVerdicts {
    static let tc: [Int32: String] = [
        -1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT",
        3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT",
        7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP",
    ]

    /// `enum xdp_action` (uapi `<linux/bpf.h>`).
    static let xdp: [Int32: String] = [0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"]

    /// An XDP program's return value by name (`XDP_DROP`), or the number.
    public static func xdp(_ value: UInt32) -> String {
        let v = Int32(bitPattern: value)
        return xdp[v] ?? "XDP_\(v)"
    }

    /// A tc program's return value by name (`TC_ACT_SHOT`), or the number.
    public static func tc(_ value: UInt32) -> String {
        let v = Int32(bitPattern: value)
        return tc[v] ?? "TC_ACT_\(v)"
    }

    /// The verdict of a program target, by the target's kind of program (its name's prefix).
    public static func name(_ value: UInt32, target: String) -> String {
        target.hasPrefix("tc:") ? tc(value) : target.hasPrefix("xdp:") ? xdp(value) : String(Int32(bitPattern: value))
    }
}
