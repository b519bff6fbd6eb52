import Foundation
import KernelBTF

/// A kernel function that takes a `struct sk_buff *`, and can be attached.
public struct SkbFunction: Codable, Sendable, Equatable {
    public let name: String
    /// 1-based position of the `struct sk_buff *` parameter (1…5); 0 for a function without
    /// one (--filter-non-skb-funcs).
    public let position: Int
    /// The module, nil for vmlinux.
    public let module: String?
    /// Kernel addresses (several when static functions share the name); for kprobe.multi.
    public let addresses: [UInt64]
    /// The FUNC's id in the vmlinux BTF discovery read (the first of the name, as libbpf
    /// picks); nil in a module. fentry's prepared loads attach by it when that BTF is the
    /// running kernel's (no --kernel-btf).
    public var btfID: UInt32?

    public init(name: String, position: Int, module: String?, addresses: [UInt64], btfID: UInt32? = nil) {
        self.name = name
        self.position = position
        self.module = module
        self.addresses = addresses
        self.btfID = btfID
    }
}

/// A raw tracepoint whose BTF prototype (`btf_trace_NAME`) carries a `struct sk_buff *`.
public struct SkbTracepoint: Codable, Sendable, Equatable {
    public let name: String
    /// tracefs category (skb, net, …) when tracefs is mounted.
    public let category: String?
    /// 1-based position of the skb among the tracepoint's arguments.
    public let position: Int
    /// The `btf_trace_NAME` typedef's id in the vmlinux BTF discovery read (tp_btf's attach
    /// target, used as fentry's is).
    public var btfID: UInt32?

    public init(name: String, category: String?, position: Int, btfID: UInt32? = nil) {
        self.name = name
        self.category = category
        self.position = position
        self.btfID = btfID
    }
}

/// The set of things fasttrace can attach to, for a kernel.
public struct Discovery: Codable, Sendable {
    public let kernelRelease: String
    public let source: Traceability.Source
    /// BTF functions with an sk_buff parameter at 1…5, before the traceability filter.
    public let candidates: Int
    public let functions: [SkbFunction]
    public let tracepoints: [SkbTracepoint]

