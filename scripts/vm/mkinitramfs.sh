#!/usr/bin/env bash
# mkinitramfs.sh KERNEL_ROOT KVER OUT.cpio: static busybox, the kernel's own virtio/9p/
# overlay modules (decompressed: busybox insmod reads plain .ko only), guest-init.sh as /init.
set -euo pipefail
root=$1 kver=$2 out=$3
here=$(dirname "$(readlink -f "$0")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,mods,proc,sys,dev,lower,newroot,rwroot}
cp /bin/busybox "$work/bin/busybox"
cp "$here/guest-init.sh" "$work/init"
: > "$work/modules.load"
for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$root" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
    name=$(basename "$ko"); name=${name%.xz}; name=${name%.zst}
    case $ko in
        *.xz) xz -dc "$ko" > "$work/mods/$name" ;;
        *.zst) zstd -qdc "$ko" > "$work/mods/$name" ;;
        *) cp "$ko" "$work/mods/$name" ;;
    esac
    echo "$name" >> "$work/modules.load"
done
(cd "$work" && find . -mindepth 1 | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
