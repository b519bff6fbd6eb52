import Foundation

/// Writes a capture log while the tracer runs. The ring consumer calls `append` (row
/// encoding only, no compression, no I/O); a full or old frame goes through a bounded queue
/// to a compressor thread that compresses and writes it. If the compressor falls behind and
/// the queue is full, the frame is dropped and its events are counted (`dropped`), so the
/// consumer never stalls and the rings keep draining.
public final class LogWriter: @unchecked Sendable {
    public struct Options: Sendable {
        /// Close a frame after this many events...
        public var frameEvents = 32_768
        /// ...or this long after its first event happened (its kernel timestamp), so that a
        /// crash loses at most this much.
        public var frameInterval: Double = 1.0
        /// Frames waiting for the compressor before new ones are dropped.
        public var queueDepth = 16
        public var zstdLevel: Int32 = 3
        /// --output-netns-names: record the name of each namespace seen in the trailer.
        public var netnsNames: NetnsNames?
        /// Tests only: added to every boot-to-wall offset recorded (a host whose clock is off).
        public var clockShiftNs: Int64 = 0
        public init() {}
    }

    public let path: String
    let options: Options
    private let fd: Int32
    private var encoder = EventCodec.Encoder()
    /// When the open frame must close (monotonic seconds).
    private var frameDeadline: Double = .infinity
    private var frameFirstNs: UInt64 = .max, frameLastNs: UInt64 = 0
    private var appendsSinceClockCheck = 0

    private struct Frame: @unchecked Sendable {
        let bytes: [UInt8]
        let events: Int
        let first: UInt64, last: UInt64
        let bootToWallNs: Int64
    }
    private let queue: BoundedQueue<Frame>

    // Shared with the compressor thread, under `lock`.
    private let lock = NSLock()
    private var index: [LogFrameIndex] = []
    private var offset: UInt64 = 0
    private var writeError: String?
    private var droppedCount: UInt64 = 0
    private var writtenEvents: UInt64 = 0
    private let done = DispatchSemaphore(value: 0)

    /// Interfaces seen ("netns:ifindex" → name), resolved on first sight.
    private var interfaces: [String: String] = [:]
    private var lastInterface: UInt64 = .max
    private let names = InterfaceNames()
    /// Namespaces seen (inode → name), with --output-netns-names.
    private var netnsSeen: [UInt32: String] = [:]
    private var lastNetns: UInt32 = 0

    /// Creates `path` (replacing what is there) and writes the header.
    public convenience init(path: String, header: LogHeader, options: Options = .init()) throws(LogError) {
        try self.init(file: LogFile.create(path, force: true), header: header, options: options)
    }

