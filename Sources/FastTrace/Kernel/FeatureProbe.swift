import CShim
import Foundation

/// One line of `fasttrace features`.
public struct Feature: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case ok, unavailable }
    /// Stable identifier: btf, bpf, kprobe, kprobe.multi, fentry, fexit, tp_btf, raw_tp, tracepoint,
    /// tracepoint.multi (raw_tp with attach cookies: the tracepoint-multi backend), ringbuf,
    /// bpf_prog_trace (fentry on a BPF program: --filter-trace-tc), bpf_get_func_ip,
    /// bpf_snprintf_btf (--output-skb).
    public let name: String
    public let status: Status
    /// The errno name when unavailable (EPERM, EOPNOTSUPP, ENOENT, ...).
    public let errno: String?
    /// Where it failed: check, open, load or attach.
    public let phase: String?
    /// One line: what was found, or why not and what to do.
    public let detail: String

    public var ok: Bool { status == .ok }
}

public struct FeatureReport: Codable, Sendable {
    public let kernelRelease: String
    public let features: [Feature]

    public subscript(name: String) -> Feature? { features.first { $0.name == name } }
}

/// Probes the running kernel by loading and attaching tiny programs (bpf/probes.bpf.c),
/// one attach mode at a time, and explains each refusal.
public enum FeatureProbe {
    /// Present in every kernel fasttrace supports, traceable, and an sk_buff function.
    static let targetFunction = "netif_receive_skb"

    /// The probes, in report order.
    static let probes: [(name: String, run: @Sendable () -> Feature)] = [
        ("btf", btf), ("bpf", bpfSyscall),
        ("kprobe", { attachProbe("kprobe", program: \.probeKprobe) { p throws(BPFError) in
            try p.attachKprobe(function: targetFunction) } }),
        ("kprobe.multi", { attachProbe("kprobe.multi", program: \.probeKprobeMulti) { p throws(BPFError) in
            try p.attachKprobeMulti(symbols: [targetFunction]) } }),
        ("fentry", { attachProbe("fentry", program: \.probeFentry, target: targetFunction) { p throws(BPFError) in try p.attachTrace() } }),
        ("fexit", { attachProbe("fexit", program: \.probeFexit, target: targetFunction) { p throws(BPFError) in try p.attachTrace() } }),
        ("tp_btf", { attachProbe("tp_btf", program: \.probeTpBtf) { p throws(BPFError) in try p.attach() } }),
        ("raw_tp", { attachProbe("raw_tp", program: \.probeRawTp) { p throws(BPFError) in try p.attach() } }),
        ("tracepoint", { attachProbe("tracepoint", program: \.probeTracepoint) { p throws(BPFError) in try p.attach() } }),
        ("tracepoint.multi", { attachProbe("tracepoint.multi", program: \.probeRawTpCookie) { p throws(BPFError) in
            try p.attachRawTracepoint(targetFunction, cookie: 1) } }),
        ("ringbuf", ringbuf),
        ("bpf_prog_trace", bpfProgramTrace),
        ("bpf_get_func_ip", { attachProbe("bpf_get_func_ip", program: \.probeGetFuncIp, attach: nil) }),
        ("bpf_snprintf_btf", { attachProbe("bpf_snprintf_btf", program: \.probeSnprintfBtf, attach: nil) }),
    ]

    public static func run() -> FeatureReport {
        FeatureReport(kernelRelease: KernelInfo.release, features: probes.map { $0.run() })
    }

    /// One probe by name (see `probes`).
    public static func probe(_ name: String) -> Feature {
        guard let p = probes.first(where: { $0.name == name }) else {
            return Feature(name: name, status: .unavailable, errno: "ENOENT", phase: "check", detail: "no such probe")
        }
        return p.run()
    }

