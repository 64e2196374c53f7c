#!/usr/bin/env bash
# kelp proxy with the eBPF executor carrying real TCP between network
# namespaces this test builds:
#
#   client ns  c0 198.18.1.2 ── n0 198.18.1.1   node ns (kelp proxy: XDP on n0,
#                                               the return path on b1..b3,
#                                               socket LB on two test cgroups)
#   backend i  e0 198.18.1i.2 ── bi 198.18.1i.1    busybox httpd :8080, i = 1..3
#
# The Service (ClusterIP 198.19.0.10:80 → 8080) comes from a file; nothing
# listens on the VIP and no iptables/nftables rule names it. Then the proxy
# watches kelp server instead (run in the node namespace), where kubectl made
# a second Service (198.19.0.20). Prints TAP.
#   test_proxy_netns.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_proxy.sh"
py=/usr/bin/python3
work=$(mktemp -d /tmp/kelp-proxy-netns.XXXXXX)
tag=kp$$
cg=/sys/fs/cgroup/unified/kelp-e2e-$$
pid=
pids=()
VIP=198.19.0.10

cleanup() {
	netns_end $tag 3
	for d in "$cg/pod" "$cg/node"; do
		[[ -d $d ]] || continue
		while read -r p; do echo "$p" >/sys/fs/cgroup/unified/cgroup.procs 2>/dev/null; done <"$d/cgroup.procs"
		rmdir "$d" 2>/dev/null
	done
	rmdir "$cg" 2>/dev/null
}
trap cleanup EXIT

# --- the topology ---
netns_begin $tag 3 "$work"
ok "three backends, a node and a client in their own namespaces"

write_services() { # backend numbers...
	cat >"$work/svc.tmp" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $VIP
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: 8080}
  - {name: udp, port: 80, protocol: UDP, targetPort: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}, {name: udp, port: 8080, protocol: UDP}]
endpoints:
$(backend_endpoints "$@")
EOF
	mv "$work/svc.tmp" "$work/services.yaml"
}
write_services 1 2 3

mkdir -p "$cg/pod" "$cg/node"
source_args=(--from-file "$work/services.yaml")
start_proxy() {
	proxy_start $nsn "$work/proxy.log" "${source_args[@]}" \
		--dataplane xdp --dataplane-interfaces n0,b1,b2,b3 \
		--socket-lb-cgroup "$cg/pod" --socket-lb-cgroup "$cg/node" \
		--data-dir "$work/data" --log-level debug
}
if ! start_proxy; then
	notok "kelp proxy comes up with the XDP executor" "$(tail -30 "$work/proxy.log")"
	tap_done
	exit 0
fi
ok "kelp proxy comes up with the XDP executor"
counter() { service_counter "$1" "$VIP:80/$2"; } # NAME PROTO

# --- kelp's programs are the ones carrying the traffic ---
contains "bpftool net shows XDP on n0" "$(inn $nsn bpftool net show dev n0 2>&1)" "xdp"
first_answer "the VIP" $VIP
pkts0=$(counter kelp_proxy_service_packets_total TCP)
conns0=$(counter kelp_proxy_service_connections_total TCP)

