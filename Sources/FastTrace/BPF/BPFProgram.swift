import BPFAsm
import CShim
import Foundation

/// A program of a `BPFObject`: options before load, attach after.
public final class BPFProgram {
    let handle: OpaquePointer
    public let object: BPFObject

    init(handle: OpaquePointer, object: BPFObject) {
        self.handle = handle
        self.object = object
    }

    public var name: String { String(cString: bpf_program__name(handle)) }
    /// The ELF section, e.g. `tp_btf/netif_receive_skb`, `kprobe.multi`.
    public var section: String { String(cString: bpf_program__section_name(handle)) }
    public var fd: Int32 { bpf_program__fd(handle) }

    /// Whether `load()` loads this program. Only meaningful before load.
    public var autoload: Bool {
        get { bpf_program__autoload(handle) }
        set { _ = bpf_program__set_autoload(handle, newValue) }
    }

    /// True when the section names a target, so `attach()` knows where to go.
    public var canAutoAttach: Bool {
        let s = section
        guard let slash = s.firstIndex(of: "/") else { return false }
        return s.index(after: slash) < s.endIndex
    }

    /// Edits the program's final instructions right before BPF_PROG_LOAD (after libbpf's
    /// relocations): `rewrite` returns whether it changed anything, or throws to fail the load
    /// with its message. The program must live in an `ft.*` section (ProgramSections). Several
    /// calls apply in order.
    public func rewriteBeforeLoad(_ rewrite: @escaping @Sendable (inout LoadableProgram) throws -> Bool) {
        ProgramSections.addRewrite(rewrite, for: handle)
    }

    /// The function id this load writes into the program (its `this_func_id()`); a program that
    /// reads one fails to load without it.
    public func setFunctionID(_ id: UInt32) {
        ProgramSections.setFunctionID(id, for: handle)
    }

    /// Keeps this program's load in its final form (after relocation and rewrites), so that
    /// the same program can be loaded again for other targets without libbpf
    /// (`preparedLoad()` after the object loads).
    public func keepPreparedLoad() {
        ProgramSections.capture(handle)
    }

    /// The load kept by `keepPreparedLoad()`, once; nil when the program has no function id
    /// to vary or did not load. It keeps this program's object (maps, BTF) alive.
    public func preparedLoad() -> PreparedLoad? {
        guard let p = ProgramSections.takeCaptured(handle) else { return nil }
        p.owner = self
        return p
    }

    /// Runs and total run time so far, counted while BPF run-time statistics are enabled
    /// (`BPFProgram.withRunStatistics`), plus the instructions the verifier processed.
    public var runStatistics: (runs: UInt64, nanoseconds: UInt64, verifiedInstructions: UInt32) {
        Self.runStatistics(fd: fd)
    }

    /// `runStatistics` of any loaded program by descriptor.
    public static func runStatistics(fd: Int32) -> (runs: UInt64, nanoseconds: UInt64, verifiedInstructions: UInt32) {
        var info = bpf_prog_info()
        var len = UInt32(MemoryLayout<bpf_prog_info>.size)
        guard fd >= 0, bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else { return (0, 0, 0) }
        return (info.run_cnt, info.run_time_ns, info.verified_insns)
    }

    /// The kernel's per-program run counters (BPF_ENABLE_STATS), on while `body` runs and off
    /// after (the descriptor that keeps them on is closed here). They cost two clock reads per
    /// run, so time nothing else meanwhile.
    public static func withRunStatistics<R>(_ body: () throws -> R) throws -> R {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        guard fd >= 0 else { throw BPFError.capture("enable BPF run-time statistics", code: fd) }
        defer { close(fd) }
        return try body()
    }

    /// Runs the loaded program once on `packet` (BPF_PROG_TEST_RUN; tc and XDP types);
    /// returns the program's return value.
    public func testRun(packet: [UInt8]) throws(BPFError) -> UInt32 {
        try testRun(packet: packet, repeat: 1).result
    }

