import Foundation
import Synchronization

/// Start-up phases and their wall time, printed to stderr when FASTTRACE_TIMING is set: the
/// profile behind docs/benchmarks.md's account of exec→ready. Off, a mark costs one branch.
public enum StartupClock {
    public static let enabled = ProcessInfo.processInfo.environment["FASTTRACE_TIMING"] != nil
    /// The process's start (exec), from /proc/self/stat's start time (clock ticks since boot),
    /// so the first phase includes the runtime's and argument parsing's share.
    private static let start: Double = {
        let t = monotonicNanoseconds()
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return t }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command: state is 3, start time is 22.
        guard fields.count > 19, let ticks = Double(fields[19]) else { return t }
        var boot = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let sinceExec = Double(boot.tv_sec) * 1e9 + Double(boot.tv_nsec) - ticks / Double(sysconf(Int32(_SC_CLK_TCK))) * 1e9
        return t - max(0, sinceExec)
    }()
    private static let last = Mutex<Double>(start)

    /// Ends the phase named `phase`: its time, and the time since the first use.
    public static func mark(_ phase: @autoclosure () -> String) {
        guard enabled else { return }
        let t = monotonicNanoseconds()
        let previous = last.withLock { p in defer { p = t }; return p }
        FileHandle.standardError.write(Data(String(format: "timing: %-28@ %8.1f ms  (%.1f ms in)\n", phase() as NSString,
                                                   (t - previous) / 1e6, (t - start) / 1e6).utf8))
    }
}
