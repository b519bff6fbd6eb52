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
/* Tunnel filters (--filter-tunnel-pcap-l2/-l3): the same, on the inner packet of a VXLAN or
 * Geneve packet (tun_l2 from the inner MAC header, tun_l3 from the inner network header). */
#define FT_PCAP_TUN_L2_MAGIC 0x46545432 /* "FTT2" */
#define FT_PCAP_TUN_L3_MAGIC 0x46545433 /* "FTT3" */

#define FT_PCAP_STUB(name, magic)                                                  \
	__noinline __u32 name(__u64 data, __u64 caplen, __u64 wirelen)             \
	{                                                                          \
		__u64 r;                                                           \
		asm volatile("%0 = %1" : "=r"(r) : "i"(magic), "r"(data), "r"(caplen), "r"(wirelen)); \
		return r;                                                          \
	}

FT_PCAP_STUB(ft_pcap_l2, FT_PCAP_L2_MAGIC)
FT_PCAP_STUB(ft_pcap_l3, FT_PCAP_L3_MAGIC)
FT_PCAP_STUB(ft_pcap_tun_l2, FT_PCAP_TUN_L2_MAGIC)
FT_PCAP_STUB(ft_pcap_tun_l3, FT_PCAP_TUN_L3_MAGIC)

/* Load-time config of the packet views:
 *  ft_direct_skb: the skb is a BTF pointer (fentry, tp_btf, tc), so its fields are plain
 *                 loads; otherwise (kprobes) they are copied with bpf_probe_read_kernel, in
 *                 as few calls as the kernel's sk_buff layout allows;
 *  ft_pcap_len:   the filter reads the packet length (len, greater, less); otherwise the
 *                 length is never computed. */
const volatile __u8 ft_direct_skb = 0;
const volatile __u8 ft_pcap_len = 0;
/* Which tunnel filters are given (each must match the inner packet). */
const volatile __u8 ft_tunnel_l2 = 0;
const volatile __u8 ft_tunnel_l3 = 0;

struct ft_skb_fields {
	__u64 head;
	__u64 data;
	__u32 tail;		/* an offset from head on 64-bit kernels */
	__u32 len;
	__u16 mac;
	__u16 nh;
};

/* with_len: also read skb->data and skb->len (the packet's end), for the wire length. */
static __always_inline void ft_skb_fields(struct sk_buff *skb, struct ft_skb_fields *f, int with_len)
{
	__u32 nh_off = bpf_core_field_offset(struct sk_buff, network_header);
	__u32 tail_off = bpf_core_field_offset(struct sk_buff, tail);

	if (ft_direct_skb) {
		/* head and data are read as numbers: loaded directly, the verifier would type
		 * them as kernel memory, which a global function does not accept. */
		f->mac = skb->mac_header;
		f->nh = skb->network_header;
		f->tail = skb->tail;
		if (bpf_core_field_offset(struct sk_buff, data) == bpf_core_field_offset(struct sk_buff, head) + 8) {
			__u64 hd[2] = {};

			bpf_probe_read_kernel(hd, with_len ? 16 : 8, (void *)skb + bpf_core_field_offset(struct sk_buff, head));
			f->head = hd[0];
			f->data = hd[1];
		} else {
			f->head = (__u64)BPF_CORE_READ(skb, head);
			if (with_len)
				f->data = (__u64)BPF_CORE_READ(skb, data);
		}
		if (with_len)
			f->len = skb->len;
		return;
	}
	/* Offsets are CO-RE constants: the verifier keeps one branch of each test. */
	if (bpf_core_field_offset(struct sk_buff, mac_header) == nh_off + 2) {
		__u16 h[2] = {};

		bpf_probe_read_kernel(h, sizeof(h), (void *)skb + nh_off);
		f->nh = h[0];
		f->mac = h[1];
	} else {
		f->nh = BPF_CORE_READ(skb, network_header);
		f->mac = BPF_CORE_READ(skb, mac_header);
	}
	if (bpf_core_field_offset(struct sk_buff, head) == tail_off + 8 &&
	    bpf_core_field_offset(struct sk_buff, data) == tail_off + 16) {
		__u64 t[3] = {};	/* tail, end, head, data */

		bpf_probe_read_kernel(t, with_len ? 24 : 16, (void *)skb + tail_off);
		__builtin_memcpy(&f->tail, &t[0], sizeof(f->tail));
		f->head = t[1];
		f->data = t[2];
	} else {
		f->tail = BPF_CORE_READ(skb, tail);
		f->head = (__u64)BPF_CORE_READ(skb, head);
		if (with_len)
			f->data = (__u64)BPF_CORE_READ(skb, data);
	}
	if (with_len)
		f->len = BPF_CORE_READ(skb, len);
}

/* The packet as libpcap would see it, starting at `start` (an offset from skb->head):
 * caplen = linear bytes from there (what can be read), wirelen = bytes to the packet's end. */
struct ft_pcap_view {
	__u64 data;
	__u64 caplen;
	__u64 wirelen;
};

static __always_inline int ft_pcap_view_at(struct ft_skb_fields *f, __u16 start, struct ft_pcap_view *v, int with_len)
{
	if (!f->head || start > f->tail)
		return 0;
	v->data = f->head + start;
	v->caplen = f->tail - start;
	v->wirelen = 0;
	if (with_len) {
		__s64 end = (__s64)(f->data - f->head) + f->len;

		v->wirelen = end > start ? end - start : 0;
	}
	return 1;
}

/* Which view a traced skb gets: Ethernet when a MAC header of Ethernet size (14 bytes plus
 * whole 4-byte tags) sits in front of the network header; IP otherwise (TX before the
 * neighbour layer has built the MAC header; tun, WireGuard and other L3 devices). A network
 * header offset of 0 means it was never set (transport-layer TX): nothing to filter yet. */