    /// Runs the loaded program `repeat` times on `packet`; the return value and the kernel's
    /// average time per run.
    public func testRun(packet: [UInt8], repeat: UInt32) throws(BPFError) -> (result: UInt32, nsPerRun: UInt32) {
        var ret: UInt32 = 0, ns: UInt32 = 0
        let rc = packet.withUnsafeBytes { shim_prog_test_run(fd, $0.baseAddress, UInt32($0.count), `repeat`, &ret, &ns) }
        guard rc == 0 else { throw BPFError("test run \(name) (\(packet.count) bytes)", errno: -rc) }
        return (ret, ns)
    }

    /// The `struct __sk_buff` fields a test run may set on its skb (the kernel refuses others).
    public struct TestSkb: Sendable {
        public var mark: UInt32 = 0, priority: UInt32 = 0
        /// The device (0: loopback).
        public var ifindex: UInt32 = 0
        public var tstamp: UInt64 = 0
        public init(mark: UInt32 = 0, priority: UInt32 = 0, ifindex: UInt32 = 0, tstamp: UInt64 = 0) {
            self.mark = mark
            self.priority = priority
            self.ifindex = ifindex
            self.tstamp = tstamp
        }
    }

    /// Runs the loaded skb program once on `packet` (from the MAC header) with `skb`'s fields.
    public func testRun(packet: [UInt8], skb: TestSkb) throws(BPFError) -> UInt32 {
        var ret: UInt32 = 0
        let rc = packet.withUnsafeBytes {
            shim_prog_test_run_skb(fd, $0.baseAddress, UInt32($0.count), skb.mark, skb.priority, skb.ifindex, skb.tstamp, &ret)
        }
        guard rc == 0 else { throw BPFError("test run \(name) (\(packet.count) bytes, ifindex \(skb.ifindex))", errno: -rc) }
        return ret
    }

    /// Sets a loaded BPF program (by descriptor) and its function as the target of an
    /// fentry/fexit program, before load. The descriptor is needed until the load.
    public func setAttachTarget(programFD: Int32, function: String) throws(BPFError) {
        let rc = bpf_program__set_attach_target(handle, programFD, function)
        guard rc == 0 else { throw BPFError.capture("set attach target \(function) (program fd \(programFD)) for \(name)", code: rc) }
    }

    /// Attaches a loaded tc (SCHED_CLS) program to `interface`'s clsact ingress (or egress)
    /// hook with netlink, direct action, inside the network namespace at `netns` (a
    /// /run/netns or /proc/PID/ns/net path; nil: this one). It stays until the interface goes
    /// (tests and the lab delete the namespace).
    public func attachTC(netns: String?, interface: String, egress: Bool = false) throws(BPFError) {
        let rc = shim_tc_attach(netns, interface, fd, egress)
        guard rc == 0 else { throw BPFError("attach \(name) to tc \(egress ? "egress" : "ingress") of \(interface)", errno: -rc) }
    }

    /// Attaches a loaded XDP program to `interface` in generic (skb) mode, inside the network
    /// namespace at `netns` (nil: this one); it stays until the interface goes.
    public func attachXDP(netns: String?, interface: String) throws(BPFError) {
        let rc = shim_xdp_attach(netns, interface, fd)
        guard rc == 0 else { throw BPFError("attach \(name) to XDP of \(interface)", errno: -rc) }
    }

    /// Sets the kernel function of an fentry/fexit/tp_btf program before load.
    public func setAttachTarget(function: String) throws(BPFError) {
        let rc = bpf_program__set_attach_target(handle, 0, function)
        guard rc == 0 else { throw BPFError.capture("set attach target \(function) for \(name)", code: rc) }
    }

    /// Attaches according to the section (`tp_btf/X`, `kprobe/X`, `tracepoint/C/N`, ...).
    public func attach() throws(BPFError) -> BPFLink {
        try link("attach \(name) (\(section))", bpf_program__attach(handle))
    }

    /// Legacy kprobe (perf event) on `function`.
    public func attachKprobe(function: String, cookie: UInt64 = 0, retprobe: Bool = false) throws(BPFError) -> BPFLink {
        try link("attach kprobe \(function)", shim_attach_kprobe(handle, function, 0, cookie, retprobe))
    }

