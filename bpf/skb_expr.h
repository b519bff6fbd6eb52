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

/* A filter stub: nonzero when the expression holds for the object at `obj`; every read is a
 * probe read, so a bad pointer on the way is "no match". Unspliced it matches everything.
 * Global, so it is verified once with a scalar argument. */
#define FT_EXPR_STUB(name, magic)                                                  \
	__noinline __u32 name(__u64 obj)                                           \
	{                                                                          \
		__u64 r;                                                           \
		asm volatile("%0 = %1" : "=r"(r) : "i"(magic), "r"(obj));          \
		return r;                                                          \
	}

/* A metadata stub: fills the area at `out` (a u64 mask, then each member's bytes;
 * Expr/SkbMetadata.swift has the layout). Static, so that `out` keeps its type (ring or map
 * memory) in the spliced code; "unused" for objects that include this header and do not
 * call it. */
#define FT_META_STUB(name, magic)                                                  \
	static __noinline __attribute__((unused)) __u32 name(__u64 obj, void *out)  \
	{                                                                          \
		__u64 r;                                                           \
		asm volatile("%0 = %1" : "=r"(r) : "i"(magic), "r"(obj), "r"(out)); \
		return r;                                                          \
	}

/* --filter-skb-expr, --output-skb-metadata over an skb; --filter-xdp-expr,
 * --output-xdp-metadata over a traced XDP program's struct xdp_buff (--filter-trace-xdp). */
FT_EXPR_STUB(ft_skb_expr, FT_SKB_EXPR_MAGIC)
FT_META_STUB(ft_skb_meta, FT_SKB_META_MAGIC)
FT_EXPR_STUB(ft_xdp_expr, FT_XDP_EXPR_MAGIC)
FT_META_STUB(ft_xdp_meta, FT_XDP_META_MAGIC)

#endif