    public struct Options: Sendable {
        public var limit: NameFilter?
        /// Modules whose split BTF is also searched.
        public var modules: [String] = []
        public var allModules = false
        /// --filter-non-skb-funcs: functions without an sk_buff parameter to attach too
        /// (position 0), whatever `limit` says.
        public var nonSkb: NameFilter?
        /// What to look for: functions (kprobe, fentry), tracepoints, or both (`fasttrace funcs`).
        public var scope: Scope
        public enum Scope: Sendable { case all, functions, tracepoints }
        public init(limit: NameFilter? = nil, modules: [String] = [], allModules: Bool = false, nonSkb: NameFilter? = nil,
                    scope: Scope = .all) {
            self.limit = limit
            self.modules = modules
            self.allModules = allModules
            self.nonSkb = nonSkb
            self.scope = scope
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static let maxPosition = 5

    /// `vmlinux`: the kernel BTF if the caller already parsed it (it is ~5 MB).
    public static func run(_ options: Options = .init(), btfDir: String = "/sys/kernel/btf",
                           vmlinux parsed: BTF? = nil) throws(Failure) -> Discovery {
        let vmlinux: BTF
        if let parsed { vmlinux = parsed } else {
            do { vmlinux = try BTF(rawPath: btfDir + "/vmlinux") } catch {
                throw Failure(description: "\(error.description): fasttrace needs kernel BTF (CONFIG_DEBUG_INFO_BTF)")
            }
        }
        guard let skb = vmlinux.find("sk_buff", kind: .struct) else {
            throw Failure(description: "\(btfDir)/vmlinux: no struct sk_buff in kernel BTF")
        }
        var found: [Found] = []
        var others: [Found] = []
        let scanFunctions = options.scope != .tracepoints
        if scanFunctions { Self.scanFunctions(vmlinux, skb: skb, from: 1, module: nil, into: &found, nonSkb: options.nonSkb, others: &others) }
        for module in try moduleNames(options, btfDir: btfDir) where scanFunctions {
            let split: BTF
            do { split = try BTF(rawPath: "\(btfDir)/\(module)", base: vmlinux) } catch {
                throw Failure(description: "module \(module): \(error.description)")
            }
            Self.scanFunctions(split, skb: skb, from: vmlinux.typeCount, module: module, into: &found, nonSkb: options.nonSkb, others: &others)
        }
        StartupClock.mark("discovery: BTF scan")
        let candidates = found.count
        let skbNames = Set(found.map(\.name))
        found = found.filter { options.limit?.matches($0.name) != false } + others.filter { !skbNames.contains($0.name) }
        let traceable = scanFunctions ? Traceability.current(for: Set(found.map(\.name))) : Traceability(source: .none, addresses: [:], modules: [:])
        if scanFunctions { StartupClock.mark("discovery: kallsyms, ftrace") }
        let tracefsCategories = options.scope == .functions ? [:] : KernelInfo.tracefsPath.map(tracepointCategories) ?? [:]
        var seen = Set<String>()
        let functions = found.filter { f in
            traceable.contains(f.name) && seen.insert(f.name).inserted
        }.map { f in
            let module = f.module ?? traceable.modules[f.name]
            return SkbFunction(name: f.name, position: f.position, module: module,
                               addresses: traceable.addresses[f.name] ?? [], btfID: module == nil ? f.btfID : nil)
        }.sorted { $0.name < $1.name }
        let tracepoints = (options.scope == .functions ? [] : scanTracepoints(vmlinux, skb: skb)).filter { options.limit?.matches($0.name) != false }
            .map { SkbTracepoint(name: $0.name, category: tracefsCategories[$0.name], position: $0.position, btfID: $0.btfID) }
        return Discovery(kernelRelease: KernelInfo.release, source: traceable.source, candidates: candidates,
                         functions: functions, tracepoints: tracepoints)
    }

    /// Only the functions and tracepoints named in `names` (benchmarks: one discovery, many
    /// attach sizes).
    public func restricted(to names: Set<String>) -> Discovery {
        Discovery(kernelRelease: kernelRelease, source: source, candidates: candidates,
                  functions: functions.filter { names.contains($0.name) },
                  tracepoints: tracepoints.filter { names.contains($0.name) })
    }

    static func moduleNames(_ options: Options, btfDir: String) throws(Failure) -> [String] {
        if options.allModules {
            let all = (try? FileManager.default.contentsOfDirectory(atPath: btfDir)) ?? []
            return all.filter { $0 != "vmlinux" }.sorted()
        }
        for m in options.modules where !FileManager.default.fileExists(atPath: "\(btfDir)/\(m)") {
            throw Failure(description: "module \(m): no BTF at \(btfDir)/\(m) (not loaded, or built without BTF)")
        }
        return options.modules
    }

    typealias Found = (name: String, position: Int, module: String?, btfID: UInt32?)

    /// FUNC types from `first` on whose prototype has `struct sk_buff *` at 1…5; the others
    /// that `nonSkb` matches go to `others` at position 0.
    static func scanFunctions(_ btf: BTF, skb: UInt32, from first: UInt32, module: String?,
                              into found: inout [Found], nonSkb: NameFilter? = nil, others: inout [Found]) {
        for id in first..<btf.typeCount where btf.kind(id) == .func {
            // A module's ids only mean something with its BTF object's descriptor.
            let btfID = module == nil ? id : nil
            if let pos = skbPosition(btf, proto: btf.target(id), skb: skb, skipFirst: false) {
                found.append((btf.name(id), pos, module, btfID))
            } else if let nonSkb, nonSkb.matches(btf.name(id)) {
                others.append((btf.name(id), 0, module, btfID))
            }
        }
    }

    /// `typedef void (*btf_trace_NAME)(void *, args…)`: position among args (after the void *).
    static func scanTracepoints(_ btf: BTF, skb: UInt32) -> [(name: String, position: Int, btfID: UInt32)] {
        var out: [(String, Int, UInt32)] = []
        let prefix = "btf_trace_"
        for id in 1..<btf.typeCount where btf.kind(id) == .typedef {
            let name = btf.name(id)
            guard name.hasPrefix(prefix) else { continue }
            let ptr = btf.resolve(id)
            guard btf.kind(ptr) == .ptr else { continue }
            let proto = btf.resolve(btf.target(ptr))
            guard btf.kind(proto) == .funcProto,
                  let pos = skbPosition(btf, proto: proto, skb: skb, skipFirst: true) else { continue }
            out.append((String(name.dropFirst(prefix.count)), pos, id))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    static func skbPosition(_ btf: BTF, proto: UInt32, skb: UInt32, skipFirst: Bool) -> Int? {
        var params = btf.params(proto)
        if skipFirst { params = Array(params.dropFirst()) }
        for (i, p) in params.prefix(maxPosition).enumerated() {
            let t = btf.resolve(p.type)
            if btf.kind(t) == .ptr, btf.resolve(btf.target(t)) == skb { return i + 1 }
        }
        return nil
    }

    /// name → category from tracefs events/CATEGORY/NAME.
    static func tracepointCategories(_ tracefs: String) -> [String: String] {
        var out: [String: String] = [:]
        let events = tracefs + "/events"
        for category in (try? FileManager.default.contentsOfDirectory(atPath: events)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(events)/\(category)")) ?? [] {
                out[name] = category
            }
        }
        return out
    }
}
