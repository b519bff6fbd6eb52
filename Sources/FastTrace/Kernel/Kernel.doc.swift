// Kernel: facts about the running kernel that are not BPF objects: feature probes (the
// rows of `fasttrace features`), drop-reason names, kallsyms, interface and netns names,
// descriptor limits, the RCU knob. Depends on: BPF (for the probes).