# --- every request answered, spread evenly ---
N=1800
res=$(from_client many $N $VIP 80)
errors=$($py -c 'import json,sys; print(json.loads(sys.argv[1])["errors"])' "$res")
expect "every one of $N requests to the VIP is answered" "$errors" 0
even=$($py -c '
import json, sys
c = json.loads(sys.argv[1]); n = int(sys.argv[2])
got = [c.get("backend %d" % i, 0) for i in (1, 2, 3)]
print("ok" if all(abs(g - n / 3) <= 0.1 * n / 3 for g in got) else "uneven %s" % got)' "$res" $N)
expect "the spread over 3 backends is within 10% of even ($res)" "$even" ok

conns=$(counter kelp_proxy_service_connections_total TCP)
pkts=$(counter kelp_proxy_service_packets_total TCP)
# A client port reused while its 5-tuple is still in conntrack continues
# that entry (as the kernel's conntrack does), so allow 1% of those.
[[ $((conns - conns0)) -le $N && $((conns - conns0)) -ge $((N * 99 / 100)) ]] &&
	ok "the connections counter rose by the $N requests ($((conns - conns0)))" ||
	notok "the connections counter rose by the $N requests" "before $conns0, after $conns"
[[ $((pkts - pkts0)) -ge $((3 * N)) ]] && ok "the packets counter rose with them ($((pkts - pkts0)))" ||
	notok "the packets counter rose with them" "before $pkts0, after $pkts"
expect "nothing listens on the VIP" "$(inn $nsn ss -Hltnu | grep -c "$VIP")" 0
rules=$( (inn $nsn nft list ruleset 2>/dev/null; inn $nsn iptables-save 2>/dev/null) | grep -c "$VIP")
expect "no nftables or iptables rule names the VIP" "$rules" 0

# --- the same 5-tuple goes to the same backend ---
before=$(from_client ports 41000 60 $VIP 80)
again=$(from_client ports 41000 60 $VIP 80)
expect "the same 5-tuple reaches the same backend" "$again" "$before"

# --- removing a backend moves only its flows ---
write_services 1 2
sleep 0.5
after=$(from_client ports 41000 60 $VIP 80)
moved=$($py -c '
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = [p for p in b if b[p] != "backend 3" and a[p] != b[p]]
gone = [p for p in b if b[p] == "backend 3" and a[p] not in ("backend 1", "backend 2")]
print("ok" if not bad and not gone and any(v == "backend 3" for v in b.values())
      else "moved %s, not moved %s" % (bad, gone))' "$before" "$after")
expect "removing backend 3 moves its flows and only its flows" "$moved" ok
write_services 1 2 3
sleep 0.3

# --- a proxy restart drops no established connection ---
coproc HOLD { from_client hold $VIP 80; }
read -r -t 5 line <&"${HOLD[0]}"
expect "a connection to the VIP is established" "$line" held
kill "$pid" && wait "$pid" 2>/dev/null
pid=
start_proxy && ok "the proxy restarts" || notok "the proxy restarts" "$(tail -20 "$work/proxy.log")"
echo go >&"${HOLD[1]}"
read -r -t 5 line <&"${HOLD[0]}"
contains "the connection made before the restart is answered after it" "$line" '"answer": "backend'
res=$(from_client many 30 $VIP 80)
contains "new connections work after the restart" "$res" '"errors": 0'

# --- a restart that numbers backends differently keeps every established flow ---
# Backend 1 leaves and comes back (a new id), then 24 connections are held
# over backends 1 and 2. While the proxy is down the file is rewritten: backend
# 3 is back, and another Service (listed after web, so it is compiled first)
# takes backends of its own. A proxy numbering afresh would give 1 and 2 other
# indexes or ids: conntrack would miss and about a third of the held flows
# would move to backend 3, which resets them.
other_then_web() { # backend numbers of web...
	write_services "$@"
	cat "$work/services.yaml" - >"$work/svc.tmp" <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: other-1
  namespace: default
  labels: {kubernetes.io/service-name: other}
addressType: IPv4
ports: [{name: http, port: 9090, protocol: TCP}]
endpoints:
- addresses: [198.18.13.2]
- addresses: [198.18.12.2]
- addresses: [198.18.11.2]
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: default}
spec:
  clusterIP: 198.19.0.30
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 9090}]
EOF
	mv "$work/svc.tmp" "$work/services.yaml"
}
write_services 2 3
sleep 0.5
write_services 1 2
sleep 0.5
coproc HOLDN { from_client holdmany 24 $VIP 80; }
read -r -t 10 line <&"${HOLDN[0]}"
expect "24 connections to the VIP are held over backends 1 and 2" "$line" held
conns_before=$(counter kelp_proxy_service_connections_total TCP)
kill "$pid" && wait "$pid" 2>/dev/null
pid=
other_then_web 3 1 2
start_proxy && ok "the proxy restarts on the rewritten file" ||
	notok "the proxy restarts on the rewritten file" "$(tail -20 "$work/proxy.log")"
