// Gen: the code generator the build plugin runs. See docs/codegen.md.
//   Gen swift --output-dir DIR [--work-dir DIR] [--clang PATH --cflag F...] INPUT...
//       typed Swift from BPF objects; `.c` inputs are compiled with clang first
//   Gen vmlinux-h --btf PATH --roots FILE --output PATH         pruned vmlinux.h
import BPFCodegen
import Foundation

let usage = """
usage: Gen swift --output-dir DIR [--work-dir DIR] [--clang PATH] [--cflag FLAG]... OBJECT.bpf.o|SOURCE.bpf.c...
       Gen vmlinux-h --btf /sys/kernel/btf/vmlinux --roots bpf/vmlinux.types --output bpf/vmlinux.h
"""

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("Gen: \(message)\n".utf8))
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail(usage, code: 2) }
args.removeFirst()
var options: [String: [String]] = [:]
var positional: [String] = []
while let a = args.first {
    args.removeFirst()
    if a.hasPrefix("--") {
        guard let v = args.first else { fail("\(a) needs a value", code: 2) }
        args.removeFirst()
        options[a, default: []].append(v)
    } else {
        positional.append(a)
    }
}

do {
    switch command {
    case "swift":
        guard let out = options["--output-dir"]?.last, !positional.isEmpty else { fail(usage, code: 2) }
        let work = options["--work-dir"]?.last ?? out
        try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var objects: [String] = []
        for input in positional {
            guard input.hasSuffix(".c") else { objects.append(input); continue }
            guard FileManager.default.fileExists(atPath: input) else { fail("\(input): no such file") }
            let object = (work as NSString).appendingPathComponent(Generator.objectName(forPath: input) + ".bpf.o")
            try BPFCompiler.compile(clang: options["--clang"]?.last ?? "clang", source: input, output: object,
                                    flags: options["--cflag"] ?? [])
            objects.append(object)
        }
        for file in try Generator.generate(objectPaths: objects, workDir: work) {
            let path = (out as NSString).appendingPathComponent(file.name)
            do { try file.contents.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                fail("\(path): cannot write: \(error.localizedDescription)")
            }
        }
    case "vmlinux-h":
        guard let btf = options["--btf"]?.last, let rootsFile = options["--roots"]?.last, let out = options["--output"]?.last else {
            fail(usage, code: 2)
        }
        guard let text = try? String(contentsOfFile: rootsFile, encoding: .utf8) else {
            fail("\(rootsFile): cannot read the list of root types")
        }
        let roots = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        try VmlinuxHeader.write(btfPath: btf, roots: roots, output: out)
    default:
        fail("unknown command '\(command)'\n\(usage)", code: 2)
    }
} catch {
    fail(error.description)
}
