# shellcheck shell=bash disable=SC2034  # vm_* variables are for the includer
# Helpers for tests that boot Debian's own kernel under qemu (TCG: this
# machine has no /dev/kvm and its kernel loads no modules, so IPIP, full
# cgroup v2, power loss ... are tested in a guest). Source it, then
#
#   vm_host_check || skip_all "$vm_error"     qemu, cpio, a static busybox ...
#   vm_kernel_prepare MODULE... || skip_all "$vm_error"
#                            vm_kernel: the cached kernel directory (vmlinuz);
#                            vm_modules: its .ko files for MODULE... and their
#                            dependencies, in load order
#   vm_initramfs_skeleton ROOT    busybox, /dev/console, vm_modules in
#                                 ROOT/modules (names in ROOT/modules/order)
#   vm_copy_dynamic ROOT BIN...   BIN, its loader and libraries, same paths
#   vm_copy_libs ROOT BIN...      only the loader and libraries
#   vm_initramfs_pack ROOT OUT    the newc cpio, gzipped
#   vm_boot TIMEOUT INITRD LOG [QEMU ARG...]   one guest run; vm_kill from a
#                                 trap stops a guest still running
#
# The cache ($KELP_VM_CACHE, default /var/cache/kelp-test) holds, per kernel
# version, kernel-<version>/: vmlinuz, modules.dep (made by depmod),
# modules.builtin, the package itself (70 MB, so that a test needing other
# modules takes them without downloading again) and modules/, the .ko files
# some test has asked for, at their paths in the package's module tree.
# The unpacked package (~470 MB) is never kept.

vm_cache=${KELP_VM_CACHE:-/var/cache/kelp-test}
vm_kernel=
vm_modules=()
vm_error=
vm_qpid=
vm_busybox=
_vm_list=

# Are the host tools every guest test needs there? vm_error says what is not.
vm_host_check() {
	local tool
	for tool in qemu-system-x86_64 cpio gzip depmod dpkg-deb apt-get flock "$@"; do
		command -v "$tool" >/dev/null || { vm_error="$tool is not installed"; return 1; }
	done
	vm_busybox=$(command -v busybox) || { vm_error="busybox-static is not installed"; return 1; }
	if ldd "$vm_busybox" >/dev/null 2>&1; then
		vm_error="$vm_busybox is not static (install busybox-static)"
		return 1
	fi
}

