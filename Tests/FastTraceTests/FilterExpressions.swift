/// pcap-filter(7) expressions for the differential test, grouped by what they exercise.
/// Every one must compile for Ethernet; those with no IP-only form (link-layer keywords)
/// must reject every packet in the L3 program.
enum FilterExpressions {
    static let protocols = [
        "", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "igmp", "sctp", "ip proto gre",
        "ip proto 47", "ip6 proto 58", "ip proto 51", "ip6 proto 50", "ip proto 89", "ether proto 0x88cc",
        "ether proto 0x0806", "ether proto 0x86dd", "ip and tcp", "ip6 and udp", "not ip", "not tcp",
        "ip or ip6", "ip6 or arp", "not (ip or ip6)", "ip and not (tcp or udp)", "llc", "mpls", "mpls 100",
        "pppoed", "pppoes", "stp", "ipx", "atalk", "aarp", "iso", "decnet", "netbeui", "ip and ip[9] == 132",
        "pim", "vrrp", "tcp or udp or icmp", "ip proto 6 or ip6 proto 6",
    ]
    static let hosts = [
        "host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "host 192.168.1.1 or host 10.1.2.3",
        "not host 8.8.8.8", "host 2001:db8::1", "src host fe80::1", "dst host ff02::1", "ip host 10.0.0.1",
        "ip6 host ::1", "arp host 10.0.0.1", "host 127.0.0.1 and not port 22", "src 10.0.0.1 and dst 10.0.0.2",
        "host 10.77.0.1", "ip src 172.16.5.4", "ip dst 255.255.255.255", "ip6 src 2001:db8:1::5",
        "host 10.0.0.1 or host 2001:db8::2", "rarp host 10.0.0.2", "host 224.0.0.1",
    ]
    static let nets = [
        "net 10.0.0.0/8", "net 192.168.1.0/24", "src net 172.16.0.0/12", "dst net 10.1.0.0 mask 255.255.0.0",
        "net 2001:db8::/32", "net 2001:db8:1::/48", "not net 10.0.0.0/8", "net 224.0.0.0/4", "net 127",
        "src net 10.0.0.0/8 and dst net 192.168.0.0/16", "ip6 src net fe80::/10", "dst net 0.0.0.0/0",
        "net 10.0.0.0/31", "src net 2001:db8::/64 or dst net ff00::/8",
    ]
    static let ports = [
        "port 80", "tcp port 80", "udp port 53", "src port 22", "dst port 8080", "tcp dst port 8080",
        "tcp and dst port 8080", "port 80 or port 443", "portrange 5000-5010", "tcp portrange 1-1024",
        "udp dst portrange 50-60", "not port 22", "ip6 and tcp port 443", "tcp src port 1024 and tcp dst port 80",
        "port 65535", "src portrange 0-100", "sctp port 80", "udp src port 0", "port 3", "tcp port 80 and (ip or ip6)",
        "ip and ip[0] & 0xf > 5 and tcp port 80", "ip6 and udp portrange 5000-5010", "dst portrange 8000-9000",
        "udp port 53 or tcp port 53", "tcp port 80 and not src host 10.0.0.1",
    ]
    static let tcpFlags = [
        "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "tcp[tcpflags] & tcp-rst != 0",
        "tcp[13] == 0x12", "tcp[tcpflags] == tcp-fin|tcp-ack", "tcp[tcpflags] & tcp-push != 0",
        "tcp[tcpflags] & tcp-urg != 0", "tcp[12] & 0xf0 > 0x50", "tcp[tcpflags] & tcp-ece != 0",
        "tcp[tcpflags] & tcp-cwr != 0", "tcp[tcpflags] == 0", "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0",
        "host 10.0.0.1 and (tcp[tcpflags] & tcp-syn != 0)", "tcp[13] & 2 == 2 and not tcp[13] & 16 == 16",
        "tcp[0:2] > 1023", "tcp[2:2] == 8080", "tcp[4:4] > 0x80000000", "tcp[20:4] == 0x47455420",
    ]
    static let icmp = [
        "icmp[icmptype] == icmp-echo", "icmp[icmptype] == icmp-echoreply", "icmp[0] == 3",
        "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply", "icmp6 and ip6[40] == 128",
        "icmp6 and ip6[40] == 135", "icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 1",
        "icmp[icmptype] == icmp-timxceed", "icmp[1] > 3", "icmp6[0] == 129", "icmp6[0] >= 133 and icmp6[0] <= 136",
        "icmp or icmp6", "icmp[icmptype] == icmp-tstamp",
    ]
    static let vlan = [
        "vlan", "vlan 100", "vlan and ip", "vlan 100 and tcp", "vlan and vlan", "vlan 1 and vlan 100", "not vlan",
        "vlan and ip6", "vlan 4094", "vlan and host 10.0.0.1", "vlan and arp", "vlan 200 or vlan 100",
        "vlan and tcp port 80", "vlan and vlan and ip", "ether proto 0x8100", "ether proto 0x88a8",
    ]
    static let fields = [
        "ip[8] < 2", "ip[8] == 64", "ip[1] & 0xfc == 0x10", "ip[0] & 0xf > 5", "ip[6:2] & 0x1fff != 0",
        "ip[6] & 0x20 != 0", "ip[6] & 0x40 != 0", "ip[2:2] > 100", "ip[2:2] < 60", "ip[16] == 224", "ip multicast",
        "ether broadcast", "ether multicast", "broadcast", "multicast", "ether host 00:11:22:33:44:55",
        "ether src 02:00:00:00:00:01", "ether dst ff:ff:ff:ff:ff:ff", "ether[0] & 1 != 0", "ether[12:2] == 0x0800",
        "ip6[6] == 6", "ip6[7] == 64", "ip6 multicast", "ip6 and ip6[6] == 0", "ip6[0] & 0xf0 == 0x60",
        "ip[6:2] & 0x1fff == 0 and udp", "(ip[6:2] & 0x3fff) != 0", "ip[12:4] == 0x0a000001", "ether[6:4] == 0x02000000",
        "arp[6:2] == 1", "arp[6:2] == 2", "udp and udp[8:4] == 0xdeadbeef", "udp[4:2] > 20", "ip[9] == 6",
        "ip6[4:2] > 100", "ether[14] == 0x45", "ip[0] == 0x45", "ip[10:2] == 0", "ip6[8:4] == 0x20010db8",
        "ether dst 33:33:00:00:00:01", "ether src host ff:ff:ff:ff:ff:ff or ether dst host 01:00:5e:00:00:01",
        "ip[1000] == 0", "ip[65535] == 0", "ether[4294967295] == 0", "ip6[39] & 1 == 1",
    ]
    static let lengths = [
        "len > 100", "len <= 64", "greater 200", "less 100", "len == 60", "len > 1500", "len >= 14 and len < 40",
        "less 14", "ip and len > 80", "ip6 and len < 100",
    ]
    static let arithmetic = [
        "ip[2:2] - ((ip[0] & 0xf) << 2) > 40", "(ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2) != 0",
        "len - 14 > 100", "ip[8] * 2 > 100", "ip[8] / 2 == 32", "ip[8] % 3 == 1", "tcp[0:2] + tcp[2:2] > 10000",
        "udp[4:2] - 8 > 10", "ip[8] ^ 0xff == 0xbf", "ip[9] | 0x10 == 0x16", "ip[8] & 0x3f == 0", "-ip[8] == -64",
        "ip[8] << 2 == 256", "ip[8] >> 1 == 32", "ip[2:2] / ip[8] > 1", "ip[2:2] % ip[1] == 0", "ip[0] << ip[8] != 0",
        "ip[0] >> (ip[8] & 0x3f) == 0", "len / ip[9] > 2", "len % (ip[8] + 1) == 0", "ether[len - 1] == 0",
        "ether[len - 4:4] != 0", "ip[ip[0] & 0xf] != 0", "tcp[(tcp[12] >> 4) * 4] == 0x47", "ip[ip[9]] > 0",
        "ether[ether[0] & 0x3f] == 0", "ip[2:2] * ip[8] > 10000", "ip[2:2] - len < 0", "4 * (ip[0] & 0xf) == 20",
        "(ip[2:2] & 0xff) * 256 + ip[3] > 300", "ip[8] - 1 == 63", "0 - ip[8] > 4294967000",
        "ip[8] * 16777216 + ip[9] > 0", "ip[1] ^ ip[8] == 0", "len * len > 10000", "ip[2:2] / 0x10 > 4",
        "udp[len - 34] == 0", "icmp[len - 20:2] > 0",
    ]
    static let protochain = [
        "ip protochain 6", "ip6 protochain 6", "ip6 protochain 17", "ip6 protochain 58", "protochain 6",
        "ip protochain 17", "ip6 protochain 44", "ip6 protochain 59", "ip6 protochain 60", "ip protochain 1",
        "protochain 17 and host 2001:db8::1", "ip6 protochain 132", "not ip6 protochain 6",
    ]
    static let combinations = [
        "tcp and (port 80 or port 443) and not host 10.0.0.1", "(udp and port 53) or (tcp and port 22)",
        "host 10.0.0.1 and tcp and dst port 8080", "(ip or ip6) and not (icmp or icmp6)",
        "tcp[tcpflags] & tcp-syn != 0 and dst port 80 and src net 10.0.0.0/8", "arp or (ip and udp)",
        "not (port 22 or port 53) and (tcp or udp)", "ip6 and (udp or tcp) and portrange 1-1000",
        "(host 192.168.1.1 and port 80) or (host 10.0.0.2 and port 443)", "vlan and (ip6 and icmp6)",
        "ether src 00:11:22:33:44:55 and (arp or ip)", "ip and ip[8] > 1 and not ip multicast",
        "(tcp and len > 100) or (udp and len < 80)", "ip[6] & 0x20 != 0 or ip[6:2] & 0x1fff != 0 or ip6 protochain 44",
        "not ip and not ip6 and not arp", "src host 10.0.0.1 or dst host 10.0.0.1 or host 2001:db8::1",
        "tcp and not tcp[tcpflags] & tcp-ack != 0", "icmp and ip[8] < 64 and ip[0] & 0xf == 5",
        "((ip and tcp) or (ip6 and tcp)) and port 8080", "geneve", "geneve and ip", "geneve and udp port 53",
        "mpls and ip", "pppoes and ip",
    ]

    static var all: [String] {
        protocols + hosts + nets + ports + tcpFlags + icmp + vlan + fields + lengths + arithmetic + protochain + combinations
    }
}
