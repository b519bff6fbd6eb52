/// A generated struct's layout as BTF describes it, next to what Swift made of it.
/// Gen emits one per generated struct; tests compare them (and re-read the BTF).
public struct BTFLayout: Sendable {
    public struct Field: Sendable {
        public let cName: String
        public let swiftName: String
        public let offset: Int
        public let size: Int
        public let swiftOffset: Int?
    }

    public let cName: String
    /// For a data section (`.rodata`, …): the object it belongs to; nil for shared types.
    public let object: String?
    public let size: Int
    public let swiftSize: Int
    public let swiftStride: Int
    public let fields: [Field]

    public init(cName: String, object: String? = nil, size: Int, swiftSize: Int, swiftStride: Int, fields: [Field]) {
        self.cName = cName
        self.object = object
        self.size = size
        self.swiftSize = swiftSize
        self.swiftStride = swiftStride
        self.fields = fields
    }

    /// Every difference between the BTF layout and the Swift one (empty when they agree).
    public var mismatches: [String] {
        var out: [String] = []
        if swiftSize != size { out.append("\(cName): size \(size), Swift size \(swiftSize)") }
        if swiftStride != size { out.append("\(cName): size \(size), Swift stride \(swiftStride)") }
        for f in fields where f.swiftOffset != f.offset {
            out.append("\(cName).\(f.cName): offset \(f.offset), Swift offset \(f.swiftOffset.map(String.init) ?? "none")")
        }
        return out
    }
}

/// A Swift type generated from BTF.
public protocol BTFLayoutDescribed: BitwiseCopyable {
    static var btfLayout: BTFLayout { get }
}
