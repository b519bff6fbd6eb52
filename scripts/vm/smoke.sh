#!/usr/bin/env bash
# smoke.sh FASTTRACE — run inside a guest (scripts/vm/run.sh KERNEL -- scripts/vm/smoke.sh BIN):
# fasttrace as a user on a stock Debian host runs it. Default open-file limit (soft 1024), auto
# backend, every function, a pcap filter, traffic from another process, Ctrl-C (SIGINT).
# Checks: exit 0, no function ignored for lack of descriptors, the traffic in the output, and
# with a hard limit of 256 a one-line error naming the limit and exit 2.
set -uo pipefail
ft=${1:?usage: smoke.sh FASTTRACE}
dir=$(mktemp -d)
fail() { echo "smoke: FAILED: $*" >&2; for f in "$dir"/err*; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }

ip addr add 10.99.0.1/32 dev lo 2>/dev/null
ulimit -Sn 1024   # Debian's default soft limit (the guest's init raised both to 65536)
echo "smoke: kernel $(uname -r), ulimit -n $(ulimit -Sn) (hard $(ulimit -Hn))"

start=$(date +%s)
"$ft" --ready-file "$dir/ready" --summary-file "$dir/summary.json" --duration 600 'host 10.99.0.1' \
    >"$dir/out" 2>"$dir/err" &
pid=$!
while [[ ! -e $dir/ready ]]; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "fasttrace exited with status $? before it was ready"; }
    (( $(date +%s) - start < 500 )) || { kill -KILL "$pid"; fail "not ready after 500 s"; }
    sleep 0.2
done
ready=$(( $(date +%s) - start ))
ping -c 3 -i 0.2 -W 1 10.99.0.1 >/dev/null 2>&1 || fail "ping 10.99.0.1 failed"
sleep 0.5
kill -INT "$pid"
wait "$pid"; rc=$?
took=$(( $(date +%s) - start ))
[[ $rc -eq 0 ]] || fail "fasttrace exited with status $rc (want 0)"
attached=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["attached"], s["backend"])' "$dir/summary.json") \
    || fail "no summary"
grep -q "EMFILE" "$dir/err" && fail "functions ignored for lack of file descriptors"
grep -q "10\.99\.0\.1" "$dir/out" || fail "the ping is not in the output"
echo "smoke: attached ${attached% *} (${attached#* }) ready after ${ready}s, $(grep -c '10\.99\.0\.1' "$dir/out") lines of the ping, exit 0 after ${took}s"

# A hard limit too low for every function: refused before anything is attached.
(ulimit -n 256; "$ft" 'host 10.99.0.1' >"$dir/out2" 2>"$dir/err2"); rc=$?
[[ $rc -eq 2 ]] || fail "with ulimit -Hn 256: status $rc (want 2)"
[[ $(wc -l <"$dir/err2") -eq 1 ]] && grep -qi "limit" "$dir/err2" || fail "with ulimit -Hn 256: want one line naming the limit"
echo "smoke: ulimit -Hn 256: exit 2: $(cat "$dir/err2")"
rm -rf "$dir"
