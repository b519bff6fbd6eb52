import CShim
import Foundation

/// An opened or loaded `struct bpf_object`. Generated skeletons wrap one; programs and maps
/// keep it alive. Closing (on release) unloads programs and frees maps not held elsewhere.
public final class BPFObject {
    let handle: OpaquePointer
    public let name: String
    /// libbpf reads the ELF image during open; it stays alive as long as the object.
    private let image: UnsafeMutableRawBufferPointer
    public private(set) var isLoaded = false

    private init(handle: OpaquePointer, name: String, image: UnsafeMutableRawBufferPointer) {
        self.handle = handle
        self.name = name
        self.image = image
    }

    deinit {
        bpf_object__close(handle)
        image.deallocate()
    }

    /// The kernel BTF file CO-RE relocations use in objects opened from now on (--kernel-btf);
    /// nil: the running kernel's (/sys/kernel/btf/vmlinux).
    public static func useKernelBTF(_ path: String?) { shim_set_kernel_btf(path) }

    /// Opens an object from its ELF bytes (no kernel interaction).
    public static func open(bytes: [UInt8], name: String) throws(BPFError) -> BPFObject {
        Libbpf.captureLog()
        ProgramSections.register()
        let image = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        image.copyBytes(from: bytes)
        guard let handle = shim_object_open_mem(image.baseAddress, bytes.count, name) else {
            image.deallocate()
            throw BPFError.capture("open \(name)")
        }
        return BPFObject(handle: handle, name: name, image: image)
    }

    /// Creates maps and loads every autoload program (the verifier runs here).
    public func load() throws(BPFError) {
        _ = Libbpf.takeLog()
        let rc = bpf_object__load(handle)
        let rewriteError = finishRewrites(loaded: rc == 0)
        if let rewriteError { throw BPFError("load \(name)", errno: EINVAL, libbpfLog: rewriteError) }
        guard rc == 0 else { throw BPFError.capture("load \(name)", code: rc) }
        isLoaded = true
        try mapGlobalSections()
    }

    /// Collects the outcome of the prepare-load rewrites (ProgramSections) for every program to load.
    private func finishRewrites(loaded: Bool) -> String? {
        var error: String?
        var p = bpf_object__next_program(handle, nil)
        while let prog = p {
            p = bpf_object__next_program(handle, prog)
            if let e = ProgramSections.finish(prog, loaded: loaded), bpf_program__autoload(prog), error == nil {
                error = "\(String(cString: bpf_program__name(prog))): \(e)"
            }
        }
        return error
    }

    /// After load, libbpf still points global-data sections at its private copy (only the C
    /// skeleton loader remaps them). Map the kernel's memory over that copy, as the C
    /// skeleton does, so `.bss`/`.data` reads see the programs' writes. `.rodata` is frozen:
    /// read-only. libbpf unmaps the region when the object closes.
    private func mapGlobalSections() throws(BPFError) {
        var m = bpf_object__next_map(handle, nil)
        while let map = m {
            m = bpf_object__next_map(handle, map)
            guard bpf_map__is_internal(map), bpf_map__map_flags(map) & UInt32(BPF_F_MMAPABLE) != 0 else { continue }
            var size = 0
            guard let current = bpf_map__initial_value(map, &size) else { continue }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let length = (size + page - 1) / page * page
            let readOnly = bpf_map__map_flags(map) & UInt32(BPF_F_RDONLY_PROG) != 0
            let prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE
            let p = mmap(UnsafeMutableRawPointer(mutating: current), length, prot, MAP_SHARED | MAP_FIXED,
                         bpf_map__fd(map), 0)
            if p == MAP_FAILED {
                throw BPFError.capture("mmap \(String(cString: bpf_map__name(map))) of \(name)")
            }
        }
    }

    public func program(named programName: String) throws(BPFError) -> BPFProgram {
        guard let p = bpf_object__find_program_by_name(handle, programName) else {
            throw BPFError("find program \(programName) in \(name)", errno: ENOENT)
        }
        return BPFProgram(handle: p, object: self)
    }

    /// The map the generated skeleton found by its C name (the skeleton is the only code
    /// that names maps; everything else holds its typed handles); throws when it is absent.
    func map(_ found: OpaquePointer?, name mapName: String) throws(BPFError) -> BPFMap {
        guard let found else { throw BPFError("find map \(mapName) in \(name)", errno: ENOENT) }
        return BPFMap(handle: found, object: self)
    }

    /// The memory behind a global-data section (`.rodata`, `.bss`, `.data`): libbpf's
    /// initial image before load; after load the kernel map's memory, mapped into this
    /// process (read-only for `.rodata`). The generated types match the section's BTF.
    public func sectionValue<T>(_ section: String, as type: T.Type) -> UnsafeMutablePointer<T> {
        var m = bpf_object__next_map(handle, nil)
        while let map = m {
            if bpf_map__is_internal(map), String(cString: bpf_map__name(map)).hasSuffix(section) {
                var size = 0
                let p = bpf_map__initial_value(map, &size)!
                precondition(size == MemoryLayout<T>.size, "\(name)\(section): \(size) bytes, \(T.self) has \(MemoryLayout<T>.size)")
                return UnsafeMutableRawPointer(mutating: p).assumingMemoryBound(to: T.self)
            }
            m = bpf_object__next_map(handle, map)
        }
        preconditionFailure("\(name) has no \(section) section")
    }
}

/// Decodes an object embedded by Gen (base64 keeps the Swift compiler fast on large literals).
func decodeEmbeddedObject(_ base64: String) -> [UInt8] {
    guard let data = Data(base64Encoded: base64) else { preconditionFailure("corrupt embedded BPF object") }
    return [UInt8](data)
}

/// Live typed view of a `.bss` / `.data` section shared with the kernel.
@dynamicMemberLookup
public struct BPFGlobals<T> {
    public let pointer: UnsafeMutablePointer<T>
    let owner: BPFObject

    init(_ pointer: UnsafeMutablePointer<T>, owner: BPFObject) {
        self.pointer = pointer
        self.owner = owner
    }

    /// A snapshot of the whole section.
    public var value: T { pointer.pointee }

    public subscript<V>(dynamicMember keyPath: KeyPath<T, V>) -> V { pointer.pointee[keyPath: keyPath] }
}
