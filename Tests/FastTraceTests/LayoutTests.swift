import CShim
import FastTrace
import Foundation
import Testing

/// Every generated struct's Swift layout against its BTF, re-read here from the embedded
/// objects (not from what Gen wrote down).
@Suite struct LayoutTests {
    @Test func generatedLayoutsAgreeWithSwift() {
        #expect(!GeneratedBPF.layouts.isEmpty)
        for layout in GeneratedBPF.layouts {
            #expect(layout.mismatches.isEmpty, "\(layout.mismatches)")
        }
    }

    /// (size, [field: offset]) of a struct or data section, straight from an object's BTF.
    func btfLayout(of cName: String, in bytes: [UInt8]) throws -> (size: Int, offsets: [String: Int])? {
        let path = TestSupport.temporaryDirectory("layout").appendingPathComponent("obj.o").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let btf = try #require(btf__parse_elf(path, nil))
        defer { btf__free(btf) }
        let isSection = cName.hasPrefix(".")
        let kind = UInt32(isSection ? BTF_KIND_DATASEC : BTF_KIND_STRUCT)
        let id = btf__find_by_name_kind(btf, cName, kind)
        guard id > 0 else { return nil }
        let t = try #require(btf__type_by_id(btf, UInt32(id)))
        let n = Int(btf_vlen(t))
        var offsets: [String: Int] = [:]
        if isSection {
            let vars = shim_btf_datasec_vars(t)!
            for i in 0..<n {
                let v = btf__type_by_id(btf, vars[i].type)!
                offsets[String(cString: btf__name_by_offset(btf, v.pointee.name_off))] = Int(vars[i].offset)
            }
        } else {
            let members = shim_btf_members(t)!
            for i in 0..<n {
                offsets[String(cString: btf__name_by_offset(btf, members[i].name_off))] =
                    Int(shim_btf_member_bit_offset(t, UInt32(i)) / 8)
            }
        }
        return (Int(shim_btf_type_size_or_type(t)), offsets)
    }

    @Test func everyOffsetAndSizeMatchesTheObjectsBTF() throws {
        var checkedFields = 0
        for layout in GeneratedBPF.layouts {
            var found = false
            // A data section belongs to one object; a shared type is checked in every object that has it.
            for object in GeneratedBPF.objects where layout.object == nil || layout.object == object.name {
                guard let btf = try btfLayout(of: layout.cName, in: object.bytes()) else { continue }
                found = true
                #expect(btf.size == layout.swiftSize, "\(layout.cName) in \(object.name): BTF size \(btf.size), Swift \(layout.swiftSize)")
                #expect(btf.size == layout.swiftStride, "\(layout.cName): stride")
                for f in layout.fields {
                    #expect(btf.offsets[f.cName] == f.swiftOffset, "\(layout.cName).\(f.cName) in \(object.name)")
                    checkedFields += 1
                }
            }
            #expect(found, "\(layout.cName) not found in any embedded object")
        }
        #expect(checkedFields > 20)
    }

    @Test func eventTypesHaveTheExpectedShape() {
        #expect(MemoryLayout<Event>.size == Event.btfLayout.size)
        #expect(MemoryLayout<SkbCounters>.size == 32)
        var e = Event()
        e.comm = InlineArray(repeating: 0)
        e.comm[0] = 0x6c; e.comm[1] = 0x6f  // "lo"
        #expect(e.commString == "lo")
        #expect(EventKind.drop.name == "FT_EVENT_KIND_DROP")
        #expect(EventKind(rawValue: 99).name == nil)
        #expect(EventKind(rawValue: 99).description == "EventKind(99)")
    }
}
