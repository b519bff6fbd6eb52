import KernelBTF
import SystemPackage

/// Why a trace could not be planned or carried out. It keeps its cause (the libbpf, filter,
/// discovery or BTF error) and, when a system call failed, the errno as a typed `Errno`; the
/// CLI turns it into one line and an exit status in one place (Messages.swift).
public struct TraceError: Error, CustomStringConvertible {
    /// What the failure says about its cause (the CLI's exit status follows it).
    public enum Kind: Sendable { case runtime, badInput, kernelFeature }
    /// The failure underneath.
    public enum Cause: Sendable {
        case bpf(BPFError)
        case filter(FilterError)
        case discovery(Discovery.Failure)
        case btf(BTFError)
        /// fasttrace's own finding (a backend refused, nothing to attach).
        case none
    }

    public let description: String
    public let kind: Kind
    public let cause: Cause

    init(_ description: String, kind: Kind = .runtime, cause: Cause = .none) {
        self.description = description
        self.kind = kind
        self.cause = cause
    }

    init(_ e: BPFError) { self.init(e.description, cause: .bpf(e)) }

    /// The errno behind it, when a system call failed (EMFILE: the open-file limit).
    public var errno: Errno? {
        if case .bpf(let e) = cause { return e.errno }
        return nil
    }
}
