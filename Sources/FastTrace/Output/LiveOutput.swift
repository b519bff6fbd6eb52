import Foundation

/// Live text/JSON output off the ring thread. The ring thread copies events into batches
/// (`append`), and a worker renders them and writes them out in large chunks. Batches wait in
/// a bounded queue; when the output cannot keep up (a slow terminal, a full disk), a batch
/// that does not fit is dropped whole and counted in `dropped`, and the rings keep draining.
public final class LiveOutput: @unchecked Sendable {
    public struct Options: Sendable {
        /// Events per batch handed to the worker.
        public var batchEvents = 4096
        /// Events waiting for the worker, at most (each takes about 140 bytes).
        public var queueEvents = 1 << 18
        /// A partial batch is handed over once it is this old (seconds), so a trickle of
        /// events still shows up promptly.
        public var maxDelay = 0.05
        public init() {}
    }

    private let formatter: EventFormatter
    private let writer: BufferedWriter
    private let options: Options
    private let queue: BoundedQueue<EventBatch>
    private let spare: BoundedQueue<EventBatch>
    private var current: EventBatch
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var droppedCount: UInt64 = 0
    private var renderedCount: UInt64 = 0

    /// Starts the worker. `header` (text column names) is written first.
    public init(formatter: EventFormatter, fd: Int32 = 1, header: String? = nil, options: Options = .init()) {
        self.formatter = formatter
        self.options = options
        writer = BufferedWriter(fd: fd, capacity: 1 << 18)
        if let header { writer.line(header) }
        queue = BoundedQueue(capacity: options.queueEvents)
        spare = BoundedQueue(capacity: .max)
        current = EventBatch(capacity: options.batchEvents)
        let me = Unmanaged.passRetained(self)
        startWorker { me.takeRetainedValue().work() }
    }

    /// Events dropped because the output fell behind.
    public var dropped: UInt64 { lock.withLock { droppedCount } }
    /// Events written out.
    public var rendered: UInt64 { lock.withLock { renderedCount } }
    /// The first write error, if any (output after it is discarded). Read after `finish`.
    public var failure: String? { writer.failure }

    /// Ring thread: copies one event (and its packet bytes) into the open batch.
    public func append(_ e: Event, packet: PacketBytes = .none) {
        current.append(e, packet)
        if current.count >= options.batchEvents { handOver() }
    }

    /// Ring thread, after each poll round: hands a partial batch over once it is old enough.
    public func tick() {
        if current.count > 0, monotonicSeconds() - current.started >= options.maxDelay { handOver() }
    }

    private func handOver() {
        let batch = current
        if !queue.offer(batch, weight: batch.count) {
            lock.withLock { droppedCount += UInt64(batch.count) }
            batch.reset()
            return
        }
        current = spare.isEmpty ? EventBatch(capacity: options.batchEvents) : (spare.take() ?? EventBatch(capacity: options.batchEvents))
    }

    /// Hands over the open batch, waits for the worker to write everything, then writes
    /// `trailer` (the JSON summary line) if given.
    public func finish(trailer: String? = nil) {
        if current.count > 0 {
            // The last batch: wait for room rather than drop it (the rings are detached).
            while !queue.offer(current, weight: current.count) { usleep(1000) }
        }
        queue.close()
        done.wait()
        if let trailer { writer.line(trailer) }
        writer.flush()
    }

    private func work() {
        while let batch = queue.take() {
            batch.forEach { e, p in
                formatter.render(e, packet: p, to: writer.buffer)
                writer.flushIfFull()
            }
            let n = UInt64(batch.count)
            batch.reset()
            _ = spare.offer(batch)
            if queue.isEmpty { writer.flush() }
            lock.withLock { renderedCount += n }
        }
        writer.flush()
        done.signal()
    }
}
