import FastTrace
import Foundation

/// The trigger workload: UDP datagrams over loopback, sent and received by one thread. Each
/// datagram takes the same path through the stack (UDP send, IP output, loopback xmit,
/// netif_rx, IP receive, UDP delivery), so it hits the traced functions a fixed number of
/// times, which the benchmarks count.
public final class LoopbackLoad {
    let rx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    let tx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let payload = [UInt8](repeating: 1, count: 64)
    var sink = [UInt8](repeating: 0, count: 2048)

    /// Why the receiving socket could not be bound (e.g. the port is taken), nil when it was.
    public private(set) var bindError: String?

    /// Binds the receiver to 127.0.0.1:`port` (0: any free port).
    public init(port: UInt16 = 0) {
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                if bind(rx, sa, len) != 0 { bindError = "cannot bind 127.0.0.1:\(port): \(String(cString: strerror(errno)))" }
                _ = getsockname(rx, sa, &len)
            }
        }
        var big: Int32 = 8 << 20
        _ = setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close(rx)
        close(tx)
    }

    /// Nanoseconds per datagram (send + receive) over `count` datagrams.
    public func run(_ count: Int) -> Double {
        let t = benchNow()
        withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                for _ in 0..<count {
                    _ = sendto(tx, payload, payload.count, 0, sa, len)
                    _ = recv(rx, &sink, sink.count, 0)
                }
            }
        }
        return (benchNow() - t) / Double(count)
    }

    /// Sends `count` datagrams, at about `perSecond` when it is more than 0, else as fast as
    /// this thread can; returns the datagrams sent.
    public func send(count: Int, perSecond: Double = 0) -> Int {
        guard perSecond > 0 else {
            _ = run(count)
            return count
        }
        // One paced run until `count` are sent. (Rerunning for the remainder's nominal time
        // looped forever once that time fell below the first datagram's due time.)
        return paced(perSecond: perSecond, seconds: .infinity, atMost: count)
    }

    /// Sends as fast as this thread can for `seconds`; returns the datagrams sent.
    public func flood(seconds: Double) -> Int {
        let end = benchNow() + seconds * 1e9
        var sent = 0
        while benchNow() < end {
            _ = run(1000)
            sent += 1000
        }
        return sent
    }

    /// How many datagrams make a run of about `seconds` (at least 200).
    public func calibrate(seconds: Double) -> Int {
        let per = run(200)
        return Swift.max(200, Int(seconds * 1e9 / Swift.max(per, 1)))
    }

    /// Sends at about `perSecond` datagrams for `seconds`, in 1 ms batches; returns the
    /// datagrams sent (fewer than asked when this thread cannot keep up).
    public func paced(perSecond: Double, seconds: Double, atMost: Int = .max) -> Int {
        let start = benchNow()
        var sent = 0
        withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                while true {
                    let elapsed = (benchNow() - start) / 1e9
                    if elapsed >= seconds { break }
                    if sent >= atMost { break }
                    let due = Swift.min(Int(elapsed * perSecond), atMost) - sent
                    if due <= 0 { usleep(200); continue }
                    for _ in 0..<Swift.min(due, 4096) {
                        _ = sendto(tx, payload, payload.count, 0, sa, len)
                        _ = recv(rx, &sink, sink.count, 0)
                        sent += 1
                    }
                }
            }
        }
        return sent
    }
}
