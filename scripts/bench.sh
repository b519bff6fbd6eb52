#!/usr/bin/env bash
# `make bench`: release build, then `fasttrace bench` on this kernel and in the 6.1 and 6.12
# VMs (scripts/vm), the host-only extras (log codec, skeleton), and one set of tables from
# all of them: printed, and written into docs/benchmarks.md between its markers.
#   BENCH_KERNELS  VM kernels (default "6.1 6.12"; empty: host only)
#   BENCH_ARGS     extra `fasttrace bench` arguments for the host
#   BENCH_VM_ARGS  extra arguments in the VMs (default: a smaller budget, start-up of the
#                  backends that start in seconds (fentry and legacy kprobe on every function
#                  take minutes per start under emulation), and one flood of
#                  20,000 datagrams per output, as issue 12 measures; no kill or filter
#                  parts: the log writer and libpcap are the same on every kernel, and
#                  emulation is slow)
#   BENCH_DOC      the document to update (default docs/benchmarks.md; empty: none)
#   BENCH_OUT      where the JSON reports go (default docs/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
kernels=${BENCH_KERNELS-6.1 6.12}
vm_args=${BENCH_VM_ARGS---budget 900 --detach-probes 30 --flood-datagrams 20000 --flood-repeats 1 --only startup,attach,hits,capture,detach,flood --startup-backends kprobe-multi,tracepoint-multi,tracepoint}
doc=${BENCH_DOC-docs/benchmarks.md}
start=$(date +%s)
say() { echo "== [$(( $(date +%s) - start )) s] $*" >&2; }

say "release build"
swift build -c release --product fasttrace >&2
swift build -c release --product fasttrace-bench >&2
bin=$(swift build -c release --show-bin-path)
# The JSON reports are kept next to the document, so the tables can be re-rendered
# (`fasttrace-bench merge`) and compared later.
out=${BENCH_OUT:-docs/bench}
mkdir -p "$out"
rm -f "$out"/*.json

say "host $(uname -r): fasttrace bench"
# shellcheck disable=SC2086
"$bin/fasttrace" bench --json "$out/0-host.json" ${BENCH_ARGS:-} >/dev/null
say "host: log codec and skeleton"
"$bin/fasttrace-bench" extras --json "$out/extras.json" >/dev/null
reports=("$out/0-host.json")
i=1
for k in $kernels; do
    say "VM $k: fasttrace bench (emulated: absolute times are slow, ratios still hold)"
    # shellcheck disable=SC2086
    if scripts/vm/run.sh -t 5400 -w "$out" "$k" -- "$bin/fasttrace" bench --json "$out/$i-vm-$k.json" $vm_args >/dev/null; then
        reports+=("$out/$i-vm-$k.json")
    else
        echo "fasttrace bench: the $k VM failed (status $?); its columns are missing" >&2
    fi
    i=$((i + 1))
done
say "tables"
"$bin/fasttrace-bench" merge ${doc:+--doc "$doc"} --extras "$out/extras.json" "${reports[@]}"
say "done${doc:+; $doc updated}"
