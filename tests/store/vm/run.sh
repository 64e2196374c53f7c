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
# Debian's kernel is cached in $KELP_VM_CACHE (default /var/cache/kelp-test):
# kernel-<version>/ holds vmlinuz and the few modules the guest loads, taken
# once from `apt-get download linux-image-<version>-amd64`. SKIPs only when
# something outside the project is missing (qemu, busybox-static, cpio, kmod,
# e2fsprogs, or the kernel cannot be downloaded). Prints TAP.
#
# KELP_VM_NOSYNC=1 makes the writer acknowledge before syncing (a control
# run: the check must then fail, which shows the test can see lost writes).
set -uo pipefail

store_vm=${1:?usage: run.sh STORE_VM}
cache=${KELP_VM_CACHE:-/var/cache/kelp-test}
boot_timeout=${KELP_VM_BOOT_TIMEOUT:-150}
# The guest resets itself this long after the writer starts (3.0-6.0 s).
reset_us=${KELP_VM_RESET_US:-$((3000000 + RANDOM % 3000 * 1000))}
# What the guest needs to mount an ext4 virtio disk; dependencies follow.
modules=(virtio_pci virtio_blk crc32c_generic ext4)

work=
qpid=
cleanup() {
	if [[ -n $qpid ]]; then
		kill -TERM "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	[[ -n $work ]] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
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

for tool in qemu-system-x86_64 cpio gzip mkfs.ext4 modinfo dpkg apt-get; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done
busybox=$(command -v busybox) || skip_all "busybox-static is not installed"
ldd "$busybox" >/dev/null 2>&1 && skip_all "$busybox is not static (install busybox-static)"
[[ -x $store_vm ]] || { echo "1..1"; not_ok "store_vm is built ($store_vm)"; exit 1; }
ldd "$store_vm" >/dev/null 2>&1 && { echo "1..1"; not_ok "store_vm is static"; exit 1; }

# --- the kernel: from the cache, or downloaded into it once ---

# Print the module names to load, dependencies first, for modules "$@"
# under the module tree $1.
resolve_modules() {
	local tree=$1 done_list=" "
	shift
	visit() {
		local m=$1 f dep
		[[ $done_list == *" $m "* ]] && return 0
		f=$(find "$tree" -name "$m.ko" -o -name "${m//_/-}.ko" | head -1)
		if [[ -z $f ]]; then
			# Built into the kernel: nothing to load.
			grep -qE "/(${m}|${m//_/-})\.ko$" "$tree/modules.builtin" && return 0
			echo "no module $m" >&2
			return 1
		fi
		for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
			visit "$dep" || return 1
		done
		done_list+="$m "
		echo "$m $f"
	}
	for m in "$@"; do
		visit "$m" || return 1
	done
}

fetch_kernel() {
	local pkg ver deb kx dest
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[[ -n $pkg ]] || return 1
	ver=${pkg#linux-image-}
	mkdir -p "$cache" || return 1
	kx=$(mktemp -d "$cache/extract.XXXXXX") || return 1
	if ! (cd "$kx" && apt-get download "$pkg" >/dev/null 2>&1); then
		rm -rf "$kx"
		return 1
	fi
	deb=$(ls "$kx"/*.deb)
	dpkg -x "$deb" "$kx/x" || { rm -rf "$kx"; return 1; }
	dest=$kx/kernel-$ver
	mkdir -p "$dest"
	cp "$kx/x/boot/vmlinuz-$ver" "$dest/vmlinuz" &&
		cp "$kx/x/lib/modules/$ver/modules.builtin" "$dest/" &&
		resolve_modules "$kx/x/lib/modules/$ver" "${modules[@]}" >"$kx/list" || {
		rm -rf "$kx"
		return 1
	}
	while read -r m f; do
		cp "$f" "$dest/$m.ko" && echo "$m" >>"$dest/order"
	done <"$kx/list"
	# Publish whole or not at all: concurrent runs may race here.
	rm -rf "${cache:?}/kernel-$ver"
	mv "$dest" "$cache/kernel-$ver"
	rm -rf "$kx"
}

kernel=$(ls -d "$cache"/kernel-*/ 2>/dev/null | sort -V | tail -1)
if [[ -z $kernel || ! -f $kernel/vmlinuz || ! -f $kernel/order ]]; then
	fetch_kernel || skip_all "Debian's kernel could not be downloaded into $cache"
	kernel=$(ls -d "$cache"/kernel-*/ | sort -V | tail -1)
fi
kernel=${kernel%/}
echo "# kernel $(basename "$kernel"), reset after $((reset_us / 1000)) ms"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kelp-store-vm.XXXXXX")

# --- the guest ---

# initramfs MODE [FILE...]: busybox, the modules, store_vm, an /init.
make_initramfs() {
	local mode=$1 root=$work/root-$1
	shift
	mkdir -p "$root"/{bin,dev,proc,sys,mnt,modules}
	cp "$busybox" "$root/bin/busybox"
	cp "$store_vm" "$root/store_vm"
	cp "$kernel"/*.ko "$kernel/order" "$root/modules/"
	echo "$mode" >"$root/mode"
	echo "$reset_us" >"$root/reset_us"
	echo "${KELP_VM_NOSYNC:+nosync}" >"$root/sync"
	for f in "$@"; do cp "$f" "$root/"; done
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null
	cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
for m in $(cat /modules/order); do
	insmod "/modules/$m.ko" || echo "STORE_VM_ERROR insmod $m"
done
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
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd-$mode.gz"
}

# boot MODE LOG: one guest run with a hard timeout.
boot() {
	timeout -k 5 "$boot_timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
		-nographic -no-reboot -kernel "$kernel/vmlinuz" -initrd "$work/initrd-$1.gz" \
		-append 'console=ttyS0 panic=-1 oops=panic quiet' \
		-drive "file=$work/disk.img,if=virtio,cache=none,format=raw" \
		</dev/null >"$2" 2>&1 &
	qpid=$!
	wait "$qpid"
	local rc=$?
	qpid=
	return $rc
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
if grep -q STORE_VM_WRITING "$work/serial1.log" && grep -q STORE_VM_RESET "$work/serial1.log" &&
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
