// SPDX-License-Identifier: GPL-2.0
/* hitcount: counts hits per slot, one program per attach mode. Used by the attach-mode
 * tests (run on every kernel in the VM suite) and the attach benchmarks. The slot is the
 * attach cookie where the mode has one, so one kprobe.multi link over many functions
 * counts each function separately. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define HIT_SLOTS 64

/* Slot for modes without a cookie (fentry/fexit before 6.5, tp_btf). */
const volatile __u32 fixed_slot = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HIT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u64 slot)
{
	__u32 key = slot & (HIT_SLOTS - 1);
	__u64 *c = bpf_map_lookup_elem(&hits, &key);

	if (c)
		(*c)++;
}

SEC("kprobe")
int hit_kprobe(struct pt_regs *ctx)
{
	hit(bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("kprobe.multi")
int hit_kprobe_multi(struct pt_regs *ctx)
{
	hit(bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("fentry")
int hit_fentry(__u64 *ctx)
{
	hit(fixed_slot);
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int hit_tp_btf(__u64 *ctx)
{
	hit(fixed_slot);
	return 0;
}
