// swift-tools-version: 6.1
// fasttrace: an eBPF tracer that shows where a packet goes inside the Linux kernel.
// Layout (docs/architecture.md):
//   bpf/            BPF C, the single source of truth for events, maps, programs, config
//   Plugins/        build plugin: clang compiles bpf/*.bpf.c, Gen turns the objects into Swift
//   Sources/Gen     the generator (thin CLI over BPFCodegen)
//   Sources/CShim   C glue: libbpf option macros, va_list callbacks, memory ordering
//   Sources/FastTrace  the library; Sources/FastTraceCLI  the `fasttrace` command
//   Sources/FastTraceBenchmarks  `fasttrace bench` (kept out of the library a user links)
import PackageDescription

let systemLibraries: [LinkerSetting] = ["bpf", "elf", "z", "pcap", "zstd"].map { .linkedLibrary($0) }

let package = Package(
    name: "fasttrace",
    products: [
        .executable(name: "fasttrace", targets: ["FastTraceCLI"]),
        .executable(name: "fasttrace-bench", targets: ["FastTraceBench"]),
        .library(name: "FastTrace", targets: ["FastTrace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        .target(name: "CShim", linkerSettings: systemLibraries),
        .target(name: "KernelBTF", dependencies: ["CShim"]),
        .target(name: "BPFCodegen", dependencies: ["CShim", "KernelBTF"]),
        .target(name: "BPFAsm", dependencies: ["CShim"]),
        .executableTarget(name: "Gen", dependencies: ["BPFCodegen"]),
        .plugin(name: "BPFBuildPlugin", capability: .buildTool(), dependencies: ["Gen"]),
        // Release: no dynamic exclusivity checks. The renderer and ring consumer touch class
        // state per byte and per record, where the checks cost about a third of the time;
        // debug builds (and so the tests) keep them.
        .target(name: "FastTrace", dependencies: ["CShim", "KernelBTF", "BPFAsm", .product(name: "SystemPackage", package: "swift-system")],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))],
                plugins: ["BPFBuildPlugin"]),
        .target(name: "FastTraceBenchmarks", dependencies: ["FastTrace", "CShim", "KernelBTF"]),
        .executableTarget(
            name: "FastTraceCLI",
            dependencies: ["FastTrace", "FastTraceBenchmarks", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "FastTraceBench", dependencies: ["FastTrace", "FastTraceBenchmarks", "CShim"], path: "Benchmarks/FastTraceBench"),
        .testTarget(
            name: "FastTraceTests", dependencies: ["FastTrace", "FastTraceBenchmarks", "FastTraceCLI", "BPFCodegen", "CShim"],
            exclude: ["Fixtures"]),
    ]
)
