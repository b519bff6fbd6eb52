/* SPDX-License-Identifier: GPL-2.0 */
/* pcap filters: two stubs that fasttrace replaces, at load time, with libpcap's programs
 * translated to eBPF (docs/filters.md). ft_pcap_l2 sees the packet from its MAC header
 * (tcpdump's DLT_EN10MB view), ft_pcap_l3 from its network header (DLT_RAW).
 *
 * Each stub is a global function: the verifier checks it once, on its own, with scalar
 * arguments, and libbpf appends it as one block the splicer can find by its marker. The
 * inline asm keeps the marker and every argument alive (clang can neither fold the body nor
 * drop a parameter). Unspliced, a stub matches everything; programs only call it when the
 * load-time `filter_pcap` config is set. */
#ifndef FASTTRACE_PCAP_FILTER_H
#define FASTTRACE_PCAP_FILTER_H

#define FT_PCAP_L2_MAGIC 0x46544C32 /* "FTL2" */
#define FT_PCAP_L3_MAGIC 0x46544C33 /* "FTL3" */
#define FT_ARPHRD_ETHER 1
#define FT_ARPHRD_LOOPBACK 772

__noinline __u32 ft_pcap_l2(__u64 data, __u64 caplen, __u64 wirelen)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_PCAP_L2_MAGIC), "r"(data), "r"(caplen), "r"(wirelen));
	return r;
}

__noinline __u32 ft_pcap_l3(__u64 data, __u64 caplen, __u64 wirelen)
{
	__u64 r;

	asm volatile("%0 = %1" : "=r"(r) : "i"(FT_PCAP_L3_MAGIC), "r"(data), "r"(caplen), "r"(wirelen));
	return r;
}

/* The packet as libpcap would see it, starting at `start` (an offset from skb->head):
 * caplen = linear bytes from there (what can be read), wirelen = bytes to the packet's end. */
struct ft_pcap_view {
	__u64 data;
	__u64 caplen;
	__u64 wirelen;
};

static __always_inline int ft_pcap_view_at(struct sk_buff *skb, __u16 start, struct ft_pcap_view *v)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__s64 data_off = (__s64)((__u64)BPF_CORE_READ(skb, data) - (__u64)head);
	__s64 tail = BPF_CORE_READ(skb, tail); /* an offset on 64-bit kernels */
	__s64 end = data_off + BPF_CORE_READ(skb, len);

	if (!head || start > tail)
		return 0;
	v->data = (__u64)head + start;
	v->caplen = tail - start;
	v->wirelen = end > start ? end - start : 0;
	return 1;
}

/* Which view a traced skb gets: Ethernet when it has a MAC header in front of its network
 * header on an Ethernet-like device, IP otherwise (e.g. TX before the neighbour layer has
 * built the MAC header; tun and other L3 devices). A network header offset of 0 means it was
 * never set (transport-layer TX), so there is no packet to filter yet. */
static __always_inline int ft_pcap_is_ethernet(struct sk_buff *skb, __u16 mac, __u16 nh)
{
	__u16 type;

	if (mac == (__u16)~0U || nh <= mac)
		return 0;
	type = BPF_CORE_READ(skb, dev, type);
	return type == FT_ARPHRD_ETHER || type == FT_ARPHRD_LOOPBACK || type == 0;
}

static __always_inline __u32 ft_pcap_match(struct sk_buff *skb)
{
	__u16 mac = BPF_CORE_READ(skb, mac_header);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	struct ft_pcap_view v;
	int l2 = ft_pcap_is_ethernet(skb, mac, nh);

	/* An opaque value: otherwise clang threads the branches below through the device-type
	 * tests and leaves registers unset on paths the verifier cannot rule out. */
	asm volatile("" : "+r"(l2));
	if (!l2 && nh == 0)
		return 0;
	if (!ft_pcap_view_at(skb, l2 ? mac : nh, &v))
		return 0;
	return l2 ? ft_pcap_l2(v.data, v.caplen, v.wirelen) : ft_pcap_l3(v.data, v.caplen, v.wirelen);
}

#endif
