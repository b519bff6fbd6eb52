// SPDX-License-Identifier: GPL-2.0
/* bench: empty programs, the baseline for per-hit costs (fasttrace-bench). Attached to the
 * same hooks as the tracer, they measure what the hook itself costs, so that the tracer's
 * filtered-out and recorded hits can be stated relative to it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("ft.tp_btf")
int empty_tp(__u64 *ctx)
{
	return 0;
}

SEC("ft.raw_tp")
int empty_raw_tp(void *ctx)
{
	return 0;
}

SEC("ft.kprobe.multi")
int empty_kmulti(void *ctx)
{
	return 0;
}

SEC("ft.kprobe")
int empty_kprobe(void *ctx)
{
	return 0;
}

SEC("ft.fentry")
int empty_fentry(__u64 *ctx)
{
	return 0;
}
