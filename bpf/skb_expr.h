/* SPDX-License-Identifier: GPL-2.0 */
/* Stubs that fasttrace replaces at load with code compiled from C expressions over an skb
 * (Swift: Expr/), spliced like the pcap filter (pcap_filter.h): --filter-skb-expr and
 * --output-skb-metadata. Shared by the tracer and the kernel differential test
 * (filtertest.bpf.c). */
#ifndef FASTTRACE_SKB_EXPR_H
#define FASTTRACE_SKB_EXPR_H

#define FT_SKB_EXPR_MAGIC 0x46544558 /* "FTEX" */
#define FT_SKB_META_MAGIC 0x4654454d /* "FTEM" */
#define FT_XDP_EXPR_MAGIC 0x46545858 /* "FTXX" */
#define FT_XDP_META_MAGIC 0x4654584d /* "FTXM" */

/* A pointer's value as a plain number: a global function takes only scalars, and fentry and
 * tp_btf programs hold the skb as a typed kernel pointer. Copying it through a probe read
 * drops the type. */
static __always_inline __u64 ft_scalar(void *p)
{
	__u64 in = (__u64)p, v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &in);
	return v;
}

/* --filter-skb-expr: nonzero when the expression holds for the skb at `skb`; every read is a
 * probe read, so a bad pointer on the way is "no match". Unspliced it matches everything. */
__noinline __u32 ft_skb_expr(__u64 skb)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_SKB_EXPR_MAGIC), "r"(skb));
	return r;
}

/* --output-skb-metadata: fills the metadata area at `out` (a u64 mask, then each member's
 * bytes; Expr/SkbMetadata.swift has the layout). Static, so that `out` keeps its type (ring
 * or map memory) in the spliced code; "unused" for objects that include this header and
 * do not call it. */
static __noinline __attribute__((unused)) __u32 ft_skb_meta(__u64 skb, void *out)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_SKB_META_MAGIC), "r"(skb), "r"(out));
	return r;
}

/* --filter-xdp-expr and --output-xdp-metadata: the same over a traced XDP program's
 * struct xdp_buff (--filter-trace-xdp). */
__noinline __u32 ft_xdp_expr(__u64 xdp)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_XDP_EXPR_MAGIC), "r"(xdp));
	return r;
}

static __noinline __attribute__((unused)) __u32 ft_xdp_meta(__u64 xdp, void *out)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_XDP_META_MAGIC), "r"(xdp), "r"(out));
	return r;
}

#endif
