import KernelBTF

/// `enum skb_drop_reason` of the running kernel, from BTF: the values move between kernels
/// (NETFILTER_DROP is 7 on 6.1, 11 on 6.12, 12 on 6.18), so names are never hard-coded.
public struct DropReasons: Sendable {
    public let names: [UInt32: String]

    public init(names: [UInt32: String]) { self.names = names }

    public static func current(btf: BTF? = nil) -> DropReasons {
        guard let btf = btf ?? (try? BTF.vmlinux()),
              let id = btf.find("skb_drop_reason", kind: .enum) ?? btf.find("skb_drop_reason", kind: .enum64)
        else { return DropReasons(names: [:]) }
        var names: [UInt32: String] = [:]
        for e in btf.enumerators(id) where names[UInt32(truncatingIfNeeded: e.value)] == nil {
            names[UInt32(truncatingIfNeeded: e.value)] = e.name
        }
        return DropReasons(names: names)
    }

    /// `SKB_DROP_REASON_NETFILTER_DROP`, or the number when this kernel has no name for it.
    public func name(_ value: UInt32) -> String { names[value] ?? "SKB_DROP_REASON_\(value)" }
}
