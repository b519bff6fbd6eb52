// CShim: the C glue Swift cannot express directly.
// - libbpf option structs are declared with LIBBPF_OPTS (a macro with designated
//   initialisers and a size field), so every call that needs one lives here;
// - libbpf's print and btf_dump callbacks take a va_list;
// - acquire/release accesses on memory shared with the kernel (ring buffers, mmapped maps).
#ifndef FASTTRACE_CSHIM_H
#define FASTTRACE_CSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <zstd.h>

// ---- libbpf diagnostics -------------------------------------------------------------

/// Route libbpf's messages into an in-memory tail (read with shim_libbpf_log_take) and,
/// when `echo_level` >= 0, also to stderr for levels <= echo_level (0 warn, 1 info, 2 debug).
void shim_libbpf_log_install(int echo_level);
/// Copies the recent libbpf messages (warnings and above, plus info) into buf and clears them.
/// Returns the number of bytes written (without the terminating NUL).
size_t shim_libbpf_log_take(char *buf, size_t cap);

/// "EPERM", "ENOENT", ... (glibc strerrorname_np); NULL if unknown.
const char *shim_errno_name(int err);

// ---- object lifecycle ---------------------------------------------------------------

/// The kernel BTF file CO-RE relocations use for objects opened from now on (--kernel-btf);
/// NULL: the running kernel's. Copied.
void shim_set_kernel_btf(const char *path);

/// bpf_object__open_mem with an object name (LIBBPF_OPTS). Returns NULL and sets errno on failure.
struct bpf_object *shim_object_open_mem(const void *bytes, size_t size, const char *name);

// ---- attach helpers (option structs) ------------------------------------------------

/// kprobe.multi by symbol names or by addresses (exactly one of syms/addrs non-NULL),
/// with optional per-function cookies.
struct bpf_link *shim_attach_kprobe_multi(const struct bpf_program *prog, const char **syms,
                                          const unsigned long *addrs, const uint64_t *cookies,
                                          size_t cnt, bool retprobe);
/// Legacy (perf-event based) kprobe on one function, with a cookie.
struct bpf_link *shim_attach_kprobe(const struct bpf_program *prog, const char *func,
                                    uint64_t offset, uint64_t cookie, bool retprobe);

// ---- BTF helpers --------------------------------------------------------------------

/// Writes a C header with the definitions of `roots` (type names looked up as struct,
/// union, enum or typedef) and everything they depend on, using libbpf's btf_dump.
/// Returns 0, or a negative errno; on -ENOENT *missing is the name not found.
int shim_btf_dump_types(const struct btf *btf, const char *const *roots, size_t nroots,
                        const char *out_path, const char **missing);

static inline const struct btf_member *shim_btf_members(const struct btf_type *t) {
    return btf_members(t);
}
static inline const struct btf_enum *shim_btf_enums(const struct btf_type *t) {
    return btf_enum(t);
}
static inline const struct btf_array *shim_btf_array(const struct btf_type *t) {
    return btf_array(t);
}
static inline const struct btf_var_secinfo *shim_btf_datasec_vars(const struct btf_type *t) {
    return btf_var_secinfos(t);
}
static inline const struct btf_param *shim_btf_params(const struct btf_type *t) {
    return btf_params(t);
}
static inline uint32_t shim_btf_int_encoding(const struct btf_type *t) {
    return btf_int_encoding(t);
}
static inline uint32_t shim_btf_int_bits(const struct btf_type *t) {
    return btf_int_bits(t);
}
static inline uint32_t shim_btf_int_offset(const struct btf_type *t) {
    return btf_int_offset(t);
}
static inline uint32_t shim_btf_member_bitfield_size(const struct btf_type *t, uint32_t i) {
    return btf_member_bitfield_size(t, i);
}
static inline uint32_t shim_btf_member_bit_offset(const struct btf_type *t, uint32_t i) {
    return btf_member_bit_offset(t, i);
}
static inline uint32_t shim_btf_var_linkage(const struct btf_type *t) {
    return btf_var(t)->linkage;
}
static inline uint64_t shim_btf_enum64_value(const struct btf_type *t, uint32_t i) {
    return btf_enum64_value(btf_enum64(t) + i);
}
static inline const char *shim_btf_enum64_name(const struct btf *btf, const struct btf_type *t,
                                               uint32_t i) {
    return btf__name_by_offset(btf, btf_enum64(t)[i].name_off);
}
static inline uint32_t shim_btf_type_size_or_type(const struct btf_type *t) {
    return t->size; // union with `type`
}

// ---- epoll (not in Swift's Glibc module; epoll_event is packed on x86-64) ------------

/// epoll_create1(EPOLL_CLOEXEC).
int shim_epoll_create(void);
/// Adds fd for EPOLLIN.
int shim_epoll_add(int epfd, int fd);
/// Waits up to timeout_ms; returns the number of ready fds, 0 on timeout or EINTR, -errno.
int shim_epoll_wait(int epfd, int timeout_ms);

// ---- signals and namespaces --------------------------------------------------------

