@testable import FastTrace
import Foundation
import Testing

/// The pieces of the live path that need no kernel: ring sizing, wakeup period, the bounded
/// queue's refusals, the byte renderer's number formatting.
@Suite struct TransportTests {
    @Test func ringSizeFollowsMemoryAndCPUs() {
        let gib: UInt64 = 1 << 30
        #expect(TraceConfig.defaultRingBytes(cpus: 2, memory: 24 * gib) == 32 << 20)
        #expect(TraceConfig.defaultRingBytes(cpus: 2, memory: 2 * gib) == 4 << 20)
        #expect(TraceConfig.defaultRingBytes(cpus: 64, memory: 256 * gib) == 16 << 20)
        #expect(TraceConfig.defaultRingBytes(cpus: 512, memory: 4 * gib) == 4 << 20)
        #expect(TraceConfig.defaultRingBytes(cpus: 1, memory: 1 << 50) == 32 << 20)
    }

    /// A ring holds at least 16 wakeup periods, whatever was asked.
    @Test func wakeupPeriodShrinksWithTheRing() {
        var c = TraceConfig()
        c.wakeupEvery = 1024
        c.ringBytesPerCPU = 32 << 20
        #expect(c.effectiveWakeupEvery == 1024)
        c.ringBytesPerCPU = 1 << 20
        let record = MemoryLayout<Event>.size + 8
        #expect(Int(c.effectiveWakeupEvery) * 16 * record <= 1 << 20 && c.effectiveWakeupEvery >= 256)
        c.ringBytesPerCPU = 4096
        #expect(c.effectiveWakeupEvery == 1)
        c.wakeupEvery = 0
        #expect(c.effectiveWakeupEvery == 0)
    }

    @Test func queueRefusesWhatDoesNotFitAndDrainsAfterClose() {
        let q = BoundedQueue<Int>(capacity: 10)
        #expect(q.offer(1, weight: 6))
        #expect(!q.offer(2, weight: 5))     // 11 > 10: refused, never blocks
        #expect(q.offer(3, weight: 4))
        #expect(q.take() == 1)
        #expect(q.offer(4, weight: 6))
        q.close()
        #expect(!q.offer(5, weight: 1))
        #expect(q.take() == 3 && q.take() == 4 && q.take() == nil)
        let big = BoundedQueue<Int>(capacity: 10)
        #expect(big.offer(7, weight: 50))    // heavier than the whole capacity: taken when empty
        #expect(!big.offer(8, weight: 1))
    }

    /// Under sustained load the queue never empties; what it handed out must still be freed
    /// (it used to stay in the queue's array until the queue drained: a leak that grew with
    /// the backlog). `put` waits for room instead of refusing.
    @Test func queueKeepsNothingItHandedOut() {
        final class Item { let n: Int; init(_ n: Int) { self.n = n } }
        let q = BoundedQueue<Item>(capacity: 4)
        weak var first: Item?
        do {
            let item = Item(0)
            first = item
            #expect(q.put(item))
        }
        #expect(q.put(Item(1)))
        var taken: [Int] = []
        for n in 2..<1000 {
            #expect(q.put(Item(n)))                   // never empty from here on
            if let i = q.take() { taken.append(i.n) }
        }
        #expect(first == nil, "the queue still holds an item it handed out")
        #expect(taken == Array(0..<998))
        q.close()
        #expect(!q.put(Item(-1)))
        #expect(q.take()?.n == 998 && q.take()?.n == 999 && q.take() == nil)

        let full = BoundedQueue<Int>(capacity: 1)
        #expect(full.put(1))
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = full.put(2)                           // waits for room
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 0.2) == .timedOut)
        #expect(full.take() == 1)
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(full.take() == 2)
    }

    @Test func numbersRenderAsStringDoes() {
        let b = ByteBuffer(capacity: 8)
        let values: [UInt64] = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1 << 32, 12_345_678_901_234, .max, .max - 1]
        for v in values {
            b.removeAll()
            b.decimal(v)
            #expect(b.string == String(v))
            b.removeAll()
            b.hex(v)
            #expect(b.string == String(v, radix: 16))
            b.removeAll()
            b.decimal(v, zeroPadTo: 6)
            #expect(b.string == String(repeating: "0", count: max(0, 6 - String(v).count)) + String(v))
        }
        b.removeAll()
        b.decimal(Int32(-42))
        b.hex(0x800, minDigits: 4)
        b.jsonString("a\"b\\c\u{1}\td/é")
        #expect(b.string == "-420800\"a\\\"b\\\\c\\u0001\\td/é\"")
    }
}
