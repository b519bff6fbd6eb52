# fasttrace — see README.md. Every target installs what it needs (Debian packages) first.
SHELL := /bin/bash
SWIFT ?= swift
MULTIARCH := $(shell uname -m)-linux-gnu

# Build and run: libbpf, libpcap, libelf, libzstd, zlib; clang for BPF; tools used by tests.
DEB_PACKAGES := libbpf-dev libpcap-dev libelf-dev libzstd-dev zlib1g-dev clang bpftool \
                pkg-config iproute2 linux-libc-dev

.PHONY: all deps build test demo bench vmlinux clean

all: build

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

build: deps
	$(SWIFT) build

## test: every test (unit, codegen, real BPF on this kernel). Tests needing root or a
## kernel feature this kernel lacks are reported as skipped, with the reason.
test: build
	$(SWIFT) test

## demo: the main job on a built-in default: probe this kernel's tracing features.
demo: build
	@echo "== fasttrace features (what this kernel can trace, and why not)"
	$$($(SWIFT) build --show-bin-path)/fasttrace features

## bench: release build, then the benchmark runner (markdown table; JSON with BENCH_ARGS=--json).
bench: deps
	$(SWIFT) build -c release --product fasttrace-bench
	$$($(SWIFT) build -c release --show-bin-path)/fasttrace-bench $(BENCH_ARGS)

## vmlinux: regenerate bpf/vmlinux.h from this kernel's BTF (roots in bpf/vmlinux.types).
vmlinux: deps
	$(SWIFT) build --product Gen
	$$($(SWIFT) build --show-bin-path)/Gen vmlinux-h --btf /sys/kernel/btf/vmlinux \
	    --roots bpf/vmlinux.types --output bpf/vmlinux.h

clean:
	rm -rf .build
