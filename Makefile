# fasttrace — see README.md. Every target installs what it needs (Debian packages) first.
SHELL := /bin/bash
SWIFT ?= swift
MULTIARCH := $(shell uname -m)-linux-gnu

# Build and run: libbpf, libpcap, libelf, libzstd, zlib; clang for BPF; tools used by tests.
DEB_PACKAGES := libbpf-dev libpcap-dev libelf-dev libzstd-dev zlib1g-dev clang bpftool \
                pkg-config iproute2 linux-libc-dev nftables iputils-ping
# Tests only: tshark reads fasttrace's pcapng exports; python3-venv holds DuckDB and pyarrow
# (PyPI, scripts/py-deps.sh), which read its Parquet exports.
TEST_PACKAGES := tshark python3-venv
# The VM harness (scripts/vm): QEMU, a static busybox initramfs, kernel unpacking tools.
VM_PACKAGES := qemu-system-x86 qemu-system-data busybox-static cpio xz-utils zstd kmod python3

# Kernels for `make vmtest` (series or full Debian releases); `make test` runs TEST_KERNELS.
KERNELS ?= 6.12 6.1
TEST_KERNELS ?= 6.12

.PHONY: all deps vm-deps test-deps bpf-sources build build-tests test smoke vmtest vm demo bench fuzz vmlinux clean

all: build

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

vm-deps:
	@scripts/install-deps.sh $(VM_PACKAGES)

test-deps:
	@scripts/install-deps.sh $(TEST_PACKAGES)
	@scripts/py-deps.sh

build: deps bpf-sources
	$(SWIFT) build

