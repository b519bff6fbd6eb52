import FastTrace
import Foundation

// How the CLI speaks: one-line errors with the exit-code contract (docs/output.md), status
// lines on stderr, a progress bar on terminals.

/// Bad input or an unusable kernel: one line on stderr, then exit (2 for bad input, 1 otherwise).
func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("fasttrace: \(escapeControl(message))\n".utf8))
    exit(status)
}

/// A bad option value, file or expression: one line (input echoed in it is escaped when
/// printed) and exit 2.
struct UsageError: Error {
    let message: String
    let status: Int32
    init(_ message: String, status: Int32 = 2) {
        self.message = message
        self.status = status
    }
}

/// A trace that could not be planned or attached: its one line, and the status its kind
/// maps to (2 bad input, 3 missing privilege or kernel feature, 1 otherwise).
func fail(_ error: TraceError) -> Never {
    let status: Int32 = switch error.kind {
    case .badInput: 2
    case .kernelFeature: 3
    case .runtime: 1
    }
    fail(error.description, status: status)
}

/// Input echoed in a message, with control bytes shown as \xNN (a terminal never sees them raw).
func escapeControl(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        if u.value < 0x20 || u.value == 0x7f { out += String(format: "\\x%02x", u.value) } else { out.unicodeScalars.append(u) }
    }
    return out
}

/// Status lines go to stderr, so stdout stays the trace.
func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// A progress bar on stderr when it is a terminal; silent otherwise.
final class Progress {
    let label: String
    let enabled: Bool
    private var last = -1

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let pct = done * 100 / total
        guard pct != last else { return }
        last = pct
        let width = 30
        let filled = done * width / total
        FileHandle.standardError.write(Data("\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)".utf8))
    }

    func finish() {
        if enabled, last >= 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
