#!/usr/bin/env bash
# Power loss under qemu (issue 3): kill -9 leaves the page cache alive, so
# only a machine that loses power shows whether an acknowledged write had
# reached the disk. Boots Debian's kernel under qemu (TCG) with the store
# on a virtio disk (cache=none: no host cache hides a missing flush):
#   boot 1  store_vm write: 64 writes in flight, each acknowledged write
#           printed to the serial console; after a few seconds the guest is
#           reset with sysrq-b in the middle of the writes;
#   boot 2  store_vm check, with the acknowledged writes boot 1 printed:
#           the store opens, every one is there, revisions are contiguous,
#           values are whole, watchers resume exactly; one verdict line.
#
#   run.sh STORE_VM            STORE_VM: the static tests/store/vm/store_vm
#
# Debian's kernel and the few modules the guest loads come from the cache
# tests/lib/vm.sh keeps in $KELP_VM_CACHE (default /var/cache/kelp-test),
# filled once from `apt-get download linux-image-<version>-amd64`. SKIPs only
# when something outside the project is missing (qemu, busybox-static, cpio,
# kmod, e2fsprogs, or the kernel cannot be downloaded). Prints TAP.
#
# KELP_VM_NOSYNC=1 makes the writer acknowledge before syncing (a control
# run: the check must then fail, which shows the test can see lost writes).
set -uo pipefail

store_vm=${1:?usage: run.sh STORE_VM}
# shellcheck source-path=SCRIPTDIR source=../../lib/vm.sh
source "$(dirname "$0")/../../lib/vm.sh"
boot_timeout=${KELP_VM_BOOT_TIMEOUT:-150}
# The guest resets itself this long after the writer starts (3.0-6.0 s).
reset_us=${KELP_VM_RESET_US:-$((3000000 + RANDOM % 3000 * 1000))}
# What the guest needs to mount an ext4 virtio disk; dependencies follow.
modules=(virtio_pci virtio_blk crc32c_generic ext4)

work=
trap vm_cleanup EXIT
trap 'exit 130' INT TERM
n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
diag() { sed 's/^/# /'; }

vm_host_check mkfs.ext4 || skip_all "$vm_error"
[[ -x $store_vm ]] || { echo "1..1"; not_ok "store_vm is built ($store_vm)"; exit 1; }
ldd "$store_vm" >/dev/null 2>&1 && { echo "1..1"; not_ok "store_vm is static"; exit 1; }

# --- the kernel: from the cache, or downloaded into it once ---
vm_kernel_prepare "${modules[@]}" || skip_all "Debian's kernel: $vm_error"
echo "# kernel $(basename "$vm_kernel"), reset after $((reset_us / 1000)) ms"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kelp-store-vm.XXXXXX")

# --- the guest ---

# initramfs MODE [FILE...]: busybox, the modules, store_vm, an /init.
make_initramfs() {
	local mode=$1 root=$work/root-$1
	shift
	vm_initramfs_skeleton "$root"
	mkdir -p "$root/mnt"
	cp "$store_vm" "$root/store_vm"
	echo "$mode" >"$root/mode"
	echo "$reset_us" >"$root/reset_us"
	echo "${KELP_VM_NOSYNC:+nosync}" >"$root/sync"
	for f in "$@"; do cp "$f" "$root/"; done
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
export PATH=/bin VM_FAIL=STORE_VM_ERROR
. /vm_boot.sh
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do usleep 50000; i=$((i + 1)); done
mount -t ext4 /dev/vda /mnt || { echo "STORE_VM_ERROR mount /dev/vda"; poweroff -f; }
if [ "$(cat /mode)" = write ]; then
	/store_vm write /mnt/store $(cat /sync) &
	usleep "$(cat /reset_us)"
	echo "STORE_VM_RESET"
	# As a power cut: no sync, no unmount, the guest is gone at once.
	echo b >/proc/sysrq-trigger
else
	/store_vm check /mnt/store /acks.txt
	umount /mnt
fi
poweroff -f
EOF
	chmod +x "$root/init"
	vm_initramfs_pack "$root" "$work/initrd-$mode.gz"
}

# boot MODE LOG: one guest run with a hard timeout.
boot() {
	vm_boot "$boot_timeout" "$work/initrd-$1.gz" "$2" \
		-drive "file=$work/disk.img,if=virtio,cache=none,format=raw"
}

truncate -s 256M "$work/disk.img"
mkfs.ext4 -q -F "$work/disk.img" || { echo "1..1"; not_ok "mkfs.ext4"; exit 1; }
echo "1..2"

# Boot 1: write, and lose power in the middle of it.
make_initramfs write
t0=$SECONDS
boot write "$work/serial1.log"
rc=$?
"$store_vm" acks <"$work/serial1.log" >"$work/acks.txt" 2>"$work/acks.err"
nacks=$(grep -c '^A ' "$work/acks.txt")
# The reset can beat the serial line to STORE_VM_RESET's last bytes; the
# kernel's own "sysrq: Resetting" is written synchronously.
if grep -q STORE_VM_WRITING "$work/serial1.log" && grep -qE 'STORE_VM_RESET|sysrq: Resetting' "$work/serial1.log" &&
	! grep -q STORE_VM_ERROR "$work/serial1.log" && [[ $rc == 0 && $nacks -gt 0 ]]; then
	ok "the guest is reset while writing ($nacks acknowledged writes, $((SECONDS - t0)) s)"
else
	not_ok "the guest is reset while writing (qemu exit $rc, $nacks acknowledged writes)"
	diag <"$work/acks.err"
	grep -v -E '^[AW] ' "$work/serial1.log" | tail -n 30 | diag
fi

# Boot 2: check, with the host's list of acknowledged writes.
make_initramfs check "$work/acks.txt"
t0=$SECONDS
boot check "$work/serial2.log"
rc=$?
verdict=$(grep -a -o 'STORE_VM_VERDICT.*' "$work/serial2.log" | tr -d '\r' | tail -1)
echo "# ${verdict:-no verdict}"
if [[ $verdict == "STORE_VM_VERDICT ok"* ]]; then
	ok "after the power loss every acknowledged write is there ($((SECONDS - t0)) s)"
else
	not_ok "after the power loss every acknowledged write is there (qemu exit $rc)"
	tail -n 40 "$work/serial2.log" | diag
fi
exit $((failed > 0))
