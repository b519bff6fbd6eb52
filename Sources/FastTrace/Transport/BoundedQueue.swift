import CShim
import Foundation

/// A bounded FIFO from the ring thread to a worker thread (output rendering, log
/// compression). The producer never waits: `offer` refuses when the queue holds `capacity`
/// units of work, and the caller counts what it could not hand over as lost. So a slow
/// terminal, disk or compressor costs counted events, never a stalled ring.
///
/// One lock round-trip per item; items are batches (thousands of events), so the lock is
/// taken a few hundred times a second at most.
final class BoundedQueue<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Taken items are set to nil at once and the array compacted as `head` advances: a
    /// queue that never empties under sustained load must not keep what it handed out.
    private var items: [(item: Item?, weight: Int)] = []
    private var head = 0
    private var weight = 0
    private var closed = false
    /// The most work (sum of the items' weights) the queue holds.
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Appends `item` unless that would exceed the capacity (an item heavier than the whole
    /// capacity is still taken into an empty queue). Never blocks.
    func offer(_ item: Item, weight w: Int = 1) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, weight == 0 || weight + w <= capacity else { return false }
        items.append((item, w))
        weight += w
        condition.signal()
        return true
    }

    /// Appends `item`, waiting while the queue is full: for producers that read from a file,
    /// where waiting loses nothing (`fasttrace export`). False once the queue is closed.
    func put(_ item: Item, weight w: Int = 1) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed && weight > 0 && weight + w > capacity { condition.wait() }
        guard !closed else { return false }
        items.append((item, w))
        weight += w
        condition.broadcast()
        return true
    }

    /// The next item; waits for one. Nil once the queue is closed and empty.
    func take() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let (item, w) = items[head]
        items[head].item = nil
        head += 1
        weight -= w
        condition.broadcast() // a producer in `put` may be waiting for room
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// True when nothing is waiting (the worker flushes its output then).
    var isEmpty: Bool { condition.withLock { head == items.count } }

    /// No more items: `take` drains what is queued, then returns nil.
    func close() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }
}

/// Starts a worker thread that does not take Ctrl-C (the ring thread must get it).
func startWorker(_ body: @escaping @Sendable () -> Void) {
    Thread.detachNewThread {
        shim_stop_block_in_this_thread()
        body()
    }
}
