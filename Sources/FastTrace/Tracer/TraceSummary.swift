import Foundation

/// The counts of a finished capture (`fasttrace --summary-file`), for scripts and the
/// benchmarks. Every record the programs produced is accounted for:
/// `submitted + lost` were produced; the consumer took `events` (equal to `submitted` once
/// the rings are drained); of those, the output printed `printed` and dropped
/// `outputDropped`, the log wrote `logWritten` and dropped `logDropped`.
public struct TraceSummary: Codable, Sendable, Equatable {
    public var backend: String
    public var attached: Int
    public var events: Int
    public var submitted: UInt64
    public var lost: UInt64
    public var outputDropped: UInt64
    public var printed: UInt64
    public var logDropped: UInt64
    public var logWritten: UInt64
    public var trackOverflow: UInt64

    public init(backend: String, attached: Int, events: Int, submitted: UInt64, lost: UInt64, outputDropped: UInt64, printed: UInt64,
                logDropped: UInt64, logWritten: UInt64, trackOverflow: UInt64) {
        self.backend = backend
        self.attached = attached
        self.events = events
        self.submitted = submitted
        self.lost = lost
        self.outputDropped = outputDropped
        self.printed = printed
        self.logDropped = logDropped
        self.logWritten = logWritten
        self.trackOverflow = trackOverflow
    }

    enum CodingKeys: String, CodingKey {
        case backend, attached, events, submitted, lost, printed
        case outputDropped = "output_dropped", logDropped = "log_dropped", logWritten = "log_written", trackOverflow = "track_overflow"
    }

    /// Records the programs produced: submitted, or refused for want of ring space.
    public var produced: UInt64 { submitted + lost }

    /// What reached the user (the log if there is one, else the printed output), and every
    /// loss on the way; `recorded + dropped == produced` when nothing went unaccounted.
    public func recorded(log: Bool) -> UInt64 { log ? logWritten : printed }
    public func dropped(log: Bool) -> UInt64 { lost + (log ? logDropped : outputDropped) }
    public func accountsForEverything(log: Bool) -> Bool {
        UInt64(events) == submitted && recorded(log: log) + dropped(log: log) == produced
    }

    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(self).write(to: URL(fileURLWithPath: path))
    }
}
