// SPDX-License-Identifier: GPL-2.0
/* Codegen test fixture: the tests compile this with clang, sometimes after editing it. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum ft_color { FT_COLOR_RED = 1, FT_COLOR_GREEN = 2, FT_COLOR_BLUE = 4 };

struct ft_inner {
	__u16 port;
	__u8 proto;
};

struct ft_fixture {
	__u32 first;
	__u64 second;
	char name[6];
	struct ft_inner inner;
	enum ft_color color;
	__u32 *ptr;
	__u8 tail;
};

const volatile __u32 threshold = 0;
const volatile __u64 mask = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct ft_fixture);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("socket")
int fixture_prog(void *ctx)
{
	__u32 key = threshold;
	struct ft_fixture *f = bpf_map_lookup_elem(&table, &key);

	return f ? (int)(f->second & mask) : 0;
}
