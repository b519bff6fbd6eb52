// Output: renders events as text columns or JSON lines into byte buffers, and the live
// output's render thread. Knows nothing of log files; a log is rendered through
// Analysis/LogRendering.swift. Depends on: Tracer (targets), Kernel (names), Transport.
