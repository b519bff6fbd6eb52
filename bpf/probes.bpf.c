// SPDX-License-Identifier: GPL-2.0
/* Feature probes for `fasttrace features`: one minimal program per attach mode. The probe
 * opens this object once per mode with only that program enabled, loads and attaches it to
 * a function every kernel has, and reports what the kernel answered. Targets are chosen at
 * run time (SEC without a target), so nothing here pins a kernel version. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe")
int probe_kprobe(struct pt_regs *ctx) { return 0; }

SEC("kprobe.multi")
int probe_kprobe_multi(struct pt_regs *ctx) { return 0; }

SEC("fentry")
int probe_fentry(__u64 *ctx) { return 0; }

SEC("fexit")
int probe_fexit(__u64 *ctx) { return 0; }

SEC("tp_btf/netif_receive_skb")
int probe_tp_btf(__u64 *ctx) { return 0; }

SEC("raw_tp/netif_receive_skb")
int probe_raw_tp(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("tracepoint/skb/kfree_skb")
int probe_tracepoint(void *ctx) { return 0; }

/* bpf_get_func_ip() in a kprobe program (5.15+); fasttrace uses it to name the function
 * behind a kprobe.multi hit when cookies are unavailable. */
SEC("kprobe")
int probe_get_func_ip(struct pt_regs *ctx)
{
	return bpf_get_func_ip(ctx) ? 0 : 1;
}

/* Tracing BPF programs (--filter-trace-tc): a tc program to be the target, and an fentry
 * program attached to it. */
SEC("tc")
int probe_tc_target(struct __sk_buff *skb) { return 0; }

SEC("fentry")
int probe_fentry_prog(__u64 *ctx) { return 0; }

/* bpf_snprintf_btf() (5.10+, needs kernel BTF): --output-skb prints structs with it. */
SEC("raw_tp/netif_receive_skb")
int probe_snprintf_btf(struct bpf_raw_tracepoint_args *ctx)
{
	char buf[16];
	struct btf_ptr p = {.ptr = (void *)ctx->args[0], .type_id = bpf_core_type_id_kernel(struct sk_buff)};

	return bpf_snprintf_btf(buf, sizeof(buf), &p, sizeof(p), 0) < 0;
}

/* raw_tp programs with an attach cookie (6.10+) and bpf_rdonly_cast (6.2+): the tracepoint
 * backend then loads one program per skb position instead of one per tracepoint. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

SEC("raw_tp/netif_receive_skb")
int probe_raw_tp_cookie(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = bpf_rdonly_cast((void *)ctx->args[0], bpf_core_type_id_kernel(struct sk_buff));

	return skb && skb->len == bpf_get_attach_cookie(ctx);
}
