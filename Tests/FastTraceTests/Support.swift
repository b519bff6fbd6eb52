import Foundation
import Testing

/// Paths and helpers shared by the tests.
enum TestSupport {
    /// The package root (tests run from anywhere).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The build products directory (where `fasttrace` and `Gen` are).
    static let productsDir: URL = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // Swift Testing on Linux runs `<products>/fasttracePackageTests.xctest`; XCTest may add levels.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Gen").path) {
            dir.deleteLastPathComponent()
        }
        return dir
    }()

    static let clang: String = {
        for c in ["/usr/bin/clang", "/usr/bin/clang-14"] where FileManager.default.isExecutableFile(atPath: c) { return c }
        return "clang"
    }()

    static var multiarchInclude: String {
        #if arch(x86_64)
        "/usr/include/x86_64-linux-gnu"
        #else
        "/usr/include/aarch64-linux-gnu"
        #endif
    }

    static func temporaryDirectory(_ tag: String = "ft") -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs a program and collects its output.
    static func run(_ path: String, _ args: [String], in directory: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    /// Compiles BPF C into an object with BTF (`debug: false` leaves BTF out).
    static func compileBPF(source: String, in dir: URL, name: String = "fixture", debug: Bool = true) throws -> URL {
        let src = dir.appendingPathComponent("\(name).bpf.c")
        try source.write(to: src, atomically: true, encoding: .utf8)
        let obj = dir.appendingPathComponent("\(name).bpf.o")
        let r = try run(clang, ["-target", "bpf", "-O2"] + (debug ? ["-g"] : []) + [
            "-I\(multiarchInclude)", "-c", src.path, "-o", obj.path,
        ])
        #expect(r.status == 0, "clang failed: \(r.stderr)")
        return obj
    }

    static var fixtureSource: String {
        try! String(contentsOf: packageRoot.appendingPathComponent("Tests/FastTraceTests/Fixtures/fixture.bpf.c"), encoding: .utf8)
    }
}