# SwiftPM re-plans a build plugin's commands only when the package changes: a new or removed
# bpf/*.bpf.c needs one. Keep a list and touch Package.swift when it changes.
bpf-sources:
	@mkdir -p .build && ls bpf/*.bpf.c > .build/bpf-sources.new && \
	  if ! cmp -s .build/bpf-sources.new .build/bpf-sources; then \
	    mv .build/bpf-sources.new .build/bpf-sources; touch Package.swift; fi

build-tests: deps bpf-sources
	$(SWIFT) build --build-tests

## test: every host test (unit, codegen, real BPF on this kernel), then the harness
## self-check and the kernel suites in the TEST_KERNELS VMs. Tests needing a feature this
## kernel lacks are reported as skipped with the reason, and run for real in the VMs.
test: build-tests vm-deps test-deps
	$(SWIFT) test
	scripts/vm/selftest.sh
	scripts/vm/vmtest.sh $(TEST_KERNELS)
	FASTTRACE_VM_FILTER='$(TEST_61_FILTER)' scripts/vm/vmtest.sh 6.1
	$(MAKE) --no-print-directory smoke

## What `make test` also runs in the 6.1 guest (the whole suite there takes ~15 min): the
## kernel's expected features and --filter-trace-tc on a kernel without tcx (~1 min).
TEST_61_FILTER ?= KernelExpectationTests|traceTCShowsTheProgramItsVerdictAndTheDrop|traceXDPShowsEachPacketsVerdict|trackSkbFollowsAPacketXDPPassedUp

## smoke: fasttrace as on a stock Debian 12 host, in the SMOKE_KERNELS guests: default
## `ulimit -n` (soft 1024), auto backend, every function, a pcap filter, ping, Ctrl-C; then a
## hard limit of 256 must be refused in one line with exit 2 (scripts/vm/smoke.sh, ~1.5 min).
SMOKE_KERNELS ?= 6.1
smoke: build-tests vm-deps
	@bin=$$($(SWIFT) build --show-bin-path); for k in $(SMOKE_KERNELS); do \
	  echo "=== smoke: kernel $$k"; scripts/vm/run.sh -t 600 $$k -- scripts/vm/smoke.sh $$bin/fasttrace || exit 1; done

## vmtest: the kernel suites in every KERNELS VM (KERNELS="6.1" to pick), with the legacy
## kprobe and fentry e2e tests attaching every function (~15 min per kernel under emulation;
## ALL_FUNCS=0 for the focused set that make test uses).
ALL_FUNCS ?= 1
vmtest: build-tests vm-deps test-deps
	scripts/vm/selftest.sh
	FASTTRACE_E2E_ALL_FUNCS=$(ALL_FUNCS) FASTTRACE_VM_TIMEOUT=2400 scripts/vm/vmtest.sh $(KERNELS)

## vm: run one command in a kernel: make vm KERNEL=6.1 CMD='.build/debug/fasttrace features'
KERNEL ?= 6.12
CMD ?= uname -r
vm: vm-deps
	scripts/vm/run.sh $(KERNEL) '$(CMD)'

## demo: the main job on a built-in default: trace real traffic between two throw-away
## network namespaces (veth, an nftables drop), then clean up.
demo: build
	@bin=$$($(SWIFT) build --show-bin-path); \
	echo "== fasttrace features: what this kernel can trace"; \
	$$bin/fasttrace features; \
	echo; echo "== tracing traffic between netns ftdemo-a (10.77.0.1) and ftdemo-b (10.77.0.2);"; \
	echo "   nftables in ftdemo-b drops UDP to port 7778 and DNATs TCP port 80 to 8080"; \
	scripts/netns-lab.sh down ftdemo; scripts/netns-lab.sh up ftdemo; \
	trap 'scripts/netns-lab.sh down ftdemo; rm -f /tmp/fasttrace-demo.ready' EXIT; \
	rm -f /tmp/fasttrace-demo.ready; \
	( while [ ! -e /tmp/fasttrace-demo.ready ]; do sleep 0.1; done; scripts/netns-lab.sh traffic ftdemo ) & \
	$$bin/fasttrace --ready-file /tmp/fasttrace-demo.ready --duration 4 --output-tcp-flags -w /tmp/fasttrace-demo.ftlog --force --snaplen 128 --print | grep -E "SKB|10\.77\." ; \
	wait; \
	echo; echo "== fasttrace stats /tmp/fasttrace-demo.ftlog: the capture log, summarised"; \
	$$bin/fasttrace stats /tmp/fasttrace-demo.ftlog --top 8; \
	echo; echo "== fasttrace read /tmp/fasttrace-demo.ftlog --drops --port 7778"; \
	$$bin/fasttrace read /tmp/fasttrace-demo.ftlog --drops --port 7778; \
	echo; echo "== fasttrace journeys /tmp/fasttrace-demo.ftlog --drops --port 7778: the dropped packets' paths"; \
	$$bin/fasttrace journeys /tmp/fasttrace-demo.ftlog --drops --port 7778 | head -40; \
	echo; echo "== fasttrace export /tmp/fasttrace-demo.ftlog --port 8080 -o /tmp/fasttrace-demo.pcapng (captured with --snaplen 128)"; \
	$$bin/fasttrace export /tmp/fasttrace-demo.ftlog --port 8080 --changed-only -o /tmp/fasttrace-demo.pcapng; \
	if command -v tshark >/dev/null; then \
	  tshark -r /tmp/fasttrace-demo.pcapng -T fields -e frame.interface_name -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e frame.comment 2>/dev/null | head -12; \
	else echo "   (install tshark to list it: apt-get install tshark)"; fi; \
	echo; echo "== the same traffic, pcap filter 'tcp dst port 80' with --filter-track-skb:"; \
	echo "   the packet stays in the trace after the DNAT rewrites its port to 8080"; \
	rm -f /tmp/fasttrace-demo.ready; \
	( while [ ! -e /tmp/fasttrace-demo.ready ]; do sleep 0.1; done; scripts/netns-lab.sh traffic ftdemo ) & \
	$$bin/fasttrace --ready-file /tmp/fasttrace-demo.ready --duration 4 --filter-track-skb 'tcp dst port 80'; \
	wait

## bench: release build, then `fasttrace bench` (attach/detach per backend and target count,
## per-hit cost, capture throughput, legacy detach) on this kernel and in the 6.1 and 6.12 VMs,
## plus log codec and skeleton figures; prints the tables and updates docs/benchmarks.md
## (scripts/bench.sh: BENCH_KERNELS, BENCH_ARGS, BENCH_VM_ARGS, BENCH_DOC).
bench: deps vm-deps
	scripts/bench.sh

## fuzz: every fuzzer with far more inputs than `make test` runs (there: 1,000 damaged logs,
## 1,000 header flips, 4,000 filters, 1,000 command lines, ~30 s): damaged logs, header bit
## flips, pcap expressions (a sample also through the verifier and against libpcap) and
## command lines; at least 1,000,000 inputs in all, ~22 min (docs/fuzzing.md). FUZZ_SEED repeats a run.
FUZZ_ITERATIONS ?= 20000
FUZZ_FILTERS ?= 1000000
FUZZ_KERNEL_FILTERS ?= 2000
FUZZ_ARGS ?= 10000
fuzz: build-tests
	set -o pipefail; FASTTRACE_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) FASTTRACE_FUZZ_FILTERS=$(FUZZ_FILTERS) \
	    FASTTRACE_FUZZ_KERNEL_FILTERS=$(FUZZ_KERNEL_FILTERS) FASTTRACE_FUZZ_ARGS=$(FUZZ_ARGS) \
	    FASTTRACE_FUZZ_SEED=$(or $(FUZZ_SEED),$$(date +%s)) \
	    $(SWIFT) test --skip-build --filter 'LogFuzzTests|FilterFuzzTests|CLIFuzzTests' 2>&1 | \
	    grep -E 'log fuzz|header fuzz|filter fuzz|argument fuzz|✘|Test run' | tee .build/fuzz.out
	@awk '/ fuzz: seed/ { for (i = 1; i <= NF; i++) if ($$i ~ /^[0-9]+$$/ && $$(i-1) ~ /,$$/) { n += $$i; break } } \
	    END { printf "fuzz: %d inputs in all\n", n }' .build/fuzz.out

## vmlinux: regenerate bpf/vmlinux.h from this kernel's BTF (roots in bpf/vmlinux.types).
vmlinux: deps
	$(SWIFT) build --product Gen
	$$($(SWIFT) build --show-bin-path)/Gen vmlinux-h --btf /sys/kernel/btf/vmlinux \
	    --roots bpf/vmlinux.types --output bpf/vmlinux.h

clean:
	rm -rf .build
