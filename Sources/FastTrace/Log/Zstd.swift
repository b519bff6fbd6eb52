import CShim

/// The few zstd calls the log needs (libzstd's simple API, no streaming).
enum Zstd {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ code: Int) { description = String(cString: ZSTD_getErrorName(code)) }
        init(_ text: String) { description = text }
    }

    /// A compression context, with content checksums on by default (a flipped byte fails the
    /// frame). Parquet pages go without: the format has its own page CRC, unused here.
    final class Compressor {
        let cctx = ZSTD_createCCtx()!
        init(level: Int32, checksum: Bool = true) {
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        }
        deinit { ZSTD_freeCCtx(cctx) }

        func compress(_ src: [UInt8]) throws(Failure) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(src.count))
            let n = src.withUnsafeBytes { s in
                out.withUnsafeMutableBytes { ZSTD_compress2(cctx, $0.baseAddress, $0.count, s.baseAddress, s.count) }
            }
            guard ZSTD_isError(n) == 0 else { throw Failure(n) }
            out.removeSubrange(n...)
            return out
        }
    }

    /// Size of the zstd frame at the start of `data`, nil if it is not a whole frame.
    static func frameSize(_ data: UnsafeRawBufferPointer) -> Int? {
        let n = ZSTD_findFrameCompressedSize(data.baseAddress, data.count)
        return ZSTD_isError(n) != 0 ? nil : n
    }

    final class Decompressor {
        let dctx = ZSTD_createDCtx()!
        var buffer: [UInt8] = []
        deinit { ZSTD_freeDCtx(dctx) }

        /// Decompresses one whole frame (checksum verified) into `buffer`.
        func decompress(_ frame: UnsafeRawBufferPointer) throws(Failure) -> Int {
            let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
            // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR are the two largest UInt64 values.
            guard size < UInt64.max - 1, size <= 1 << 30 else { throw Failure("frame without a usable content size") }
            if buffer.count < Int(size) { buffer = [UInt8](repeating: 0, count: Int(size)) }
            let n = buffer.withUnsafeMutableBytes { ZSTD_decompressDCtx(dctx, $0.baseAddress, Int(size), frame.baseAddress, frame.count) }
            guard ZSTD_isError(n) == 0 else { throw Failure(n) }
            return n
        }
    }
}
