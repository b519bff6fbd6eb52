// SPDX-License-Identifier: GPL-2.0
/* filtertest: runs the spliced pcap filters on packets handed in by BPF_PROG_TEST_RUN, so
 * tests compare the kernel's verdict with libpcap's. Same stubs and packet views as the
 * tracer (pcap_filter.h); the test-run skb is a real sk_buff (bpf_cast_to_kern_ctx, 6.3+). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "pcap_filter.h"
#include "skb_expr.h"

char LICENSE[] SEC("license") = "GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Set before a run when `override` is set: the packet is only `caplen` bytes captured of
 * `wirelen` (a short snapshot for libpcap; also lets the test pad frames the kernel would
 * refuse to test-run, e.g. an Ethernet frame claiming IPv4 without a full IP header). */
__u32 override = 0;
__u32 caplen = 0;
__u32 wirelen = 0;

static __always_inline __u32 run(struct __sk_buff *ctx, int l2)
{
	struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);
	struct ft_skb_fields f = {};
	struct ft_pcap_view v;

	ft_skb_fields(skb, &f, ft_pcap_len);
	if (!ft_pcap_view_at(&f, l2 ? f.mac : f.nh, &v, ft_pcap_len))
		return 0xdead;
	if (override) {
		if (v.caplen > caplen)
			v.caplen = caplen;
		v.wirelen = wirelen;
	}
	return l2 ? ft_pcap_l2(v.data, v.caplen, v.wirelen) : ft_pcap_l3(v.data, v.caplen, v.wirelen);
}

SEC("ft.tc")
int pcap_test_l2(struct __sk_buff *ctx)
{
	return run(ctx, 1);
}

SEC("ft.tc")
int pcap_test_l3(struct __sk_buff *ctx)
{
	return run(ctx, 0);
}

/* The tunnel stubs on the inner packet of a VXLAN/Geneve test packet (outer headers from the
 * network header): the stub's own verdict, 0xdead when there is no inner packet (view). */
static __always_inline __u32 run_tunnel(struct __sk_buff *ctx, int l2)
{
	struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);
	struct ft_skb_fields f = {};
	struct ft_pcap_view ip = {}, in = {}, in3 = {};

	ft_skb_fields(skb, &f, ft_pcap_len);
	if (!ft_pcap_view_at(&f, f.nh, &ip, ft_pcap_len) || !ft_tunnel_inner(&ip, &in))
		return 0xdead;
	if (l2)
		return ft_pcap_tun_l2(in.data, in.caplen, in.wirelen);
	if (!ft_tunnel_inner_l3(&in, &in3))
		return 0xdead;
	return ft_pcap_tun_l3(in3.data, in3.caplen, in3.wirelen);
}

SEC("ft.tc")
int pcap_test_tun_l2(struct __sk_buff *ctx)
{
	return run_tunnel(ctx, 1);
}

SEC("ft.tc")
int pcap_test_tun_l3(struct __sk_buff *ctx)
{
	return run_tunnel(ctx, 0);
}

/* --filter-skb-expr and --output-skb-metadata on the test-run skb (its mark, priority,
 * device, length... chosen by the test): the expression's verdict, and the metadata area in
 * `meta_out` (at most 8 fields of at most 64 bytes, after the u64 mask). */
__u8 meta_out[8 + 8 * 64];

SEC("ft.tc")
int expr_test(struct __sk_buff *ctx)
{
	return ft_skb_expr(ft_scalar(bpf_cast_to_kern_ctx(ctx)));
}

SEC("ft.tc")
int expr_meta_test(struct __sk_buff *ctx)
{
	void *out = meta_out;

	/* Hidden from clang: a constant argument would be folded into the static stub and
	 * dropped from the call, leaving the spliced code without it. */
	asm volatile("" : "+r"(out));
	ft_skb_meta(ft_scalar(bpf_cast_to_kern_ctx(ctx)), out);
	return 0;
}
