/// Names of BPF program return values. tc's `TC_ACT_*` are macros in uapi
/// `<linux/pkt_cls.h>`, so the kernel's BTF does not carry them: they are listed here, as the
/// uapi header defines them (a stable ABI).
public enum ProgramVerdicts {
    static let tc: [Int32: String] = [
        -1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT",
        3: "TC_ACT_PIPE", 4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT",
        7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP",
    ]

    /// A tc program's return value by name (`TC_ACT_SHOT`), or the number.
    public static func tc(_ value: UInt32) -> String {
        let v = Int32(bitPattern: value)
        return tc[v] ?? "TC_ACT_\(v)"
    }

    /// The verdict of a program target, by the target's kind of program (its name's prefix).
    public static func name(_ value: UInt32, target: String) -> String {
        target.hasPrefix("tc:") ? tc(value) : String(Int32(bitPattern: value))
    }
}