# Download linux-image-VERSION (the version linux-image-amd64 names when
# VERSION is empty) and publish kernel-<version>/ with vmlinuz, modules.dep,
# modules.builtin and the package. The unpacked tree stays in _vm_unpacked
# (under _vm_scratch) until vm_kernel_prepare has taken its modules from it.
# Called with the cache lock held.
_vm_unpacked=
_vm_scratch=
_vm_kernel_fetch() {
	local ver=$1 pkg kx deb dest
	if [[ -z $ver ]]; then
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[[ -n $pkg ]] || { vm_error="apt knows no linux-image-amd64"; return 1; }
		ver=${pkg#linux-image-}
	fi
	pkg=linux-image-$ver
	kx=$(mktemp -d "$vm_cache/extract.XXXXXX") || { vm_error="cannot write $vm_cache"; return 1; }
	_vm_scratch=$kx
	if ! (cd "$kx" && apt-get download "$pkg" >/dev/null 2>&1); then
		vm_error="$pkg could not be downloaded"
		return 1
	fi
	deb=$(ls "$kx"/*.deb)
	dest=$kx/kernel-$ver
	mkdir -p "$dest/modules" "$kx/x"
	# Unpacked once, for vmlinuz and for depmod to index every module.
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kx/x" ./boot ./lib/modules ||
		! depmod -b "$kx/x" "$ver" ||
		! cp "$kx/x/boot/vmlinuz-$ver" "$dest/vmlinuz" ||
		! cp "$kx/x/lib/modules/$ver/modules.dep" "$kx/x/lib/modules/$ver/modules.builtin" "$dest/" ||
		! mv "$deb" "$dest/linux-image.deb"; then
		vm_error="$pkg could not be unpacked"
		return 1
	fi
	echo "$ver" >"$dest/version"
	# Publish whole or not at all.
	rm -rf "${vm_cache:?}/kernel-$ver"
	mv "$dest" "$vm_cache/kernel-$ver" || { vm_error="cannot write $vm_cache"; return 1; }
	_vm_unpacked=$kx/x/lib/modules/$ver
}

# Print "name path" for MODULE... and their dependencies, dependencies
# first, from the modules.dep of kernel directory $1 (builtin ones omitted);
# on error, a last line "! what is wrong".
_vm_modules_resolve() {
	local k=$1 seen=" "
	shift
	_vm_visit() {
		local m=$1 line path dep
		[[ $seen == *" $m "* ]] && return 0
		seen+="$m "
		# modules.dep names files with - or _ as the source tree has them.
		line=$(grep -E "(^|/)(${m}|${m//_/-}|${m//-/_})\.ko:" "$k/modules.dep" | head -1)
		if [[ -z $line ]]; then
			grep -qE "/(${m}|${m//_/-})\.ko$" "$k/modules.builtin" && return 0
			echo "! kernel ${k##*/} has no module $m"
			return 1
		fi
		path=${line%%:*}
		for dep in ${line#*:}; do
			dep=${dep##*/}
			_vm_visit "${dep%.ko}" || return 1
		done
		m=${path##*/}
		echo "${m%.ko} $path"
	}
	for m in "$@"; do
		_vm_visit "$m" || return 1
	done
}

# The module-tree paths "$@" into kernel directory $1's modules/: from the
# tree a fetch just unpacked, else out of the cached package (one pass).
# Called with the cache lock held.
_vm_modules_copy() {
	local k=$1 ver p
	shift
	if [[ -n $_vm_unpacked ]]; then
		for p in "$@"; do
			mkdir -p "$k/modules/$(dirname "$p")"
			cp "$_vm_unpacked/$p" "$k/modules/$p" || { vm_error="cannot copy $p"; return 1; }
		done
		return 0
	fi
	ver=$(cat "$k/version")
	dpkg-deb --fsys-tarfile "$k/linux-image.deb" |
		tar -x -C "$k/modules" --strip-components=4 "${@/#/./lib/modules/$ver/}" ||
		{ vm_error="modules $* are not in linux-image-$ver"; return 1; }
}

# The .ko paths of the resolved list $2 that kernel directory $1 lacks.
_vm_modules_missing() {
	local name path
	while read -r name path; do
		[[ -n $name && ! -f $1/modules/$path ]] && echo "$path"
	done <<<"$2"
}

# The cache's newest kernel directory (a pattern that names none if empty).
_vm_newest() {
	local k
	k=$(printf '%s\n' "$vm_cache"/kernel-*/ | sort -V | tail -1)
	echo "${k%/}"
}

# Everything of vm_kernel_prepare that runs under the cache lock.
_vm_kernel_prepare_locked() {
	local k missing
	# What a run killed while fetching left (nobody else fetches: we hold
	# the lock).
	rm -rf "${vm_cache:?}"/extract.*
	k=$(_vm_newest)
	# A directory from before modules.dep was kept is fetched again.
	if [[ -z $k || ! -f $k/vmlinuz || ! -f $k/modules.dep || ! -f $k/version ]]; then
		_vm_kernel_fetch "" || return 1
		k=$(_vm_newest)
	fi
	if ! _vm_list=$(_vm_modules_resolve "$k" "$@"); then
		vm_error=${_vm_list##*! }
		return 1
	fi
	mapfile -t missing < <(_vm_modules_missing "$k" "$_vm_list")
	if ((${#missing[@]})) && [[ -z $_vm_unpacked && ! -f $k/linux-image.deb ]]; then
		# Someone trimmed the cache: the same version again, whole.
		_vm_kernel_fetch "$(cat "$k/version")" || return 1
		mapfile -t missing < <(_vm_modules_missing "$k" "$_vm_list")
	fi
	if ((${#missing[@]})); then
		_vm_modules_copy "$k" "${missing[@]}" || return 1
	fi
	vm_kernel=$k
}

# vm_kernel_prepare MODULE...: the newest cached kernel (or a new download),
# with MODULE... and their dependencies cached; sets vm_kernel, vm_modules.
vm_kernel_prepare() {
	local lock rc name path
	vm_modules=()
	vm_kernel=
	_vm_list=
	mkdir -p "$vm_cache" || { vm_error="cannot create $vm_cache"; return 1; }
	exec {lock}>"$vm_cache/.lock"
	# Concurrent runs (other build directories) fetch one at a time.
	flock "$lock"
	_vm_kernel_prepare_locked "$@"
	rc=$?
	[[ -n $_vm_scratch ]] && rm -rf "$_vm_scratch"
	_vm_scratch=
	_vm_unpacked=
	exec {lock}>&-
	((rc == 0)) || return 1
	while read -r name path; do
		[[ -n $name ]] && vm_modules+=("$vm_kernel/modules/$path")
	done <<<"$_vm_list"
	return 0
}

# ROOT: an initramfs tree with busybox, /dev/console, vm_modules with their
# load order, and /vm_boot.sh for the /init the test writes to source first
# (with PATH set and VM_FAIL the prefix of its failure lines):
#   #!/bin/busybox sh
#   export PATH=/bin VM_FAIL=MYTEST_ERROR
#   . /vm_boot.sh
# which links busybox's applets, mounts /proc, /sys, /dev and /run, puts
# the console on stdio and loads the modules.
vm_initramfs_skeleton() {
	local root=$1 ko
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,modules}
	cp "$vm_busybox" "$root/bin/busybox"
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null
	cat >"$root/vm_boot.sh" <<'EOF'
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1
for m in $(cat /modules/order); do
	insmod "/modules/$m.ko" || echo "$VM_FAIL insmod $m"
done
EOF
	: >"$root/modules/order"
	for ko in "${vm_modules[@]}"; do
		cp "$ko" "$root/modules/" || return 1
		ko=${ko##*/}
		echo "${ko%.ko}" >>"$root/modules/order"
	done
}

# ROOT BIN...: the loader and every library ldd names for each dynamically
# linked BIN, at their own paths in ROOT (the host's, so they match BIN).
vm_copy_libs() {
	local root=$1 bin lib
	shift
	for bin in "$@"; do
		for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
			[[ -e $root/$lib ]] && continue
			mkdir -p "$root/$(dirname "$lib")"
			cp -L "$lib" "$root/$lib" || return 1
		done
	done
}

# ROOT BIN...: each BIN at its own path in ROOT, with its libraries.
vm_copy_dynamic() {
	local root=$1 bin
	shift
	for bin in "$@"; do
		mkdir -p "$root/$(dirname "$bin")"
		cp -L "$bin" "$root/$bin" || return 1
	done
	vm_copy_libs "$root" "$@"
}

vm_initramfs_pack() {
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# vm_boot TIMEOUT INITRD LOG [QEMU ARG...]: one guest, serial console to LOG;
# the guest powers itself off, or is killed after TIMEOUT seconds.
vm_boot() {
	local tmo=$1 initrd=$2 log=$3 rc
	shift 3
	timeout -k 5 "$tmo" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
		-nographic -no-reboot -kernel "$vm_kernel/vmlinuz" -initrd "$initrd" \
		-append 'console=ttyS0 panic=-1 oops=panic quiet' "$@" \
		</dev/null >"$log" 2>&1 &
	vm_qpid=$!
	wait "$vm_qpid"
	rc=$?
	vm_qpid=
	return $rc
}

vm_kill() {
	if [[ -n $vm_qpid ]]; then
		kill -TERM "$vm_qpid" 2>/dev/null
		wait "$vm_qpid" 2>/dev/null
		vm_qpid=
	fi
}

# For a test's traps: the guest stopped, the test's $work removed.
vm_cleanup() {
	vm_kill
	[[ -n ${work:-} ]] && rm -rf "$work"
}

# skip_all REASON: the TAP of a test that cannot run here (something outside
# the project is missing), and exit.
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
