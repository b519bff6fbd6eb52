import Foundation

/// Runs `count` independent attach or detach operations on a few threads. Legacy kprobe
/// attach is ~ms each and detach waits for an RCU grace period each: in parallel, the waits
/// overlap. Prepared fentry/tp_btf loads run the verifier on every CPU at once.
enum ParallelAttach {
    static let width = max(4, ProcessInfo.processInfo.activeProcessorCount * 4)

    /// Results by index; nil where `cancelled()` stopped the work first.
    /// `work` runs on several threads at once: it may only do independent attach, load or
    /// detach calls (each creates or destroys its own perf event, program or link; shared
    /// programs, objects and prepared loads are only read), which is why it is passed
    /// through unchecked.
    static func run<T, E: Error>(_ count: Int, progress: (Int) -> Void, cancelled: () -> Bool,
                                 _ work: @escaping (Int) -> Result<T, E>) -> [Result<T, E>?] {
        guard count > 0 else { return [] }
        let box = ResultBox<T, E>(count)
        let work = UncheckedSendable(work)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "fasttrace.attach", attributes: .concurrent)
        let lanes = min(width, count)
        for lane in 0..<lanes {
            queue.async(group: group) {
                var i = lane
                while i < count, !box.stopped {
                    box.set(i, work.value(i))
                    i += lanes
                }
            }
        }
        while group.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if cancelled() { box.stop() }
            progress(box.done)
        }
        progress(box.done)
        return box.results
    }
}

/// Results written by the workers; guarded by a lock (only touched once per operation).
private final class ResultBox<T, E: Error>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, E>?]
    private var finished = 0
    private var stopFlag = false

    init(_ n: Int) { storage = Array(repeating: nil, count: n) }

    func set(_ i: Int, _ r: Result<T, E>) { lock.withLock { storage[i] = r; finished += 1 } }
    var done: Int { lock.withLock { finished } }
    var results: [Result<T, E>?] { lock.withLock { storage } }
    var stopped: Bool { lock.withLock { stopFlag } }
    func stop() { lock.withLock { stopFlag = true } }
}

private struct UncheckedSendable<V>: @unchecked Sendable {
    let value: V
    init(_ value: V) { self.value = value }
}