/// The CLONE_NEW* type of the namespace file `fd` refers to, or -1 (errno: ENOTTY for a
/// file that is not a namespace).
int shim_ns_type(int fd);

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force
/// (-1 if it cannot be read).
long long shim_raise_nofile(void);

/// SIGINT/SIGTERM set a flag instead of killing the process (detach must run).
void shim_stop_install(void);
bool shim_stop_requested(void);
/// SIGINT/SIGTERM received so far (a second Ctrl-C skips printing what is still queued).
int shim_stop_count(void);
/// For worker threads: Ctrl-C is then delivered to the ring thread, whose epoll_wait it
/// interrupts at once (a worker catching it would leave the ring thread asleep until its
/// poll timeout).
void shim_stop_block_in_this_thread(void);
void shim_stop_request(void);

/// if_indextoname in the network namespace at `ns_path` (/proc/PID/ns/net, /run/netns/X),
/// on a short-lived thread so the caller's namespace never changes. 0 or -errno.
int shim_ifname_in_netns(const char *ns_path, unsigned ifindex, char *out, size_t cap);
/// if_nametoindex in that namespace, the same way. The index (> 0) or -errno.
int shim_ifindex_in_netns(const char *ns_path, const char *name);

// ---- clock -------------------------------------------------------------------------

/// adjtimex(2) as a read (no modes): the clock state (TIME_OK ... TIME_ERROR, or -1 with
/// errno) and the kernel's maximum and estimated wall-clock error in µs. Glibc's
/// <sys/timex.h> is not in Swift's Glibc module.
int shim_clock_error(long long *max_error_us, long long *est_error_us, bool *synchronised);

#include "cshim_pcap.h"

/// BPF_PROG_TEST_RUN on a packet (skb and XDP program types): the program's return value
/// and the mean run time per repetition. 0 or -errno.
int shim_prog_test_run(int prog_fd, const void *data, uint32_t size, uint32_t repeat,
                       uint32_t *retval, uint32_t *duration_ns);

/// Attaches a loaded raw_tp program to tracepoint `name` with an attach cookie (6.10+): the
/// link's descriptor (close it to detach), or -errno.
int shim_raw_tp_open(int prog_fd, const char *name, uint64_t cookie);

/// BPF_PROG_TEST_RUN of an skb program once, with these `struct __sk_buff` fields set on the
/// kernel's skb (ifindex picks its device; 0: loopback). 0 or -errno.
int shim_prog_test_run_skb(int prog_fd, const void *data, uint32_t size, uint32_t mark, uint32_t priority,
                           uint32_t ifindex, uint64_t tstamp, uint32_t *retval);

// ---- loaded BPF programs (--filter-trace-tc) -------------------------------------------
struct shim_prog {
    uint32_t id;
    uint32_t type;          // enum bpf_prog_type
    uint32_t btf_id;        // 0: loaded without BTF (cannot be traced with fentry)
    uint8_t tag[8];
    char name[16];          // the kernel's copy, cut at 15 characters
    char func[128];         // the main function's BTF name (the fentry attach target), or ""
};

/// The next loaded program after id `after`: 1 and `out` filled, 0 at the end, -errno.
int shim_prog_next(uint32_t after, struct shim_prog *out);

/// Attaches `prog_fd` (SCHED_CLS) to `ifname`'s clsact ingress or egress hook through netlink,
/// in the network namespace at `ns_path` (NULL: the caller's); 0 or -errno. For tests.
int shim_tc_attach(const char *ns_path, const char *ifname, int prog_fd, bool egress);

/// Attaches `prog_fd` (XDP) to `ifname` in generic (skb) mode, in the network namespace at
/// `ns_path` (NULL: the caller's); 0 or -errno. For tests.
int shim_xdp_attach(const char *ns_path, const char *ifname, int prog_fd);

// ---- libbpf custom program sections -------------------------------------------------

/// libbpf_register_prog_handler(sec, type, attach type) with only a prepare-load callback
/// (called after relocation, right before BPF_PROG_LOAD). The handler id, or -errno.
int shim_register_prog_handler(const char *sec, enum bpf_prog_type type,
                               enum bpf_attach_type attach_type,
                               libbpf_prog_prepare_load_fn_t prepare);

/// Pins the calling thread to the CPU it runs on (benchmarks: less migration noise).
/// The CPU number, or -errno.
int shim_pin_to_current_cpu(void);

// ---- memory ordering on kernel-shared memory ----------------------------------------

static inline uint64_t shim_load_acquire_u64(const volatile void *p) {
    return __atomic_load_n((const volatile uint64_t *)p, __ATOMIC_ACQUIRE);
}
static inline uint32_t shim_load_acquire_u32(const volatile void *p) {
    return __atomic_load_n((const volatile uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void shim_store_release_u64(volatile void *p, uint64_t v) {
    __atomic_store_n((volatile uint64_t *)p, v, __ATOMIC_RELEASE);
}
static inline uint64_t shim_load_relaxed_u64(const volatile void *p) {
    return __atomic_load_n((const volatile uint64_t *)p, __ATOMIC_RELAXED);
}

#endif
