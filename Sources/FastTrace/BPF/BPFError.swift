import CShim
import Foundation
import SystemPackage

/// A failed libbpf or bpf() operation: what was attempted, the errno, and what libbpf said.
public struct BPFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was attempted, e.g. "load skbcount" or "attach count_rx".
    public let operation: String
    /// The kernel's (or libbpf's) errno.
    public let errno: Errno
    /// libbpf's messages about the failure (possibly several lines, verifier excerpts).
    public let libbpfLog: String

    public init(_ operation: String, errno: Errno, libbpfLog: String = "") {
        self.operation = operation
        self.errno = errno
        self.libbpfLog = libbpfLog
    }

    /// From a positive errno value, as C returns it.
    public init(_ operation: String, errno: Int32, libbpfLog: String = "") {
        self.init(operation, errno: Errno(rawValue: errno), libbpfLog: libbpfLog)
    }

    /// Builds an error from the current errno (or a -errno return) and libbpf's pending log.
    static func capture(_ operation: String, code: Int32? = nil) -> BPFError {
        let err = code.map { abs($0) } ?? Glibc.errno
        return BPFError(operation, errno: err == 0 ? EINVAL : err, libbpfLog: Libbpf.takeLog())
    }

    /// "EPERM", "EOPNOTSUPP", ...
    public var errnoName: String { Self.name(ofErrno: errno.rawValue) }

    public static func name(ofErrno err: Int32) -> String {
        shim_errno_name(err).map { String(cString: $0) } ?? "errno \(err)"
    }

    /// The most telling line libbpf printed: the verifier's verdict (the last line of a
    /// program load log) if there is one, else libbpf's last non-empty line.
    public var libbpfSummary: String? {
        let lines = libbpfLog.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        if let end = lines.lastIndex(where: { $0.hasSuffix("-- END PROG LOAD LOG --") }),
           let verdict = lines[..<end].last(where: { !$0.isEmpty && !$0.hasPrefix("processed ") && !$0.hasPrefix("verification time") && !$0.hasPrefix("stack depth") }) {
            return "verifier: \(verdict)"
        }
        return lines.last { !$0.isEmpty && !$0.hasPrefix("--") }
    }

    /// One line: operation, errno name and text, and libbpf's last word.
    public var description: String {
        var s = "\(operation): \(errnoName) (\(String(cString: strerror(errno.rawValue))))"
        if let summary = libbpfSummary { s += ": \(summary)" }
        return s
    }
}