    /// Writes the header into a file made by `LogFile.create` (which the writer now owns).
    public init(file: LogFile, header: LogHeader, options: Options = .init()) throws(LogError) {
        path = file.path
        self.options = options
        fd = file.fd
        queue = BoundedQueue(capacity: options.queueDepth)
        guard let json = LogFormat.encode(header) else { throw LogError.io("cannot encode the log header") }
        var frame = LogFormat.skippable(LogFormat.headerMagic, LogFormat.headerTag + json)
        // A checksummed, compressed copy, so a damaged header costs no data (docs/log-format.md).
        if let copy = try? Zstd.Compressor(level: 9).compress(json) {
            frame += LogFormat.skippable(LogFormat.headerCopyMagic, copy)
        }
        guard writeAll(frame) else { throw LogError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        offset = UInt64(frame.count)
        let me = Unmanaged.passRetained(self)
        startWorker { me.takeRetainedValue().compressLoop() }
    }

    deinit { close(fd) }

    /// Events written to disk so far, and events dropped because compression fell behind.
    public var written: UInt64 { lock.withLock { writtenEvents } }
    public var dropped: UInt64 { lock.withLock { droppedCount } }

    /// Adds one event (consumer thread).
    public func append(_ e: Event, packet: PacketBytes = .none) {
        if encoder.count == 0 { frameDeadline = Self.deadline(eventNs: e.tsNs, now: monotonicSeconds(), interval: options.frameInterval) }
        encoder.append(e, packet: packet)
        frameFirstNs = min(frameFirstNs, e.tsNs)
        frameLastNs = max(frameLastNs, e.tsNs)
        let iface = UInt64(e.meta.netns) << 32 | UInt64(e.meta.ifindex)
        if iface != lastInterface {
            lastInterface = iface
            let key = "\(e.meta.netns):\(e.meta.ifindex)"
            if e.meta.ifindex != 0, interfaces[key] == nil { interfaces[key] = names.name(netns: e.meta.netns, ifindex: e.meta.ifindex) }
        }
        if let netnsNames = options.netnsNames, e.meta.netns != lastNetns {
            lastNetns = e.meta.netns
            if netnsSeen[e.meta.netns] == nil, let n = netnsNames.name(e.meta.netns) { netnsSeen[e.meta.netns] = n }
        }
        appendsSinceClockCheck += 1
        if encoder.count >= options.frameEvents { closeFrame() }
        else if appendsSinceClockCheck >= 256 { tick() }
    }

    /// Closes the open frame if its time is up (call when idle).
    public func tick() {
        appendsSinceClockCheck = 0
        if encoder.count > 0, monotonicSeconds() >= frameDeadline { closeFrame() }
    }

    /// Seconds until the open frame must close (nil: no frame is open), so the ring thread
    /// can wake up in time.
    public var secondsUntilFrameCloses: Double? {
        encoder.count > 0 ? max(0, frameDeadline - monotonicSeconds()) : nil
    }

    /// A frame closes `interval` after its first event happened in the kernel (ts_ns is
    /// CLOCK_MONOTONIC), not after the consumer saw it: an event can wait in the ring. When
    /// the consumer runs far behind, that time has already passed, and the frame still gets
    /// a tenth of the interval, so a backlog is not cut into tiny, badly compressed frames.
    static func deadline(eventNs: UInt64, now: Double, interval: Double) -> Double {
        let happened = Double(eventNs) / 1e9
        // A timestamp from another clock (a test's made-up event) must not hold a frame open.
        let start = happened <= now ? happened : now
        return max(start + interval, now + interval / 10)
    }

    /// Hands the open frame to the compressor (or drops it, counted, if the queue is full).
    public func closeFrame() {
        guard encoder.count > 0 else { return }
        let frame = Frame(bytes: encoder.bytes, events: encoder.count, first: frameFirstNs, last: frameLastNs,
                          bootToWallNs: currentBootToWallNs() &+ options.clockShiftNs)
        encoder = EventCodec.Encoder()
        frameDeadline = .infinity
        frameFirstNs = .max
        frameLastNs = 0
        if !queue.offer(frame) { lock.withLock { droppedCount += UInt64(frame.events) } }
    }

    /// Flushes every frame, then writes the trailer (seek index, losses, interfaces) and the
    /// footer. The file is complete and synced when this returns.
    public func finish(lostPerCPU: [UInt64], trackOverflow: UInt64 = 0, outputDropped: UInt64 = 0) throws(LogError) {
        closeFrame()
        queue.close()
        done.wait()
        if let writeError { throw LogError.io(writeError) }
        let trailer = LogTrailer(frames: index, events: writtenEvents, lostPerCPU: lostPerCPU, writerDropped: droppedCount,
                                 interfaces: interfaces, trackOverflow: trackOverflow, endedAt: Date(),
                                 outputDropped: outputDropped,
                                 netnsNames: options.netnsNames == nil ? nil : Dictionary(uniqueKeysWithValues: netnsSeen.map { (String($0.key), $0.value) }),
                                 bootToWallEndNs: currentBootToWallNs() &+ options.clockShiftNs, clockSyncEnd: ClockSync.current())
        guard let json = LogFormat.encode(trailer) else { throw LogError.io("cannot encode the log trailer") }
        var footer = [UInt8]()
        withUnsafeBytes(of: offset.littleEndian) { footer += $0 }
        footer += LogFormat.footerTag
        guard writeAll(LogFormat.skippable(LogFormat.trailerMagic, json) + LogFormat.skippable(LogFormat.footerMagic, footer)),
              fsync(fd) == 0 || errno == EINVAL
        else { throw LogError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    private func compressLoop() {
        let zstd = Zstd.Compressor(level: options.zstdLevel)
        defer { done.signal() }
        while let f = queue.take() {
            do {
                let bytes = try zstd.compress(f.bytes)
                let ok = writeAll(bytes)
                lock.withLock {
                    if ok {
                        index.append(LogFrameIndex(offset: offset, size: UInt32(bytes.count), events: UInt32(f.events), firstNs: f.first, lastNs: f.last,
                                                   bootToWallNs: f.bootToWallNs))
                        offset += UInt64(bytes.count)
                        writtenEvents += UInt64(f.events)
                    } else {
                        writeError = writeError ?? "cannot write \(path): \(String(cString: strerror(errno)))"
                        droppedCount += UInt64(f.events)
                    }
                }
            } catch {
                lock.withLock { writeError = writeError ?? "zstd: \(error.description)"; droppedCount += UInt64(f.events) }
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
    }
}

/// The file a log is written to, created before anything is attached, so that a bad path
/// costs nothing. Only its owner can read it (0600: it holds packet bytes and addresses),
/// and it is never written through a symbolic link.
public struct LogFile: Sendable {
    public let path: String
    let fd: Int32

    /// Creates `path`. An existing file or symbolic link is refused (`LogError.badPath`)
    /// unless `force`, which removes it first, so even then nothing is written through a link.
    public static func create(_ path: String, force: Bool) throws(LogError) -> LogFile {
        if force, unlink(path) != 0, errno != ENOENT {
            throw LogError.badPath("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            if e == EEXIST {
                throw LogError.badPath("\(path) already exists: choose another name, or add --force to replace it")
            }
            throw LogError.badPath("cannot create \(path): \(String(cString: strerror(e)))")
        }
        fchmod(fd, 0o600) // whatever the umask
        return LogFile(path: path, fd: fd)
    }

    /// Removes the file again (the capture never started).
    public func discard() {
        close(fd)
        unlink(path)
    }
}

/// A log that cannot be written or read; `notALog` and `badPath` are usage errors (exit 2).
public enum LogError: Error, CustomStringConvertible, Equatable {
    case io(String)
    case notALog(String)
    case badPath(String)

    public var description: String {
        switch self {
        case .io(let s), .notALog(let s), .badPath(let s): return s
        }
    }
}
