#!/bin/busybox sh
# /init of the guest: mount the host root (read-only 9p + tmpfs overlay), the run share
# and any read-write shares, run /run/vm/stage2.sh chrooted in it, record its status, power off.
/bin/busybox mkdir -p /proc /sys /dev /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "vm-init: $*" > /dev/console; }
die() { say "FATAL: $*"; poweroff -f; }

RW="" MODS=""
for arg in $(cat /proc/cmdline); do
    case $arg in
        ftvm.rw=*) RW=${arg#ftvm.rw=} ;;
        ftvm.modules=*) MODS=${arg#ftvm.modules=} ;;
    esac
done
for m in $(cat /modules.load); do insmod "/mods/$m" 2>/dev/null || say "insmod $m failed"; done

P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || die "cannot mount the host root over 9p"
mount -t tmpfs -o mode=755 tmpfs /rwroot && mkdir -p /rwroot/upper /rwroot/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rwroot/upper,workdir=/rwroot/work /newroot \
    || { say "overlay failed: read-only root"; mount --bind /lower /newroot; }
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=755 tmpfs $R/run
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
mkdir -p $R/run/vm
mount -t 9p -o "$P9,cache=none" vmrun $R/run/vm || die "cannot mount the run share"
for share in $(echo "$RW" | tr ',' ' '); do
    tag=${share%%@*}; path=${share#*@}
    mkdir -p "$R$path"
    mount -t 9p -o "$P9,cache=none" "$tag" "$R$path" || say "cannot mount $path read-write"
done
# The guest kernel's modules (from the kernel cache on the host), where modprobe looks.
if [ -n "$MODS" ] && [ -d "$R$MODS" ]; then
    mkdir -p $R/lib/modules && mount --bind "$R$MODS" $R/lib/modules
fi
# request_module() runs the modprobe helper in PID 1's root (this initramfs): chroot first,
# or `ip link add type veth`, nft and tc fail inside the guest.
printf '#!/bin/busybox sh\nexec /bin/busybox chroot /newroot /sbin/modprobe "$@"\n' > /bin/modprobe-in-root
chmod +x /bin/modprobe-in-root && echo /bin/modprobe-in-root > /proc/sys/kernel/modprobe
ulimit -n 65536
ip link set lo up
hostname fasttrace-vm
cut -d' ' -f1 /proc/uptime > $R/run/vm/booted
chroot $R /bin/bash /run/vm/stage2.sh
echo $? > $R/run/vm/status
sync
umount $R/run/vm
poweroff -f
