import Foundation

/// One packet across hosts (`fasttrace journeys --fleet`): each host's part of it, on the
/// reference host's clock. Parts are joined by the identity `ClockAlignment` matches packets
/// by (TCP seq/ack/flags and the IPv4 ID), so a packet rewritten by NAT on the way is still
/// one packet.
public struct FleetJourney {
    public struct Part {
        public let host: Int
        public let journey: Journey
        /// The part's first event on the reference clock (ns).
        public let startNs: Int64
    }
    /// In order of arrival on the aligned clock.
    public var parts: [Part]
    public var hosts: [Int] { parts.map(\.host) }
}

public enum FleetJourneys {
    /// The packets seen on at least two of `logs`, in order of their first event. `offsetsNs`
    /// are the hosts' clock offsets from `ClockAlignment` (subtracted from wall-clock times).
    ///
    /// A host's part of a packet is the run of its journey from the first to the last event
    /// carrying the packet's identity (a journey can hold several packets when the same flow
    /// reuses an skb address). An identity found in two runs on one host (an ID reused, a
    /// retransmission) joins nothing. Holds every packet's parts: for the size of a debugging
    /// capture, not a day's.
    public static func build(logs: [LogReader], offsetsNs: [Int64], minHosts: Int = 2,
                             keep: (Int, Journey) -> Bool = { _, _ in true }) -> [FleetJourney] {
        var parts: [ClockAlignment.Key: [FleetJourney.Part]] = [:]
        var ambiguous = Set<ClockAlignment.Key>()
        for (h, log) in logs.enumerated() {
            var seen = Set<ClockAlignment.Key>()
            let b2w = log.header.bootToWallNs &- offsetsNs[h]
            log.forEachJourney { j in
                var span: [ClockAlignment.Key: (first: Int, last: Int)] = [:]
                for (i, e) in j.events.enumerated() {
                    guard let k = ClockAlignment.key(e.tuple) else { continue }
                    span[k] = (span[k]?.first ?? i, i)
                }
                for (k, r) in span {
                    if !seen.insert(k).inserted { ambiguous.insert(k); continue }
                    var part = j
                    part.events = Array(j.events[r.first...r.last])
                    let start = Int64(bitPattern: part.startNs) &+ b2w
                    parts[k, default: []].append(.init(host: h, journey: part, startNs: start))
                }
            }
        }
        return parts.compactMap { k, p -> FleetJourney? in
            guard !ambiguous.contains(k), Set(p.map(\.host)).count >= minHosts, p.contains(where: { keep($0.host, $0.journey) }) else { return nil }
            return FleetJourney(parts: p.sorted { ($0.startNs, $0.host) < ($1.startNs, $1.host) })
        }
        .sorted { ($0.parts[0].startNs, $0.parts[0].host) < ($1.parts[0].startNs, $1.parts[0].host) }
    }

    /// Text: a title with the first tuple and the hosts in order, then each event on the
    /// aligned clock (µs from the packet's first event) with its host; a tuple that differs
    /// from the one before it (NAT) is shown, and each change of host gives the hop's time.
    public static func render(_ fj: FleetJourney, logs: [LogReader], names: [String], formatters: [EventFormatter],
                              offsetsNs: [Int64]) -> String {
        let events = fj.alignedEvents(logs: logs, offsetsNs: offsetsNs)
        guard let first = events.first else { return "" }
        var path: [String] = []
        for e in events where path.last != names[e.host] { path.append(names[e.host]) }
        let tuple = fj.parts.lazy.compactMap(\.journey.tuple).first.map { EventFormatter.tuple($0) } ?? "-"
        var out = "packet \(tuple) — \(path.joined(separator: " → ")), \(String(format: "%.1f", Double(events.last!.ns &- first.ns) / 1000)) µs\n"
        let width = max(4, names.map(\.count).max() ?? 4)
        var lastTuple: Tuple?
        var last: (ns: Int64, host: Int)?
        for (ns, host, e) in events {
            if let l = last, l.host != host {
                out += "    " + String(repeating: " ", count: width) + String(format: "   hop %@ → %@: %.1f µs\n", names[l.host], names[host], Double(ns &- l.ns) / 1000)
            }
            let name = names[host].padding(toLength: width, withPad: " ", startingAt: 0)
            var line = String(format: "  %@ %+11.3f µs  %@", name, Double(ns &- first.ns) / 1000, formatters[host].funcName(e))
            let iface = formatters[host].ifname(e)
            if !iface.isEmpty { line += "  \(iface)" }
            line += "  len \(e.meta.len)"
            if e.tuple.l3Proto != 0 {
                if let lt = lastTuple, !EventCodec.sameAddressesAndPorts(lt, e.tuple) { line += "  rewritten: \(EventFormatter.tuple(e.tuple))" }
                lastTuple = e.tuple
            }
            out += line + "\n"
            last = (ns, host)
        }
        return out
    }
}

extension FleetJourney {
    /// Every part's events on the aligned clock (ns), in time order.
    func alignedEvents(logs: [LogReader], offsetsNs: [Int64]) -> [(ns: Int64, host: Int, e: Event)] {
        var events: [(ns: Int64, host: Int, e: Event)] = []
        for p in parts {
            let b2w = logs[p.host].header.bootToWallNs &- offsetsNs[p.host]
            for e in p.journey.events { events.append((Int64(bitPattern: e.tsNs) &+ b2w, p.host, e)) }
        }
        return events.sorted { ($0.ns, $0.host) < ($1.ns, $1.host) }
    }

    /// The packet as one journey on the aligned clock, for `PathDiff`: each event's function
    /// id carries its host in the top byte (`hostFunctionName` names it `HOST:function`).
    public func merged(logs: [LogReader], offsetsNs: [Int64]) -> Journey {
        let events = alignedEvents(logs: logs, offsetsNs: offsetsNs)
        var j = Journey(events: events.map { ns, host, e in
            var e = e
            e.tsNs = UInt64(bitPattern: ns)
            e.funcId = UInt32(host) << 24 | (e.funcId & 0xff_ffff)
            return e
        })
        j.inner = parts.lazy.compactMap(\.journey.inner).first
        return j
    }

    /// Names a merged journey's event: `HOST:function` as that host's capture names it.
    public static func hostFunctionName(names: [String], formatters: [EventFormatter]) -> (Event) -> String {
        { e in
            let h = Int(e.funcId >> 24)
            guard h < names.count else { return "?:func#\(e.funcId)" }
            var local = e
            local.funcId = e.funcId & 0xff_ffff
            return names[h] + ":" + formatters[h].funcName(local)
        }
    }
}
