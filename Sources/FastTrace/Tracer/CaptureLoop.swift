import CShim
import Foundation

/// The ring thread of a live capture: drains the rings and encodes events into the log's
/// frames and the live output's batches. Nothing here waits on output: compression and
/// writing (LogWriter), rendering and writing (LiveOutput) run on their own threads behind
/// bounded queues whose overflow is counted.
public final class CaptureLoop {
    public let tracer: Tracer
    public let log: LogWriter?
    public let output: LiveOutput?
    /// Stop after this many events (--output-limit-lines).
    public let limit: Int?
    /// Events taken from the rings and handed on.
    public private(set) var events = 0

    public init(tracer: Tracer, log: LogWriter?, output: LiveOutput?, limit: Int? = nil) {
        self.tracer = tracer
        self.log = log
        self.output = output
        self.limit = limit
    }

    public var limitReached: Bool { limit.map { events >= $0 } ?? false }

    /// Polls until `stop()` (checked after every wakeup; Ctrl-C interrupts the wait), the
    /// deadline (monotonic seconds) or the event limit.
    public func run(until stop: () -> Bool, deadline: Double? = nil) {
        while !stop() && !limitReached {
            if let deadline, monotonicSeconds() >= deadline { break }
            poll(timeoutMs: waitMs)
        }
    }

    /// At most 100 ms, and no longer than the log's open frame may stay open.
    var waitMs: Int32 {
        guard let due = log?.secondsUntilFrameCloses else { return 100 }
        return Int32(min(100, (due * 1000).rounded(.up)))
    }

    /// Whatever the rings still hold (call after detaching: nothing new arrives).
    public func drainRemaining() {
        while !limitReached, poll(timeoutMs: 0) > 0 {}
    }

    @discardableResult
    func poll(timeoutMs: Int32) -> Int {
        let n = tracer.poll(timeoutMs: timeoutMs) { e, p in
            guard !limitReached else { return }
            log?.append(e, packet: p)
            output?.append(e, packet: p)
            events += 1
        }
        log?.tick()
        output?.tick()
        return n
    }
}
