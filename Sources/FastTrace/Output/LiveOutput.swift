import Foundation

/// Live text/JSON output off the ring thread. The ring thread encodes events into batches
/// in the log's compact row format (`append`: ~5 bytes an event instead of ~140, so a burst
/// the output cannot keep up with waits in little memory), and a worker decodes, renders and
/// writes them in large chunks. Batches wait in a bounded queue; when the output falls
/// behind by more than it holds (a slow terminal, a full disk), a batch that does not fit is
/// dropped whole and counted in `dropped`, and the rings keep draining.
public final class LiveOutput: @unchecked Sendable {
    public struct Options: Sendable {
        /// Events per batch handed to the worker.
        public var batchEvents = 4096
        /// Encoded bytes waiting for the worker, at most (64 MiB: about ten million events).
        public var queueBytes = 64 << 20
        /// A partial batch is handed over once it is this old (seconds), so a trickle of
        /// events still shows up promptly.
        public var maxDelay = 0.05
        public init() {}
    }

    private struct Batch: @unchecked Sendable {
        let bytes: [UInt8]
        let events: Int
    }

    private let formatter: EventFormatter
    private let writer: BufferedWriter
    private let options: Options
    private let queue: BoundedQueue<Batch>
    private var encoder: EventCodec.Encoder
    private var started = 0.0
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var droppedCount: UInt64 = 0
    private var renderedCount: UInt64 = 0
    private var decodeFailure: String?
    private var abandoned = false

    /// Starts the worker. `header` (text column names) is written first.
    public init(formatter: EventFormatter, fd: Int32 = 1, header: String? = nil, options: Options = .init()) {
        self.formatter = formatter
        self.options = options
        writer = BufferedWriter(fd: fd, capacity: 1 << 18)
        if let header { writer.line(header) }
        queue = BoundedQueue(capacity: options.queueBytes)
        encoder = EventCodec.Encoder(capacity: options.batchEvents * 16)
        let me = Unmanaged.passRetained(self)
        startWorker { me.takeRetainedValue().work() }
    }

    /// Events dropped because the output fell behind.
    public var dropped: UInt64 { lock.withLock { droppedCount } }
    /// Events written out.
    public var rendered: UInt64 { lock.withLock { renderedCount } }
    /// The first write error, if any (output after it is discarded). Read after `finish`.
    public var failure: String? { writer.failure ?? decodeFailure }

    /// Ring thread: encodes one event (and its packet bytes) into the open batch.
    public func append(_ e: Event, packet: PacketBytes = .none) {
        if encoder.count == 0 { started = monotonicSeconds() }
        encoder.append(e, packet: packet)
        if encoder.count >= options.batchEvents { handOver() }
    }

    /// Ring thread, after each poll round: hands a partial batch over once it is old enough.
    public func tick() {
        if encoder.count > 0, monotonicSeconds() - started >= options.maxDelay { handOver() }
    }

    private func handOver() {
        let batch = Batch(bytes: encoder.bytes, events: encoder.count)
        encoder = EventCodec.Encoder(capacity: options.batchEvents * 16)
        if !queue.offer(batch, weight: batch.bytes.count) {
            lock.withLock { droppedCount += UInt64(batch.events) }
        }
    }

    /// Hands over the open batch and waits for the worker to write everything. While it
    /// waits, `abandon()` returning true (checked every 100 ms; e.g. a second Ctrl-C) makes
    /// the worker count what is still queued as dropped instead of writing it.
    public func finish(abandon: () -> Bool = { false }) {
        if encoder.count > 0 {
            // The last batch: wait for room rather than drop it (the rings are detached).
            let batch = Batch(bytes: encoder.bytes, events: encoder.count)
            while !queue.offer(batch, weight: batch.bytes.count) { usleep(1000) }
        }
        queue.close()
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if abandon() { lock.withLock { abandoned = true } }
        }
        writer.flush()
    }

    /// After `finish`: one more line (the JSON summary).
    public func line(_ s: String) {
        writer.line(s)
        writer.flush()
    }

    /// Decodes and renders one batch; returns the events rendered.
    private func render(_ batch: Batch) -> Int {
        var n = 0
        let failure = batch.bytes.withUnsafeBytes { raw -> String? in
            do {
                try EventCodec.decode(raw) { e, p in
                    formatter.render(e, packet: p, to: writer.buffer)
                    writer.flushIfFull()
                    n += 1
                }
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let failure { decodeFailure = decodeFailure ?? "internal: a batch did not decode (\(failure))" }
        return n
    }

    private func work() {
        while let batch = queue.take() {
            let n = lock.withLock { abandoned } ? 0 : render(batch)
            if queue.isEmpty { writer.flush() }
            lock.withLock {
                renderedCount += UInt64(n)
                droppedCount += UInt64(batch.events - n)
            }
        }
        writer.flush()
        done.signal()
    }
}
