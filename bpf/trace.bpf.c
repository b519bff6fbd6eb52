// SPDX-License-Identifier: GPL-2.0
/* trace: the packet tracer. One program per (attach mode, skb argument position); all share
 * emit(), which filters, reserves a record in this CPU's ring and fills it with CO-RE reads
 * (the same code serves kprobe registers, fentry args and tracepoint args).
 *
 * Function ids: the attach cookie (kprobe, kprobe.multi, raw_tp) or, where each load has one
 * target (fentry, fexit, tp_btf), a constant written into the instructions at load
 * (this_func_id), so one verified program image serves every target's load.
 *
 * Sections are fasttrace's `ft.*` (libbpf's kprobe, fentry, ... plus a load-time hook that
 * splices the pcap filter into ft_pcap_l2/l3; see pcap_filter.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "pcap_filter.h"
#include "skb_expr.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
/* uapi flags that live in anonymous enums, so not in the pruned vmlinux.h */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)
#define BPF_NOEXIST 1
#define E2BIG 7

/* ---- load-time config (0 = off; the verifier prunes disabled checks) ---------------- */
const volatile __u32 filter_netns = 0;		/* netns inode */
const volatile __u32 filter_mark = 0;
const volatile __u32 filter_mark_mask = 0;
const volatile __u32 filter_ifindex = 0;
const volatile __u8 filter_pcap = 0;		/* ft_pcap_l2/l3 hold a spliced filter */
const volatile __u8 track_skb = 0;		/* --filter-track-skb */
const volatile __u8 output_stack = 0;
const volatile __u8 output_caller = 0;
/* --snaplen: copy up to this many packet bytes after each event (0 = none). A read-only
 * constant, so the ring reservation below keeps the constant size the verifier requires. */
const volatile __u32 snaplen = 0;
/* --output-tunnel: an ft_tuple of the inner packet follows each event (before the snap). */
const volatile __u8 output_tunnel = 0;
/* Consumer wakeups. 0: the kernel's own rule on every record (wake only when the consumer
 * has caught up to that record, i.e. when it may be asleep). N (a power of two): no wakeup
 * except a forced one every N records per CPU. A sampled wakeup must be forced: with flags 0
 * a consumer that is behind is not woken and sleeps out its poll timeout while the ring
 * fills (kernel/bpf/ringbuf.c, bpf_ringbuf_commit). docs/tracer.md has the measurements. */
const volatile __u32 wakeup_every = 0;

/* ---- transport: one ring per CPU, so CPUs never contend on a ring ------------------ */
struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);		/* template; user space creates the real rings */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);			/* resized to the CPU count before load */
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* Per-CPU counters, one slot per enum ft_stat (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FT_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__uint(value_size, FT_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* --filter-track-skb: addresses of skbs that matched, reported until freed whatever their
 * headers become (NAT, tc rewrites). Sized by user space; overflow counts in stats[FT_STAT_TRACK_OVERFLOW]. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);		/* when it first matched (ns) */
} tracked SEC(".maps");

/* kprobe clone following: the parent skb at skb_clone() entry, by task, for the return
 * probe (which no longer sees the arguments). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} clone_parents SEC(".maps");

/* --filter-track-skb-by-stackid: the skb each kernel stack is busy with (the stack's base
 * address → skb), and back (skb → base) to forget it when the skb is freed. LRU: stacks of
 * tasks that exit never free their entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} stack_skb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} skb_stack SEC(".maps");

FT_EXPORT_TYPES(struct ft_event *event, struct ft_snap *snap, enum ft_link link, enum ft_stat stat, enum ft_limit limit)
FT_EXPORT_TYPES_AS(__ft_export_meta_types, enum ft_meta_flag meta_flag, struct ft_dump *dump, enum ft_dump_kind dump_kind,
		   enum ft_marker marker)

/* The function id of a one-target load (fentry, fexit, tp_btf): an ld_imm64 whose value is
 * FT_FUNC_ID_MARKER << 32 in the object; each load writes its id over it (ProgramSections).
 * asm keeps clang from folding the constant. */
static __always_inline __u32 this_func_id(void)
{
	__u64 v;

	asm volatile("%0 = %1 ll" : "=r"(v) : "i"((__u64)FT_FUNC_ID_MARKER << 32));
	return (__u32)v;
}

static __always_inline __u64 bump(enum ft_stat slot)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &slot);

	if (!c)
		return 0;
	return ++*c;
}

static __always_inline int is_tracked(__u64 skb)
{
	return bpf_map_lookup_elem(&tracked, &skb) != 0;
}

