import CShim
import Foundation

/// A map of a `BPFObject`. Typed views (`BPFArrayMap`, ...) are generated where the
/// map's BTF key and value types have Swift equivalents.
public final class BPFMap {
    let handle: OpaquePointer
    public let object: BPFObject

    init(handle: OpaquePointer, object: BPFObject) {
        self.handle = handle
        self.object = object
    }

    public var name: String { String(cString: bpf_map__name(handle)) }
    public var fd: Int32 { bpf_map__fd(handle) }
    public var keySize: Int { Int(bpf_map__key_size(handle)) }
    public var valueSize: Int { Int(bpf_map__value_size(handle)) }
    public var maxEntries: Int { Int(bpf_map__max_entries(handle)) }

    /// Sets the number of entries before load (ring sizes, table sizes).
    public func setMaxEntries(_ n: Int) throws(BPFError) {
        guard let entries = UInt32(exactly: n), entries > 0 else { throw BPFError.capture("resize map \(name) to \(n) entries (1 to \(UInt32.max))") }
        let rc = bpf_map__set_max_entries(handle, entries)
        guard rc == 0 else { throw BPFError.capture("resize map \(name)", code: rc) }
    }

    /// Uses `other`'s kernel map instead of creating one at load (objects sharing maps).
    public func reuse(_ other: BPFMap) throws(BPFError) {
        let rc = bpf_map__reuse_fd(handle, other.fd)
        guard rc == 0 else { throw BPFError.capture("reuse map \(other.name) for \(name)", code: rc) }
    }

    /// Reads one element into `value` (valueSize bytes, or per-CPU stride × CPUs).
    func lookup(key: UnsafeRawPointer, value: UnsafeMutableRawPointer) throws(BPFError) -> Bool {
        let rc = bpf_map_lookup_elem(fd, key, value)
        if rc == 0 { return true }
        if Glibc.errno == ENOENT { return false }
        throw BPFError.capture("lookup in map \(name)")
    }

    func update(key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64 = 0) throws(BPFError) {
        guard bpf_map_update_elem(fd, key, value, flags) == 0 else { throw BPFError.capture("update map \(name)") }
    }

    func delete(key: UnsafeRawPointer) throws(BPFError) -> Bool {
        if bpf_map_delete_elem(fd, key) == 0 { return true }
        if Glibc.errno == ENOENT { return false }
        throw BPFError.capture("delete from map \(name)")
    }

    /// Number of possible CPUs: the length of every per-CPU value array.
    public static let possibleCPUs: Int = Int(max(libbpf_num_possible_cpus(), 1))
}

private func checkSize<T>(_ map: BPFMap, _ size: Int, _ t: T.Type, _ what: String) {
    precondition(size == MemoryLayout<T>.size, "map \(map.name): \(what) is \(size) bytes, \(T.self) has \(MemoryLayout<T>.size)")
}

/// BPF_MAP_TYPE_ARRAY with a typed value.
public struct BPFArrayMap<Value: BitwiseCopyable> {
    public let map: BPFMap
    public init(_ map: BPFMap) {
        checkSize(map, map.valueSize, Value.self, "value")
        self.map = map
    }

    public func lookup(_ index: UInt32) throws(BPFError) -> Value? {
        var key = index
        var value = unsafe_zeroed(Value.self)
        let found = try withUnsafeMutableBytes(of: &value) { v throws(BPFError) in try map.lookup(key: &key, value: v.baseAddress!) }
        return found ? value : nil
    }

    public func update(_ index: UInt32, _ value: Value) throws(BPFError) {
        var key = index
        var value = value
        try map.update(key: &key, value: &value)
    }
}

/// BPF_MAP_TYPE_PERCPU_ARRAY with a typed value: one value per possible CPU.
public struct BPFPerCPUArrayMap<Value: BitwiseCopyable> {
    public let map: BPFMap
    public init(_ map: BPFMap) {
        checkSize(map, map.valueSize, Value.self, "value")
        self.map = map
    }

    public func lookup(_ index: UInt32) throws(BPFError) -> [Value] {
        var key = index
        return try perCPURead(map) { buf throws(BPFError) in try map.lookup(key: &key, value: buf) }
    }
}

/// BPF_MAP_TYPE_HASH / LRU_HASH with typed key and value.
public struct BPFHashMap<Key: BitwiseCopyable, Value: BitwiseCopyable> {
    public let map: BPFMap
    public init(_ map: BPFMap) {
        checkSize(map, map.keySize, Key.self, "key")
        checkSize(map, map.valueSize, Value.self, "value")
        self.map = map
    }

    public func lookup(_ key: Key) throws(BPFError) -> Value? {
        var key = key
        var value = unsafe_zeroed(Value.self)
        let found = try withUnsafeMutableBytes(of: &value) { v throws(BPFError) in try map.lookup(key: &key, value: v.baseAddress!) }
        return found ? value : nil
    }

    public func update(_ key: Key, _ value: Value) throws(BPFError) {
        var key = key
        var value = value
        try map.update(key: &key, value: &value)
    }

    @discardableResult
    public func delete(_ key: Key) throws(BPFError) -> Bool {
        var key = key
        return try map.delete(key: &key)
    }

    /// Every key currently in the map (a snapshot; concurrent updates may be missed).
    public func keys() -> [Key] {
        var out: [Key] = []
        var prev = unsafe_zeroed(Key.self)
        var next = unsafe_zeroed(Key.self)
        var first = true
        while true {
            let rc = withUnsafeMutableBytes(of: &next) { n in
                withUnsafeBytes(of: &prev) { p in bpf_map_get_next_key(map.fd, first ? nil : p.baseAddress, n.baseAddress) }
            }
            guard rc == 0 else { break }
            out.append(next)
            prev = next
            first = false
        }
        return out
    }
}

/// BPF_MAP_TYPE_PERCPU_HASH / LRU_PERCPU_HASH with typed key and value.
public struct BPFPerCPUHashMap<Key: BitwiseCopyable, Value: BitwiseCopyable> {
    public let map: BPFMap
    public init(_ map: BPFMap) {
        checkSize(map, map.keySize, Key.self, "key")
        checkSize(map, map.valueSize, Value.self, "value")
        self.map = map
    }

    public func lookup(_ key: Key) throws(BPFError) -> [Value]? {
        var key = key
        var found = false
        let values: [Value] = try perCPURead(map) { buf throws(BPFError) in
            found = try map.lookup(key: &key, value: buf)
            return found
        }
        return found ? values : nil
    }
}

/// Per-CPU values come back as `possibleCPUs` slots of the value size rounded up to 8.
private func perCPURead<Value: BitwiseCopyable>(
    _ map: BPFMap, _ read: (UnsafeMutableRawPointer) throws(BPFError) -> Bool
) throws(BPFError) -> [Value] {
    let stride = (MemoryLayout<Value>.size + 7) & ~7
    let cpus = BPFMap.possibleCPUs
    let buf = UnsafeMutableRawPointer.allocate(byteCount: stride * cpus, alignment: 8)
    defer { buf.deallocate() }
    buf.initializeMemory(as: UInt8.self, repeating: 0, count: stride * cpus)
    guard try read(buf) else { return [] }
    return (0..<cpus).map { buf.loadUnaligned(fromByteOffset: $0 * stride, as: Value.self) }
}

/// An all-zero value of a BitwiseCopyable type (every generated type is valid when zero).
func unsafe_zeroed<T: BitwiseCopyable>(_: T.Type) -> T {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { p in
        UnsafeMutableRawBufferPointer(p).initializeMemory(as: UInt8.self, repeating: 0)
        return p[0]
    }
}
