@testable import FastTrace
import Foundation
import KernelBTF
import Testing

/// sk_buff function and tracepoint discovery against the running kernel's BTF.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: KernelInfo.vmlinuxBTFPath), "needs kernel BTF"))
struct DiscoveryTests {
    static let all: Discovery = try! Discovery.run()

    @Test func findsTheSkbFunctionsWithTheirPositions() throws {
        let d = Self.all
        #expect(d.candidates >= 1000, "pwru-like kernels have ~1,400–2,400")
        #expect(d.functions.count >= 1000 && d.functions.count <= d.candidates)
        let byName = Dictionary(d.functions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in ["ip_rcv", "__netif_receive_skb", "tcp_v4_rcv", "__dev_queue_xmit", "consume_skb"] {
            #expect(byName[name]?.position == 1, "\(name)")
        }
        // The drop functions: arg 1 of kfree_skb_reason (≤6.10), arg 2 of sk_skb_reason_drop (6.11+).
        let btf = try BTF.vmlinux()
        if btf.find("sk_skb_reason_drop", kind: .func) != nil {
            #expect(byName["sk_skb_reason_drop"]?.position == 2)
        } else {
            #expect(byName["kfree_skb_reason"]?.position == 1)
        }
        #expect(d.functions.map(\.name) == d.functions.map(\.name).sorted())
        #expect(Set(d.functions.map(\.name)).count == d.functions.count, "each name once")
    }

    @Test(.enabled(if: KernelInfo.isRoot, "kallsyms addresses are hidden from non-root"))
    func functionsCarryAddresses() {
        let withAddress = Self.all.functions.filter { !$0.addresses.isEmpty }
        #expect(withAddress.count == Self.all.functions.count, "every attachable function has an address")
        #expect(Self.all.functions.allSatisfy { $0.addresses.allSatisfy { $0 >= 0xffff_0000_0000_0000 } })
    }

    @Test func findsTheSkbTracepoints() {
        let tps = Dictionary(Self.all.tracepoints.map { ($0.name, $0.position) }, uniquingKeysWith: { a, _ in a })
        for name in ["kfree_skb", "consume_skb", "net_dev_queue", "netif_receive_skb", "net_dev_xmit"] {
            #expect(tps[name] == 1, "\(name)")
        }
        #expect(Self.all.tracepoints.count >= 10)
    }

    @Test func limitMatchesWholeNames() throws {
        #expect(try NameFilter("ip_rcv").matches("ip_rcv"))
        #expect(try !NameFilter("ip_rcv").matches("ip_rcv_core"))
        #expect(try !NameFilter("rcv").matches("ip_rcv"))
        #expect(try NameFilter("ip_rcv.*|tcp_v4_rcv").matches("ip_rcv_finish"))
        let d = try Discovery.run(.init(limit: NameFilter("ip_rcv|kfree_skb")))
        #expect(d.functions.map(\.name) == ["ip_rcv"])
        #expect(d.tracepoints.map(\.name) == ["kfree_skb"])
    }

    @Test func invalidRegexIsAOneLineUsageError() throws {
        #expect(throws: NameFilter.InvalidPattern.self) { try NameFilter("(") }
        let cli = TestSupport.productsDir.appendingPathComponent("fasttrace").path
        let r = try TestSupport.run(cli, ["funcs", "--limit-funcs", "ip_(rcv"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("fasttrace: --limit-funcs: invalid regular expression 'ip_(rcv'"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func unknownModuleIsAnError() throws {
        #expect(throws: Discovery.Failure.self) { try Discovery.run(.init(modules: ["no_such_module_ft"])) }
    }

    @Test func funcsCommandJSON() throws {
        let cli = TestSupport.productsDir.appendingPathComponent("fasttrace").path
        let r = try TestSupport.run(cli, ["funcs", "--filter-func", "ip_rcv.*", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let d = try JSONDecoder().decode(Discovery.self, from: Data(r.stdout.utf8))
        #expect(d.functions.contains { $0.name == "ip_rcv" })
        #expect(d.functions.allSatisfy { $0.name.hasPrefix("ip_rcv") })
    }

    /// With tracefs (the VM guests mount it): available_filter_functions is the source, and
    /// module BTF is searched on request.
    @Test(.enabled(if: KernelInfo.tracefsPath != nil && KernelInfo.isRoot, "tracefs not mounted (runs in the VM suite)"))
    func tracefsSourceAndModuleBTF() throws {
        #expect(Self.all.source == .availableFilterFunctions)
        // Loading veth on demand (as `ip link add type veth` does) gives it split BTF.
        let ip = try TestSupport.run("/sbin/ip", ["link", "add", "ftveth0", "type", "veth", "peer", "name", "ftveth1"])
        defer { _ = try? TestSupport.run("/sbin/ip", ["link", "del", "ftveth0"]) }
        try #require(ip.status == 0, "\(ip.stderr)")
        try #require(FileManager.default.fileExists(atPath: "/sys/kernel/btf/veth"), "veth built in or without BTF")
        let d = try Discovery.run(.init(limit: NameFilter("veth_.*"), modules: ["veth"]))
        let xmit = try #require(d.functions.first { $0.name == "veth_xmit" })
        #expect(xmit.position == 1)
        #expect(xmit.module == "veth")
    }
}

/// The per-boot discovery cache: the same answer back under the same key, nothing under
/// another, and nothing from a damaged file or a directory others could write.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: KernelInfo.vmlinuxBTFPath), "needs kernel BTF"))
struct DiscoveryCacheTests {
    func encoded(_ d: Discovery) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return try e.encode(d)
    }

    @Test func storedDiscoveryComesBackUnderItsKeyOnly() throws {
        let dir = TestSupport.temporaryDirectory("dcache").appendingPathComponent("cache").path
        let cache = DiscoveryCache(directory: dir)
        let options = Discovery.Options(limit: try NameFilter("ip_.*"), scope: .functions)
        let d = try Discovery.run(options)
        #expect(d.functions.contains { $0.name == "ip_rcv" && $0.btfID != nil }, "\(d.functions.prefix(5))")
        let key = DiscoveryCache.key(options)
        #expect(cache.load(key: key) == nil)
        cache.store(d, key: key)
        // Created for root alone.
        var st = stat()
        #expect(lstat(dir, &st) == 0 && st.st_mode & 0o777 == 0o700)
        let back = try #require(cache.load(key: key))
        #expect(try encoded(back) == encoded(d))
        // Other options, another key: a miss.
        let other = DiscoveryCache.key(Discovery.Options(limit: try NameFilter("tcp_.*"), scope: .functions))
        #expect(other != key && cache.load(key: other) == nil)
        #expect(key.contains("boot ") && key.contains("release \(KernelInfo.release)") && key.contains("vmlinux="))
    }

    @Test func damagedFilesAndOpenDirectoriesAreNotRead() throws {
        let dir = TestSupport.temporaryDirectory("dcache").appendingPathComponent("cache").path
        let cache = DiscoveryCache(directory: dir)
        let options = Discovery.Options(limit: try NameFilter("udp_.*"), scope: .functions)
        let key = DiscoveryCache.key(options)
        cache.store(try Discovery.run(options), key: key)
        let file = cache.path(for: key)
        let good = try #require(FileManager.default.contents(atPath: file))
        // Cut, flipped, or another key's first line: absent, never a crash.
        for damaged in [good.prefix(good.count / 2), Data(good.map { $0 ^ 0x20 }), Data("other\n".utf8) + good.drop(while: { $0 != 10 }).dropFirst()] {
            try damaged.write(to: URL(fileURLWithPath: file))
            #expect(cache.load(key: key) == nil)
        }
        try good.write(to: URL(fileURLWithPath: file))
        #expect(cache.load(key: key) != nil)
        // A directory others may write is not trusted.
        #expect(chmod(dir, 0o777) == 0)
        #expect(cache.load(key: key) == nil)
        #expect(chmod(dir, 0o700) == 0)
        // Nor a link to one.
        let link = dir + "-link"
        #expect(symlink(dir, link) == 0)
        #expect(DiscoveryCache(directory: link).load(key: key) == nil)
    }
}
