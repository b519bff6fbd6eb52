#!/usr/bin/env bash
# netns-lab.sh up|vxlan|chaos|marks|traffic|down [PREFIX] — a throw-away two-host network for the demo and tests:
# namespaces PREFIX-a (10.77.0.1, veth PREFIX-va) and PREFIX-b (10.77.0.2, veth PREFIX-vb),
# nftables rules in PREFIX-b that drop UDP to port 7778 and DNAT TCP port 80 to 8080, and a
# little traffic: UDP to 7777 (delivered, no socket), UDP to 7778 (dropped by the rule), TCP
# to 8080 (refused), to 80 (rewritten to 8080, refused) and to 9090 (refused), ICMP echo.
# `chaos` adds the trouble of the pwru story: nftables in PREFIX-b also drops TCP to 8080 (a
# tc program that rewrites 80 to 8080, bpf/chaos.bpf.c, is attached by the caller).
# `vxlan` adds a VXLAN tunnel (VNI 42, UDP 4789) over the veth: 10.88.0.1 in PREFIX-a,
# 10.88.0.2 in PREFIX-b; `traffic` then also sends TCP to 10.88.0.2:80 and UDP to :7777
# through it. `marks` makes PREFIX-a mark UDP to 7781 with 0x10 and to 7782 with 0x20 (nftables,
# output); `traffic` then also sends 3 datagrams of 20 and 3 of 300 bytes to each port.
# `routed` builds a three-host fleet instead (fasttrace fleet): PREFIX-a (10.79.1.1) and
# PREFIX-b (10.79.2.1) behind a router PREFIX-r (10.79.1.2, 10.79.2.2, forwarding), which
# DNATs TCP to 10.79.1.2:80 on to 10.79.2.1:8080 and UDP to :7777 on to 10.79.2.1:7777.
# `routed-vxlan` then adds a VXLAN tunnel (VNI 43) from PREFIX-a to PREFIX-b across the router:
# 10.80.0.1 in PREFIX-a, 10.80.0.2 in PREFIX-b. `routed-drop` makes the router drop what it
# would forward to TCP port 8080 (a failing fleet for `fasttrace diff --fleet`).
set -euo pipefail
cmd=${1:?usage: netns-lab.sh up|routed|routed-vxlan|routed-drop|vxlan|chaos|marks|traffic|down [prefix]}
p=${2:-ftlab}
a=$p-a b=$p-b r=$p-r
# vxlan_pair VNI UNDERLAY_A UNDERLAY_B DEV_A DEV_B OVERLAY_A OVERLAY_B: a tunnel between
# $a and $b (devices $p-xa, $p-xb), the overlay addresses /24.
vxlan_pair() {
    ip -n "$a" link add "$p-xa" type vxlan id "$1" remote "$3" local "$2" dstport 4789 dev "$4"
    ip -n "$b" link add "$p-xb" type vxlan id "$1" remote "$2" local "$3" dstport 4789 dev "$5"
    ip -n "$a" addr add "$6/24" dev "$p-xa"
    ip -n "$b" addr add "$7/24" dev "$p-xb"
    ip -n "$a" link set "$p-xa" up
    ip -n "$b" link set "$p-xb" up
}
case $cmd in
routed)
    for ns in "$a" "$r" "$b"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
    ip link add "$p-ar" netns "$a" type veth peer name "$p-ra" netns "$r"
    ip link add "$p-br" netns "$b" type veth peer name "$p-rb" netns "$r"
    ip -n "$a" addr add 10.79.1.1/24 dev "$p-ar"
    ip -n "$r" addr add 10.79.1.2/24 dev "$p-ra"
    ip -n "$r" addr add 10.79.2.2/24 dev "$p-rb"
    ip -n "$b" addr add 10.79.2.1/24 dev "$p-br"
    for l in "$a:$p-ar" "$r:$p-ra" "$r:$p-rb" "$b:$p-br"; do ip -n "${l%%:*}" link set "${l#*:}" up; done
    ip -n "$a" route add default via 10.79.1.2
    ip -n "$b" route add default via 10.79.2.2
    ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$r" nft -f - <<'NFT'
