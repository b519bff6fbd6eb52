import Foundation

/// The fasttrace capture log (docs/log-format.md): a sequence of zstd frames that any zstd
/// decoder can read end to end (it skips skippable frames, decompresses the rest):
///
///     [header: skippable frame 0x184D2A50, "FTLOG\0v1" + JSON LogHeader]
///     [header copy: skippable frame 0x184D2A53, a checksummed zstd frame of the same JSON]
///     [events: zstd frame (checksummed), EventCodec rows] ...
///     [trailer: skippable frame 0x184D2A51, JSON LogTrailer: seek index, losses, interfaces]
///     [footer: skippable frame 0x184D2A52, trailer offset (u64 LE) + "FTLOGEND"]
///
/// Event frames are written as they close (at least once a second while events flow), so a
/// crash loses at most the open frame; the trailer and footer only exist after a clean stop.
public enum LogFormat {
    /// 2: rows may carry packet bytes (--snaplen). 3: rows may carry an inner tuple
    /// (--output-tunnel), and kinds 3-4 (BPF programs). 4: rows may carry an skb metadata
    /// area (--output-skb-metadata; the header has its layout). 5: tuples carry the IPv4 ID
    /// and TCP seq/ack (what matches a packet across hosts), the header the kernel's clock
    /// error, the trailer the boot-to-wall offset per frame and at the end. Readers read every
    /// version up to theirs.
    public static let version = 5
    static let headerMagic: UInt32 = 0x184D_2A50
    static let trailerMagic: UInt32 = 0x184D_2A51
    static let footerMagic: UInt32 = 0x184D_2A52
    /// The header again, zstd-compressed with a checksum: read when the header is damaged.
    static let headerCopyMagic: UInt32 = 0x184D_2A53
    static let zstdMagic: UInt32 = 0xFD2F_B528
    static let headerTag = Array("FTLOG\0v1".utf8)
    static let footerTag = Array("FTLOGEND".utf8)

    /// Header and trailer JSON (dates as ISO 8601).
    static func encode<T: Encodable>(_ value: T) -> [UInt8]? {
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .iso8601
        return (try? enc.encode(value)).map { Array($0) }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer.SubSequence) -> T? {
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        return try? dec.decode(type, from: Data(bytes))
    }

    /// A skippable frame: magic, payload size, payload (all little-endian).
    static func skippable(_ magic: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: magic.littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { out += $0 }
        return out + payload
    }
}

/// What is needed to interpret the events offline.
public struct LogHeader: Codable, Sendable, Equatable {
    public var formatVersion = LogFormat.version
    public var kernelRelease: String
    public var hostname: String
    public var cpus: Int
    public var backend: String
    /// The pcap filter and the command line, as given.
    public var filter: String?
    public var arguments: [String]
    /// Function table: an event's `func_id` indexes it.
    public var targets: [TracedTarget]
    /// First kernel address of each target (0 for tracepoints or when unknown).
    public var targetAddresses: [UInt64]
    /// `enum skb_drop_reason` of the capturing kernel (value → name).
    public var dropReasons: [String: String]
    /// CLOCK_REALTIME − CLOCK_MONOTONIC in ns at the start: event times are monotonic.
    public var bootToWallNs: Int64
    public var startedAt: Date
    /// The kernel's wall-clock error estimate at the start (nil: not recorded, or before
    /// format 5).
    public var clockSync: ClockSync?
    /// --snaplen: packet bytes captured per event (nil or 0: none).
    public var snapLength: Int?
    /// --output-skb-metadata: the fields and how to read each row's area (nil: none).
    public var skbMetadata: SkbMetadata?
    /// --output-xdp-metadata: the same for XDP program events' area (root `xdp`).
    public var xdpMetadata: SkbMetadata?

    public init(kernelRelease: String, hostname: String, cpus: Int, backend: String, filter: String?,
                arguments: [String], targets: [TracedTarget], targetAddresses: [UInt64],
                dropReasons: DropReasons, bootToWallNs: Int64, startedAt: Date) {
        self.kernelRelease = kernelRelease
        self.hostname = hostname
        self.cpus = cpus
        self.backend = backend
        self.filter = filter
        self.arguments = arguments
        self.targets = targets
        self.targetAddresses = targetAddresses
        self.dropReasons = Dictionary(uniqueKeysWithValues: dropReasons.names.map { (String($0.key), $0.value) })
        self.bootToWallNs = bootToWallNs
        self.startedAt = startedAt
    }

    public var drops: DropReasons {
        DropReasons(names: Dictionary(dropReasons.compactMap { k, v in UInt32(k).map { ($0, v) } }, uniquingKeysWith: { a, _ in a }))
    }

    /// What a reader uses when the header and its copy are both damaged: the events are
    /// still there, their function names are not (`func#N`).
    static let unknown = LogHeader(kernelRelease: "unknown", hostname: "unknown", cpus: 0, backend: "unknown", filter: nil,
                                   arguments: [], targets: [], targetAddresses: [], dropReasons: DropReasons(names: [:]),
                                   bootToWallNs: 0, startedAt: Date(timeIntervalSince1970: 0))

    /// An event time (monotonic ns) as seconds since the capture started.
    public func secondsSinceStart(_ ns: UInt64) -> Double {
        (Double(ns) + Double(bootToWallNs)) / 1e9 - startedAt.timeIntervalSince1970
    }

    /// CLOCK_REALTIME − CLOCK_MONOTONIC now, in ns.
    public static func currentBootToWall() -> Int64 { currentBootToWallNs() }

    /// Why `name` cannot name a host (nil: it can). Fleet files are partitioned by it
    /// (`host=NAME/`), so it must be a path component and a single line.
    public static func hostNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 255 else { return "is not 1 to 255 bytes long" }
        if name.contains(where: { $0 == "/" || $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }) {
            return "contains '/' or a control character"
        }
        if name == "." || name == ".." { return "is not a file name" }
        return nil
    }
}

/// One event frame in the seek index.
public struct LogFrameIndex: Codable, Sendable, Equatable {
    public var offset: UInt64
    public var size: UInt32
    public var events: UInt32
    public var firstNs: UInt64
    public var lastNs: UInt64
    /// CLOCK_REALTIME − CLOCK_MONOTONIC when the frame was written: a step (NTP, a manual
    /// `date -s`) shows as a change between frames. nil before format 5.
    public var bootToWallNs: Int64? = nil
}

/// Written at a clean stop.
public struct LogTrailer: Codable, Sendable, Equatable {
    public var frames: [LogFrameIndex]
    public var events: UInt64
    /// Records the kernel could not reserve, per CPU.
    public var lostPerCPU: [UInt64]
    /// Events the writer dropped because compression fell behind.
    public var writerDropped: UInt64
    /// "netns:ifindex" → interface name, resolved when first seen.
    public var interfaces: [String: String]
    public var trackOverflow: UInt64
    public var endedAt: Date
    /// Events the live text/JSON output dropped because it fell behind (`-w … --print`);
    /// absent in logs written before it was counted.
    public var outputDropped: UInt64?
    /// --output-netns-names: netns inode → name (docs/output.md says how names are chosen);
    /// absent when not asked for.
    public var netnsNames: [String: String]?
    /// CLOCK_REALTIME − CLOCK_MONOTONIC and the kernel's clock error at the end (format 5).
    public var bootToWallEndNs: Int64?
    public var clockSyncEnd: ClockSync?
}
