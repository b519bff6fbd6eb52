// Discovery: which functions and tracepoints take a struct sk_buff and can be attached,
// from the kernel's BTF and tracefs/kallsyms. Pure given its inputs; cached per run.
// Depends on: KernelBTF, Kernel.
