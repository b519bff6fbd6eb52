#!/usr/bin/env bash
# run.sh — run one command under another Linux kernel, in QEMU (software emulation), with
# this machine's filesystem visible, and hand back its output and exit status.
#
#   scripts/vm/run.sh [options] KERNEL -- COMMAND [ARG...]
#   scripts/vm/run.sh [options] KERNEL 'shell command'
#
# KERNEL: a series (6.1, 6.12: the newest Debian linux-image-*-amd64 of it) or a full
# release (6.12.117+deb12-amd64). Downloaded with apt-get and cached in
# $FASTTRACE_VM_CACHE (default /var/tmp/fasttrace-vm).
# Options:
#   -t SECS   kill the guest after SECS (default 900)
#   -m MEM    guest memory (default 2G)     -c N   guest CPUs (default 2)
#   -w DIR    share DIR read-write at the same path (repeatable); the rest of / is the host's,
#             read-only, under a throw-away tmpfs overlay
#   -e VAR=V  environment for the command (repeatable)
#   -v        stream the guest console to stderr
# Exit status: the command's; 124 = the guest timed out; 125 = the VM failed (boot, mounts);
# both print the console tail. Guests boot with mitigations=off (faster under TCG).
set -uo pipefail
here=$(dirname "$(readlink -f "$0")")
source "$here/kernel.sh"
set +e

timeout_s=900 mem=2G cpus=2 verbose=0
rw=() envs=()
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while getopts "t:m:c:w:e:vh" o; do
    case $o in
        t) timeout_s=$OPTARG ;; m) mem=$OPTARG ;; c) cpus=$OPTARG ;;
        w) rw+=("$(readlink -f "$OPTARG")") ;; e) envs+=("$OPTARG") ;; v) verbose=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -ge 2 ]] || usage
kernel=$1; shift
if [[ $1 == -- ]]; then shift; argv=("$@"); else [[ $# -eq 1 ]] || usage; argv=(/bin/bash -c "$1"); fi

kver=$(kernel_resolve "$kernel") || exit 125
kroot=$(kernel_fetch "$kver") || exit 125
initrd=$VM_CACHE/initramfs/$kver.cpio
mkdir -p "$VM_CACHE/initramfs" "$VM_CACHE/runs"
if [[ ! -f $initrd || $here/guest-init.sh -nt $initrd || $here/mkinitramfs.sh -nt $initrd ]]; then
    "$here/mkinitramfs.sh" "$kroot" "$kver" "$initrd" || { echo "vm: cannot build the initramfs" >&2; exit 125; }
fi

run=$(mktemp -d "$VM_CACHE/runs/run.XXXXXX")
qemu_pid=""
cleanup() {
    [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stage2: runs in the guest, chrooted into the shared root, output to files on the run share
# (the serial console mixes in kernel messages and CRLFs).
{
    echo '#!/bin/bash'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8'
    for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
    printf 'cd %q 2>/dev/null || cd /\n' "$PWD"
    printf 'exec %s </dev/null >/run/vm/stdout 2>/run/vm/stderr\n' "$(printf '%q ' "${argv[@]}")"
} > "$run/stage2.sh"
: > "$run/stdout"; : > "$run/stderr"

shares=(-fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
        -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
        -fsdev "local,id=vmrun,path=$run,security_model=passthrough"
        -device "virtio-9p-pci,fsdev=vmrun,mount_tag=vmrun")
rwspec=""
for i in "${!rw[@]}"; do
    shares+=(-fsdev "local,id=rw$i,path=${rw[$i]},security_model=passthrough,multidevs=remap"
             -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
    rwspec+="${rwspec:+,}rw$i@${rw[$i]}"
done
cmdline="console=ttyS0 quiet loglevel=4 panic=-1 oops=panic mitigations=off ftvm.modules=$kroot/lib/modules"
[[ -n $rwspec ]] && cmdline+=" ftvm.rw=$rwspec"

# KVM cannot run stock kernels on these hosts (paravirtual KVM): TCG, multi-threaded.
timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" \
    -nodefaults -no-user-config -display none -no-reboot -bios /usr/share/qemu/qboot.rom \
    -serial "file:$run/console.log" -monitor none \
    -kernel "$kroot/boot/vmlinux-$kver" -initrd "$initrd" -append "$cmdline" \
    "${shares[@]}" > "$run/qemu.log" 2>&1 &
qemu_pid=$!
tail -q -n +1 -s 0.2 -f --pid=$qemu_pid "$run/stdout" &
tail -q -n +1 -s 0.2 -f --pid=$qemu_pid "$run/stderr" >&2 &
[[ $verbose == 1 ]] && tail -q -n +1 -s 0.2 -f --pid=$qemu_pid "$run/console.log" >&2 &
wait $qemu_pid; qemu_rc=$?; qemu_pid=""
wait

if [[ -f $run/status ]]; then
    exit "$(cat "$run/status")"
elif [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
    echo "vm: TIMEOUT: kernel $kver killed after ${timeout_s}s; console tail:" >&2
    tail -n 20 "$run/console.log" >&2
    exit 124
else
    echo "vm: VM FAILURE: kernel $kver gave no exit status (qemu exit $qemu_rc); console tail:" >&2
    cat "$run/qemu.log" >&2
    tail -n 30 "$run/console.log" >&2
    exit 125
fi
