// SPDX-License-Identifier: GPL-2.0
/* skbcount: counts packets received and queued for transmit, per CPU, optionally for one
 * interface only. The smallest complete user of the generated skeleton: load-time config
 * (.rodata), a typed per-CPU map, a .bss global and tp_btf programs (the attach mode every
 * supported kernel, including the no-kprobe host, provides). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Load-time config: 0 counts every interface. Constant after load, so the verifier
 * prunes the comparison when it is 0. */
const volatile __u32 filter_ifindex = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ft_skb_counters);
} counters SEC(".maps");

/* The ifindex of the last packet counted (a .bss global, read through mmap). */
__u32 last_ifindex = 0;

FT_EXPORT_TYPES(struct ft_event *event)

static __always_inline struct ft_skb_counters *counters_if(struct sk_buff *skb)
{
	__u32 ifindex = skb->dev ? skb->dev->ifindex : 0;
	__u32 zero = 0;

	if (filter_ifindex && ifindex != filter_ifindex)
		return NULL;
	last_ifindex = ifindex;
	return bpf_map_lookup_elem(&counters, &zero);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(count_rx, struct sk_buff *skb)
{
	struct ft_skb_counters *c = counters_if(skb);

	if (c) {
		c->rx_packets++;
		c->rx_bytes += skb->len;
	}
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(count_tx, struct sk_buff *skb)
{
	struct ft_skb_counters *c = counters_if(skb);

	if (c) {
		c->tx_packets++;
		c->tx_bytes += skb->len;
	}
	return 0;
}
