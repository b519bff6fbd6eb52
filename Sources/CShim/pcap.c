// libpcap glue, in its own file: <pcap.h> declares `struct bpf_insn` and `struct bpf_program`
// with meanings different from <linux/bpf.h> and libbpf's, so the two never meet in one file.
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/cshim_pcap.h"

_Static_assert(sizeof(struct shim_cbpf_insn) == sizeof(struct bpf_insn), "cBPF layout");

// pcap_compile is documented thread-safe since libpcap 1.8; older parsers kept global state,
// so with those the two link types are compiled one at a time.
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

static int compile_is_thread_safe(void) {
    static int safe = -1;
    if (safe < 0) {
        int major = 0, minor = 0;
        safe = sscanf(pcap_lib_version(), "libpcap version %d.%d", &major, &minor) == 2 &&
               (major > 1 || (major == 1 && minor >= 8));
    }
    return safe;
}

int shim_pcap_compile(int linktype, int snaplen, const char *expression, int optimize,
                      struct shim_cbpf_insn **out, unsigned *count, char *err, size_t errlen) {
    pcap_t *p = pcap_open_dead(linktype, snaplen);
    if (!p) {
        snprintf(err, errlen, "pcap_open_dead(%d) failed", linktype);
        return -1;
    }
    struct bpf_program prog;
    int locked = !compile_is_thread_safe();
    if (locked) pthread_mutex_lock(&compile_lock);
    int rc = pcap_compile(p, &prog, expression, optimize, PCAP_NETMASK_UNKNOWN);
    if (locked) pthread_mutex_unlock(&compile_lock);
    if (rc != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(p));
        pcap_close(p);
        return -1;
    }
    size_t bytes = prog.bf_len * sizeof(struct bpf_insn);
    *out = malloc(bytes ? bytes : 1);
    if (*out) memcpy(*out, prog.bf_insns, bytes);
    *count = prog.bf_len;
    pcap_freecode(&prog);
    pcap_close(p);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

unsigned shim_pcap_offline_filter(const struct shim_cbpf_insn *insns, unsigned count,
                                  const uint8_t *packet, unsigned caplen, unsigned wirelen) {
    struct bpf_program prog = {.bf_len = count, .bf_insns = (struct bpf_insn *)insns};
    struct pcap_pkthdr h = {.caplen = caplen, .len = wirelen};
    return (unsigned)pcap_offline_filter(&prog, &h, packet);
}
