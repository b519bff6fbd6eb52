import Synchronization

/// How fasttrace attaches: a registered `AttachBackend`, known by its name (`--backend`).
/// The built-in ones are listed once, best first, in `AttachBackend.swift`.
public struct Backend: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    let implementation: any AttachBackend.Type

    init(_ implementation: any AttachBackend.Type) { self.implementation = implementation }

    /// The name users type (`kprobe-multi`, `kprobe`, `fentry`, `tracepoint`).
    public var rawValue: String { implementation.name }
    public var description: String { rawValue }

    /// The backend registered under `name`, if any.
    public init?(rawValue name: String) {
        guard let i = Self.registered.first(where: { $0.name == name }) else { return nil }
        implementation = i
    }

    /// The built-in backends, in auto's order (best first).
    public static var allCases: [Backend] { builtIn.map(Backend.init) }

    /// Every name `--backend` accepts (besides auto).
    public static var names: [String] { registered.map { $0.name } }

    /// The feature-probe row that says whether this backend can work (`fasttrace features`).
    public var feature: String { implementation.feature }
    /// Whether its targets are tracepoints rather than kernel functions.
    public var tracesTracepoints: Bool { implementation.targetKind == .tracepoint }
    /// Probes the running kernel for it.
    public func probe() -> Feature { implementation.probe() }

    /// The program section its programs live in (`ft.kprobe.multi`, ...).
    public var section: String { implementation.section }
    /// Attaches a bare program of `section` to `targets` outside a trace (the bench's empty
    /// programs): see `AttachBackend.attachBare`.
    public func attachBare(targets: [TracedTarget], addresses: [String: [UInt64]],
                           load: (String?) throws(BPFError) -> BPFProgram) throws(BPFError) -> [BPFLink] {
        try implementation.attachBare(targets: targets, addresses: addresses, load: load)
    }

    public static func == (a: Backend, b: Backend) -> Bool { a.rawValue == b.rawValue }
    public func hash(into h: inout Hasher) { h.combine(rawValue) }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let b = Backend(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "no backend '\(name)'"))
        }
        self = b
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    // MARK: registry

    /// Backends added at run time (tests): found by name, never chosen by auto.
    private static let extra = Mutex<[any AttachBackend.Type]>([])

    /// Makes `implementation` known by its name (`Backend(rawValue:)`, `--backend`); the
    /// built-in ones need not be registered.
    static func register(_ implementation: any AttachBackend.Type) {
        extra.withLock { list in
            if !list.contains(where: { $0.name == implementation.name }) { list.append(implementation) }
        }
    }

    static var registered: [any AttachBackend.Type] { builtIn + extra.withLock { $0 } }
}

/// A backend `auto` passed over, and why.
public struct BackendRejection: Sendable, CustomStringConvertible {
    public let backend: Backend
    public let errno: String
    public let reason: String
    public var description: String { "\(backend.rawValue): \(errno) (\(reason))" }
}

extension Backend {
    /// The first backend this kernel accepts, with the rejections before it. `probe` is the
    /// kernel check (replaced in tests that plan without a kernel).
    public static func choose(from candidates: [Backend] = Backend.allCases,
                              probe: (Backend) -> Feature = { $0.probe() }) -> (Backend?, [BackendRejection]) {
        var rejections: [BackendRejection] = []
        for b in candidates {
            let f = probe(b)
            if f.ok { return (b, rejections) }
            rejections.append(BackendRejection(backend: b, errno: f.errno ?? "?", reason: f.detail))
        }
        return (nil, rejections)
    }
}