contains "it adopted the table the maps held" "$(grep adopted "$work/proxy.log" | tail -1)" "backends="
conns_after=$(counter kelp_proxy_service_connections_total TCP)
[[ -n $conns_before && ${conns_after:-0} -ge $conns_before ]] &&
	ok "the VIP's counters go on over the restart ($conns_before -> $conns_after)" ||
	notok "the VIP's counters go on over the restart" "before $conns_before, after $conns_after"
echo go >&"${HOLDN[1]}"
read -r -t 30 line <&"${HOLDN[0]}"
held=$($py -c '
import json, sys
a = json.loads(sys.argv[1])
bad = {p: v for p, v in a.items() if v not in ("backend 1", "backend 2")}
print("ok" if len(a) == 24 and not bad else "lost %s" % bad)' "$line")
expect "every held connection is answered by its backend" "$held" ok
res=$(from_client many 60 $VIP 80)
reach=$(answered_by "$res" 1 2 3)
expect "new connections reach all 3 backends" "$reach" ok

# --- the same 5-tuple keeps its backend over a restart in another order ---
before=$(from_client ports 42000 60 $VIP 80)
kill "$pid" && wait "$pid" 2>/dev/null
pid=
write_services 2 1 3
start_proxy && ok "the proxy restarts without the other Service" ||
	notok "the proxy restarts without the other Service" "$(tail -20 "$work/proxy.log")"
after=$(from_client ports 42000 60 $VIP 80)
expect "the same 5-tuples reach the same backends" "$after" "$before"
grep -E "adopted|programmed" "$work/proxy.log" | tail -4 | sed 's/^/# /'

# --- socket LB: processes in the named cgroups reach the ClusterIP without NAT ---
contains "bpftool cgroup tree shows kelp's connect4 on the pod cgroup" \
	"$(bpftool cgroup tree "$cg" 2>&1)" "connect4"
in_cgroup() { # CGROUP cmd...: run in the node ns from inside that cgroup
	local c=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$c" nsenter --net=/run/netns/$nsn "$@"
}
res=$(in_cgroup "$cg/pod" $py "$lbclient" many 90 $VIP 80)
reach=$(answered_by "$res" 1 2 3)
expect "a process in a pod cgroup reaches all 3 backends through the ClusterIP" "$reach" ok
res=$(in_cgroup "$cg/node" $py "$lbclient" many 90 $VIP 80)
reach=$(answered_by "$res" 1 2 3)
expect "a process in the node-processes cgroup does too" "$reach" ok
res=$(in_cgroup "$cg/pod" $py "$lbclient" udp 30 $VIP 80)
contains "UDP replies come from the VIP (recvmsg is translated back)" "$res" "\"sources\": [\"$VIP\"]"

# --- the same with the API: a Service and an EndpointSlice made by kubectl ---
# kelp server runs in the node namespace too, where the proxy can reach it.
nsenter --net=/run/netns/$nsn "$kelp" server --data-dir "$work/api" --listen 127.0.0.1:0 \
	>"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [[ -s $work/api/kubeconfig ]] && break; sleep 0.05; done
k() { nsenter --net=/run/netns/$nsn kubectl --kubeconfig "$work/api/kubeconfig" \
	--cache-dir "$work/kcache" --request-timeout=10s "$@"; }
VIP2=198.19.0.20
api_objects() { # backend numbers...
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: api-web, namespace: default}
spec:
  clusterIP: $VIP2
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-web-1
  namespace: default
  labels: {kubernetes.io/service-name: api-web}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
$(backend_endpoints "$@")
EOF
}
out=$(api_objects 1 2 3 | k apply -f - 2>&1)
contains "kubectl creates a Service and its EndpointSlice" "$out" "endpointslice.discovery.k8s.io/api-web-1 created"
kill "$pid" && wait "$pid" 2>/dev/null
pid=
source_args=(--kubeconfig "$work/api/kubeconfig")
start_proxy && ok "the proxy restarts watching the API" ||
	notok "the proxy restarts watching the API" "$(tail -20 "$work/proxy.log")"
