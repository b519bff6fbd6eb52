import CShim
import Foundation

/// A pcap-filter(7) expression compiled by libpcap for one link type.
public struct PcapProgram: Sendable {
    /// The link types the tracer sees: Ethernet frames when an skb has a MAC header, bare
    /// IPv4/IPv6 packets otherwise.
    public enum LinkType: Int32, Sendable {
        case ethernet = 1 // DLT_EN10MB
        case raw = 12     // DLT_RAW (Linux value): IPv4 or IPv6 from the first byte
    }

    /// libpcap's snapshot length for the program (a match returns it, as in tcpdump).
    public static let snaplen: Int32 = 262_144

    public let expression: String
    public let linkType: LinkType
    public let instructions: [CBPFInstruction]

    /// Compiles `expression`, with libpcap's optimiser unless `optimize` is false; the error
    /// is libpcap's own message.
    public init(_ expression: String, linkType: LinkType, optimize: Bool = true) throws(FilterError) {
        var out: UnsafeMutablePointer<shim_cbpf_insn>?
        var count: UInt32 = 0
        var err = [UInt8](repeating: 0, count: 512)
        let rc = err.withUnsafeMutableBufferPointer { e in
            e.withMemoryRebound(to: CChar.self) {
                shim_pcap_compile(linkType.rawValue, Self.snaplen, expression, optimize ? 1 : 0, &out, &count, $0.baseAddress, $0.count)
            }
        }
        guard rc == 0, let out else { throw FilterError(String(decoding: err.prefix { $0 != 0 }, as: UTF8.self)) }
        defer { free(out) }
        self.expression = expression
        self.linkType = linkType
        self.instructions = (0..<Int(count)).map {
            CBPFInstruction(code: out[$0].code, jt: out[$0].jt, jf: out[$0].jf, k: out[$0].k)
        }
    }

    /// libpcap's verdict for a packet (0 = no match), from its own interpreter.
    public func verdict(_ packet: [UInt8], wirelen: Int? = nil) -> UInt32 {
        var raw = instructions.map { shim_cbpf_insn(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        return packet.withUnsafeBufferPointer { p in
            shim_pcap_offline_filter(&raw, UInt32(raw.count), p.baseAddress, UInt32(p.count), UInt32(wirelen ?? p.count))
        }
    }

    /// Whether the program reads the packet's length (`len`, `greater`, `less`).
    public var usesLength: Bool {
        instructions.contains { ($0.instructionClass == .ld || $0.instructionClass == .ldx) && $0.mode == CBPFInstruction.modeLEN }
    }
}

/// A pcap-filter expression ready for the tracer: one program for skbs with a MAC header
/// (Ethernet) and one for those without (IP only). An expression that only makes sense with
/// link-layer headers (`arp`, `ether host …`, `vlan`) has no IP form: such skbs never match.
public struct PacketFilter: Sendable {
    public let expression: String
    public let l2: PcapProgram
    public let l3: PcapProgram?
    /// Why there is no L3 program (libpcap's message), when there is none.
    public let l3Unavailable: String?

    /// Compiles both forms at once, on two threads (libpcap 1.8+ compiles in parallel; the
    /// optimiser's time grows fast with the expression's size, so this halves the wait).
    public init(_ expression: String, optimize: Bool = true) throws(FilterError) {
        final class Slots: @unchecked Sendable { var l2, l3: Result<PcapProgram, FilterError>? }
        let slots = Slots()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let link: PcapProgram.LinkType = i == 0 ? .ethernet : .raw
            let r: Result<PcapProgram, FilterError>
            do throws(FilterError) { r = .success(try PcapProgram(expression, linkType: link, optimize: optimize)) } catch { r = .failure(error) }
            if i == 0 { slots.l2 = r } else { slots.l3 = r }
        }
        self.expression = expression
        l2 = try slots.l2!.get()
        switch slots.l3! {
        case .success(let p): (l3, l3Unavailable) = (p, nil)
        case .failure(let e): (l3, l3Unavailable) = (nil, e.description)
        }
    }

    /// Compiles on a worker thread so that the caller can give up: libpcap's optimiser can
    /// take minutes on a very large expression, and pcap_compile cannot be interrupted.
    /// `slow` is called once if the compile is still running after `noteAfter` seconds; after
    /// `timeout` seconds the error is `FilterError.timedOut` (the worker is left to finish).
    public static func compile(_ expression: String, optimize: Bool = true, timeout: Double, noteAfter: Double = 2,
                               slow: () -> Void = {}) throws(FilterError) -> PacketFilter {
        final class Box: @unchecked Sendable { var result: Result<PacketFilter, FilterError>? }
        let box = Box(), done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do throws(FilterError) { box.result = .success(try PacketFilter(expression, optimize: optimize)) } catch { box.result = .failure(error) }
            done.signal()
        }
        let first = min(noteAfter, timeout)
        if done.wait(timeout: .now() + first) == .timedOut {
            if first < timeout { slow() }
            guard done.wait(timeout: .now() + (timeout - first)) == .success else { throw .timedOut(seconds: timeout) }
        }
        return try box.result!.get()
    }

    /// The expression as messages show it: a very long one is cut (host lists can run to
    /// hundreds of kilobytes).
    public static func abbreviated(_ expression: String) -> String {
        expression.count > 120 ? expression.prefix(100) + "… (\(expression.count) characters)" : expression
    }

    /// Whether either program reads the packet's length.
    public var usesLength: Bool { l2.usesLength || (l3?.usesLength ?? false) }

    /// The eBPF bodies spliced into the filter stubs.
    public func translated() throws(FilterError) -> (l2: [EBPFInstruction], l3: [EBPFInstruction]) {
        (try CBPFTranslator.translate(l2.instructions), try l3.map(\.instructions).map(CBPFTranslator.translate) ?? CBPFTranslator.rejectAll)
    }
}