static __always_inline void track(__u64 skb)
{
	__u64 now = bpf_ktime_get_ns();

	if (bpf_map_update_elem(&tracked, &skb, &now, BPF_NOEXIST) == -E2BIG)
		bump(FT_STAT_TRACK_OVERFLOW);
}

/* --filter-track-skb-by-stackid (with --filter-track-skb). A stack is named by its base:
 * kernel stacks (task, IRQ and softirq stacks) are THREAD_SIZE-aligned, so any address in
 * the running program's own frame, rounded down, names the stack the traced function runs
 * on, whatever the attach mode and without frame pointers (pwru walks the frame-pointer
 * chain to its end instead). 16 KiB: x86-64 and arm64 without KASAN; with a larger
 * THREAD_SIZE a stack has several names and fewer functions are attributed, never wrong ones. */
const volatile __u32 track_by_stack = 0;
#define FT_THREAD_SIZE 16384ULL

static __always_inline __u64 stack_base(void)
{
	__u64 here = 0;

	return ft_scalar(&here) & ~(FT_THREAD_SIZE - 1);
}

/* The stack `base` stops being `skb`'s, if it still is (another skb may own it now). */
static __always_inline void release_stack(__u64 base, __u64 skb)
{
	__u64 *owner = bpf_map_lookup_elem(&stack_skb, &base);

	if (owner && *owner == skb)
		bpf_map_delete_elem(&stack_skb, &base);
}

/* `skb` is what this stack is busy with now. */
static __always_inline void own_stack(__u64 skb)
{
	__u64 base = stack_base(), *old = bpf_map_lookup_elem(&skb_stack, &skb);

	if (old && *old != base)
		release_stack(*old, skb);
	bpf_map_update_elem(&stack_skb, &base, &skb, 0 /* BPF_ANY */);
	bpf_map_update_elem(&skb_stack, &skb, &base, 0 /* BPF_ANY */);
}

/* The skb this stack is busy with, 0 if none. */
static __always_inline __u64 stack_owner(void)
{
	__u64 base = stack_base(), *skb = bpf_map_lookup_elem(&stack_skb, &base);

	return skb ? *skb : 0;
}

static __always_inline void untrack(__u64 skb)
{
	bpf_map_delete_elem(&tracked, &skb);
	if (track_by_stack) {
		__u64 *base = bpf_map_lookup_elem(&skb_stack, &skb);

		if (base) {
			release_stack(*base, skb);
			bpf_map_delete_elem(&skb_stack, &skb);
		}
	}
}

/* --filter-track-skb with --filter-trace-xdp: a packet an XDP program saw matching and
 * passed is tracked by its data address until the kernel's skb for it shows up, whose MAC
 * header is at that address (generic XDP runs on the skb's own data; native XDP builds the
 * skb on the buffer's page). That skb is then tracked instead. */
const volatile __u32 track_xdp = 0;	/* u32: keeps .rodata a multiple of 4 (docs/codegen.md) */

static __always_inline int passed_by_xdp(struct sk_buff *skb)
{
	struct ft_skb_fields f = {};
	__u64 at;

	ft_skb_fields(skb, &f, 0);
	if (!f.head || f.mac == (__u16)~0U)
		return 0;
	at = f.head + f.mac;
	if (!is_tracked(at))
		return 0;
	untrack(at);
	return 1;
}

/* --filter-skb-expr and --output-skb-metadata (skb_expr.h): whether the stubs are spliced,
 * and the metadata area's size in a record. u32: keeps .rodata a multiple of 4. */
const volatile __u32 filter_expr = 0;
const volatile __u32 skb_meta_size = 0;	/* the metadata area: a multiple of 8 */
/* --filter-xdp-expr, --output-xdp-metadata: the stubs over xdp_buff are spliced (XDP events
 * fill the same area with the xdp_buff's members). */
const volatile __u32 filter_xdp_expr = 0;
const volatile __u32 xdp_meta = 0;

/* The filter: tracked skbs pass; then mark, interface and netns (load-time config, so a
 * disabled check costs nothing), the skb expression and the pcap filter. Not inlined: one
 * copy per program. */