res=$(from_client many 90 $VIP2 80)
reach=$(answered_by "$res" 1 2 3)
expect "the client reaches all 3 backends through the kubectl-made ClusterIP" "$reach" ok
expect "the file's Service is gone with the file" "$(inn $nsc curl -s -m 1 "http://$VIP/" || echo unreachable)" unreachable
netprog=kelp_proxy_network_programming_duration_seconds
n0=$(metric ${netprog}_count)
sum0=$(metric ${netprog}_sum)
out=$(api_objects 1 2 | k apply -f - 2>&1)
for _ in $(seq 100); do
	n1=$(metric ${netprog}_count)
	[[ $n1 != "$n0" ]] && break
	sleep 0.05
done
ms=$($py -c 'import sys; print("%.1f" % ((float(sys.argv[3]) - float(sys.argv[1])) * 1000 / max(1, int(sys.argv[4]) - int(sys.argv[2]))))' \
	"$sum0" "$n0" "$(metric ${netprog}_sum)" "$n1")
[[ $n1 -gt $n0 ]] && ok "removing an endpoint with kubectl is programmed and timed (${ms} ms from the trigger time, kubectl's own start included)" ||
	notok "removing an endpoint with kubectl is programmed and timed" "count $n0 -> $n1"
res=$(from_client many 60 $VIP2 80)
gone=$(answered_by "$res" 1 2)
expect "after it no new connection reaches the removed backend" "$gone" ok
k delete service api-web >/dev/null 2>&1
for _ in $(seq 50); do
	[[ $(metric kelp_proxy_service_vips) == 0 ]] && break
	sleep 0.05
done
expect "a Service deleted with kubectl no longer answers on its VIP" \
	"$(inn $nsc curl -s -m 1 "http://$VIP2/" || echo unreachable)" unreachable

# --- cleanup removes what the proxy left ---
kill "$pid" && wait "$pid" 2>/dev/null
pid=
"$kelp" proxy --cleanup --data-dir "$work/data"
expect "kelp proxy --cleanup succeeds" "$?" 0
left=$(inn $nsn bpftool net 2>&1; bpftool cgroup tree "$cg" 2>&1)
[[ $left != *xdp_lb* && $left != *tc_lb* && $left != *sock_* ]] &&
	ok "no kelp program is left on the interfaces or the cgroups" ||
	notok "no kelp program is left on the interfaces or the cgroups" "$left"
[[ ! -e $work/data/bpf/lb_services ]] && ok "the pinned maps are gone" ||
	notok "the pinned maps are gone" "$(ls "$work/data/bpf")"

# --- and so does kelp up's exit, for a proxy on its data dir ---
source_args=(--from-file "$work/services.yaml")
start_proxy || notok "the proxy starts again" "$(tail -20 "$work/proxy.log")"
kill "$pid" && wait "$pid" 2>/dev/null
pid=
[[ -e $work/data/bpf/lb_services && -n $(inn $nsn bpftool net show dev n0 2>&1 | grep driver) ]] &&
	ok "a stopped proxy leaves its maps and XDP in place" ||
	notok "a stopped proxy leaves its maps and XDP in place" "$(ls "$work/data/bpf" 2>&1)"
nsenter --net=/run/netns/$nsn "$kelp" up --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/up.log" 2>&1 &
up=$!
for _ in $(seq 200); do [[ -s $work/data/kubeconfig ]] && break; sleep 0.05; done
kill "$up" && wait "$up"
expect "kelp up stops with status 0" "$?" 0
left=$(inn $nsn bpftool net 2>&1; bpftool cgroup tree "$cg" 2>&1)
[[ ! -e $work/data/bpf/lb_services && $left != *driver* && $left != *sock_* ]] &&
	ok "kelp up's exit removed the proxy's programs and pins" ||
	notok "kelp up's exit removed the proxy's programs and pins" "$left; $(ls "$work/data/bpf" 2>&1)"
tap_done
