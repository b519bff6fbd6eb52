// CShim, libpcap part. Kept free of libbpf headers: <pcap.h> declares `struct bpf_insn`
// and `struct bpf_program` with meanings different from <linux/bpf.h>, so pcap.c includes
// only this file and no pcap type crosses it.
#ifndef FASTTRACE_CSHIM_PCAP_H
#define FASTTRACE_CSHIM_PCAP_H

#include <stddef.h>
#include <stdint.h>

/// One classic BPF instruction, laid out like libpcap's `struct bpf_insn`.
struct shim_cbpf_insn {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
};

/// pcap_compile on pcap_open_dead(linktype, snaplen), optimised unless optimize is 0. On success *out (free())
/// holds *count instructions and 0 is returned; on failure -1 and libpcap's message in err.
int shim_pcap_compile(int linktype, int snaplen, const char *expression, int optimize,
                      struct shim_cbpf_insn **out, unsigned *count, char *err, size_t errlen);
/// pcap_offline_filter: libpcap's own interpreter. Returns its verdict (0 = reject).
unsigned shim_pcap_offline_filter(const struct shim_cbpf_insn *insns, unsigned count,
                                  const uint8_t *packet, unsigned caplen, unsigned wirelen);

#endif
