#!/usr/bin/env bash
# Kernel images for the VM harness: resolve a series (6.1, 6.12) to the newest Debian
# generic build in the archive, download it with apt-get, unpack it with dpkg -x and cache
# it. Sourced by run.sh; `kernel.sh resolve 6.12` / `kernel.sh fetch 6.12` work alone too.
set -euo pipefail

VM_CACHE=${FASTTRACE_VM_CACHE:-/var/tmp/fasttrace-vm}

# Newest linux-image-<series>*-amd64 release name (e.g. 6.12.117+deb12-amd64). Full release
# names are returned unchanged. Falls back to the newest cached kernel when apt knows none.
kernel_resolve() {
    local want=$1 pattern list
    if [[ $want == *-amd64 ]]; then echo "$want"; return; fi
    # Generic flavour only: -cloud kernels lack 9p, -rt ones are a different kernel.
    case $want in
        6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;               # 6.1.0-56-amd64
        *) pattern="^linux-image-${want//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$" ;;  # 6.12.117+deb12-amd64
    esac
    list=$(apt-cache search --names-only "$pattern" 2>/dev/null | awk '{print $1}' | grep -v -- '-unsigned$' || true)
    if [[ -z $list ]]; then
        apt-get update -qq >/dev/null 2>&1 || true
        list=$(apt-cache search --names-only "$pattern" 2>/dev/null | awk '{print $1}' | grep -v -- '-unsigned$' || true)
    fi
    if [[ -n $list ]]; then
        sed 's/^linux-image-//' <<<"$list" | sort -V | tail -n 1
        return
    fi
    # Offline: the newest cached kernel of that series.
    local cached
    cached=$(ls "$VM_CACHE/kernels" 2>/dev/null | grep -E "^${want//./\\.}[.-]" | sort -V | tail -n 1 || true)
    [[ -n $cached ]] || { echo "vm: no linux-image package for kernel $want in the archive or the cache" >&2; return 1; }
    echo "$cached"
}

# Unpacked kernel tree for a release: $VM_CACHE/kernels/KVER (boot/vmlinux-KVER, lib/modules).
kernel_fetch() {
    local kver=$1 root=$VM_CACHE/kernels/$1 debs=$VM_CACHE/debs
    if [[ ! -f $root/boot/vmlinuz-$kver ]]; then
        echo "vm: downloading linux-image-$kver" >&2
        mkdir -p "$debs" "$root"
        (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "linux-image-$kver" >&2) \
            || { echo "vm: apt-get download linux-image-$kver failed" >&2; return 1; }
        dpkg -x "$(ls -t "$debs"/linux-image-"${kver}"_*.deb | head -n 1)" "$root"
    fi
    [[ -f $root/lib/modules/$kver/modules.dep ]] || depmod -b "$root" "$kver"
    # QEMU boots the uncompressed ELF through its PVH entry: decompressing under TCG costs seconds.
    [[ -f $root/boot/vmlinux-$kver ]] \
        || python3 "$(dirname "${BASH_SOURCE[0]}")/extract-vmlinux.py" "$root/boot/vmlinuz-$kver" "$root/boot/vmlinux-$kver" >&2
    echo "$root"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    case ${1:-} in
        resolve) kernel_resolve "$2" ;;
        fetch) kernel_fetch "$(kernel_resolve "$2")" ;;
        *) echo "usage: kernel.sh resolve|fetch SERIES|RELEASE" >&2; exit 2 ;;
    esac
fi
