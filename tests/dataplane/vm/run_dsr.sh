#!/usr/bin/env bash
# Direct server return end to end: kelp proxy --lb-mode dsr IPIP-encapsulates
# a VIP's packets to the chosen backend in XDP, and the backend answers the
# client directly from the VIP. This machine's kernel has no ipip module, so
# the test boots Debian's own kernel under qemu (TCG) with an initramfs
# holding this build's kelp (dynamically linked: with the host's loader and
# libraries), iproute2, ethtool, curl and a static busybox; the guest half,
# dsr_guest.sh, builds a client, a node and three backends in network
# namespaces of the VM and prints its findings, which become TAP here.
#
#   run_dsr.sh KELP            KELP: the built kelp binary
#
# Debian's kernel and its veth/ipip/clsact modules come from the cache
# tests/lib/vm.sh keeps ($KELP_VM_CACHE, default /var/cache/kelp-test).
# SKIPs only when something outside the project is missing (qemu,
# busybox-static, cpio, kmod, iproute2, ethtool, curl, or the kernel cannot be
# downloaded). KELP_VM_BOOT_TIMEOUT bounds the guest (default 300 s);
# KELP_DSR_REQUESTS is the number of requests (default 120).
set -uo pipefail

kelp=${1:?usage: run_dsr.sh KELP}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../lib/vm.sh
source "$here/../../lib/vm.sh"
# shellcheck source-path=SCRIPTDIR source=../../lib/tap.sh
source "$here/../../lib/tap.sh"
boot_timeout=${KELP_VM_BOOT_TIMEOUT:-300}
requests=${KELP_DSR_REQUESTS:-120}
VIP=198.19.0.10
# veth and the tunnel; sch_ingress (clsact) and cls_bpf because the loader
# attaches its tc return path on every interface it is given, DSR or not.
modules=(veth ipip sch_ingress cls_bpf)

work=
trap vm_cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2119 # no extra tools
vm_host_check || skip_all "$vm_error"
tools=()
for t in ip tc ethtool curl; do
	p=$(command -v "$t") || skip_all "$t is not installed (iproute2, ethtool, curl)"
	tools+=("$p")
done
if [[ ! -x $kelp ]]; then
	notok "kelp is built ($kelp)"
	tap_done
	exit 1
fi
vm_kernel_prepare "${modules[@]}" || skip_all "Debian's kernel: $vm_error"
echo "# kernel $(basename "$vm_kernel"), $requests requests"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kelp-dsr-vm.XXXXXX")
root=$work/root

# --- the initramfs ---
vm_initramfs_skeleton "$root"
mkdir -p "$root/usr/bin" "$root/var/lib"
cp "$kelp" "$root/usr/bin/kelp"
vm_copy_dynamic "$root" "${tools[@]}" || { notok "copy ${tools[*]} into the guest"; tap_done; exit 1; }
vm_copy_libs "$root" "$kelp" || { notok "copy kelp's libraries into the guest"; tap_done; exit 1; }
cp "$here/dsr_guest.sh" "$root/dsr_guest.sh"
echo "$requests" >"$root/requests"
# The Service: port 80 to the backends' port 80 (DSR leaves the packet as the
# client sent it, so the backends listen on the service port).
cat >"$root/services.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $VIP
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: 80}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
- addresses: [198.18.11.2]
  conditions: {ready: true}
- addresses: [198.18.12.2]
  conditions: {ready: true}
- addresses: [198.18.13.2]
  conditions: {ready: true}
EOF
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# iproute2's ip and tc before busybox's applets of the same names.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin VM_FAIL="DSR_VM not_ok"
. /vm_boot.sh
# After a newline: the firmware's screen codes end the line before.
printf '\nDSR_VM_START\n'
sh /dsr_guest.sh
poweroff -f
EOF
chmod +x "$root/init"
vm_initramfs_pack "$root" "$work/initrd.gz"

# --- the guest ---
t0=$SECONDS
vm_boot "$boot_timeout" "$work/initrd.gz" "$work/serial.log"
rc=$?
secs=$((SECONDS - t0))
tr -d '\r' <"$work/serial.log" >"$work/serial.txt"
if grep -q '^DSR_VM_START' "$work/serial.txt"; then
	ok "the guest boots and loads ${modules[*]}"
else
	notok "the guest boots and loads ${modules[*]} (qemu exit $rc)" "$(tail -n 30 "$work/serial.txt")"
fi
while IFS= read -r line; do
	case $line in
	"DSR_VM ok "*) ok "${line#DSR_VM ok }" ;;
	"DSR_VM not_ok "*) notok "${line#DSR_VM not_ok }" ;;
	"DSR_VM # "*) echo "${line#DSR_VM }" ;;
	esac
done < <(grep -a '^DSR_VM ' "$work/serial.txt")
verdict=$(grep -a -o '^DSR_VM_VERDICT.*' "$work/serial.txt" | tail -1)
if [[ $verdict == "DSR_VM_VERDICT ok" ]]; then
	ok "the guest's verdict: ok ($secs s in qemu, exit $rc)"
elif [[ -n $verdict ]]; then
	notok "the guest's verdict: ${verdict#DSR_VM_VERDICT } ($secs s in qemu, exit $rc)"
else
	# The guest hung or crashed: its console says where.
	notok "the guest's verdict: none ($secs s in qemu, exit $rc)" \
		"$(grep -av '^DSR_VM' "$work/serial.txt" | tail -n 30)"
fi
tap_done
exit $((tap_failed > 0))
