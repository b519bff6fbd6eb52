import Foundation

/// `/sys/kernel/rcu_expedited`: set for a short operation, then put back as it was.
/// Expedited grace periods end in about a millisecond (IPIs to every CPU) instead of waiting
/// for each CPU to pass a quiescent state; legacy kprobe and fentry detach wait for them
/// per hook.
public final class RCUExpedited {
    static let path = "/sys/kernel/rcu_expedited"
    private let original: String

    public init?() {
        guard let v = try? String(contentsOfFile: Self.path, encoding: .utf8), access(Self.path, W_OK) == 0 else { return nil }
        original = v.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func set(_ on: Bool) { write(on ? "1" : "0") }
    public func restore() { write(original) }

    private func write(_ v: String) {
        let fd = open(Self.path, O_WRONLY)
        guard fd >= 0 else { return }
        _ = v.withCString { Foundation.write(fd, $0, strlen($0)) }
        close(fd)
    }
}
