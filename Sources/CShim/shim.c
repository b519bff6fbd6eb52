#define _GNU_SOURCE
#include "cshim.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <unistd.h>

// ---- libbpf diagnostics -------------------------------------------------------------
// libbpf reports the reason of a failure (verifier log excerpt, missing symbol, ...) only
// through its print callback. Keep a bounded tail so Swift errors can carry that text.

#define LOG_CAP 8192
static char log_buf[LOG_CAP];
static size_t log_len;
static int log_echo_level = -1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static int shim_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    // Whole messages: a verifier log arrives as one, and its end says why.
    char small[1024], *line = small;
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0) return 0;
    if ((size_t)n >= sizeof small && (line = malloc((size_t)n + 1))) {
        va_copy(copy, args);
        vsnprintf(line, (size_t)n + 1, fmt, copy);
        va_end(copy);
    }
    if (!line) line = small;
    size_t len = strlen(line);
    pthread_mutex_lock(&log_mu);
    if ((int)level <= log_echo_level) fputs(line, stderr);
    if (level != LIBBPF_DEBUG) {
        if (len >= LOG_CAP) len = LOG_CAP - 1;
        if (log_len + len >= LOG_CAP) { // keep the newest text
            size_t drop = log_len + len - (LOG_CAP - 1);
            if (drop > log_len) drop = log_len;
            memmove(log_buf, log_buf + drop, log_len - drop);
            log_len -= drop;
        }
        memcpy(log_buf + log_len, line + (strlen(line) - len), len);
        log_len += len;
    }
    pthread_mutex_unlock(&log_mu);
    if (line != small) free(line);
    return n;
}

void shim_libbpf_log_install(int echo_level) {
    pthread_mutex_lock(&log_mu);
    log_echo_level = echo_level;
    pthread_mutex_unlock(&log_mu);
    libbpf_set_print(shim_libbpf_print);
}

size_t shim_libbpf_log_take(char *buf, size_t cap) {
    if (cap == 0) return 0;
    pthread_mutex_lock(&log_mu);
    size_t n = log_len < cap - 1 ? log_len : cap - 1;
    memcpy(buf, log_buf + (log_len - n), n);
    buf[n] = 0;
    log_len = 0;
    pthread_mutex_unlock(&log_mu);
    return n;
}

const char *shim_errno_name(int err) { return strerrorname_np(err); }

// ---- object lifecycle ---------------------------------------------------------------

static char *kernel_btf_path;

void shim_set_kernel_btf(const char *path) {
    free(kernel_btf_path);
    kernel_btf_path = path ? strdup(path) : NULL;
}

struct bpf_object *shim_object_open_mem(const void *bytes, size_t size, const char *name) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .btf_custom_path = kernel_btf_path);
    struct bpf_object *obj = bpf_object__open_mem(bytes, size, &opts);
    if (!obj) return NULL; // libbpf 1.x sets errno
    return obj;
}

// ---- attach helpers -----------------------------------------------------------------

struct bpf_link *shim_attach_kprobe_multi(const struct bpf_program *prog, const char **syms,
                                          const unsigned long *addrs, const uint64_t *cookies,
                                          size_t cnt, bool retprobe) {
    LIBBPF_OPTS(bpf_kprobe_multi_opts, opts, .syms = syms, .addrs = addrs,
                .cookies = (const __u64 *)cookies, .cnt = cnt, .retprobe = retprobe);
    return bpf_program__attach_kprobe_multi_opts(prog, NULL, &opts);
}

struct bpf_link *shim_attach_kprobe(const struct bpf_program *prog, const char *func,
                                    uint64_t offset, uint64_t cookie, bool retprobe) {
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = offset, .bpf_cookie = cookie,
                .retprobe = retprobe);
    return bpf_program__attach_kprobe_opts(prog, func, &opts);
}

// ---- BTF dump -----------------------------------------------------------------------

static void dump_printf(void *ctx, const char *fmt, va_list args) { vfprintf((FILE *)ctx, fmt, args); }

static int find_root(const struct btf *btf, const char *name) {
    static const int kinds[] = {BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_ENUM,
                                BTF_KIND_ENUM64, BTF_KIND_TYPEDEF};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        int id = btf__find_by_name_kind(btf, name, kinds[i]);
        if (id > 0) return id;
    }
    return -ENOENT;
}

int shim_btf_dump_types(const struct btf *btf, const char *const *roots, size_t nroots,
                        const char *out_path, const char **missing) {
    FILE *out = fopen(out_path, "w");
    if (!out) return -errno;
    struct btf_dump *d = btf_dump__new(btf, dump_printf, out, NULL);
    if (!d) {
        int err = -errno;
        fclose(out);
        return err;
    }
    int err = 0;
    for (size_t i = 0; i < nroots; i++) {
        int id = find_root(btf, roots[i]);
        if (id < 0) {
            if (missing) *missing = roots[i];
            err = id;
            break;
        }
        err = btf_dump__dump_type(d, (__u32)id);
        if (err) break;
    }
    btf_dump__free(d);
    if (fclose(out) && !err) err = -errno;
    return err;
}

