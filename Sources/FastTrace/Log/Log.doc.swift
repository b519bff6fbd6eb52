// Log: the capture log file: frames, header and trailer (LogFormat), the writer (its own
// compressor thread) and the reader (frame by frame, damage reported, never trusted).
// Knows nothing of rendering. Depends on: Transport (EventCodec), Kernel.
