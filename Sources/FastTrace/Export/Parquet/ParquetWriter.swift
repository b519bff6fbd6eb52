/// A streaming Parquet writer for flat schemas (docs/fleet.md): rows go into the columns'
/// buffers, and every `rowGroupRows` rows (or `rowGroupBytes` buffered) a row group is written
/// out, one ZSTD-compressed PLAIN data page (format v1) per column. Memory is one row group,
/// whatever the number of rows; the footer (schema, row-group index, key/value metadata)
/// follows at `finish()`.
///
/// Why our own: no Arrow, Parquet or DuckDB library is packaged for Debian 12 or as a Swift
/// package here, and what fasttrace needs (flat columns, PLAIN, ZSTD) is small. The layout
/// follows parquet-format's parquet.thrift; every field it marks required is written.
public final class ParquetWriter {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    public let columns: [ParquetColumn]
    public let rowGroupRows: Int
    public let rowGroupBytes: Int
    private let metadata: [(String, String)]
    private let createdBy: String
    private let write: ([UInt8]) -> Bool
    private let zstd: Zstd.Compressor
    private var offset: Int64 = 0
    private var rows = 0
    private var totalRows: Int64 = 0
    private var groups: [RowGroup] = []
    private var failed: Failure?
    /// A page before compression, reused: row groups are all about the same size.
    private var page: [UInt8] = []

    struct Chunk {
        var offset: Int64, compressed: Int64, uncompressed: Int64, values: Int64, nulls: Int64
        var min: Int64?, max: Int64?
    }
    struct RowGroup { var chunks: [Chunk]; var rows: Int64 }

    /// `write` takes the file's bytes in order and says whether they were written.
    public init(columns: [ParquetColumn], metadata: [(String, String)], createdBy: String,
                rowGroupRows: Int = 1 << 17, rowGroupBytes: Int = 64 << 20, zstdLevel: Int32 = 1,
                write: @escaping ([UInt8]) -> Bool) {
        self.columns = columns
        self.metadata = metadata
        self.createdBy = createdBy
        self.rowGroupRows = max(1, rowGroupRows)
        self.rowGroupBytes = rowGroupBytes
        self.write = write
        zstd = Zstd.Compressor(level: zstdLevel, checksum: false)
        emit(Array("PAR1".utf8))
    }

    public var rowsWritten: Int64 { totalRows + Int64(rows) }

    /// Ends `n` rows: every column must have had one value or null appended for each. A row
    /// group is written once it holds `rowGroupRows` rows or `rowGroupBytes` bytes.
    public func endRows(_ n: Int = 1) throws(Failure) {
        rows += n
        if rows >= rowGroupRows || columns.reduce(0, { $0 + $1.bufferedBytes }) >= rowGroupBytes {
            try flushRowGroup()
        }
    }

    /// Writes the last row group and the footer.
    public func finish() throws(Failure) {
        try flushRowGroup()
        var tail = ThriftCompactWriter.encode { fileMetaData(&$0) }
        let length = UInt32(tail.count)
        withUnsafeBytes(of: length.littleEndian) { tail.append(contentsOf: $0) }
        tail += Array("PAR1".utf8)
        emit(tail)
        if let failed { throw failed }
    }

    private func emit(_ bytes: [UInt8]) {
        guard failed == nil else { return }
        if write(bytes) { offset += Int64(bytes.count) } else { failed = Failure(description: "cannot write the Parquet file") }
    }

    private func flushRowGroup() throws(Failure) {
        if let failed { throw failed }
        guard rows > 0 else { return }
        var chunks: [Chunk] = []
        for c in columns {
            guard c.count == rows else {
                throw Failure(description: "column \(c.name) has \(c.count) values for \(rows) rows")
            }
            page.removeAll(keepingCapacity: true)
            if c.optional { page += c.encodedLevels(rows: rows) }
            page.append(contentsOf: c.values.bytes)
            let body = page
            let compressed: [UInt8]
            do { compressed = try zstd.compress(body) } catch { throw Failure(description: "zstd: \(error.description)") }
            guard body.count <= Int32.max, compressed.count <= Int32.max else {
                throw Failure(description: "column \(c.name): a page of \(body.count) bytes exceeds Parquet's 2 GiB")
            }
            let h = ThriftCompactWriter.encode { pageHeader(&$0, rows: rows, uncompressed: body.count, compressed: compressed.count) }
            let start = offset
            emit(h)
            emit(compressed)
            chunks.append(Chunk(offset: start, compressed: Int64(h.count + compressed.count),
                                uncompressed: Int64(h.count + body.count), values: Int64(rows), nulls: Int64(c.nulls),
                                min: c.keepsStatistics ? c.minValue : nil, max: c.keepsStatistics ? c.maxValue : nil))
            c.reset()
        }
        groups.append(RowGroup(chunks: chunks, rows: Int64(rows)))
        totalRows += Int64(rows)
        rows = 0
        if let failed { throw failed }
    }

    // MARK: parquet.thrift structures

