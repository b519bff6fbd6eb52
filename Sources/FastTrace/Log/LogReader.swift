import Foundation

/// Reads a capture log, frame by frame, in constant memory (the file is mapped; one frame is
/// decompressed at a time). Damage does not stop it: a truncated or corrupt frame is skipped
/// (zstd checksums catch flipped bytes), the reader resynchronises on the next frame magic,
/// and `damage` describes what was skipped so the caller can print one warning.
public final class LogReader {
    public let path: String
    public let header: LogHeader
    /// Present when the capture stopped cleanly.
    public private(set) var trailer: LogTrailer?
    /// Skipped regions, e.g. "bytes 4096–5000: checksum mismatch".
    public private(set) var damage: [String] = []
    public private(set) var framesRead = 0

    private let map: UnsafeRawBufferPointer
    private let firstFrame: Int

    public init(path: String) throws(LogError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LogError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        guard size >= 8 + LogFormat.headerTag.count else { throw LogError.notALog("\(path) is not a fasttrace log (\(size) bytes)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw LogError.io("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        let m = UnsafeRawBufferPointer(start: p, count: size)
        map = m
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: m.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        let tag = Array(m[8..<(8 + LogFormat.headerTag.count)])
        // One of magic and tag may be damaged; both wrong is another kind of file.
        guard u32(0) == LogFormat.headerMagic || tag == LogFormat.headerTag else {
            munmap(p, size)
            throw LogError.notALog("\(path) is not a fasttrace log (no fasttrace header)")
        }
        let length = Int(u32(4))
        let lengthOK = length >= LogFormat.headerTag.count && 8 + length <= size
        let primary = lengthOK ? LogFormat.decode(LogHeader.self, m[(8 + LogFormat.headerTag.count)..<(8 + length)]) : nil
        // The copy follows the header; when the header does not decode (its length field may
        // be what is damaged), it is looked for from the start.
        let copy = Self.headerCopy(in: m, from: primary != nil ? 8 + length : 8)
        // The copy is checksummed, so it wins; with neither, the frames are still read.
        let h = copy?.header ?? primary ?? LogHeader.unknown
        guard h.formatVersion <= LogFormat.version else {
            munmap(p, size)
            throw LogError.notALog("\(path): log format \(h.formatVersion) is newer than this fasttrace (\(LogFormat.version)): upgrade fasttrace")
        }
        if primary == nil || primary != copy?.header && copy?.header != nil || u32(0) != LogFormat.headerMagic || tag != LogFormat.headerTag {
            headerDamage = copy?.header != nil ? "the header is damaged (its copy was used)"
                : "the header and its copy are damaged: function names and capture facts are unknown"
        }
        header = h
        // A copy that decoded has a length to trust; a damaged one is walked over like damage.
        firstFrame = copy.map { $0.header != nil ? $0.end : $0.start } ?? (primary != nil ? 8 + length : 8)
        trailer = readTrailer()
        frameIndex = Dictionary((trailer?.frames ?? []).map { (Int($0.offset), $0) }, uniquingKeysWith: { a, _ in a })
    }

    private var frameIndex: [Int: LogFrameIndex] = [:]
    /// Set when the header could not be used as written.
    public private(set) var headerDamage: String?

    /// The header copy frame at or after `start` (within the first 16 MiB): the header it
    /// holds, if its checksum and JSON are intact, and where the frame ends.
    static func headerCopy(in m: UnsafeRawBufferPointer, from start: Int) -> (header: LogHeader?, start: Int, end: Int)? {
        let limit = min(m.count - 8, start + (16 << 20))
        var at = start
        while at <= limit {
            if UInt32(littleEndian: m.loadUnaligned(fromByteOffset: at, as: UInt32.self)) == LogFormat.headerCopyMagic {
                let len = Int(UInt32(littleEndian: m.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self)))
                if at + 8 + len <= m.count {
                    let zstd = Zstd.Decompressor()
                    let frame = UnsafeRawBufferPointer(rebasing: m[(at + 8)..<(at + 8 + len)])
                    let h = (try? zstd.decompress(frame)).flatMap { n in
                        zstd.buffer.withUnsafeBytes { LogFormat.decode(LogHeader.self, $0[..<n]) }
                    }
                    return (h, at, at + 8 + len)
                }
            }
            // Only the first frame after the header can be the copy: stop at an event frame.
            if UInt32(littleEndian: m.loadUnaligned(fromByteOffset: at, as: UInt32.self)) == LogFormat.zstdMagic { return nil }
            at += 1
        }
        return nil
    }

    /// The trailer, found through the footer at the very end (a clean stop wrote both).
    private func readTrailer() -> LogTrailer? {
        let footerSize = 8 + 8 + LogFormat.footerTag.count
        guard map.count >= firstFrame + footerSize else { return nil }
        let f = map.count - footerSize
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: map.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        guard u32(f) == LogFormat.footerMagic, Array(map[(f + 16)...]) == LogFormat.footerTag else { return nil }
        let offset = UInt64(littleEndian: map.loadUnaligned(fromByteOffset: f + 8, as: UInt64.self))
        guard offset < UInt64(f) else { return nil } // also keeps the arithmetic below in range
        let t = Int(offset)
        guard t >= firstFrame, t + 8 <= f, u32(t) == LogFormat.trailerMagic, t + 8 + Int(u32(t + 4)) <= f else { return nil }
        return LogFormat.decode(LogTrailer.self, map[(t + 8)..<(t + 8 + Int(u32(t + 4)))])
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: map.baseAddress), map.count) }

    /// Calls `body` with every event of every intact frame, in file order; stops early when
    /// `body` returns false. `frame` (optional) is told each frame's index entry first and may
    /// return false to skip the frame undecoded (time-range seeks).
    public func forEachEvent(frame: (LogFrameIndex) -> Bool = { _ in true }, _ body: (Event) -> Bool) {
        forEachEvent(frame: frame, packets: { e, _ in body(e) })
    }

    /// `forEachEvent` with each event's packet bytes (`--snaplen`; borrowed, valid during the call).
    public func forEachEvent(frame: (LogFrameIndex) -> Bool = { _ in true }, packets body: (Event, PacketBytes) -> Bool) {
        damage = []
        framesRead = 0
        releasedUpTo = 0
        let zstd = Zstd.Decompressor()
        var pending: [(Event, PacketBytes)] = []
        var at = firstFrame
        var badStart: Int?
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: map.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func noteDamage(_ end: Int, _ why: String) {
            if let s = badStart { damage.append("bytes \(s)–\(end): \(why)") }
            badStart = nil
        }
        var why = ""
        while at + 8 <= map.count {
            let magic = u32(at)
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 { // skippable: trailer, footer, or not ours
                let len = Int(u32(at + 4))
                guard at + 8 + len <= map.count else { why = "truncated"; badStart = badStart ?? at; at += 1; continue }
                // A damaged length would skip good frames: trust it only if a frame (or the
                // end of the file) follows.
                let next = at + 8 + len
                guard next == map.count || (next + 4 <= map.count && (u32(next) == LogFormat.zstdMagic || u32(next) & 0xFFFF_FFF0 == 0x184D_2A50))
                else { why = "damaged frame length"; badStart = badStart ?? at; at += 1; continue }
                noteDamage(at, why)
                at += 8 + len
                continue
            }
            if magic == LogFormat.zstdMagic, let size = Zstd.frameSize(UnsafeRawBufferPointer(rebasing: map[at...])) {
                let bytes = UnsafeRawBufferPointer(rebasing: map[at..<(at + size)])
                do {
                    let n = try zstd.decompress(bytes)
                    noteDamage(at, why)
                    var keepGoing = true
                    let entry = LogFrameIndex(offset: UInt64(at), size: UInt32(size), events: 0, firstNs: 0, lastNs: 0)
                    if frame(frameIndex[at] ?? entry) {
                        let payload = zstd.buffer.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[..<n]) }
                        // A frame is given out whole or not at all: rows are collected first, so a
                        // checksummed frame that is not rows (e.g. the header copy, its magic
                        // damaged) yields no stray events.
                        pending.removeAll(keepingCapacity: true)
                        try EventCodec.decode(payload, version: header.formatVersion) { e, p in pending.append((e, p)) }
                        for (e, p) in pending where keepGoing { keepGoing = body(e, p) }
                    }
                    framesRead += 1
                    at += size
                    release(upTo: at)
                    if !keepGoing { return }
                    continue
                } catch let e as Zstd.Failure {
                    why = e.description
                } catch {
                    why = "\(error)"
                }
            } else if badStart == nil {
                why = magic == LogFormat.zstdMagic ? "truncated frame" : "not a frame"
            }
            // Damaged here: resynchronise on the next frame magic.
            badStart = badStart ?? at
            at += 1
        }
        if let s = badStart { damage.append("bytes \(s)–\(map.count): \(why.isEmpty ? "truncated" : why)") }
        else if at < map.count { damage.append("bytes \(at)–\(map.count): truncated") }
    }

    private var releasedUpTo = 0

    /// Gives the pages of frames already read back to the kernel: the mapping is the file's
    /// page cache, and without this a reader's RSS would grow with the log it has read.
    private func release(upTo offset: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let end = offset / page * page
        guard end - releasedUpTo >= 8 << 20, let base = map.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base) + releasedUpTo, end - releasedUpTo, Int32(MADV_DONTNEED))
        releasedUpTo = end
    }

    /// Every event grouped into packet journeys, each handed over as soon as it ends (see
    /// `JourneyBuilder`: constant memory, journeys in the order they end). Returns the number
    /// of events that came later than the reorder window.
    @discardableResult
    public func forEachJourney(_ body: (Journey) -> Void) -> Int {
        let targets = header.targets
        let builder = JourneyBuilder { targets.name(of: $0) }
        forEachEvent(packets: { e, p in builder.add(e, inner: p.inner, emit: body); return true })
        builder.finish(emit: body)
        return builder.late
    }

    /// One warning line for everything skipped, nil when the file is intact.
    public var damageWarning: String? {
        var parts: [String] = []
        if let headerDamage { parts.append(headerDamage) }
        if !damage.isEmpty { parts.append("skipped " + damage.joined(separator: "; ")) }
        if trailer == nil { parts.append("no trailer (the capture did not stop cleanly): the last second of events may be missing") }
        guard !parts.isEmpty else { return nil }
        return "warning: \(path): read \(framesRead) intact frames; " + parts.joined(separator: "; ")
    }
}