    static func btf() -> Feature {
        let path = KernelInfo.vmlinuxBTFPath
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            return Feature(name: "btf", status: .unavailable, errno: "ENOENT", phase: "check",
                           detail: "\(path) missing: kernel built without CONFIG_DEBUG_INFO_BTF; fasttrace needs BTF")
        }
        guard let btf = btf__load_vmlinux_btf() else {
            let e = errno
            return Feature(name: "btf", status: .unavailable, errno: BPFError.name(ofErrno: e), phase: "open",
                           detail: "\(path) unreadable: \(String(cString: strerror(e)))")
        }
        defer { btf__free(btf) }
        let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        return Feature(name: "btf", status: .ok, errno: nil, phase: nil,
                       detail: "\(path): \(btf__type_cnt(btf) - 1) types, \(size / 1024) KiB")
    }

    static func bpfSyscall() -> Feature {
        let rc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCKET_FILTER, nil)
        if rc == 1 {
            return Feature(name: "bpf", status: .ok, errno: nil, phase: nil, detail: "bpf() allowed")
        }
        let e = rc < 0 ? -rc : EINVAL
        return Feature(name: "bpf", status: .unavailable, errno: BPFError.name(ofErrno: e), phase: "load",
                       detail: e == EPERM
                           ? "not permitted: run as root (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)"
                           : "bpf() failed: \(String(cString: strerror(e)))")
    }

    static func ringbuf() -> Feature {
        let rc = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nil)
        if rc == 1 { return Feature(name: "ringbuf", status: .ok, errno: nil, phase: nil, detail: "BPF_MAP_TYPE_RINGBUF") }
        let e = rc < 0 ? -rc : EOPNOTSUPP
        return Feature(name: "ringbuf", status: .unavailable, errno: BPFError.name(ofErrno: e), phase: "load",
                       detail: rc == 0 ? "kernel older than 5.8: no BPF ring buffer" : String(cString: strerror(e)))
    }

    /// fentry on a BPF program (what --filter-trace-tc needs): loads a tc program, then an
    /// fentry program with it as the target, and attaches.
    static func bpfProgramTrace() -> Feature {
        let name = "bpf_prog_trace"
        var phase = "load"
        do throws(BPFError) {
            let target = try ProbesBPF.open()
            for p in target.programs.all { p.autoload = p === target.programs.probeTcTarget }
            let tc = try target.load()
            let opened = try ProbesBPF.open()
            for p in opened.programs.all { p.autoload = p === opened.programs.probeFentryProg }
            try opened.programs.probeFentryProg.setAttachTarget(programFD: tc.programs.probeTcTarget.fd, function: "probe_tc_target")
            let loaded = try opened.load()
            phase = "attach"
            try loaded.programs.probeFentryProg.attachTrace().detach()
            return Feature(name: name, status: .ok, errno: nil, phase: nil, detail: "fentry attached to a tc program: --filter-trace-tc works")
        } catch {
            return Feature(name: name, status: .unavailable, errno: error.errnoName, phase: phase,
                           detail: "--filter-trace-tc unavailable: " + explain("fentry", error: error, phase: phase))
        }
    }

    /// Opens the probe object with only `program` enabled, loads it and (unless `attach` is
    /// nil) attaches it; the link is released at once.
    static func attachProbe(_ name: String, program: KeyPath<ProbesBPF.Programs, BPFProgram>, target: String? = nil,
                            attach: ((BPFProgram) throws(BPFError) -> BPFLink)?) -> Feature {
        var phase = "open"
        do throws(BPFError) {
            let opened = try ProbesBPF.open()
            let chosen = opened.programs[keyPath: program]
            for p in opened.programs.all { p.autoload = p === chosen }
            if let target { try chosen.setAttachTarget(function: target) }
            phase = "load"
            let loaded = try opened.load()
            guard let attach else {
                return Feature(name: name, status: .ok, errno: nil, phase: nil, detail: "loads")
            }
            phase = "attach"
            let link = try attach(loaded.programs[keyPath: program])
            link.detach()
            return Feature(name: name, status: .ok, errno: nil, phase: nil,
                           detail: target.map { "attached to \($0)" } ?? "attached to \(attachTarget(chosen))")
        } catch {
            return Feature(name: name, status: .unavailable, errno: error.errnoName, phase: phase,
                           detail: explain(name, error: error, phase: phase))
        }
    }

    static func attachTarget(_ p: BPFProgram) -> String {
        if let slash = p.section.firstIndex(of: "/") { return String(p.section[p.section.index(after: slash)...]) }
        return targetFunction
    }

    /// Turns an errno into the reason an engineer needs, per attach mode.
    static func explain(_ name: String, error: BPFError, phase: String) -> String {
        let e = error.errno.rawValue // matched against libc's constants (and ENOTSUPP, which has none)
        switch (name, e) {
        case (_, EPERM) where !KernelInfo.isRoot:
            return "not permitted: run as root (needs CAP_BPF and CAP_PERFMON)"
        case ("kprobe", ENOENT) where !KernelInfo.hasKprobes,
             ("kprobe", EOPNOTSUPP) where !KernelInfo.hasKprobes:
            return "the kernel has no kprobes (built without CONFIG_KPROBES); use --backend tracepoint"
        case ("kprobe.multi", EOPNOTSUPP), ("kprobe.multi", ENOTSUPP):
            return KernelInfo.hasKprobes
                ? "kernel built without CONFIG_FPROBE (kprobe.multi needs it, 5.18+); use --backend kprobe"
                : "the kernel has no kprobes or fprobe (CONFIG_KPROBES/CONFIG_FPROBE off)"
        case ("kprobe.multi", EINVAL) where phase == "load":
            return "kernel older than 5.18: no kprobe.multi link"
        case ("fentry", EPERM), ("fexit", EPERM):
            return "the kernel refused a BPF trampoline program as root (lockdown or a kernel without trampoline support); use kprobe or tracepoint"
        case ("fentry", ENOTSUPP), ("fexit", ENOTSUPP), ("fentry", EOPNOTSUPP), ("fexit", EOPNOTSUPP):
            return "no BPF trampolines on this kernel/arch (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS off)"
        case ("tracepoint", ENOENT) where KernelInfo.tracefsPath == nil:
            return "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)"
        case ("bpf_get_func_ip", _) where !KernelInfo.hasKprobes:
            return "needs a kprobe program; this kernel has no kprobes"
        case ("bpf_get_func_ip", EINVAL):
            return "kernel older than 5.15: no bpf_get_func_ip for kprobes"
        case ("tracepoint.multi", _):
            return "no raw_tp attach cookies (6.10+) or no bpf_rdonly_cast (6.2+): the tracepoint backend loads a program per tracepoint instead"
        case ("bpf_snprintf_btf", _):
            return "the verifier refused bpf_snprintf_btf (Linux 5.10+ with CONFIG_DEBUG_INFO_BTF): --output-skb and --output-skb-shared-info cannot print"
        case (_, ENOENT):
            return "\(phase) failed: not found" + (error.libbpfSummary.map { ": \($0)" } ?? "")
        default:
            return "\(phase) failed: \(String(cString: strerror(e)))" + (error.libbpfSummary.map { ": \($0)" } ?? "")
        }
    }
}

// ENOTSUPP (524) is kernel-internal and has no libc name.
let ENOTSUPP: Int32 = 524
