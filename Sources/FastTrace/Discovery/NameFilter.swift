import Foundation

/// `--limit-funcs REGEX`: POSIX extended regex that must match the whole name, as in pwru.
/// regex_t is only read after compilation (regexec is thread-safe on it), hence Sendable.
public final class NameFilter: @unchecked Sendable {
    public let pattern: String
    private let regex: UnsafeMutablePointer<regex_t>

    public struct InvalidPattern: Error, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String { "invalid regular expression '\(pattern)': \(reason)" }
    }

    public init(_ pattern: String) throws(InvalidPattern) {
        // Compile into a local: a class whose init throws after its stored properties are set
        // runs deinit, which must only ever see a compiled regex.
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let rc = regcomp(compiled, "^(\(pattern))$", REG_EXTENDED | REG_NOSUB)
        guard rc == 0 else {
            var buf = [UInt8](repeating: 0, count: 256)
            buf.withUnsafeMutableBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { _ = regerror(rc, compiled, $0.baseAddress, $0.count) }
            }
            compiled.deallocate()
            throw InvalidPattern(pattern: pattern, reason: String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self))
        }
        self.pattern = pattern
        regex = compiled
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    public func matches(_ name: String) -> Bool { regexec(regex, name, 0, nil, 0) == 0 }
}
