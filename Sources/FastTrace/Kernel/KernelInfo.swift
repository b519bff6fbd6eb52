import CShim
import Foundation

/// Facts about the running kernel that need no BPF.
public enum KernelInfo {
    public static var release: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The UTS namespace's host name (uname's nodename): no resolver lookup, unlike
    /// Foundation's `hostName`, which may wait on DNS.
    public static var hostName: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    public static let vmlinuxBTFPath = "/sys/kernel/btf/vmlinux"

    /// Where tracefs is mounted, if it is (libbpf looks in these two places).
    public static var tracefsPath: String? {
        for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        where FileManager.default.fileExists(atPath: p + "/events") {
            return p
        }
        return nil
    }

    /// True when the kernel has kprobes: the perf `kprobe` PMU or tracefs `kprobe_events`.
    public static var hasKprobes: Bool {
        FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type")
            || tracefsPath.map { FileManager.default.fileExists(atPath: $0 + "/kprobe_events") } == true
    }

    public static var isRoot: Bool { geteuid() == 0 }

    /// Raises the open-file limit as far as the hard limit allows and returns it. Legacy
    /// kprobes and fentry hold about two descriptors per function (a perf event or program,
    /// and its link), so ~1,500 functions exceed Debian's default soft limit of 1,024.
    public static func raiseOpenFileLimit() -> Int {
        let n = shim_raise_nofile()
        return n < 0 ? 1024 : Int(clamping: n)
    }
}
