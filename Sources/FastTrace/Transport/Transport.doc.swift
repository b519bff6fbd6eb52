// Transport: how events move: per-CPU BPF ring buffers (RingSet), bounded queues between
// threads, the compact event encoding both the log and the live output carry (EventCodec),
// clocks and the stop signal. Depends on: BPF.