// ---- epoll --------------------------------------------------------------------------

int shim_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int shim_epoll_add(int epfd, int fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int shim_epoll_wait(int epfd, int timeout_ms) {
    struct epoll_event events[64];
    int n = epoll_wait(epfd, events, 64, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    return n;
}

// ---- signals and namespaces ---------------------------------------------------------

static volatile sig_atomic_t stop_flag;

static volatile sig_atomic_t stop_count;

static void on_stop(int sig) { (void)sig; stop_flag = 1; stop_count++; }

int shim_stop_count(void) { return stop_count; }

void shim_stop_install(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    // A parent may hand us a mask with these blocked (test runners do): Ctrl-C must work.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int shim_ns_type(int fd) {
    // NS_GET_NSTYPE (linux/nsfs.h, 4.11+): the CLONE_NEW* flag of the namespace behind fd.
    return ioctl(fd, _IO(0xb7, 0x3));
}

long long shim_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r))
        return -1;
    if (r.rlim_cur < r.rlim_max) {
        struct rlimit raised = {.rlim_cur = r.rlim_max, .rlim_max = r.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            r.rlim_cur = r.rlim_max;
    }
    return r.rlim_cur == RLIM_INFINITY ? (long long)1 << 62 : (long long)r.rlim_cur;
}

void shim_stop_block_in_this_thread(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

bool shim_stop_requested(void) { return stop_flag != 0; }
void shim_stop_request(void) { stop_flag = 1; }

struct ifname_job {
    const char *ns_path;
    unsigned ifindex;
    char name[IF_NAMESIZE];
    bool to_index; // name -> index instead of index -> name
    int err;
};

// Moves the calling thread (only it) into the network namespace at `ns_path`; 0 or -errno.
static int enter_netns(const char *ns_path) {
    int fd = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int err = setns(fd, CLONE_NEWNET) ? -errno : 0;
    close(fd);
    return err;
}

static void *ifname_thread(void *arg) {
    struct ifname_job *job = arg;
    if ((job->err = enter_netns(job->ns_path))) return NULL;
    if (job->to_index) {
        job->ifindex = if_nametoindex(job->name);
        job->err = job->ifindex ? 0 : -errno;
    } else {
        job->err = if_indextoname(job->ifindex, job->name) ? 0 : -errno;
    }
    return NULL;
}

static int run_ifname_job(struct ifname_job *job) {
    pthread_t t;
    if (pthread_create(&t, NULL, ifname_thread, job)) return -EAGAIN;
    pthread_join(t, NULL);
    return job->err;
}

int shim_ifname_in_netns(const char *ns_path, unsigned ifindex, char *out, size_t cap) {
    struct ifname_job job = {.ns_path = ns_path, .ifindex = ifindex};
    int err = run_ifname_job(&job);
    if (err) return err;
    snprintf(out, cap, "%s", job.name);
    return 0;
}

int shim_ifindex_in_netns(const char *ns_path, const char *name) {
    struct ifname_job job = {.ns_path = ns_path, .to_index = true};
    if (strlen(name) >= sizeof(job.name)) return -ENAMETOOLONG;
    snprintf(job.name, sizeof(job.name), "%s", name);
    int err = run_ifname_job(&job);
    return err ? err : (int)job.ifindex;
}

int shim_register_prog_handler(const char *sec, enum bpf_prog_type type,
                               enum bpf_attach_type attach_type,
                               libbpf_prog_prepare_load_fn_t prepare) {
    LIBBPF_OPTS(libbpf_prog_handler_opts, opts, .prog_prepare_load_fn = prepare);
    return libbpf_register_prog_handler(sec, type, attach_type, &opts);
}

int shim_prog_test_run(int prog_fd, const void *data, uint32_t size, uint32_t repeat,
                       uint32_t *retval, uint32_t *duration_ns) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = size, .repeat = repeat);
    int rc = bpf_prog_test_run_opts(prog_fd, &opts);
    if (rc) return -errno;
    if (retval) *retval = opts.retval;
    if (duration_ns) *duration_ns = opts.duration;
    return 0;
}

int shim_raw_tp_open(int prog_fd, const char *name, uint64_t cookie) {
    /* BPF_RAW_TRACEPOINT_OPEN with the cookie 6.10 added after prog_fd. Debian 12's uapi
     * header and libbpf 1.1 predate it, so the attribute is laid out here: name (u64),
     * prog_fd (u32), 4 bytes of padding, cookie (u64). An older kernel refuses the
     * non-zero tail (EINVAL). */
    struct { uint64_t name; uint32_t prog_fd; uint32_t pad; uint64_t cookie; } attr;
    union bpf_attr u;
    memset(&u, 0, sizeof(u));
    attr.name = (uint64_t)(uintptr_t)name;
    attr.prog_fd = (uint32_t)prog_fd;
    attr.pad = 0;
    attr.cookie = cookie;
    memcpy(&u, &attr, sizeof(attr));
    int fd = (int)syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &u, sizeof(attr));
    return fd < 0 ? -errno : fd;
}

