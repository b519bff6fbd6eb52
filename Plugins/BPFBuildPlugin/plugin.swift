// Build-tool plugin: for every bpf/*.bpf.c, clang compiles a BPF object (BTF included),
// then one Gen run turns all objects into Swift (shared types + one skeleton per object).
// Every bpf/*.h is an input, so editing a field and running `swift build` regenerates.
import Foundation
import PackagePlugin

@main
struct BPFBuildPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let entries = try FileManager.default.contentsOfDirectory(at: bpfDir, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let sources = entries.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
        let headers = entries.filter { $0.pathExtension == "h" }
        let clang = try context.tool(named: "clang").url
        let gen = try context.tool(named: "Gen").url
        let objDir = context.pluginWorkDirectoryURL.appending(path: "obj")
        let outDir = context.pluginWorkDirectoryURL.appending(path: "swift")

        #if arch(x86_64)
        let (multiarch, targetArch) = ("x86_64-linux-gnu", "x86")
        #elseif arch(arm64)
        let (multiarch, targetArch) = ("aarch64-linux-gnu", "arm64")
        #else
        #error("fasttrace's BPF build supports x86_64 and arm64 hosts")
        #endif

        // One command: Gen compiles every source with clang, then generates the Swift. (Declaring
        // the intermediate .o files as outputs would make SwiftPM bundle them as resources.)
        let cflags = [
            "-target", "bpf", "-g", "-O2", "-std=gnu11", "-Wall", "-Werror",
            "-D__TARGET_ARCH_\(targetArch)", "-I\(bpfDir.path(percentEncoded: false))", "-I/usr/include/\(multiarch)",
        ]
        let swiftFiles = ["BPFTypes.swift"] + sources.map { source -> String in
            let name = String(source.lastPathComponent.dropLast(".bpf.c".count))
            return name.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() + "BPF.swift"
        }
        return [.buildCommand(
            displayName: "Compiling \(sources.count) BPF objects and generating Swift",
            executable: gen,
            arguments: ["swift", "--clang", clang.path(percentEncoded: false),
                        "--output-dir", outDir.path(percentEncoded: false),
                        "--work-dir", objDir.path(percentEncoded: false)]
                + cflags.flatMap { ["--cflag", $0] }
                + sources.map { $0.path(percentEncoded: false) },
            inputFiles: sources + headers,
            outputFiles: swiftFiles.map { outDir.appending(path: $0) })]
    }
}