    /// One kprobe.multi link over many functions by name; `cookies[i]` goes with `symbols[i]`.
    public func attachKprobeMulti(symbols: [String], cookies: [UInt64] = [], retprobe: Bool = false) throws(BPFError) -> BPFLink {
        precondition(cookies.isEmpty || cookies.count == symbols.count)
        let cStrings = symbols.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var names: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        let p = names.withUnsafeMutableBufferPointer { n in
            cookies.withUnsafeBufferPointer { c in
                shim_attach_kprobe_multi(handle, n.baseAddress, nil, c.isEmpty ? nil : c.baseAddress, n.count, retprobe)
            }
        }
        return try link("attach kprobe.multi (\(symbols.count) functions)", p)
    }

    /// One kprobe.multi link over many functions by address (duplicate names are fine).
    public func attachKprobeMulti(addresses: [UInt], cookies: [UInt64] = [], retprobe: Bool = false) throws(BPFError) -> BPFLink {
        precondition(cookies.isEmpty || cookies.count == addresses.count)
        let p = addresses.withUnsafeBufferPointer { a in
            cookies.withUnsafeBufferPointer { c in
                shim_attach_kprobe_multi(handle, nil, a.baseAddress, c.isEmpty ? nil : c.baseAddress, a.count, retprobe)
            }
        }
        return try link("attach kprobe.multi (\(addresses.count) addresses)", p)
    }

    /// Perf-event tracepoint `category:name` (needs tracefs for the event id).
    public func attachTracepoint(category: String, name event: String) throws(BPFError) -> BPFLink {
        try link("attach tracepoint \(category):\(event)", bpf_program__attach_tracepoint(handle, category, event))
    }

    /// Raw tracepoint by name (raw_tp programs).
    public func attachRawTracepoint(_ event: String) throws(BPFError) -> BPFLink {
        try link("attach raw_tp \(event)", bpf_program__attach_raw_tracepoint(handle, event))
    }

    /// A raw_tp program to tracepoint `event`, with an attach cookie (6.10+; libbpf 1.1 has no
    /// way to pass one, so the link is made with the syscall).
    public func attachRawTracepoint(_ event: String, cookie: UInt64) throws(BPFError) -> BPFLink {
        let fd = shim_raw_tp_open(self.fd, event, cookie)
        guard fd >= 0 else { throw BPFError("attach raw_tp \(event) with a cookie", errno: -fd) }
        return BPFLink(fd: fd, program: self)
    }

    /// fentry/fexit/tp_btf to the target given at load time.
    public func attachTrace() throws(BPFError) -> BPFLink {
        try link("attach \(name) (\(section))", bpf_program__attach_trace(handle))
    }

    private func link(_ what: String, _ p: OpaquePointer?) throws(BPFError) -> BPFLink {
        guard let p else { throw BPFError.capture(what) }
        return BPFLink(handle: p, program: self)
    }
}

/// An attachment. Detaches when released or on `detach()`.
public final class BPFLink {
    private var handle: OpaquePointer?
    /// A link made without libbpf (raw_tp with a cookie, prepared loads): its descriptor.
    private var ownFD: Int32 = -1
    /// A program loaded without libbpf (`PreparedLoad`): held by this link alone, closed with it.
    public private(set) var ownProgramFD: Int32 = -1
    /// What must outlive the link: its program, or the prepared load (the object's maps, BTF).
    let owner: AnyObject

    init(handle: OpaquePointer, program: BPFProgram) {
        self.handle = handle
        owner = program
    }

    init(fd: Int32, program: BPFProgram) {
        ownFD = fd
        owner = program
    }

    init(fd: Int32, programFD: Int32, owner: PreparedLoad) {
        ownFD = fd
        ownProgramFD = programFD
        self.owner = owner
    }

    deinit { detach() }

    public var fd: Int32 { handle.map { bpf_link__fd($0) } ?? ownFD }

    /// Detaches now (idempotent).
    public func detach() {
        if let h = handle { bpf_link__destroy(h) }
        handle = nil
        if ownFD >= 0 { close(ownFD) }
        ownFD = -1
        if ownProgramFD >= 0 { close(ownProgramFD) }
        ownProgramFD = -1
    }
}
