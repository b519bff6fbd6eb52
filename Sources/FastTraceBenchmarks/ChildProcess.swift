import FastTrace
import Foundation

/// A program the benchmarks run as a user would: its own process, stdout and stderr to files.
public final class ChildProcess {
    public let pid: pid_t
    private var status: Int32?

    public init(_ path: String, _ args: [String], stdout: String, stderr: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var p: pid_t = 0
        let rc = posix_spawn(&p, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchFailure("cannot start \(path): \(String(cString: strerror(rc)))") }
        pid = p
    }

    public var running: Bool {
        guard status == nil else { return false }
        var st: Int32 = 0
        if wait4(pid, &st, WNOHANG, &usage) == pid { status = st; return false }
        return true
    }

    public func interrupt() { kill(pid, SIGINT) }

    /// Resources the process used (peak RSS in `ru_maxrss`, KiB), once it has exited.
    public private(set) var usage = rusage()

    /// The exit status (128 + signal when killed).
    public func wait() -> Int32 {
        if status == nil {
            var st: Int32 = 0
            while wait4(pid, &st, 0, &usage) < 0 && errno == EINTR {}
            status = st
        }
        let st = status!
        return st & 0x7f == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
    }
}

