import CShim
import Foundation

/// libbpf's diagnostics. libbpf reports *why* something failed (verifier log, missing
/// symbol, unsupported attach) only through a print callback; CShim keeps the recent
/// messages so that `BPFError` can carry them.
public enum Libbpf {
    /// FASTTRACE_LIBBPF_LOG=0|1|2 echoes libbpf's warnings, info or debug output (verifier
    /// logs included) to stderr.
    private static let installed: Void = shim_libbpf_log_install(
        Int32(ProcessInfo.processInfo.environment["FASTTRACE_LIBBPF_LOG"] ?? "") ?? -1)

    /// Starts capturing libbpf's messages; `echoLevel` also prints them to stderr
    /// (0 warnings, 1 info, 2 debug). Idempotent.
    public static func captureLog(echoLevel: Int32? = nil) {
        _ = installed
        if let echoLevel { shim_libbpf_log_install(echoLevel) }
    }

    /// Returns and clears the captured messages.
    public static func takeLog() -> String {
        var buf = [CChar](repeating: 0, count: 8192)
        let n = shim_libbpf_log_take(&buf, buf.count)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
