@testable import FastTrace
import Foundation
import KernelBTF
import Testing

/// --filter-skb-expr's front end: C syntax, precedence, and resolution against the running
/// kernel's BTF (offsets, pointer loads, bitfields, enums, strings), with one-line errors that
/// name the column and the type where resolution stopped.
@Suite struct ExprTests {
    nonisolated(unsafe) static let btf: BTF? = try? BTF.vmlinux() // read-only after load

    @Test func parsesCPrecedence() throws {
        let e = try ExprParser.parse("skb->mark & 0xff == 1 || !(skb->len < 100) && skb->dev->ifindex != 9")
        // C: == binds tighter than &, && tighter than ||.
        guard case .binary(.or, let left, let right, _) = e else { Issue.record("\(e)"); return }
        guard case .binary(.bitAnd, _, .binary(.eq, .number(0xff, _), .number(1, _), _), _) = left else { Issue.record("\(left)"); return }
        guard case .binary(.and, .not(.binary(.lt, _, .number(100, _), _), _), .binary(.ne, _, .number(9, _), _), _) = right else { Issue.record("\(right)"); return }
        #expect(try ExprParser.parse("skb->cb[3]") == .path(root: "skb", steps: [.member("cb", arrow: true, column: 6), .index(3, column: 8)], column: 1))
        #expect(try ExprParser.parse("0x10 == 020") == .binary(.eq, .number(16, column: 1), .number(16, column: 9), column: 6))
    }

    @Test(arguments: [
        ("skb->len ==", "column 12: expected a value, found 'end of expression'"),
        ("skb->len == 1)", "column 14: unexpected ')'"),
        ("(skb->len == 1", "column 15: expected ')', found 'end of expression'"),
        ("skb-> == 1", "column 7: expected a member name after '->'"),
        ("skb->name == \"eth0", "column 14: unterminated string"),
        ("skb->len == 12z", "column 13: '12z' is not a number"),
        ("skb->len @ 1", "column 10: unexpected character '@'"),
        ("skb->cb[x]", "column 9: expected an index (a number) after '['"),
    ])
    func syntaxErrorsNameTheColumn(_ text: String, _ message: String) {
        #expect(throws: ExprError.self) { try ExprParser.parse(text) }
        do { _ = try ExprParser.parse(text) } catch { #expect(error.description == message) }
    }

    /// The byte offset of `path` (members, anonymous structs/unions included) in `s`, found
    /// by a walk written apart from the resolver's.
    static func offset(_ btf: BTF, _ s: UInt32, _ name: String) -> (type: UInt32, byte: Int)? {
        for m in btf.members(s) {
            if m.name == name { return (m.type, Int(m.bitOffset) / 8) }
            let t = btf.resolve(m.type)
            if m.name.isEmpty, [.struct, .union].contains(btf.kind(t)), let inner = offset(btf, t, name) {
                return (inner.type, Int(m.bitOffset) / 8 + inner.byte)
            }
        }
        return nil
    }

    @Test(.enabled(if: btf != nil, "needs /sys/kernel/btf/vmlinux"))
    func resolvesOffsetsPointersBitfieldsEnumsAndStrings() throws {
        let btf = try #require(Self.btf)
        let r = try ExprResolver(btf: btf)
        func path(_ text: String) throws -> ResolvedPath {
            guard case .path(let p) = try r.resolve(try ExprParser.parse(text)) else { throw ExprError(message: "not a path", column: 0) }
            return p
        }
        let skb = try #require(btf.find("sk_buff", kind: .struct))
        let dev = try #require(btf.find("net_device", kind: .struct))
        let len = try #require(Self.offset(btf, skb, "len"))
        #expect(try path("skb->len") == ResolvedPath(loads: [], offset: len.byte, size: 4, value: .integer(signed: false), typeName: "unsigned int"))
        let devAt = try #require(Self.offset(btf, skb, "dev")), ifindex = try #require(Self.offset(btf, dev, "ifindex"))
        let p = try path("skb->dev->ifindex")
        #expect(p.loads == [devAt.byte] && p.offset == ifindex.byte && p.size == 4 && p.value == .integer(signed: true))
        // Two loads and an embedded struct: skb->dev->nd_net.net->ns.inum.
        let ns = try path("skb->dev->nd_net.net->ns.inum")
        #expect(ns.loads.count == 2 && ns.loads[0] == devAt.byte && ns.size == 4, "\(ns)")
        // A bitfield: pkt_type is 3 bits.
        let pt = try path("skb->pkt_type")
        #expect(pt.bits == 3 && pt.size == 1, "\(pt)")
        // An array element, and a char array as a string.
        let cb = try #require(Self.offset(btf, skb, "cb"))
        #expect(try path("skb->cb[5]").offset == cb.byte + 5)
        #expect(try r.resolve(try ExprParser.parse("skb->dev->name == \"eth0\"")) ==
                .binary(.eq, .path(try r.path([.member("dev", arrow: true, column: 6), .member("name", arrow: true, column: 11)])),
                        .string(Array("eth0".utf8))))
        // Names: uapi macros, and enumerators from BTF (the field's own enum first).
        #expect(try r.resolve(try ExprParser.parse("skb->pkt_type == PACKET_OTHERHOST")) == .binary(.eq, .path(pt), .number(3)))
        guard case .binary(_, _, .number(let v)) = try r.resolve(try ExprParser.parse("skb->len == SKB_DROP_REASON_NOT_SPECIFIED")) else { Issue.record("enum"); return }
        #expect(v == 2)
    }

    @Test(.enabled(if: btf != nil, "needs /sys/kernel/btf/vmlinux"), arguments: [
        ("skb->lenn == 1", "column 6: struct sk_buff has no member 'lenn'"),
        ("skb->dev->ifidx == 9", "column 11: struct net_device has no member 'ifidx'"),
        ("skb.len == 1", "column 5: '.' on skb (struct sk_buff *), a pointer: use '->'"),
        ("skb->len->x == 1", "column 11: '->' on skb->len (unsigned int), which is not a pointer: use '.'"),
        ("skb->dev == 1 && skb->cb == 2", "column 18: skb->cb is char[48]: compare it with a string (== \"...\")"),
        ("skb->len == \"eth0\"", "column 1: skb->len is unsigned int, not a char array: it cannot equal a string"),
        ("skb->dev->name == \"a-very-long-device-name\"", "column 19: \"a-very-long-device-name\" is 23 bytes; skb->dev->name holds at most 15"),
        ("skb->len == NO_SUCH_THING", "column 13: unknown name 'NO_SUCH_THING': not an enumerator in this kernel's BTF"),
        ("sk->len == 1", "column 1: unknown name 'sk': paths start at 'skb'"),
        ("skb == 0", "column 1: 'skb' alone is a pointer: compare one of its members (skb->len)"),
        ("skb->cb[99] == 0", "column 8: index 99 is outside skb->cb (char[48])"),
    ])
    func resolutionErrorsNameTheColumnAndType(_ text: String, _ message: String) throws {
        let r = try ExprResolver(btf: try #require(Self.btf))
        do {
            _ = try r.resolve(try ExprParser.parse(text))
            Issue.record("'\(text)' resolved")
        } catch {
            #expect(error.description == message)
        }
    }
}
