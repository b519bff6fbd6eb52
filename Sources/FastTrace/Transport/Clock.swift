import CShim
import Foundation

/// CLOCK_MONOTONIC_COARSE in seconds: cheap enough (a vDSO read, no syscall) for the ring
/// thread to check per batch or every few hundred events.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CLOCK_MONOTONIC in ns, to the clock's full resolution: for timing work (start-up phases,
/// prepared loads), where the coarse clock's few milliseconds would be the whole answer.
public func monotonicNanoseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}

/// Wall-clock time minus CLOCK_MONOTONIC (kernel event time), in ns: adds to a kernel
/// timestamp to give wall-clock time.
public func currentBootToWallNs() -> Int64 {
    var rt = timespec(), mono = timespec()
    clock_gettime(CLOCK_REALTIME, &rt)
    clock_gettime(CLOCK_MONOTONIC, &mono)
    return (Int64(rt.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(rt.tv_nsec) - Int64(mono.tv_nsec)
}

/// The kernel's own view of its wall clock's accuracy (adjtimex(2) with no modes: a read).
/// `fasttrace fleet align` falls back to it where traffic between two hosts is one-way.
public struct ClockSync: Codable, Sendable, Equatable {
    /// NTP or PTP keeps the clock in sync (adjtimex did not return TIME_ERROR).
    public var synchronised: Bool
    /// The kernel's bound on the wall clock's error, µs (timex.maxerror).
    public var maxErrorUs: Int64
    /// Its estimate of the error, µs (timex.esterror).
    public var estErrorUs: Int64

    public init(synchronised: Bool, maxErrorUs: Int64, estErrorUs: Int64) {
        self.synchronised = synchronised
        self.maxErrorUs = maxErrorUs
        self.estErrorUs = estErrorUs
    }

    /// nil where adjtimex fails (a seccomp profile may refuse it).
    public static func current() -> ClockSync? {
        var maxError: Int64 = 0, estError: Int64 = 0, synchronised = false
        guard shim_clock_error(&maxError, &estError, &synchronised) >= 0 else { return nil }
        return ClockSync(synchronised: synchronised, maxErrorUs: maxError, estErrorUs: estError)
    }
}
