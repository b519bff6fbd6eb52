import Foundation

/// Events copied out of the rings, with their packet bytes, for a worker thread: ring
/// records are borrowed and must be released quickly, so the ring thread copies and moves on.
/// Batches are recycled, so the steady state allocates nothing.
final class EventBatch: @unchecked Sendable {
    private(set) var events: [Event] = []
    /// Per event: where its packet bytes start in `bytes`, or -1.
    private var packetAt: [Int32] = []
    private var packetInfo: [(link: UInt32, wire: UInt32, start: Int32)] = []
    private var bytes: [UInt8] = []
    /// Monotonic seconds when the first event went in.
    private(set) var started: Double = 0

    init(capacity: Int) {
        events.reserveCapacity(capacity)
        packetAt.reserveCapacity(capacity)
    }

    var count: Int { events.count }

    func append(_ e: Event, _ p: PacketBytes) {
        if events.isEmpty { started = monotonicSeconds() }
        events.append(e)
        if p.isEmpty {
            packetAt.append(-1)
        } else {
            packetAt.append(Int32(packetInfo.count))
            packetInfo.append((p.link.rawValue, p.wireLength, Int32(bytes.count)))
            bytes.append(contentsOf: p.bytes)
        }
    }

    func forEach(_ body: (Event, PacketBytes) -> Void) {
        bytes.withUnsafeBytes { all in
            for i in events.indices {
                let at = Int(packetAt[i])
                guard at >= 0 else {
                    body(events[i], .none)
                    continue
                }
                let info = packetInfo[at]
                let start = Int(info.start)
                let end = at + 1 < packetInfo.count ? Int(packetInfo[at + 1].start) : all.count
                body(events[i], PacketBytes(link: Link(rawValue: info.link), wireLength: info.wire,
                                            bytes: UnsafeRawBufferPointer(rebasing: all[start..<end])))
            }
        }
    }

    func reset() {
        events.removeAll(keepingCapacity: true)
        packetAt.removeAll(keepingCapacity: true)
        packetInfo.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// CLOCK_MONOTONIC_COARSE in seconds: cheap enough to read per batch.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