static __noinline int ft_filter(struct sk_buff *skb)
{
	if (track_skb && is_tracked((__u64)skb)) {
		if (track_by_stack)
			own_stack((__u64)skb);
		return 1;
	}
	/* On a stack busy with a tracked skb: a packet built from it (a bridge frees and
	 * rebuilds, a reply is made in its path). Tracked, but the stack keeps its owner. */
	if (track_by_stack && stack_owner()) {
		track((__u64)skb);
		return 1;
	}
	if (track_xdp && passed_by_xdp(skb)) {
		track((__u64)skb);
		return 1;
	}
	if (filter_mark_mask && (BPF_CORE_READ(skb, mark) & filter_mark_mask) != filter_mark)
		return 0;
	if (filter_ifindex && BPF_CORE_READ(skb, dev, ifindex) != filter_ifindex)
		return 0;
	if (filter_netns && BPF_CORE_READ(skb, dev, nd_net.net, ns.inum) != filter_netns)
		return 0;
	if (filter_expr && !ft_skb_expr(ft_scalar(skb)))
		return 0;
	if (filter_pcap && !ft_pcap_match(skb))
		return 0;
	if ((ft_tunnel_l2 || ft_tunnel_l3) && !ft_tunnel_match(skb))
		return 0;
	if (track_skb)
		track((__u64)skb);
	if (track_by_stack)
		own_stack((__u64)skb);
	return 1;
}

/* The tuple of the packet whose network header is at head + nh. */
static __always_inline void fill_tuple_at(struct ft_tuple *t, unsigned char *head, __u32 nh, __u16 protocol)
{
	__u8 vihl = 0;
	__u32 l4off;

	if (bpf_probe_read_kernel(&vihl, 1, head + nh))
		return;
	/* Before the IP layer sets skb->protocol (tx paths), trust the version nibble. */
	if (protocol == ETH_P_IP || (protocol == 0 && vihl >> 4 == 4)) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || (vihl >> 4) != 4)
			return;
		__builtin_memcpy(t->saddr, &ip.saddr, 4);
		__builtin_memcpy(t->daddr, &ip.daddr, 4);
		t->l3_proto = ETH_P_IP;
		t->l4_proto = ip.protocol;
		t->ip_id = bpf_ntohs(ip.id);
		l4off = nh + (vihl & 0xf) * 4;
	} else if (protocol == ETH_P_IPV6 || (protocol == 0 && vihl >> 4 == 6)) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || (vihl >> 4) != 6)
			return;
		__builtin_memcpy(t->saddr, &ip6.saddr, 16);
		__builtin_memcpy(t->daddr, &ip6.daddr, 16);
		t->l3_proto = ETH_P_IPV6;
		t->l4_proto = ip6.nexthdr;
		l4off = nh + sizeof(ip6);
	} else {
		return;
	}
	if (t->l4_proto == IPPROTO_TCP) {
		/* Ports, seq, ack, data offset and flags in one read. */
		struct { __be16 sport, dport; __be32 seq, ack; __u8 doff, flags; } th;

		if (!bpf_probe_read_kernel(&th, sizeof(th), head + l4off)) {
			t->sport = bpf_ntohs(th.sport);
			t->dport = bpf_ntohs(th.dport);
			t->seq = bpf_ntohl(th.seq);
			t->ack = bpf_ntohl(th.ack);
			t->tcp_flags = th.flags;
		}
	} else if (t->l4_proto == IPPROTO_UDP) {
		__be16 ports[2];

		if (!bpf_probe_read_kernel(ports, sizeof(ports), head + l4off)) {
			t->sport = bpf_ntohs(ports[0]);
			t->dport = bpf_ntohs(ports[1]);
		}
	}
}

static __always_inline void fill_tuple(struct ft_tuple *t, struct sk_buff *skb, __u16 protocol)
{
	fill_tuple_at(t, BPF_CORE_READ(skb, head), BPF_CORE_READ(skb, network_header), protocol);
}

/* --snaplen: the packet from the view the pcap filter uses (Ethernet when an Ethernet-sized
 * MAC header is in front of the network header, else from the network header), linear part
 * only: paged data would need bpf_skb_load_bytes, which tracing programs cannot call. */
static __always_inline void fill_snap(struct ft_snap *s, void *bytes, struct sk_buff *skb)
{
	struct ft_pcap_view v;
	int l2 = ft_packet_view(skb, &v, 1);
	__u32 n;

	s->orig_len = 0;
	s->cap_len = 0;
	s->link = FT_LINK_NONE;
	s->pad = 0;
	if (l2 < 0)
		return;
	n = v.caplen;
	if (n > snaplen)
		n = snaplen;
	if (bpf_probe_read_kernel(bytes, n, (void *)v.data))
		return;
	s->orig_len = v.wirelen > n ? v.wirelen : n;
	s->cap_len = n;
	s->link = l2 ? FT_LINK_ETHERNET : FT_LINK_RAW;
}

