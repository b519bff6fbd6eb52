import CShim
import Glibc

/// BPF programs as targets (--filter-trace-tc, --filter-trace-xdp): each loaded tc program
/// gets an fentry (the skb as the program receives it) and an fexit (the skb as it leaves
/// it, and its verdict); an XDP program the same on its xdp_buff;
/// one object and load per program, maps shared with the backend's first object. Not an
/// `AttachBackend`: it runs after whichever backend traces the kernel functions, and needs
/// fentry/fexit from the kernel (the plan checked).
enum ProgramTargets {
    static func attach(_ tracer: Tracer) throws(BPFError) {
        let first = tracer.plan.functions.count
        for (i, t) in tracer.plan.programs.enumerated() {
            guard let id = t.programID, let function = t.programFunction else { continue }
            do {
                try attach(tracer, t, id: id, function: function, funcID: UInt32(first + i))
                tracer.attachedCount += 1
            } catch {
                tracer.ignored.append((t.name, error.errnoName))
            }
        }
    }

    private static func attach(_ tracer: Tracer, _ t: TracedTarget, id: UInt32, function: String, funcID: UInt32) throws(BPFError) {
        let fd = bpf_prog_get_fd_by_id(id)
        guard fd >= 0 else { throw BPFError.capture("open program \(t.name)") } // unloaded since the plan
        defer { close(fd) }
        let opened = try tracer.open(directSkb: false)
        let xdp = t.isXDPProgram
        let entry: KeyPath<TraceBPF.Programs, BPFProgram> = xdp ? \.fentryXdp : \.fentryProg
        let exit: KeyPath<TraceBPF.Programs, BPFProgram> = xdp ? \.fexitXdp : \.fexitProg
        tracer.only(opened, [entry, exit], funcID: funcID)
        try opened.programs[keyPath: entry].setAttachTarget(programFD: fd, function: function)
        try opened.programs[keyPath: exit].setAttachTarget(programFD: fd, function: function)
        let loaded = try tracer.load(opened)
        tracer.links.append(try loaded.programs[keyPath: entry].attachTrace())
        tracer.links.append(try loaded.programs[keyPath: exit].attachTrace())
    }
}