table ip ftfleet {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 10.79.1.2 tcp dport 80 counter dnat to 10.79.2.1:8080
        ip daddr 10.79.1.2 udp dport 7777 counter dnat to 10.79.2.1:7777
    }
}
NFT
    ;;
up)
    ip netns add "$a"
    ip netns add "$b"
    ip link add "$p-va" netns "$a" type veth peer name "$p-vb" netns "$b"
    ip -n "$a" addr add 10.77.0.1/24 dev "$p-va"
    ip -n "$b" addr add 10.77.0.2/24 dev "$p-vb"
    for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
    ip -n "$a" link set "$p-va" up
    ip -n "$b" link set "$p-vb" up
    ip netns exec "$b" nft -f - <<'NFT'
table inet ftlab {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 7778 counter drop
    }
}
table ip ftnat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        tcp dport 80 counter dnat to 10.77.0.2:8080
    }
}
NFT
    ;;
routed-drop)
    ip netns exec "$r" nft -f - <<'NFT'
table inet ftfleetdrop {
    chain forward {
        type filter hook forward priority 0; policy accept;
        tcp dport 8080 counter drop
    }
}
NFT
    ;;
routed-vxlan)
    vxlan_pair 43 10.79.1.1 10.79.2.1 "$p-ar" "$p-br" 10.80.0.1 10.80.0.2
    ;;
vxlan)
    vxlan_pair 42 10.77.0.1 10.77.0.2 "$p-va" "$p-vb" 10.88.0.1 10.88.0.2
    ;;
chaos)
    ip netns exec "$b" nft add rule inet ftlab input tcp dport 8080 counter drop
    ;;
marks)
    ip netns exec "$a" nft -f - <<'NFT'
table ip ftmark {
    chain output {
        type filter hook output priority mangle; policy accept;
        udp dport 7781 meta mark set 0x10
        udp dport 7782 meta mark set 0x20
    }
}
NFT
    ;;
traffic)
    ip netns exec "$a" ping -c 2 -i 0.2 -W 1 10.77.0.2 >/dev/null || true
    ip netns exec "$a" bash -c 'echo hello > /dev/udp/10.77.0.2/7777' || true
    ip netns exec "$a" bash -c 'echo dropped > /dev/udp/10.77.0.2/7778' || true
    for port in 8080 80 9090; do
        # SIGKILL: a caller may hand us a blocked SIGTERM, and a dropped SYN retries for minutes.
        ip netns exec "$a" timeout -s KILL 2 bash -c "exec 3<>/dev/tcp/10.77.0.2/$port" 2>/dev/null || true
    done
    if ip -n "$a" link show "$p-xa" >/dev/null 2>&1; then
        ip netns exec "$a" timeout -s KILL 2 bash -c "exec 3<>/dev/tcp/10.88.0.2/80" 2>/dev/null || true
        ip netns exec "$a" bash -c 'echo inner > /dev/udp/10.88.0.2/7777' || true
    fi
    if ip netns exec "$a" nft list table ip ftmark >/dev/null 2>&1; then
        for port in 7781 7782; do
            for size in 20 300; do
                for _ in 1 2 3; do
                    ip netns exec "$a" bash -c "printf -v s '%*s' $size ''; printf '%s' \"\$s\" > /dev/udp/10.77.0.2/$port" || true
                done
            done
        done
    fi
    sleep 0.3
    ;;
down)
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    ip netns del "$r" 2>/dev/null || true
    ;;
*) echo "usage: netns-lab.sh up|routed|routed-vxlan|routed-drop|vxlan|chaos|marks|traffic|down [prefix]" >&2; exit 2 ;;
esac
