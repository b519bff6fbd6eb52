#!/usr/bin/env bash
# selftest.sh [KERNEL] — checks the harness itself: output and exit status come back, a
# failing command fails, and a hung guest is killed and reported as a timeout (124).
set -uo pipefail
here=$(dirname "$(readlink -f "$0")")
k=${1:-6.12}
fail=0
check() { if [[ $2 == "$3" ]]; then echo "vm selftest: ok: $1"; else echo "vm selftest: FAILED: $1 (got $2, want $3)"; fail=1; fi; }

out=$("$here/run.sh" "$k" 'echo out-line; echo err-line >&2; exit 7' 2>/tmp/ftvm-selftest.err)
check "exit status passes through" $? 7
check "stdout streams back" "$out" out-line
check "stderr streams back" "$(grep -c '^err-line$' /tmp/ftvm-selftest.err)" 1

"$here/run.sh" -t 25 "$k" 'sleep 600' 2>/tmp/ftvm-selftest.err
check "hung guest is killed" $? 124
check "timeout is reported" "$(grep -c 'TIMEOUT' /tmp/ftvm-selftest.err)" 1
rm -f /tmp/ftvm-selftest.err
exit $fail
