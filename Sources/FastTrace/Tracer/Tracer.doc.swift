// Tracer: a TracePlan decides what to load and attach (backend, program per target,
// filter, sizes) without loading anything; a Tracer (the session) carries it out and owns
// objects, links and rings. One file per attach backend in Backends/, registered in
// Backend.builtIn. CaptureLoop is the ring thread of a capture. Depends on: BPF, Kernel,
// Discovery, Filter, Transport; hands events to Log and Output.
