/// How fasttrace attaches, best first.
public enum Backend: String, CaseIterable, Codable, Sendable {
    /// One kprobe.multi link per skb position, by address; function id in the cookie.
    case kprobeMulti = "kprobe-multi"
    /// One perf-event kprobe per function (attached and detached in parallel).
    case kprobe
    /// One fentry program per function.
    case fentry
    /// tp_btf on the sk_buff tracepoints only (skb:kfree_skb, net:netif_receive_skb, ...).
    case tracepoint

    /// The feature-probe row that says whether this backend can work.
    public var feature: String {
        switch self {
        case .kprobeMulti: "kprobe.multi"
        case .kprobe: "kprobe"
        case .fentry: "fentry"
        case .tracepoint: "tp_btf"
        }
    }
}

/// A backend `auto` passed over, and why.
public struct BackendRejection: Sendable, CustomStringConvertible {
    public let backend: Backend
    public let errno: String
    public let reason: String
    public var description: String { "\(backend.rawValue): \(errno) (\(reason))" }
}

extension Backend {
    /// The first backend this kernel accepts, with the rejections before it.
    public static func choose(from candidates: [Backend] = Backend.allCases) -> (Backend?, [BackendRejection]) {
        var rejections: [BackendRejection] = []
        for b in candidates {
            let f = FeatureProbe.probe(b.feature)
            if f.ok { return (b, rejections) }
            rejections.append(BackendRejection(backend: b, errno: f.errno ?? "?", reason: f.detail))
        }
        return (nil, rejections)
    }
}
