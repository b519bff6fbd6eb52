import FastTrace
import Foundation
import Testing

/// What the running kernel offers, probed once, and what the VM harness says it must offer.
///
/// A test that needs a feature runs when the kernel has it, or when the harness declares the
/// feature expected for this kernel (FASTTRACE_EXPECT_FEATURES, e.g.
/// `kprobe=ok,kprobe.multi=EOPNOTSUPP`): then a missing feature fails instead of skipping.
enum TestKernel {
    static let report: FeatureReport? = KernelInfo.isRoot ? FeatureProbe.run() : nil

    /// name → "ok" or an errno name, from the harness.
    static let expected: [String: String] = {
        guard let spec = ProcessInfo.processInfo.environment["FASTTRACE_EXPECT_FEATURES"] else { return [:] }
        return Dictionary(spec.split(separator: ",").compactMap { item in
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? (kv[0], kv[1]) : nil
        }, uniquingKeysWith: { $1 })
    }()

    static func has(_ feature: String) -> Bool {
        report?[feature]?.ok == true || expected[feature] == "ok"
    }

    /// The skip reason shown when a test does not run here.
    static func whyNot(_ feature: String) -> Comment {
        guard KernelInfo.isRoot else { return "needs root (CAP_BPF, CAP_PERFMON)" }
        let f = report?[feature]
        let whereElse = expected.isEmpty ? " (runs in the VM suite: make vmtest)" : ", as expected for this kernel"
        return Comment(rawValue: "\(feature) unavailable on \(KernelInfo.release): \(f?.errno ?? "?"): \(f?.detail ?? "not probed")\(whereElse)")
    }
}

/// Sends UDP datagrams over loopback: each is one udp_sendmsg, one net_dev_queue,
/// one ip_rcv and one netif_receive_skb.
func sendLoopbackUDP(count: Int, size: Int = 100, port: UInt16 = 0) throws {
    let rx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    let tx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(rx); close(tx) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &addr) { p in
        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            try #require(bind(rx, sa, len) == 0)
            try #require(getsockname(rx, sa, &len) == 0)
            let payload = [UInt8](repeating: 0x42, count: size)
            for _ in 0..<count {
                #expect(sendto(tx, payload, payload.count, 0, sa, len) == payload.count)
            }
        }
    }
}
