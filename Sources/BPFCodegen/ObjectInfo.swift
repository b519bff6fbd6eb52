import KernelBTF
import CShim
import Glibc

/// What one BPF object declares: programs, maps and global-data sections, as libbpf sees it
/// when it opens the (linked) object. Opening needs no kernel and no privileges.
struct ObjectInfo {
    struct Program { let name: String; let section: String }
    struct Map {
        let name: String
        let type: UInt32
        let keySize: Int
        let valueSize: Int
        let maxEntries: Int
        let keyType: UInt32
        let valueType: UInt32
        let isInternal: Bool
    }

    let name: String
    let bytes: [UInt8]
    let programs: [Program]
    let maps: [Map]
    let object: OpaquePointer
    let btf: BTF

    init(name: String, bytes: [UInt8], origin: String) throws(CodegenError) {
        let obj = bytes.withUnsafeBytes { shim_object_open_mem($0.baseAddress, $0.count, name) }
        guard let obj else { throw CodegenError("\(origin): libbpf cannot open the object: \(errnoName(errno))") }
        guard let btfHandle = bpf_object__btf(obj) else {
            bpf_object__close(obj)
            throw CodegenError("\(origin): no BTF in object (compile with clang -g)")
        }
        self.name = name
        self.bytes = bytes
        object = obj
        btf = BTF(borrowing: btfHandle)
        var programs: [Program] = []
        var p = bpf_object__next_program(obj, nil)
        while let prog = p {
            programs.append(Program(name: String(cString: bpf_program__name(prog)),
                                    section: String(cString: bpf_program__section_name(prog))))
            p = bpf_object__next_program(obj, prog)
        }
        var maps: [Map] = []
        var m = bpf_object__next_map(obj, nil)
        while let map = m {
            maps.append(Map(name: String(cString: bpf_map__name(map)), type: bpf_map__type(map).rawValue,
                            keySize: Int(bpf_map__key_size(map)), valueSize: Int(bpf_map__value_size(map)),
                            maxEntries: Int(bpf_map__max_entries(map)),
                            keyType: bpf_map__btf_key_type_id(map), valueType: bpf_map__btf_value_type_id(map),
                            isInternal: bpf_map__is_internal(map)))
            m = bpf_object__next_map(obj, map)
        }
        self.programs = programs
        self.maps = maps
    }

    func close() { bpf_object__close(object) }
}

/// Links a clang-produced object with libbpf's BPF linker. The result keeps BTF and BTF.ext
/// (CO-RE relocations, line info) but drops DWARF, so the embedded bytes stay small.
func linkObject(_ input: String, output: String) throws(CodegenError) {
    guard let linker = bpf_linker__new(output, nil) else {
        throw CodegenError("\(output): cannot create BPF linker output: \(errnoName(errno))")
    }
    defer { bpf_linker__free(linker) }
    var err = bpf_linker__add_file(linker, input, nil)
    if err == 0 { err = bpf_linker__finalize(linker) }
    if err != 0 {
        throw CodegenError("\(input): not a BPF object libbpf can link: \(errnoName(-err))")
    }
}

/// libbpf prints warnings to stderr by default; the generator reports one line of its own.
func quietLibbpf() { shim_libbpf_log_install(-1) }
