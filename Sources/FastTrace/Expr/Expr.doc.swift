// Expr: C-syntax expressions over kernel structs (`skb->dev->ifindex == 9 && (skb->mark & 0xff) != 0`)
// for --filter-skb-expr and --output-skb-metadata: a lexer and parser (ExprSyntax.swift), a
// resolver that turns every member path into byte offsets, sizes and pointer steps from the
// kernel's BTF, with errors that name the column and the type where resolution stopped
// (ExprResolver.swift), the eBPF both compile to, spliced like the pcap filter
// (ExprCompiler.swift), and the metadata area's layout and read-back (SkbMetadata.swift).
// Depends on: KernelBTF, BPFAsm.
