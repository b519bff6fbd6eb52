import CShim
import Foundation

/// One BPF ring buffer per CPU, placed in the programs' `BPF_MAP_TYPE_ARRAY_OF_MAPS`, each
/// mmapped here. Sharding by CPU means producers never contend on a ring (one shared ring
/// halves throughput at two producers).
///
/// Ring memory: page 0 is the consumer position (ours to write); from page 1 on, the
/// producer position page, then the data pages mapped twice so a record never wraps.
public final class RingSet {
    struct Ring {
        let fd: Int32
        let consumer: UnsafeMutableRawPointer
        let producer: UnsafeRawPointer
        let data: UnsafeRawPointer
        let mask: UInt64
        let mapping: (UnsafeMutableRawPointer, Int, UnsafeMutableRawPointer, Int)
    }

    let rings: [Ring]
    let epollFD: Int32
    public let ringSize: Int
    public var count: Int { rings.count }

    /// The size the rings will have: a power of two, at least a page.
    public static func validSize(_ bytes: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var size = page
        while size < bytes { size <<= 1 }
        return size
    }

    /// Creates `cpus` rings of `size` bytes and stores their fds in `outer` (loaded).
    public init(outer: BPFMap, cpus: Int, size: Int) throws(BPFError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let size32 = UInt32(exactly: size), size >= page, size & (size - 1) == 0 else {
            throw BPFError.capture("ring buffer size \(size): not a power of two between \(page) and \(UInt32.max) bytes")
        }
        ringSize = size
        epollFD = shim_epoll_create()
        guard epollFD >= 0 else { throw BPFError.capture("epoll_create: \(String(cString: strerror(errno)))") }
        var made: [Ring] = []
        do throws(BPFError) {
            for cpu in 0..<cpus {
                let fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ft_ring", 0, 0, size32, nil)
                guard fd >= 0 else { throw BPFError.capture("create ring buffer for CPU \(cpu) (\(size) bytes)", code: fd) }
                var key = UInt32(cpu)
                var value = fd
                guard bpf_map_update_elem(outer.fd, &key, &value, 0) == 0 else {
                    close(fd)
                    throw BPFError.capture("install ring buffer for CPU \(cpu)")
                }
                guard let cons = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), cons != MAP_FAILED else {
                    close(fd)
                    throw BPFError.capture("mmap ring consumer page")
                }
                guard let prod = mmap(nil, page + 2 * size, PROT_READ, MAP_SHARED, fd, off_t(page)), prod != MAP_FAILED else {
                    munmap(cons, page)
                    close(fd)
                    throw BPFError.capture("mmap ring data")
                }
                let added = shim_epoll_add(epollFD, fd)
                guard added == 0 else {
                    munmap(cons, page)
                    munmap(prod, page + 2 * size)
                    close(fd)
                    throw BPFError.capture("epoll_ctl ring for CPU \(cpu)", code: added)
                }
                made.append(Ring(fd: fd, consumer: cons, producer: UnsafeRawPointer(prod),
                                 data: UnsafeRawPointer(prod) + page, mask: UInt64(size - 1),
                                 mapping: (cons, page, prod, page + 2 * size)))
            }
        } catch {
            RingSet.release(made)
            close(epollFD)
            throw error
        }
        rings = made
    }

    deinit {
        RingSet.release(rings)
        close(epollFD)
    }

    private static func release(_ rings: [Ring]) {
        for r in rings {
            munmap(r.mapping.0, r.mapping.1)
            munmap(r.mapping.2, r.mapping.3)
            close(r.fd)
        }
    }

    /// Waits up to `timeoutMs` for data (EINTR counts as a wakeup).
    public func wait(timeoutMs: Int32) {
        _ = shim_epoll_wait(epollFD, timeoutMs)
    }

    static let busyBit: UInt32 = 1 << 31
    static let discardBit: UInt32 = 1 << 30
    static let headerSize = 8

    /// Records handed over between two publications of the consumer position.
    static let publishEvery = 256

    /// Hands every committed record of every ring to `body`. The consumer position is
    /// published every `publishEvery` records and at the end: not per record (a release
    /// store each), and not only once per drain, which would keep a ring looking full to
    /// its producers for the whole of a long drain. Returns the number of records.
    @discardableResult
    public func drain(_ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var n = 0
        for r in rings {
            var cons = shim_load_relaxed_u64(r.consumer) // we are the only writer
            let prod = shim_load_acquire_u64(r.producer)
            var sincePublish = 0
            while cons < prod {
                let header = r.data + Int(cons & r.mask)
                let word = shim_load_acquire_u32(header)
                if word & Self.busyBit != 0 { break } // reserved, not yet submitted
                let length = Int(word & ~(Self.busyBit | Self.discardBit))
                if word & Self.discardBit == 0 {
                    body(UnsafeRawBufferPointer(start: header + Self.headerSize, count: length))
                    n += 1
                }
                cons += UInt64((length + Self.headerSize + 7) & ~7)
                sincePublish += 1
                if sincePublish >= Self.publishEvery {
                    sincePublish = 0
                    shim_store_release_u64(r.consumer, cons)
                }
            }
            shim_store_release_u64(r.consumer, cons)
        }
        return n
    }
}
