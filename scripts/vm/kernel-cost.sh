#!/bin/bash
# Where a backend's attach and detach time goes inside the kernel: runs fasttrace with
# BACKEND on the functions matching FUNCS, under ftrace's function_graph tracer limited to
# the kernel's serialising steps (grace-period waits, kprobe arming, trampoline updates),
# and sums each step's wall time over the attach and over the detach.
#   scripts/vm/run.sh -t 900 -e BACKEND=fentry -e FUNCS='ip_rcv.*' 6.12 -- scripts/vm/kernel-cost.sh
# Times from several threads add up (a wait on a lock counts in every waiter). Needs root,
# tracefs, and a kernel whose ftrace can trace these functions (used on Debian's 6.12).
set -euo pipefail
BACKEND=${BACKEND:-kprobe}
FUNCS=${FUNCS:-(ip|udp)_.*}
FASTTRACE=${FASTTRACE:-.build/debug/fasttrace}
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
work=$(mktemp -d)
# EXPEDITE=1: expedited RCU grace periods for the whole run (restored at the end).
expedited=$(cat /sys/kernel/rcu_expedited)
[ "${EXPEDITE:-0}" = 1 ] && echo 1 > /sys/kernel/rcu_expedited
steps="synchronize_rcu synchronize_rcu_expedited synchronize_rcu_tasks synchronize_rcu_tasks_trace
       synchronize_rcu_tasks_rude register_kprobe unregister_kprobe unregister_kprobes enable_kprobe
       disable_kprobe arm_kprobe disarm_kprobe perf_event_alloc perf_event_release_kernel
       bpf_trampoline_link_prog bpf_trampoline_unlink_prog bpf_tracing_prog_attach bpf_link_release
       bpf_prog_load bpf_check text_poke_bp_batch kprobe_optimizer"
: > $T/set_ftrace_filter
for f in $steps; do echo "$f" >> $T/set_ftrace_filter 2>/dev/null || echo "(not traceable here: $f)"; done
echo 16384 > $T/buffer_size_kb
echo function_graph > $T/current_tracer
echo 1 > $T/options/funcgraph-tail  # every closing brace names its function
echo > $T/trace
echo 1 > $T/tracing_on
"$FASTTRACE" --backend "$BACKEND" --limit-funcs "$FUNCS" --ready-file "$work/ready" \
    -w "$work/cap.ftl" --force 'host 192.0.2.1' > "$work/out" 2>&1 &
pid=$!
for _ in $(seq 6000); do
  [ -e "$work/ready" ] && break
  kill -0 $pid 2>/dev/null || { cat "$work/out"; exit 1; }
  sleep 0.2
done
echo "fasttrace: detach" > $T/trace_marker
start=$(date +%s%N); kill -INT $pid; wait $pid || true; end=$(date +%s%N)
echo 0 > $T/tracing_on
grep -E '^Attached' "$work/out" || true
echo "detach (SIGINT to exit): $(( (end - start) / 1000000 )) ms"
grep -m1 'entries-in-buffer' $T/trace || true  # written > in buffer: the sums miss calls
python3 - "$T/trace" <<'PY'
import re, sys, collections
phase, tot, cnt = "attach", collections.defaultdict(float), collections.Counter()
for line in open(sys.argv[1]):
    if "fasttrace: detach" in line: phase = "detach"; continue
    m = re.search(r'([\d.]+) us\s+\|\s+\}\s*/\*\s*(\S+)\s*\*/', line) or re.search(r'([\d.]+) us\s+\|\s+(\S+)\(\);', line)
    if m:
        k = (phase, m.group(2)); tot[k] += float(m.group(1)); cnt[k] += 1
print(f"{'phase':7s} {'kernel step':32s} {'calls':>6s} {'total ms':>10s} {'ms each':>8s}")
for (ph, f), v in sorted(tot.items(), key=lambda x: (x[0][0], -x[1])):
    print(f"{ph:7s} {f:32s} {cnt[(ph, f)]:6d} {v / 1000:10.1f} {v / cnt[(ph, f)] / 1000:8.2f}")
PY
echo nop > $T/current_tracer
echo 0 > $T/options/funcgraph-tail
: > $T/set_ftrace_filter
echo "$expedited" > /sys/kernel/rcu_expedited
rm -rf "$work"
