// Filter: pcap-filter(7) expressions compiled by libpcap to classic BPF, translated to
// eBPF (BPFAsm) and spliced into the trace programs' stubs through the BPF layer's
// prepare-load hook (FilterSplicer). Depends on: BPFAsm, BPF.
