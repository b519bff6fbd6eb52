// SPDX-License-Identifier: GPL-2.0
/* tc programs that put trouble in a packet's path, for the tests and the lab (netns-lab.sh
 * chaos): the story users tell about pwru. On ingress, `rewrite_port` rewrites TCP
 * destination port `from_port` to `to_port` (an nftables rule then drops the new port) and
 * returns TC_ACT_SHOT for TCP to `shot_port`. `drop_udp_port` (XDP) drops UDP to one port;
 * `rewrite_udp_port` (XDP) rewrites one. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define ETH_HLEN 14
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define XDP_DROP 1
#define XDP_PASS 2

/* The transport header of an untagged IPv4 frame without options carrying `proto`, when
 * `len` bytes of it lie within [data, end); NULL otherwise. */
static __always_inline void *l4_header(void *data, void *end, __u8 proto, __u32 len)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	void *l4 = ip + 1;

	if (l4 + len > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != proto)
		return NULL;
	return l4;
}

const volatile __u16 from_port = 80;
const volatile __u16 to_port = 8080;
const volatile __u16 shot_port = 9090;

SEC("tc")
int rewrite_port(struct __sk_buff *skb)
{
	struct tcphdr *tcp = l4_header((void *)(long)skb->data, (void *)(long)skb->data_end, IPPROTO_TCP, sizeof(*tcp));

	if (!tcp)
		return TC_ACT_OK;
	if (tcp->dest == bpf_htons(shot_port))
		return TC_ACT_SHOT;
	if (tcp->dest == bpf_htons(from_port)) {
		__be16 old = tcp->dest, new = bpf_htons(to_port);
		__u32 at = ETH_HLEN + sizeof(struct iphdr);

		bpf_l4_csum_replace(skb, at + __builtin_offsetof(struct tcphdr, check), old, new, sizeof(new));
		bpf_skb_store_bytes(skb, at + __builtin_offsetof(struct tcphdr, dest), &new, sizeof(new), 0);
	}
	return TC_ACT_OK;
}


const volatile __u16 xdp_drop_port = 7778;

/* XDP on the receiving device: drops UDP to `xdp_drop_port`, passes everything else. */
SEC("xdp")
int drop_udp_port(struct xdp_md *ctx)
{
	struct udphdr *udp = l4_header((void *)(long)ctx->data, (void *)(long)ctx->data_end, IPPROTO_UDP, sizeof(*udp));

	if (!udp)
		return XDP_PASS;
	return udp->dest == bpf_htons(xdp_drop_port) ? XDP_DROP : XDP_PASS;
}

const volatile __u16 xdp_rewrite_from = 7778;
const volatile __u16 xdp_rewrite_to = 7777;

/* XDP that rewrites UDP port `xdp_rewrite_from` to `xdp_rewrite_to` (the UDP checksum
 * cleared, which IPv4 allows) and passes every packet. */
SEC("xdp")
int rewrite_udp_port(struct xdp_md *ctx)
{
	struct udphdr *udp = l4_header((void *)(long)ctx->data, (void *)(long)ctx->data_end, IPPROTO_UDP, sizeof(*udp));

	if (!udp)
		return XDP_PASS;
	if (udp->dest == bpf_htons(xdp_rewrite_from)) {
		udp->dest = bpf_htons(xdp_rewrite_to);
		udp->check = 0;
	}
	return XDP_PASS;
}
