// Expr: C-syntax expressions over kernel structs (`skb->dev->ifindex == 9 && skb->mark & 0xff`)
// for --filter-skb-expr and --output-skb-metadata (issue 16): a lexer and parser
// (ExprSyntax.swift) and a resolver that turns every member path into byte offsets, sizes
// and pointer steps from the kernel's BTF, with errors that name the column and the type
// where resolution stopped (ExprResolver.swift). Code generation (eBPF with probe reads,
// spliced like the pcap filter) builds on the resolved form. Depends on: KernelBTF.
