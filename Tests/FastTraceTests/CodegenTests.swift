@testable import BPFCodegen
import FastTrace
import Foundation
import Testing

/// Gen on a fixture object: layout, change propagation, determinism, bad input.
@Suite struct CodegenTests {
    func generate(_ source: String, name: String = "fixture") throws -> [String: String] {
        let dir = TestSupport.temporaryDirectory("codegen")
        defer { try? FileManager.default.removeItem(at: dir) }
        let obj = try TestSupport.compileBPF(source: source, in: dir, name: name)
        let files = try Generator.generate(objectPaths: [obj.path], workDir: dir.path)
        return Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.contents) })
    }

    @Test func fixtureStructIsLaidOutAtBTFOffsets() throws {
        let types = try #require(try generate(TestSupport.fixtureSource)["BPFTypes.swift"])
        // struct ft_fixture: first@0 u32, pad 4, second@8 u64, name@16 char[6], inner@22 (align 2),
        // color@28 enum (4), ptr@32 pointer, tail@40 u8, tail padding to 48.
        #expect(types.contains("public struct Fixture: BitwiseCopyable"))
        #expect(types.contains("/// C `struct ft_fixture`: 48 bytes, alignment 8."))
        #expect(types.contains("public var first: UInt32 = 0"))
        #expect(types.contains("var _pad0: InlineArray<4, UInt8>"))
        #expect(types.contains("public var second: UInt64 = 0"))
        #expect(types.contains("public var name: InlineArray<6, CChar>"))
        #expect(types.contains("public var nameString: String"))
        #expect(types.contains("public var inner: Inner = .init()"))
        #expect(types.contains("public var color: Color = .init()"))
        #expect(types.contains("public var ptr: UInt64 = 0"))
        #expect(types.contains("cName: \"ptr\", swiftName: \"ptr\", offset: 32, size: 8"))
        #expect(types.contains("cName: \"tail\", swiftName: \"tail\", offset: 40, size: 1"))
        #expect(types.contains("var _pad1: InlineArray<2, UInt8>"), "inner (22..<26) to color (28)")
        #expect(types.contains("var _pad2: InlineArray<7, UInt8>"), "tail padding makes size == stride == 48")
        // Nested struct with its own tail padding (3 bytes of data, size 4).
        #expect(types.contains("/// C `struct ft_inner`: 4 bytes, alignment 2."))
        // Enum with names and values.
        #expect(types.contains("public static let green = Color(rawValue: 2)"))
        #expect(types.contains("case 4: return \"FT_COLOR_BLUE\""))
    }

    @Test func skeletonHasTypedConfigMapsAndPrograms() throws {
        let skel = try #require(try generate(TestSupport.fixtureSource)["FixtureBPF.swift"])
        #expect(skel.contains("public enum FixtureBPF"))
        #expect(skel.contains("public var threshold: UInt32 = 0"))
        #expect(skel.contains("cName: \"mask\", swiftName: \"mask\", offset: 8, size: 8"))
        #expect(skel.contains("public let table: BPFHashMap<UInt32, Fixture>"))
        #expect(skel.contains("table = try BPFHashMap<UInt32, Fixture>(object.map(bpf_object__find_map_by_name(object.handle, \"table\"), name: \"table\"))"))
        // No BTF key/value (ring buffer): an untyped handle.
        #expect(skel.contains("public let events: BPFMap"))
        #expect(skel.contains("events = try object.map(bpf_object__find_map_by_name(object.handle, \"events\"), name: \"events\")"))
        #expect(skel.contains("public let fixtureProg: BPFProgram"))
        #expect(skel.contains("public consuming func load() throws(BPFError) -> Loaded"))
        #expect(skel.contains("private let objectBase64 ="))
    }

    @Test func editingTheStructChangesTheGeneratedSwift() throws {
        let before = try #require(try generate(TestSupport.fixtureSource)["BPFTypes.swift"])
        let edited = TestSupport.fixtureSource.replacingOccurrences(
            of: "\t__u32 first;\n", with: "\t__u16 first;\n\t__u16 added_field;\n")
        #expect(edited != TestSupport.fixtureSource)
        let after = try #require(try generate(edited)["BPFTypes.swift"])
        #expect(before != after)
        #expect(after.contains("public var first: UInt16 = 0"))
        #expect(after.contains("public var addedField: UInt16 = 0"))
        #expect(after.contains("cName: \"added_field\", swiftName: \"addedField\", offset: 2, size: 2"))
        #expect(!before.contains("addedField"))
    }

    @Test func outputIsDeterministic() throws {
        // The same object, generated twice into different work directories.
        let dir = TestSupport.temporaryDirectory("determinism")
        defer { try? FileManager.default.removeItem(at: dir) }
        let obj = try TestSupport.compileBPF(source: TestSupport.fixtureSource, in: dir)
        func run(_ sub: String) throws -> [String: String] {
            let work = dir.appendingPathComponent(sub)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            return Dictionary(uniqueKeysWithValues: try Generator.generate(objectPaths: [obj.path], workDir: work.path)
                .map { ($0.name, $0.contents) })
        }
        let a = try run("a"), b = try run("b")
        #expect(a.count == 2)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, text) in a { #expect(b[name] == text, "\(name) differs between two runs") }
    }

    @Test(arguments: [
        ("struct ft_bad { __u32 flags : 3; __u32 rest : 29; };", "struct ft_bad, field flags: bitfields are not supported"),
        ("struct ft_bad { union { __u32 a; __u64 b; } u; };", "union is not supported"),
        ("struct ft_bad { __u32 n; __u8 data[]; };", "struct ft_bad, field data: flexible array member is not supported"),
        ("struct ft_bad { __u8 a; __u32 b; } __attribute__((packed));", "struct ft_bad, field b: offset 1 is not a multiple of its alignment 4"),
        ("union ft_bad { __u32 a; __u64 b; };", "union ft_bad: unions are not supported"),
    ])
    func unsupportedTypesAreRejectedByName(decl: String, expected: String) throws {
        let kind = decl.hasPrefix("union") ? "union" : "struct"
        let source = """
        #include <linux/types.h>
        #include <bpf/bpf_helpers.h>
        \(decl)
        __attribute__((noinline, used)) int __ft_export_types(\(kind) ft_bad *p) { return 0; }
        """
        do {
            _ = try generate(source, name: "bad")
            Issue.record("Gen accepted \(decl)")
        } catch let error as CodegenError {
            #expect(error.description.contains(expected), "got: \(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }
}

/// The Gen executable on bad input: one line on stderr, non-zero exit, no crash.
@Suite struct GenCommandTests {
    var gen: String { TestSupport.productsDir.appendingPathComponent("Gen").path }

    @Test func missingFile() throws {
        let dir = TestSupport.temporaryDirectory("gen")
        let r = try TestSupport.run(gen, ["swift", "--output-dir", dir.path, "/nonexistent/x.bpf.o"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("Gen: /nonexistent/x.bpf.o:"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func objectWithoutBTF() throws {
        let dir = TestSupport.temporaryDirectory("gen")
        let obj = try TestSupport.compileBPF(source: TestSupport.fixtureSource, in: dir, debug: false)
        let r = try TestSupport.run(gen, ["swift", "--output-dir", dir.path, obj.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no BTF"), "got: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func notAnObject() throws {
        let dir = TestSupport.temporaryDirectory("gen")
        let junk = dir.appendingPathComponent("junk.bpf.o")
        try Data("this is not ELF".utf8).write(to: junk)
        let r = try TestSupport.run(gen, ["swift", "--output-dir", dir.path, junk.path])
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1, "got: \(r.stderr)")
    }

    @Test func usageErrors() throws {
        #expect(try TestSupport.run(gen, []).status == 2)
        #expect(try TestSupport.run(gen, ["frobnicate"]).status == 2)
        #expect(try TestSupport.run(gen, ["swift"]).status == 2)
    }
}

/// The program-variant table: `family_N` programs become `family(N)` lookups, so backends
/// pick a variant by argument position without a hand-kept list.
@Suite struct VariantTableTests {
    typealias P = (cName: String, swiftName: String, section: String)
    static func programs(_ names: [String]) -> [P] { names.map { ($0, Naming.member($0), "ft.kprobe") } }

    @Test func familiesGroupByNameAndArity() {
        let f = SkeletonEmitter.variantFamilies(Self.programs(["skb_1", "skb_2", "drop_1_2", "drop_2_3", "plain", "mixed_1", "mixed_1_2"]))
        #expect(f.map(\.family) == ["skb", "drop"], "mixed arity is no family; plain has no number")
        #expect(f[0].members.map(\.numbers) == [[1], [2]])
        #expect(f[1].members.map(\.swiftName) == ["drop12", "drop23"])
    }

    @Test func aProgramNamedLikeTheFamilyKeepsItsName() {
        #expect(SkeletonEmitter.variantFamilies(Self.programs(["skb", "skb_1"])).isEmpty)
    }

    @Test func generatedLookupsReturnTheVariantOrNil() {
        #expect(TraceBPF.Programs.kmultiSkb(3) == \.kmultiSkb3)
        #expect(TraceBPF.Programs.kmultiSkb(6) == nil)
        #expect(TraceBPF.Programs.fentryDrop(2, 3) == \.fentryDrop23)
        #expect(TraceBPF.Programs.tpSkb(4) == nil)
        #expect(TraceBPF.Programs.cNames[\.tpKfreeSkb] == "tp_kfree_skb")
    }
}
