import CShim

/// Ctrl-C and SIGTERM as a flag the capture polls: the handler only sets it (and counts, so a
/// second Ctrl-C can mean "skip the rest"). Worker threads block both signals
/// (`BoundedQueue`), so the ring thread's wait is the one they interrupt.
public enum StopSignal {
    /// Installs the handler and unblocks both signals in this thread (a parent may have
    /// blocked them: test runners do).
    public static func install() { shim_stop_install() }

    /// Whether a stop was asked for (the signal, or `request()`).
    public static var requested: Bool { shim_stop_requested() }

    /// How many times the signal came.
    public static var count: Int { Int(shim_stop_count()) }

    /// Asks for a stop as the signal would.
    public static func request() { shim_stop_request() }
}
