import CShim
import Foundation

/// ifindex → name in the packet's own network namespace (ifindexes repeat across netns).
/// A namespace is entered through a file that refers to it: /run/netns/NAME or
/// /proc/PID/ns/net, found by inode; results are cached.
public final class InterfaceNames {
    private var cache: [UInt64: String] = [:]
    private var nsPaths: [UInt32: String] = [:]
    private var lastScan: TimeInterval = 0
    public let ownNetns: UInt32

    /// Names recorded in a capture log ("netns:ifindex" → name): offline, nothing is looked up.
    private let recorded: [String: String]?

    public init() {
        ownNetns = InterfaceNames.inode("/proc/self/ns/net") ?? 0
        recorded = nil
    }

    public init(recorded: [String: String]) {
        ownNetns = 0
        self.recorded = recorded
    }

    public func name(netns: UInt32, ifindex: UInt32) -> String {
        guard ifindex != 0 else { return "" }
        if let recorded { return recorded["\(netns):\(ifindex)"] ?? "if\(ifindex)" }
        let key = UInt64(netns) << 32 | UInt64(ifindex)
        if let n = cache[key] { return n }
        var resolved: String?
        if netns == ownNetns || netns == 0 {
            var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE))
            if if_indextoname(ifindex, &buf) != nil { resolved = String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self) }
        } else if let path = nsPath(netns) {
            var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE))
            if shim_ifname_in_netns(path, ifindex, &buf, buf.count) == 0 {
                resolved = String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self)
            }
        }
        // Unknown (interface gone, namespace gone): show the index, and retry later for new ones.
        let name = resolved ?? "if\(ifindex)"
        if resolved != nil { cache[key] = name }
        return name
    }

    /// The ifindex of `name` in network namespace `netns` (an inode; 0 = ours).
    public func index(of name: String, netns: UInt32) -> UInt32? {
        if netns == 0 || netns == ownNetns {
            let i = if_nametoindex(name)
            return i == 0 ? nil : i
        }
        guard let path = nsPath(netns) else { return nil }
        let i = shim_ifindex_in_netns(path, name)
        return i > 0 ? UInt32(i) : nil
    }

    private func nsPath(_ inode: UInt32) -> String? {
        if let p = nsPaths[inode] { return p }
        let now = Date().timeIntervalSince1970
        guard now - lastScan > 1 else { return nil }
        lastScan = now
        for f in Self.namespaceFiles() where nsPaths[f.inode] == nil { nsPaths[f.inode] = f.path }
        return nsPaths[inode]
    }

    /// Files that refer to network namespaces, each with the namespace's inode: /run/netns/*
    /// (`ip netns` names, sorted) first, then /proc/PID/ns/net by ascending PID.
    static func namespaceFiles(runNetns: String = "/run/netns", proc: String = "/proc") -> [(path: String, inode: UInt32)] {
        let named = ((try? FileManager.default.contentsOfDirectory(atPath: runNetns)) ?? []).sorted().map { "\(runNetns)/\($0)" }
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? []).compactMap(Int.init).sorted()
        return (named + pids.map { "\(proc)/\($0)/ns/net" }).compactMap { path in inode(path).map { (path, $0) } }
    }

    static func inode(_ path: String) -> UInt32? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt32(truncatingIfNeeded: st.st_ino)
    }
}

/// Why a path does not name a network namespace.
public struct NetnsError: Error, CustomStringConvertible {
    public let description: String
}

extension InterfaceNames {
    /// The inode of the network namespace that `path` refers to (/proc/PID/ns/net,
    /// /run/netns/NAME), checked with NS_GET_NSTYPE: any other file, or another kind of
    /// namespace, is refused.
    public static func networkNamespace(at path: String) -> Result<UInt32, NetnsError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(NetnsError(description: "cannot open '\(path)': \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        let type = shim_ns_type(fd)
        guard type != Self.cloneNewNet else {
            var st = stat()
            guard fstat(fd, &st) == 0 else { return .failure(NetnsError(description: "cannot stat '\(path)': \(String(cString: strerror(errno)))")) }
            return .success(UInt32(truncatingIfNeeded: st.st_ino))
        }
        let what = type < 0 ? "not a namespace" : "a \(Self.namespaceKinds[type] ?? "non-network") namespace"
        return .failure(NetnsError(description: "'\(path)' is \(what), not a network namespace: give /proc/PID/ns/net, /run/netns/NAME or inode:N"))
    }

    /// CLONE_NEW* values (linux/sched.h; not visible to Swift without _GNU_SOURCE).
    static let cloneNewNet: Int32 = 0x4000_0000
    static let namespaceKinds: [Int32: String] = [
        0x0002_0000: "mnt", 0x0400_0000: "uts", 0x0800_0000: "ipc", 0x1000_0000: "user",
        0x2000_0000: "pid", 0x0200_0000: "cgroup", 0x0000_0080: "time",
    ]
}
