import Foundation

/// Runs clang on BPF C sources. Gen drives it so the build plugin needs one command.
public enum BPFCompiler {
    /// Compiles `source` to `output`; a failure carries clang's first error line.
    public static func compile(clang: String, source: String, output: String, flags: [String]) throws(CodegenError) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: clang)
        p.arguments = flags + ["-c", source, "-o", output]
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch {
            throw CodegenError("\(clang): cannot run clang: \(error.localizedDescription)")
        }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            FileHandle.standardError.write(Data(text.utf8))
            let first = text.split(separator: "\n").first { $0.contains("error") } ?? "exit \(p.terminationStatus)"
            throw CodegenError("\(source): clang failed: \(first)")
        }
    }
}