    /// PageHeader { 1 type = DATA_PAGE, 2 uncompressed size, 3 compressed size,
    /// 5 DataPageHeader { 1 num_values, 2 encoding PLAIN, 3 definition levels RLE,
    /// 4 repetition levels RLE } }
    private func pageHeader(_ t: inout ThriftCompactWriter, rows: Int, uncompressed: Int, compressed: Int) {
        t.field(1, i32: 0)
        t.field(2, i32: Int32(uncompressed))
        t.field(3, i32: Int32(compressed))
        t.field(5) { d in
            d.field(1, i32: Int32(rows))
            d.field(2, i32: Encoding.plain)
            d.field(3, i32: Encoding.rle)
            d.field(4, i32: Encoding.rle)
        }
    }

    enum Encoding { static let plain: Int32 = 0, rle: Int32 = 3 }
    static let zstdCodec: Int32 = 6

    /// FileMetaData { 1 version, 2 schema, 3 num_rows, 4 row_groups, 5 key_value_metadata,
    /// 6 created_by }
    private func fileMetaData(_ t: inout ThriftCompactWriter) {
        t.field(1, i32: 2)
        t.field(2, list: .structure, count: columns.count + 1) { l in
            l.element { root in
                root.field(4, string: "schema")
                root.field(5, i32: Int32(columns.count))
            }
            for c in columns { l.element { Self.schemaElement(&$0, c) } }
        }
        t.field(3, i64: totalRows)
        t.field(4, list: .structure, count: groups.count) { l in
            for g in groups { l.element { rowGroup(&$0, g) } }
        }
        if !metadata.isEmpty {
            t.field(5, list: .structure, count: metadata.count) { l in
                for (k, v) in metadata {
                    l.element { kv in
                        kv.field(1, string: k)
                        kv.field(2, string: v)
                    }
                }
            }
        }
        t.field(6, string: createdBy)
    }

    /// SchemaElement { 1 type, 2 type_length, 3 repetition_type, 4 name, 6 converted_type,
    /// 10 logicalType }
    private static func schemaElement(_ t: inout ThriftCompactWriter, _ c: ParquetColumn) {
        t.field(1, i32: c.physical.rawValue)
        if c.physical == .fixedLenByteArray { t.field(2, i32: Int32(c.length)) }
        t.field(3, i32: c.optional ? 1 : 0)
        t.field(4, string: c.name)
        switch c.logical {
        case .string?:
            t.field(6, i32: 0) // UTF8
            t.field(10) { $0.field(1) { _ in } } // STRING
        case .unsigned(let bits)?:
            t.field(6, i32: [8: 11, 16: 12, 32: 13, 64: 14][bits] ?? 14) // UINT_8 ... UINT_64
            t.field(10) { l in
                l.field(10) { i in // INTEGER
                    i.field(1, i8: bits)
                    i.field(2, bool: false)
                }
            }
        case .timestampNanosUTC?:
            t.field(10) { l in
                l.field(8) { ts in // TIMESTAMP
                    ts.field(1, bool: true)
                    ts.field(2) { $0.field(3) { _ in } } // unit: NANOS
                }
            }
        case nil:
            break
        }
    }

    /// RowGroup { 1 columns, 2 total_byte_size, 3 num_rows, 5 file_offset,
    /// 6 total_compressed_size }; ColumnChunk { 2 file_offset, 3 ColumnMetaData }.
    private func rowGroup(_ t: inout ThriftCompactWriter, _ g: RowGroup) {
        t.field(1, list: .structure, count: g.chunks.count) { l in
            for (c, chunk) in zip(columns, g.chunks) {
                l.element { cc in
                    cc.field(2, i64: chunk.offset)
                    cc.field(3) { columnMetaData(&$0, c, chunk) }
                }
            }
        }
        t.field(2, i64: g.chunks.reduce(0) { $0 + $1.uncompressed })
        t.field(3, i64: g.rows)
        t.field(5, i64: g.chunks.first?.offset ?? 4)
        t.field(6, i64: g.chunks.reduce(0) { $0 + $1.compressed })
    }

    /// ColumnMetaData { 1 type, 2 encodings, 3 path_in_schema, 4 codec, 5 num_values,
    /// 6 total_uncompressed_size, 7 total_compressed_size, 9 data_page_offset,
    /// 12 Statistics { 3 null_count, 5 max_value, 6 min_value } }
    private func columnMetaData(_ t: inout ThriftCompactWriter, _ c: ParquetColumn, _ chunk: Chunk) {
        t.field(1, i32: c.physical.rawValue)
        t.field(2, list: .i32, count: 2) { l in
            l.element(i32: Encoding.plain)
            l.element(i32: Encoding.rle)
        }
        t.field(3, list: .binary, count: 1) { $0.element(string: c.name) }
        t.field(4, i32: Self.zstdCodec)
        t.field(5, i64: chunk.values)
        t.field(6, i64: chunk.uncompressed)
        t.field(7, i64: chunk.compressed)
        t.field(9, i64: chunk.offset)
        t.field(12) { s in
            s.field(3, i64: chunk.nulls)
            if let lo = chunk.min, let hi = chunk.max, chunk.nulls < chunk.values {
                withUnsafeBytes(of: hi.littleEndian) { s.field(5, binary: Array($0)) }
                withUnsafeBytes(of: lo.littleEndian) { s.field(6, binary: Array($0)) }
            }
        }
    }
}
