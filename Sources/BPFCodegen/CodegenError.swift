import KernelBTF

/// A one-line error from the generator; `Gen` prints it and exits non-zero.
public struct CodegenError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
    init(_ error: BTFError) { description = error.description }
}

/// Reads an object's BTF, with generator errors.
func objectBTF(_ path: String) throws(CodegenError) -> BTF {
    do { return try BTF(elfPath: path) } catch { throw CodegenError(error) }
}
