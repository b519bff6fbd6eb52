#!/usr/bin/env bash
# vmtest.sh [KERNEL...] — the kernel-dependent test suites inside each kernel (default:
# 6.12 6.1), using the already-built test binary. Prints one verdict line per kernel and
# fails if any kernel fails, times out or cannot boot.
#   FASTTRACE_VM_TIMEOUT  seconds per kernel (default 1500; the 6.12 suite takes 690 s in CI, over 1000 s on a busy machine)
#   FASTTRACE_VM_FILTER   Swift Testing filter (default: the suites that need a kernel)
#   FASTTRACE_E2E_ALL_FUNCS=1  legacy kprobe and fentry e2e attach every function (minutes
#                              under emulation) instead of a focused set
set -uo pipefail
here=$(dirname "$(readlink -f "$0")")
cd "$here/../.."
kernels=("$@")
[[ ${#kernels[@]} -gt 0 ]] || kernels=(6.12 6.1)
bin=$(swift build --show-bin-path)
tests=$bin/fasttracePackageTests.xctest
[[ -x $tests ]] || { echo "vmtest: $tests missing: run 'swift build --build-tests' first" >&2; exit 2; }
filter=${FASTTRACE_VM_FILTER:-'AttachModeTests|PreparedLoadTests|KernelExpectationTests|FeatureTests|SkeletonTests|CLITests|DiscoveryTests|TraceE2ETests|InterruptTests|BenchCommandTests'}
timeout_s=${FASTTRACE_VM_TIMEOUT:-1500}

# What each kernel must offer (measured; see docs/vm-harness.md). Anything else fails the suite.
expect_for() {
    local common="btf=ok,bpf=ok,kprobe=ok,fentry=ok,fexit=ok,tp_btf=ok,raw_tp=ok,tracepoint=ok,ringbuf=ok,bpf_get_func_ip=ok,bpf_prog_trace=ok,bpf_snprintf_btf=ok"
    case $1 in
        # Debian 6.1: CONFIG_FPROBE off; no raw_tp attach cookies (6.10+), the verifier refuses
        6.1 | 6.1.*) echo "$common,kprobe.multi=EOPNOTSUPP,tracepoint.multi=EACCES" ;;
        *) echo "$common,kprobe.multi=ok,tracepoint.multi=ok" ;;
    esac
}

failed=0
verdicts=()
for k in "${kernels[@]}"; do
    echo "=== vmtest: kernel $k"
    start=$(date +%s)
    "$here/run.sh" -t "$timeout_s" -e "FASTTRACE_EXPECT_FEATURES=$(expect_for "$k")" \
        -e "FASTTRACE_E2E_ALL_FUNCS=${FASTTRACE_E2E_ALL_FUNCS:-0}" "$k" -- \
        "$tests" --testing-library swift-testing --filter "$filter"
    rc=$?
    took=$(( $(date +%s) - start ))
    case $rc in
        0) verdicts+=("kernel $k: passed (${took}s)") ;;
        124) verdicts+=("kernel $k: TIMEOUT after ${timeout_s}s"); failed=1 ;;
        125) verdicts+=("kernel $k: VM FAILURE (no exit status from the guest)"); failed=1 ;;
        *) verdicts+=("kernel $k: FAILED (exit $rc, ${took}s)"); failed=1 ;;
    esac
done
echo "=== vmtest summary"
printf '%s\n' "${verdicts[@]}"
exit $failed