int shim_prog_test_run_skb(int prog_fd, const void *data, uint32_t size, uint32_t mark, uint32_t priority,
                           uint32_t ifindex, uint64_t tstamp, uint32_t *retval) {
    struct __sk_buff ctx = {.mark = mark, .priority = priority, .ifindex = ifindex, .tstamp = tstamp};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = size, .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = 1);
    int rc = bpf_prog_test_run_opts(prog_fd, &opts);
    if (rc) return -errno;
    if (retval) *retval = opts.retval;
    return 0;
}

int shim_pin_to_current_cpu(void) {
    int cpu = sched_getcpu();
    if (cpu < 0) return -errno;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) ? -errno : cpu;
}

// ---- loaded BPF programs (--filter-trace-tc) ---------------------------------------------

int shim_prog_next(uint32_t after, struct shim_prog *out) {
    uint32_t id = after;
    for (;;) {
        if (bpf_prog_get_next_id(id, &id)) return errno == ENOENT ? 0 : -errno;
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0) {
            if (errno == ENOENT) continue; // unloaded meanwhile
            return -errno;
        }
        struct bpf_prog_info info = {0};
        struct bpf_func_info func = {0};
        uint32_t len = sizeof(info);
        info.nr_func_info = 1;
        info.func_info_rec_size = sizeof(func);
        info.func_info = (uint64_t)(uintptr_t)&func;
        int rc = bpf_obj_get_info_by_fd(fd, &info, &len);
        int err = rc ? -errno : 0;
        close(fd);
        if (err == -ENOENT) continue;
        if (err) return err;
        memset(out, 0, sizeof(*out));
        out->id = id;
        out->type = info.type;
        out->btf_id = info.btf_id;
        memcpy(out->tag, info.tag, sizeof(out->tag));
        snprintf(out->name, sizeof(out->name), "%s", info.name);
        // The main function's BTF name: the whole name (info.name is cut at 15 characters)
        // and what fentry needs as the attach target.
        if (info.btf_id && info.nr_func_info > 0) {
            struct btf *btf = btf__load_from_kernel_by_id(info.btf_id);
            if (btf) {
                const struct btf_type *t = btf__type_by_id(btf, func.type_id);
                const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;
                if (n) snprintf(out->func, sizeof(out->func), "%s", n);
                btf__free(btf);
            }
        }
        return 1;
    }
}

struct tc_job {
    const char *ns_path;
    const char *ifname;
    int prog_fd;
    bool egress;
    int err;
};

static void *tc_thread(void *arg) {
    struct tc_job *job = arg;
    if (job->ns_path && (job->err = enter_netns(job->ns_path))) return NULL;
    int ifindex = (int)if_nametoindex(job->ifname);
    if (!ifindex) { job->err = -errno; return NULL; }
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
                .attach_point = job->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    int rc = bpf_tc_hook_create(&hook);
    if (rc && rc != -EEXIST) { job->err = rc; return NULL; }
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = job->prog_fd);
    job->err = bpf_tc_attach(&hook, &opts);
    return NULL;
}

int shim_tc_attach(const char *ns_path, const char *ifname, int prog_fd, bool egress) {
    struct tc_job job = {.ns_path = ns_path, .ifname = ifname, .prog_fd = prog_fd, .egress = egress};
    pthread_t t;
    if (pthread_create(&t, NULL, tc_thread, &job)) return -EAGAIN;
    pthread_join(t, NULL);
    return job.err;
}

struct xdp_job {
    const char *ns_path;
    const char *ifname;
    int prog_fd;
    int err;
};

static void *xdp_thread(void *arg) {
    struct xdp_job *job = arg;
    if (job->ns_path && (job->err = enter_netns(job->ns_path))) return NULL;
    int ifindex = (int)if_nametoindex(job->ifname);
    if (!ifindex) { job->err = -errno; return NULL; }
    job->err = bpf_xdp_attach(ifindex, job->prog_fd, XDP_FLAGS_SKB_MODE, NULL);
    return NULL;
}

int shim_xdp_attach(const char *ns_path, const char *ifname, int prog_fd) {
    struct xdp_job job = {.ns_path = ns_path, .ifname = ifname, .prog_fd = prog_fd};
    pthread_t t;
    if (pthread_create(&t, NULL, xdp_thread, &job)) return -EAGAIN;
    pthread_join(t, NULL);
    return job.err;
}

int shim_clock_error(long long *max_error_us, long long *est_error_us, bool *synchronised) {
    struct timex tx = {0};
    int state = adjtimex(&tx);
    if (state < 0) return -1;
    *max_error_us = tx.maxerror;
    *est_error_us = tx.esterror;
    *synchronised = state != TIME_ERROR;
    return state;
}
