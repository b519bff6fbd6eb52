// Expr: C-syntax expressions over kernel structs (`skb->dev->ifindex == 9 && (skb->mark & 0xff) != 0`)
// for --filter-skb-expr and --output-skb-metadata (issue 16): a lexer and parser
// (ExprSyntax.swift) and a resolver that turns every member path into byte offsets, sizes
// and pointer steps from the kernel's BTF, with errors that name the column and the type
// where resolution stopped (ExprResolver.swift), and the eBPF it compiles to, spliced like
// the pcap filter (ExprCompiler.swift). Depends on: KernelBTF, BPFAsm.