static __always_inline int ft_pcap_is_ethernet(__u16 mac, __u16 nh)
{
	__u16 gap = nh - mac;

	return mac != (__u16)~0U && nh > mac && gap >= 14 && gap <= 30 && (gap - 14) % 4 == 0;
}

/* The packet view of an skb (shared by the filter and --snaplen): -1 when there is none
 * yet, else 1 for the Ethernet view, 0 for the IP view, with `v` filled in. */
static __always_inline int ft_packet_view(struct sk_buff *skb, struct ft_pcap_view *v, int with_len)
{
	struct ft_skb_fields f = {};
	int l2;

	ft_skb_fields(skb, &f, with_len);
	l2 = ft_pcap_is_ethernet(f.mac, f.nh);
	/* An opaque value: otherwise clang threads the branches below through the tests above
	 * and leaves registers unset on paths the verifier cannot rule out. */
	asm volatile("" : "+r"(l2));
	if (!l2 && f.nh == 0)
		return -1;
	if (!ft_pcap_view_at(&f, l2 ? f.mac : f.nh, v, with_len))
		return -1;
	return l2;
}

static __always_inline __u32 ft_pcap_match(struct sk_buff *skb)
{
	struct ft_pcap_view v;
	int l2 = ft_packet_view(skb, &v, ft_pcap_len);

	if (l2 < 0)
		return 0;
	return l2 ? ft_pcap_l2(v.data, v.caplen, v.wirelen) : ft_pcap_l3(v.data, v.caplen, v.wirelen);
}

#define FT_VXLAN_PORT 4789
#define FT_GENEVE_PORT 6081
#define FT_ETH_P_TEB 0x6558 /* Geneve carrying Ethernet */

/* The inner Ethernet frame of a VXLAN (UDP 4789) or Geneve (UDP 6081, Ethernet payload)
 * packet whose outer IP header starts the view `ip`: 1 and `inner` filled, else 0. First
 * fragments only (a later fragment has no UDP header); the outer headers must be linear. */
static __always_inline int ft_tunnel_inner(struct ft_pcap_view *ip, struct ft_pcap_view *inner)
{
	__u8 b[8] = {};
	__u16 dport;
	__u64 l4, off;

	if (ip->caplen < 28 || bpf_probe_read_kernel(b, 8, (void *)ip->data))
		return 0;
	if (b[0] >> 4 == 4) {
		__u8 proto = 0;

		l4 = (b[0] & 0xf) * 4;
		if (l4 < 20 || ((b[6] & 0x1f) | b[7]) || bpf_probe_read_kernel(&proto, 1, (void *)ip->data + 9) || proto != 17)
			return 0;
	} else if (b[0] >> 4 == 6) {
		l4 = 40;
		if (b[6] != 17)
			return 0;
	} else {
		return 0;
	}
	if (l4 + 16 > ip->caplen || bpf_probe_read_kernel(b, 8, (void *)ip->data + l4 + 8))
		return 0;
	/* b: the 8 bytes after the UDP header; the ports come next. */
	__u16 ports[2] = {};

	if (bpf_probe_read_kernel(ports, 4, (void *)ip->data + l4))
		return 0;
	dport = bpf_ntohs(ports[1]);
	off = l4 + 8;
	if (dport == FT_VXLAN_PORT) {
		off += 8;
	} else if (dport == FT_GENEVE_PORT) {
		if ((b[2] << 8 | b[3]) != FT_ETH_P_TEB)
			return 0;
		off += 8 + (b[0] & 0x3f) * 4;
	} else {
		return 0;
	}
	if (off > ip->caplen)
		return 0;
	inner->data = ip->data + off;
	inner->caplen = ip->caplen - off;
	inner->wirelen = ip->wirelen > off ? ip->wirelen - off : 0;
	return 1;
}

/* The inner network header of an inner Ethernet frame (IPv4 or IPv6 ethertype): 1 or 0. */
static __always_inline int ft_tunnel_inner_l3(struct ft_pcap_view *eth, struct ft_pcap_view *l3)
{
	__u16 type = 0;

	if (eth->caplen < 14 || bpf_probe_read_kernel(&type, 2, (void *)eth->data + 12))
		return 0;
	type = bpf_ntohs(type);
	if (type != 0x0800 && type != 0x86dd)
		return 0;
	l3->data = eth->data + 14;
	l3->caplen = eth->caplen - 14;
	l3->wirelen = eth->wirelen > 14 ? eth->wirelen - 14 : 0;
	return 1;
}

/* Every given tunnel filter matches the inner packet of the tunnel packet at `ip`. */
static __always_inline __u32 ft_tunnel_match_view(struct ft_pcap_view *ip)
{
	struct ft_pcap_view in = {}, in3 = {};

	if (!ft_tunnel_inner(ip, &in))
		return 0;
	if (ft_tunnel_l2 && !ft_pcap_tun_l2(in.data, in.caplen, in.wirelen))
		return 0;
	if (ft_tunnel_l3 && (!ft_tunnel_inner_l3(&in, &in3) || !ft_pcap_tun_l3(in3.data, in3.caplen, in3.wirelen)))
		return 0;
	return 1;
}

/* The skb's outer network header starts a VXLAN/Geneve packet whose inner packet matches. */
static __always_inline __u32 ft_tunnel_match(struct sk_buff *skb)
{
	struct ft_skb_fields f = {};
	struct ft_pcap_view ip = {};

	ft_skb_fields(skb, &f, ft_pcap_len);
	if (f.nh == 0 || !ft_pcap_view_at(&f, f.nh, &ip, ft_pcap_len))
		return 0;
	return ft_tunnel_match_view(&ip);
}

#endif
