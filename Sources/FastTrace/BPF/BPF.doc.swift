// BPF: typed Swift over libbpf (swift-system's FileDescriptor/Errno style): objects,
// programs, maps, links and errors that keep the errno and libbpf's own message. Programs
// can be rewritten right before load through a generic hook (ProgramSections); this layer
// knows instructions (BPFAsm) but not what rewrites them. Generated skeletons are built on it.
// Depends on: CShim, BPFAsm.
