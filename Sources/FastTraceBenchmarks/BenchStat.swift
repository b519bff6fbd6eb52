import FastTrace
import Foundation

/// One measured quantity over repeats: min, median and max of the samples.
public struct BenchStat: Codable, Sendable, Equatable {
    public var min: Double
    public var median: Double
    public var max: Double
    public var repeats: Int

    public init(_ samples: [Double]) {
        let s = samples.sorted()
        min = s.first ?? .nan
        max = s.last ?? .nan
        repeats = s.count
        median = s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }

    /// `median [min–max]` with `digits` decimals.
    public func text(_ digits: Int = 1) -> String {
        guard repeats > 0 else { return "—" }
        let f = "%.\(digits)f"
        if repeats == 1 { return String(format: f, median) + " (1 run)" }
        return String(format: f, median) + " [" + String(format: f, min) + "–" + String(format: f, max) + "]"
    }
}

/// Monotonic nanoseconds.
public func benchNow() -> Double { monotonicNanoseconds() }

/// CPU time of the calling thread, in ns.
public func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}
