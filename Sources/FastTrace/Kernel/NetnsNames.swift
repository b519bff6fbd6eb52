import Foundation

/// Network namespace inode → a name a person knows it by (--output-netns-names):
/// - its `ip netns` name (a file in /run/netns);
/// - `init_net` for the namespace of PID 1;
/// - otherwise `COMM[PID]` of the lowest PID living in it (a container's init, usually).
///
/// Live, the names come from one scan of /run/netns and /proc/*/ns/net, repeated at most once
/// a second when an unknown inode shows up (a namespace made after the start). A namespace
/// created and deleted between two scans stays a number. Offline, the names a capture
/// recorded in its log trailer are used and nothing is looked up.
public final class NetnsNames: @unchecked Sendable {
    private let lock = NSLock()
    private var names: [UInt32: String]
    private var lastScan: TimeInterval = 0
    private let live: Bool

    /// Live: scans now.
    public init() {
        live = true
        names = [:]
        rescan()
    }

    /// Offline: what a log recorded ("inode" → name).
    public init(recorded: [String: String]) {
        live = false
        names = Dictionary(recorded.compactMap { k, v in UInt32(k).map { ($0, v) } }, uniquingKeysWith: { a, _ in a })
    }

    /// The name of `inode`, nil when it has none (gone, or never seen by a scan).
    public func name(_ inode: UInt32) -> String? {
        guard inode != 0 else { return nil }
        return lock.withLock {
            if let n = names[inode] { return n }
            guard live, Date().timeIntervalSince1970 - lastScan > 1 else { return nil }
            rescan()
            return names[inode]
        }
    }

    /// Every name known, for a log trailer.
    public var recorded: [String: String] { lock.withLock { Dictionary(uniqueKeysWithValues: names.map { (String($0.key), $0.value) }) } }

    private func rescan() {
        lastScan = Date().timeIntervalSince1970
        for (inode, name) in Self.scan() where names[inode] == nil { names[inode] = name }
    }

    /// One pass over the namespace files (InterfaceNames.namespaceFiles): the first file
    /// that names an inode wins, so `ip netns` names come before PID 1, and PID 1 before the
    /// others.
    static func scan(runNetns: String = "/run/netns", proc: String = "/proc") -> [UInt32: String] {
        var found: [UInt32: String] = [:]
        for f in InterfaceNames.namespaceFiles(runNetns: runNetns, proc: proc) where found[f.inode] == nil {
            if f.path.hasPrefix(runNetns + "/") {
                found[f.inode] = String(f.path.dropFirst(runNetns.count + 1))
            } else if f.path == "\(proc)/1/ns/net" {
                found[f.inode] = "init_net"
            } else {
                let pidDir = String(f.path.dropLast("/ns/net".count))
                let comm = ((try? String(contentsOfFile: "\(pidDir)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                let word = comm.isEmpty ? "?" : String(comm.map { $0.isWhitespace ? "_" : $0 }) // one column in text output
                found[f.inode] = "\(word)[\(pidDir.dropFirst(proc.count + 1))]"
            }
        }
        return found
    }
}