/* --output-skb / --output-skb-shared-info: bytes of text kept per dump (a multiple of 8;
 * 0: no dumps), and which structs. u32: keeps .rodata a multiple of 4. */
const volatile __u32 dump_size = 0;
const volatile __u32 dump_skb = 0;
const volatile __u32 dump_shinfo = 0;
#define FT_BTF_F_COMPACT 1 /* BTF_F_COMPACT (uapi linux/bpf.h): one line, no indentation */
#define FT_DUMP_AREA (sizeof(struct ft_dump) + dump_size)

/* The bytes a record takes after its ft_event. */
#define FT_EXTRA_SIZE ((output_tunnel ? sizeof(struct ft_tuple) : 0) + skb_meta_size + \
		       (dump_skb ? FT_DUMP_AREA : 0) + (dump_shinfo ? FT_DUMP_AREA : 0) + \
		       (snaplen ? sizeof(struct ft_snap) + snaplen : 0))

/* One dump: `type_id`'s struct at `ptr`, printed by the kernel (it reads the object with
 * fault-safe copies); ptr 0: none. */
static __always_inline void fill_dump(struct ft_dump *d, __u8 kind, __u64 ptr, __u32 type_id)
{
	struct btf_ptr p = {.ptr = (void *)ptr, .type_id = type_id};

	d->kind = kind;
	d->pad[0] = d->pad[1] = d->pad[2] = 0;
	d->len = ptr ? bpf_snprintf_btf((char *)(d + 1), dump_size, &p, sizeof(p), FT_BTF_F_COMPACT) : -2 /* ENOENT */;
}

/* The dumps asked for, at `extra`; returns the bytes written. */
static __always_inline __u32 fill_dumps(void *extra, struct sk_buff *skb)
{
	__u32 at = 0;

	if (dump_skb) {
		fill_dump(extra, FT_DUMP_SKB, skb ? ft_scalar(skb) : 0, bpf_core_type_id_kernel(struct sk_buff));
		at += FT_DUMP_AREA;
	}
	if (dump_shinfo) {
		__u64 shinfo = skb ? (__u64)BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, end) : 0;

		fill_dump(extra + at, FT_DUMP_SHINFO, shinfo, bpf_core_type_id_kernel(struct skb_shared_info));
		at += FT_DUMP_AREA;
	}
	return at;
}

/* --output-tunnel: the inner tuple of the VXLAN/Geneve packet whose outer IP header starts
 * `ip`, into `t` (zeroed first); sets FT_META_FLAG_INNER in `flags` when there is one. */
static __always_inline void fill_inner(struct ft_tuple *t, struct ft_pcap_view *ip, __u16 *flags)
{
	struct ft_pcap_view in = {}, in3 = {};
	__u16 type = 0;

	__builtin_memset(t, 0, sizeof(*t));
	if (!ft_tunnel_inner(ip, &in) || !ft_tunnel_inner_l3(&in, &in3))
		return;
	bpf_probe_read_kernel(&type, 2, (void *)in.data + 12);
	fill_tuple_at(t, (unsigned char *)in3.data, 0, bpf_ntohs(type));
	if (t->l3_proto)
		*flags |= FT_META_FLAG_INNER;
}

/* A record on this CPU's ring with the event's header filled (time, packet id, function,
 * task, stack, reason, kind); NULL when the ring is full or missing (counted as lost). */
