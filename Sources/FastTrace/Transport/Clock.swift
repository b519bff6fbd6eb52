import Foundation

/// CLOCK_MONOTONIC_COARSE in seconds: cheap enough (a vDSO read, no syscall) for the ring
/// thread to check per batch or every few hundred events.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
