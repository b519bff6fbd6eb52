/* SPDX-License-Identifier: GPL-2.0 */
/* Types shared between the BPF programs and Swift.
 *
 * Convention (docs/codegen.md): every struct and enum whose name starts with `ft_` and that
 * appears in an object's BTF is generated into Swift (`struct ft_skb_event` -> `SkbEvent`),
 * together with the types it embeds. Clang only emits BTF for types a program uses, so a type
 * needed by Swift alone is named in FT_EXPORT_TYPES(...): an unused, never-loaded subprogram
 * whose prototype carries the types (libbpf only loads subprograms that are called).
 */
#ifndef FASTTRACE_EVENTS_H
#define FASTTRACE_EVENTS_H

#define FT_EXPORT_TYPES_AS(name, ...)                                              \
	__attribute__((noinline, used)) int name(__VA_ARGS__) { return 0; }
/* At most five types per use (BPF functions take five arguments): name the next ones with
 * FT_EXPORT_TYPES_AS and a name of their own. */
#define FT_EXPORT_TYPES(...) FT_EXPORT_TYPES_AS(__ft_export_types, __VA_ARGS__)

#define FT_TASK_COMM_LEN 16

/* Why an event was emitted. */
enum ft_event_kind {
	FT_EVENT_KIND_FUNC = 0,	/* a traced function or tracepoint saw the skb */
	FT_EVENT_KIND_DROP = 1,	/* kfree_skb_reason / skb:kfree_skb with a drop reason */
	FT_EVENT_KIND_LOSS = 2,	/* synthetic: ring reservations failed (counts in `len`) */
	FT_EVENT_KIND_PROG = 3,	/* a traced BPF program (--filter-trace-tc) was entered */
	FT_EVENT_KIND_PROG_EXIT = 4, /* it returned: its return value is in `drop_reason` */
};

/* ft_meta.flags */
enum ft_meta_flag {
	FT_META_FLAG_TC_INGRESS = 1,	/* skb->tc_at_ingress: a tc program runs on ingress (else egress) */
	FT_META_FLAG_INNER = 2,		/* --output-tunnel: the record's inner tuple is the packet's */
};

/* Slots of trace.bpf.c's per-CPU `stats` counters (user space reads them by these names). */
enum ft_stat {
	FT_STAT_LOST = 0,		/* ring reservations that failed (ring full or missing) */
	FT_STAT_SUBMITTED = 1,		/* records submitted */
	FT_STAT_WAKEUP_SAMPLED = 2,	/* records seen by this CPU's wakeup sampler */
	FT_STAT_TRACK_OVERFLOW = 3,	/* matched skbs not tracked: `tracked` was full */
	FT_STAT_COUNT = 4,
};

/* Packet addresses are kept as 16 raw bytes: IPv4 uses the first 4. */
struct ft_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;		/* host byte order */
	__u16 dport;		/* host byte order */
	__u16 l3_proto;		/* ETH_P_IP, ETH_P_IPV6, ... (host byte order) */
	__u8 l4_proto;		/* IPPROTO_TCP, ... */
	__u8 tcp_flags;		/* FIN=0x01 ... CWR=0x80 */
	/* What matches one packet across hosts (fasttrace fleet align): they survive NAT. */
	__u16 ip_id;		/* IPv4 identification (host byte order); 0 for IPv6 */
	__u16 pad;
	__u32 seq;		/* TCP sequence number (host byte order) */
	__u32 ack;		/* TCP acknowledgment number (host byte order) */
};

struct ft_meta {
	__u32 netns;		/* inode of the skb's network namespace */
	__u32 mark;
	__u32 ifindex;
	__u32 len;
	__u32 mtu;
	__u16 protocol;		/* skb->protocol, host byte order */
	__u16 flags;		/* enum ft_meta_flag */
};

struct ft_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u64 skb;		/* sk_buff address */
	__u64 caller;		/* return address of the traced function, 0 if not asked */
	__u32 func_id;		/* index into the function table built at attach time */
	__u32 cpu;
	__u32 pid;
	__u32 tgid;
	__s32 stack_id;		/* -1 unless stacks were asked */
	__u32 drop_reason;	/* enum skb_drop_reason of the running kernel; for PROG_EXIT, the
				 * program's return value (TC_ACT_OK, ...) */
	enum ft_event_kind kind;
	char comm[FT_TASK_COMM_LEN];
	struct ft_meta meta;
	struct ft_tuple tuple;
};

/* What follows an ft_event in its ring record: with --output-tunnel an ft_tuple, the inner
 * packet's (valid when meta.flags has FT_META_FLAG_INNER); with --output-skb-metadata the
 * metadata area (a u64 mask and the members' bytes, laid out by Expr/SkbMetadata.swift); with
 * --output-skb and --output-skb-shared-info an ft_dump and `dump_size` bytes each, in that
 * order; then, with --snaplen, an ft_snap and `snaplen` bytes, of which the first cap_len are
 * the packet's. */
enum ft_link {
	FT_LINK_NONE = 0,	/* no bytes: the skb has no network header yet (early TX) */
	FT_LINK_ETHERNET = 1,	/* from the MAC header (an Ethernet-sized one is in front) */
	FT_LINK_RAW = 2,	/* from the network header (IPv4/IPv6, no link layer) */
};

struct ft_snap {
	__u32 orig_len;		/* bytes from the first captured byte to the packet's end */
	__u16 cap_len;		/* bytes captured: the linear part, at most snaplen */
	__u8 link;		/* enum ft_link */
	__u8 pad;
};

/* --output-skb / --output-skb-shared-info: a struct printed by the kernel from BTF
 * (bpf_snprintf_btf, compact form), `dump_size` bytes of text after this header. */
enum ft_dump_kind {
	FT_DUMP_SKB = 1,	/* struct sk_buff */
	FT_DUMP_SHINFO = 2,	/* struct skb_shared_info (at skb->head + skb->end) */
};

struct ft_dump {
	__s32 len;		/* the text's full length (it may exceed the bytes kept), or -errno;
				 * -ENOENT: no skb (an XDP program's event) */
	__u8 kind;		/* enum ft_dump_kind */
	__u8 pad[3];
};

/* Limits shared with user space: an enum, so that they reach BTF and the generated Swift
 * (`Limit.snaplenMax`, `Limit.stackDepth`) instead of being copied by hand. */
enum ft_limit {
	FT_SNAPLEN_MAX = 4096,	/* --snaplen at most */
	FT_DUMP_SIZE_MAX = 16384, /* --output-skb-size at most */
	FT_STACK_DEPTH = 127,	/* frames kept of a kernel stack (the stack map's value) */
};

/* Instruction markers user space rewrites per load: the upper half of an ld_imm64's value,
 * whose lower half it replaces (ProgramSections, PreparedLoad). */
enum ft_marker {
	FT_FUNC_ID_MARKER = 0x46544944,	/* "FTID": the function id of an fentry/fexit/tp_btf load */
};

/* Per-CPU packet counters of skbcount.bpf.c. */
struct ft_skb_counters {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
};

#endif
