@testable import FastTrace

/// A backend that exists only in the tests: the proof that adding a backend is one file
/// (this one) plus one registration line (`Backend.register`, in `BackendTests`). It traces a
/// single tracepoint, net:netif_receive_skb, with the tracepoint backend's program, and
/// nothing in the library names it.
enum ReceiveOnlyBackend: AttachBackend {
    static let name = "test-receive-only"
    static let feature = "tp_btf"
    static let targetKind = TracedTarget.Kind.tracepoint
    static let directSkb = true
    static let loadsPerTarget = true
    static let section = "ft.tp_btf"
    static func descriptorsNeeded(targets: Int) -> Int { 9 }
    static let trackingHooks: [String] = []

    static func program(for t: TracedTarget, drop: (skb: Int, reason: Int)?) -> KeyPath<TraceBPF.Programs, BPFProgram>? {
        t.name == "netif_receive_skb" && t.position == 1 ? \.tpSkb1 : nil
    }

    static func attach(_ tracer: Tracer, progress: (Int, Int) -> Void, cancelled: () -> Bool) throws(BPFError) {
        try tracer.attachEachTarget(progress: progress, cancelled: cancelled)
    }

    static func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        attachBareEach(targets.filter { $0.name == "netif_receive_skb" }, load: load)
    }
}
