import Foundation
import Glibc

/// Discovery's result, kept for the rest of the boot. Scanning the kernel's BTF and reading
/// kallsyms and ftrace's function list is most of a kprobe start under emulation (1.3 of
/// 3 s in the 6.12 guest), and gives the same answer until the kernel changes.
///
/// The key names everything the answer depends on:
/// - the boot (`/proc/sys/kernel/random/boot_id`): a new boot moves addresses (KASLR) and may
///   run another kernel build;
/// - the kernel release;
/// - the BTF objects in /sys/kernel/btf, each with its size: loading or removing a module
///   changes the list, and so the functions and addresses there are;
/// - the options (name filters, modules, scope).
///
/// Files live in /run/fasttrace (a tmpfs: gone at reboot), written whole then renamed, and
/// read only from a directory that root owns and no one else can write. A file that does
/// not decode, or whose key differs, counts as absent. Not used with --kernel-btf.
/// `FASTTRACE_DISCOVERY_CACHE=0` turns it off (the bench measures both).
public struct DiscoveryCache: Sendable {
    public let directory: String
    static let formatVersion = 1

    public init(directory: String = "/run/fasttrace") { self.directory = directory }

    /// The cache in /run/fasttrace, unless turned off.
    public static var standard: DiscoveryCache? {
        ProcessInfo.processInfo.environment["FASTTRACE_DISCOVERY_CACHE"] == "0" ? nil : DiscoveryCache()
    }

    /// What the answer depends on, for `options` with BTF from `btfDir`.
    public static func key(_ o: Discovery.Options, btfDir: String = "/sys/kernel/btf") -> String {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        let objects = ((try? FileManager.default.contentsOfDirectory(atPath: btfDir)) ?? []).sorted().map { name in
            var st = stat()
            return stat("\(btfDir)/\(name)", &st) == 0 ? "\(name)=\(st.st_size)" : name
        }
        let scope: String
        switch o.scope {
        case .all: scope = "all"
        case .functions: scope = "functions"
        case .tracepoints: scope = "tracepoints"
        }
        return ["fasttrace-discovery v\(formatVersion)", "boot \(boot)", "release \(KernelInfo.release)",
                "btf \(objects.joined(separator: ","))", "limit \(o.limit?.pattern ?? "")",
                "modules \(o.modules.joined(separator: ","))", "all-modules \(o.allModules)",
                "non-skb \(o.nonSkb?.pattern ?? "")", "scope \(scope)"]
            .map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "|")
    }

    func path(for key: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\(directory)/discovery-\(String(h, radix: 16)).json"
    }

    /// The discovery stored under `key`, if there is a readable one.
    public func load(key: String) -> Discovery? {
        guard Self.trusted(directory), let data = FileManager.default.contents(atPath: path(for: key)),
              let newline = data.firstIndex(of: UInt8(ascii: "\n")),
              String(decoding: data[..<newline], as: UTF8.self) == key else { return nil }
        return try? JSONDecoder().decode(Discovery.self, from: data[(newline + 1)...])
    }

    /// Stores `discovery` under `key`; failures are silent (the next start scans again).
    public func store(_ discovery: Discovery, key: String) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { return }
        guard Self.trusted(directory), let json = try? JSONEncoder().encode(discovery) else { return }
        let final = path(for: key), temporary = final + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var bytes = Array(key.utf8) + [UInt8(ascii: "\n")] + Array(json)
        let written = write(fd, &bytes, bytes.count)
        close(fd)
        if written != bytes.count || rename(temporary, final) != 0 { unlink(temporary) }
    }

    /// A real directory (not a link) owned by us, writable by no one else.
    static func trusted(_ directory: String) -> Bool {
        var st = stat()
        guard lstat(directory, &st) == 0 else { return false }
        return st.st_mode & S_IFMT == S_IFDIR && st.st_uid == geteuid() && st.st_mode & 0o022 == 0
    }
}