static __always_inline struct ft_event *reserve_event(void *ctx, __u64 packet, __u32 id, __u32 reason,
						      __u32 kind, __u64 caller)
{
	struct ft_event *e;
	void *ring;
	__u32 cpu = bpf_get_smp_processor_id();

	ring = bpf_map_lookup_elem(&rings, &cpu);
	if (!ring) {
		bump(FT_STAT_LOST);
		return NULL;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e) + FT_EXTRA_SIZE, 0);
	if (!e) {
		bump(FT_STAT_LOST);
		return NULL;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	e->ts_ns = bpf_ktime_get_ns();
	e->skb = packet;
	e->caller = caller;
	e->func_id = id;
	e->cpu = cpu;
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->stack_id = output_stack ? bpf_get_stackid(ctx, &stacks, 0) : -1;
	e->drop_reason = reason;
	e->kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* Submits a record, waking the consumer as --wakeup-every says. */
static __always_inline void submit_event(struct ft_event *e)
{
	__u64 flags = 0;

	if (wakeup_every)
		flags = (bump(FT_STAT_WAKEUP_SAMPLED) & (wakeup_every - 1)) ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	bump(FT_STAT_SUBMITTED);
}

/* An event for an skb that passed the filter. */
static __always_inline void emit_matched(void *ctx, struct sk_buff *skb, __u32 id, __u32 reason, __u32 kind,
					 __u64 caller)
{
	struct ft_event *e;

	e = reserve_event(ctx, (__u64)skb, id, reason, kind, caller);
	if (!e)
		return;
	struct net_device *dev = BPF_CORE_READ(skb, dev);

	e->meta.netns = dev ? BPF_CORE_READ(dev, nd_net.net, ns.inum) : 0;
	if (!e->meta.netns)
		e->meta.netns = BPF_CORE_READ(skb, sk, __sk_common.skc_net.net, ns.inum);
	e->meta.mark = BPF_CORE_READ(skb, mark);
	e->meta.ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
	e->meta.len = BPF_CORE_READ(skb, len);
	e->meta.mtu = dev ? BPF_CORE_READ(dev, mtu) : 0;
	e->meta.protocol = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	e->meta.flags = 0;
	if (kind == FT_EVENT_KIND_PROG || kind == FT_EVENT_KIND_PROG_EXIT)
		e->meta.flags = BPF_CORE_READ_BITFIELD_PROBED(skb, tc_at_ingress) ? FT_META_FLAG_TC_INGRESS : 0;
	__builtin_memset(&e->tuple, 0, sizeof(e->tuple));
	fill_tuple(&e->tuple, skb, e->meta.protocol);
	void *extra = e + 1;

	if (output_tunnel) {
		struct ft_skb_fields f = {};
		struct ft_pcap_view ip = {};

		ft_skb_fields(skb, &f, 1);
		if (f.nh && ft_pcap_view_at(&f, f.nh, &ip, 1))
			fill_inner(extra, &ip, &e->meta.flags);
		else
			__builtin_memset(extra, 0, sizeof(struct ft_tuple));
		extra += sizeof(struct ft_tuple);
	}
	if (skb_meta_size) {
		ft_skb_meta(ft_scalar(skb), extra);
		extra += skb_meta_size;
	}
	if (dump_skb || dump_shinfo)
		extra += fill_dumps(extra, skb);
	if (snaplen)
		fill_snap(extra, (struct ft_snap *)extra + 1, skb);
	submit_event(e);
}

static __always_inline void emit(void *ctx, struct sk_buff *skb, __u32 id, __u32 reason, __u32 kind,
				 __u64 caller)
{
	if (!skb || !ft_filter(skb))
		return;
	emit_matched(ctx, skb, id, reason, kind, caller);
}

/* --filter-non-skb-funcs: a function without an skb, reported for the skb its stack is busy
 * with (--filter-track-skb-by-stackid), if any. That skb already matched. */
static __always_inline void emit_by_stack(void *ctx, __u32 id, __u64 caller)
{
	__u64 skb = stack_owner();

	if (skb)
		emit_matched(ctx, (struct sk_buff *)skb, id, 0, FT_EVENT_KIND_FUNC, caller);
}

/* The return address at function entry (x86: on the stack; arm64: in the link register). */
static __always_inline __u64 caller_of(struct pt_regs *ctx)
{
	__u64 ra = 0;

	if (!output_caller)
		return 0;
#if defined(__TARGET_ARCH_x86)
	bpf_probe_read_kernel(&ra, sizeof(ra), (void *)PT_REGS_SP(ctx));
#elif defined(__TARGET_ARCH_arm64)
	ra = PT_REGS_RET(ctx);
#endif
	return ra;
}

/* One body, attached both ways: legacy kprobe and kprobe.multi (same context type). */
#define KPROBES(kprobe_name, kmulti_name, body)                                    \
	SEC("ft.kprobe") int kprobe_name(struct pt_regs *ctx) { body; return 0; } \
	SEC("ft.kprobe.multi") int kmulti_name(struct pt_regs *ctx) { body; return 0; }
/* One body for BTF-typed contexts (fentry, tp_btf). */
#define BTF_HOOKS(fentry_name, tp_name, body)                                     \
	SEC("ft.fentry") int fentry_name(__u64 *ctx) { body; return 0; }           \
	SEC("ft.tp_btf") int tp_name(__u64 *ctx) { body; return 0; }

/* ---- kprobe / kprobe.multi: cookie = function id ------------------------------------ */
#define KPROBE_AT(sec, name, N)                                                    \
	SEC(sec) int name(struct pt_regs *ctx)                                     \
	{                                                                          \
		emit(ctx, (struct sk_buff *)PT_REGS_PARM##N(ctx),                  \
		     bpf_get_attach_cookie(ctx), 0, FT_EVENT_KIND_FUNC, caller_of(ctx)); \
		return 0;                                                          \
	}
KPROBE_AT("ft.kprobe", kprobe_skb_1, 1)
KPROBE_AT("ft.kprobe", kprobe_skb_2, 2)
KPROBE_AT("ft.kprobe", kprobe_skb_3, 3)
KPROBE_AT("ft.kprobe", kprobe_skb_4, 4)
KPROBE_AT("ft.kprobe", kprobe_skb_5, 5)
KPROBE_AT("ft.kprobe.multi", kmulti_skb_1, 1)
KPROBE_AT("ft.kprobe.multi", kmulti_skb_2, 2)
KPROBE_AT("ft.kprobe.multi", kmulti_skb_3, 3)
KPROBE_AT("ft.kprobe.multi", kmulti_skb_4, 4)
KPROBE_AT("ft.kprobe.multi", kmulti_skb_5, 5)

/* "skb at argument 0": --filter-non-skb-funcs, the skb found by the stack. */
KPROBES(kprobe_skb_0, kmulti_skb_0, emit_by_stack(ctx, bpf_get_attach_cookie(ctx), caller_of(ctx)))

/* Drop functions: kfree_skb_reason(skb, reason) and sk_skb_reason_drop(sk, skb, reason). */
#define KPROBE_DROP(sec, name, S, R)                                               \
	SEC(sec) int name(struct pt_regs *ctx)                                     \
	{                                                                          \
		emit(ctx, (struct sk_buff *)PT_REGS_PARM##S(ctx), bpf_get_attach_cookie(ctx), \
		     (__u32)PT_REGS_PARM##R(ctx), FT_EVENT_KIND_DROP, caller_of(ctx)); \
		return 0;                                                          \
	}
KPROBE_DROP("ft.kprobe", kprobe_drop_1_2, 1, 2)
KPROBE_DROP("ft.kprobe", kprobe_drop_2_3, 2, 3)
KPROBE_DROP("ft.kprobe.multi", kmulti_drop_1_2, 1, 2)
KPROBE_DROP("ft.kprobe.multi", kmulti_drop_2_3, 2, 3)

/* ---- fentry and tp_btf: one load per target, func_id written into each load ----------- */
#define BTF_AT(sec, name, N)                                                       \
	SEC(sec) int name(__u64 *ctx)                                              \
	{                                                                          \
		emit(ctx, (struct sk_buff *)ctx[N - 1], this_func_id(), 0, FT_EVENT_KIND_FUNC, 0); \
		return 0;                                                          \
	}
BTF_AT("ft.fentry", fentry_skb_1, 1)
BTF_AT("ft.fentry", fentry_skb_2, 2)
BTF_AT("ft.fentry", fentry_skb_3, 3)
BTF_AT("ft.fentry", fentry_skb_4, 4)
BTF_AT("ft.fentry", fentry_skb_5, 5)

/* The skb is a number from a map here: loaded with ft_direct_skb off. */
SEC("ft.fentry") int fentry_skb_0(__u64 *ctx)
{
	emit_by_stack(ctx, this_func_id(), 0);
	return 0;
}
BTF_AT("ft.tp_btf", tp_skb_1, 1)
BTF_AT("ft.tp_btf", tp_skb_2, 2)
BTF_AT("ft.tp_btf", tp_skb_3, 3)

SEC("ft.fentry")
int fentry_drop_1_2(__u64 *ctx)
{
	emit(ctx, (struct sk_buff *)ctx[0], this_func_id(), (__u32)ctx[1], FT_EVENT_KIND_DROP, 0);
	return 0;
}

SEC("ft.fentry")
int fentry_drop_2_3(__u64 *ctx)
{
	emit(ctx, (struct sk_buff *)ctx[1], this_func_id(), (__u32)ctx[2], FT_EVENT_KIND_DROP, 0);
	return 0;
}

/* skb:kfree_skb (skb, location, reason, ...): the drop reason is argument 3. */
/* ---- raw_tp: one load per skb position for every tracepoint (6.10+) ---------------------
 * A raw_tp program is not bound to a tracepoint at load, so one program serves all that
 * carry the skb at the same argument; the attach cookie (6.10+) is the function id. The skb
 * argument is a plain number there; bpf_rdonly_cast (6.2+) makes it a BTF pointer again, so
 * its fields are plain loads as in tp_btf. Weak: objects still load on kernels without it
 * (these programs are then never loaded: the backend uses tp_btf). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define RAW_SKB(ctx, N) ((struct sk_buff *)bpf_rdonly_cast((void *)(ctx)->args[(N) - 1], \
							   bpf_core_type_id_kernel(struct sk_buff)))
#define RAW_TP_AT(name, N)                                                         \
	SEC("ft.raw_tp") int name(struct bpf_raw_tracepoint_args *ctx)             \
	{                                                                          \
		emit(ctx, RAW_SKB(ctx, N), bpf_get_attach_cookie(ctx), 0, FT_EVENT_KIND_FUNC, 0); \
		return 0;                                                          \
	}
RAW_TP_AT(rtp_skb_1, 1)
RAW_TP_AT(rtp_skb_2, 2)
RAW_TP_AT(rtp_skb_3, 3)

SEC("ft.raw_tp")
int rtp_kfree_skb(struct bpf_raw_tracepoint_args *ctx)
{
	emit(ctx, RAW_SKB(ctx, 1), bpf_get_attach_cookie(ctx), (__u32)ctx->args[2], FT_EVENT_KIND_DROP, 0);
	return 0;
}

SEC("ft.tp_btf")
int tp_kfree_skb(__u64 *ctx)
{
	emit(ctx, (struct sk_buff *)ctx[0], this_func_id(), (__u32)ctx[2], FT_EVENT_KIND_DROP, 0);
	return 0;
}

/* ---- BPF programs as targets (--filter-trace-tc): fentry/fexit with a loaded tc program as
 * the attach target, one load per program (func_id written into it). The program's argument is
 * a `struct __sk_buff *`, which at run time is the kernel's sk_buff; read with probe reads
 * (ft_direct_skb is off for these objects). fexit sees the skb as the program left it and
 * its return value after the arguments. */
SEC("ft.fentry")
int fentry_prog(__u64 *ctx)
{
	emit(ctx, (struct sk_buff *)ctx[0], this_func_id(), 0, FT_EVENT_KIND_PROG, 0);
	return 0;
}

SEC("ft.fexit")
int fexit_prog(__u64 *ctx)
{
	emit(ctx, (struct sk_buff *)ctx[0], this_func_id(), (__u32)ctx[1], FT_EVENT_KIND_PROG_EXIT, 0);
	return 0;
}

/* ---- XDP programs as targets (--filter-trace-xdp): the packet is an xdp_buff (no skb yet):
 * filtered by the pcap filter's Ethernet view over its data and by the meta filters on its
 * receiving device; not tracked (an xdp_buff is not an skb). `skb` carries the packet's data
 * address, which identifies the packet while XDP runs. */
static __always_inline void emit_xdp(void *ctx, struct xdp_buff *xdp, __u32 id, __u32 verdict, __u32 kind)
{
	struct ft_event *e;
	__u32 len;
	unsigned char *data = BPF_CORE_READ(xdp, data);
	unsigned char *end = BPF_CORE_READ(xdp, data_end);
	struct net_device *dev = BPF_CORE_READ(xdp, rxq, dev);
	__be16 proto = 0;

	if (!data || end <= data)
		return;
	len = end - data;
	/* --filter-track-skb: a buffer that matched at the program's entry is reported at its
	 * exit even after a rewrite, and, passed up, handed on to its skb (passed_by_xdp). */
	int tracked = track_skb && is_tracked((__u64)data);

	if (!tracked) {
		if (filter_mark_mask)
			return; /* no mark before there is an skb */
		if (filter_ifindex && (!dev || BPF_CORE_READ(dev, ifindex) != filter_ifindex))
			return;
		if (filter_netns && (!dev || BPF_CORE_READ(dev, nd_net.net, ns.inum) != filter_netns))
			return;
		if (filter_xdp_expr && !ft_xdp_expr(ft_scalar(xdp)))
			return;
		if (filter_pcap && !ft_pcap_l2((__u64)data, len, len))
			return;
		if (ft_tunnel_l2 || ft_tunnel_l3) {
			struct ft_pcap_view eth = {.data = (__u64)data, .caplen = len, .wirelen = len}, ip = {};

			if (!ft_tunnel_inner_l3(&eth, &ip) || !ft_tunnel_match_view(&ip))
				return;
		}
	}
	if (track_skb) {
		if (kind == FT_EVENT_KIND_PROG && !tracked)
			track((__u64)data);
		else if (kind == FT_EVENT_KIND_PROG_EXIT && verdict != XDP_PASS)
			untrack((__u64)data); /* dropped, sent back or redirected: no skb here */
	}
	e = reserve_event(ctx, (__u64)data, id, verdict, kind, 0);
	if (!e)
		return;
	e->meta.netns = dev ? BPF_CORE_READ(dev, nd_net.net, ns.inum) : 0;
	e->meta.mark = 0;
	e->meta.ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
	e->meta.len = len;
	e->meta.mtu = dev ? BPF_CORE_READ(dev, mtu) : 0;
	bpf_probe_read_kernel(&proto, sizeof(proto), data + 12);
	e->meta.protocol = bpf_ntohs(proto);
	e->meta.flags = 0;
	__builtin_memset(&e->tuple, 0, sizeof(e->tuple));
	if (len >= 14)
		fill_tuple_at(&e->tuple, data, 14, e->meta.protocol);
	void *extra = e + 1;

	if (output_tunnel) {
		struct ft_pcap_view eth = {.data = (__u64)data, .caplen = len, .wirelen = len}, ip = {};

		if (ft_tunnel_inner_l3(&eth, &ip))
			fill_inner(extra, &ip, &e->meta.flags);
		else
			__builtin_memset(extra, 0, sizeof(struct ft_tuple));
		extra += sizeof(struct ft_tuple);
	}
	if (skb_meta_size) {
		if (xdp_meta)
			ft_xdp_meta(ft_scalar(xdp), extra);
		else
			ft_skb_meta(0, extra); /* no skb: an empty area */
		extra += skb_meta_size;
	}
	if (dump_skb || dump_shinfo)
		extra += fill_dumps(extra, 0);
	if (snaplen) {
		struct ft_snap *sn = extra;
		__u32 n = len < snaplen ? len : snaplen;

		sn->orig_len = 0;
		sn->cap_len = 0;
		sn->link = FT_LINK_NONE;
		sn->pad = 0;
		if (n <= FT_SNAPLEN_MAX && !bpf_probe_read_kernel(sn + 1, n, data)) {
			sn->orig_len = len;
			sn->cap_len = n;
			sn->link = FT_LINK_ETHERNET;
		}
	}
	submit_event(e);
}

SEC("ft.fentry")
int fentry_xdp(__u64 *ctx)
{
	emit_xdp(ctx, (struct xdp_buff *)ctx[0], this_func_id(), 0, FT_EVENT_KIND_PROG);
	return 0;
}

SEC("ft.fexit")
int fexit_xdp(__u64 *ctx)
{
	emit_xdp(ctx, (struct xdp_buff *)ctx[0], this_func_id(), (__u32)ctx[1], FT_EVENT_KIND_PROG_EXIT);
	return 0;
}

/* ---- --filter-track-skb: forget freed skbs, follow clones -------------------------- */
/* On kfree_skbmem and skb_release_head_state (every free path passes one of them): the
 * address may next hold another packet. Attached after the event programs, so a traced
 * free function still reports the skb before it is forgotten. tp_btf and raw_tp hook the
 * free tracepoints (skb:kfree_skb, skb:consume_skb: tracepoint mode's only free hooks). */

KPROBES(kprobe_untrack, kmulti_untrack, untrack(PT_REGS_PARM1(ctx)))
BTF_HOOKS(fentry_untrack, tp_untrack, untrack(ctx[0]))

/* raw_tp mode: one load for both free tracepoints. */
SEC("ft.raw_tp")
int rtp_untrack(struct bpf_raw_tracepoint_args *ctx)
{
	untrack(ctx->args[0]);
	return 0;
}

/* skb_clone(skb, ...) and copies: the new skb inherits tracking. kprobe modes pair an entry
 * probe (remember the tracked parent) with a return probe (track the result). */
static __always_inline void clone_entry(__u64 parent)
{
	__u64 task = bpf_get_current_pid_tgid();

	if (is_tracked(parent))
		bpf_map_update_elem(&clone_parents, &task, &parent, 0);
}

static __always_inline void clone_return(__u64 child)
{
	__u64 task = bpf_get_current_pid_tgid();

	if (!bpf_map_lookup_elem(&clone_parents, &task))
		return;
	bpf_map_delete_elem(&clone_parents, &task);
	if (child)
		track(child);
}

KPROBES(kprobe_clone, kmulti_clone, clone_entry(PT_REGS_PARM1(ctx)))
KPROBES(kretprobe_clone, kmulti_ret_clone, clone_return(PT_REGS_RC(ctx)))

SEC("ft.fexit")
int fexit_clone(__u64 *ctx)
{
	__u64 child = 0;

	if (!bpf_get_func_ret(ctx, &child) && child && is_tracked(ctx[0]))
		track(child);
	return 0;
}
