#!/usr/bin/env bash
# kelp proxy --kubeconfig with no packet executor (--dataplane none), against
# `kelp server` on loopback, driven by the real kubectl: Services and
# EndpointSlices of any namespace become VIPs, a delete removes them, a
# change's network programming latency is measured, an object with a bad
# annotation is still programmed, /readyz turns ready, and after the API
# server is killed and started again (same data, same port) the proxy follows
# a change made after the restart. Prints TAP, and the latency p99 over 50
# EndpointSlice updates as a comment.
#   test_proxy_api.sh path/to/kelp
set -uo pipefail
export LC_ALL=C TZ=UTC
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_proxy.sh"
source "$here/../lib/kelp_server.sh" proxy-api
kubectl=${KUBECTL:-/usr/bin/kubectl}
proxy_pid=
trap 'stop_proxy; kelp_server_cleanup' EXIT
stop_proxy() {
	[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
	proxy_pid=
}

if [[ ! -x $kubectl ]]; then
	skip "kelp proxy --kubeconfig against kelp server" "no kubectl at $kubectl"
	tap_done
	exit 0
fi
if ! kelp_server_start; then
	notok "kelp server comes up and writes its kubeconfig" "$(cat "$work/server.log")"
	tap_done
	exit 0
fi
ok "kelp server comes up and writes its kubeconfig"
kc=$work/data/kubeconfig
k() { "$kubectl" --kubeconfig "$kc" --cache-dir "$work/cache" --request-timeout=10s "$@"; }
ns=proxy-api
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

"$kelp" proxy --kubeconfig "$kc" --dataplane none --data-dir "$work/proxy" \
	--listen 127.0.0.1:0 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
if ! proxy_wait_port "$work/proxy.log"; then
	notok "kelp proxy --kubeconfig starts and serves /metrics" "$(cat "$work/proxy.log")"
	tap_done
	exit 0
fi
ok "kelp proxy --kubeconfig starts and serves /metrics"
url=http://127.0.0.1:$port
# wait_above NAME N: until the value is above N (10 s at most)
wait_above() {
	local v
	for _ in $(seq 200); do
		v=$(metric "$1")
		[[ -n $v ]] && awk -v v="$v" -v n="$2" 'BEGIN { exit !(v > n) }' && break
		sleep 0.05
	done
	echo "$v"
}
netprog=kelp_proxy_network_programming_duration_seconds
# The histogram's buckets as "le count" lines, +Inf included.
buckets() { scrape | sed -n "s/^${netprog}_bucket{le=\"\([^\"]*\)\"} \([0-9.e+]*\)$/\1 \2/p"; }

code=
for _ in $(seq 200); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
	[[ $code == 200 ]] && break
	sleep 0.05
done
expect "/readyz turns 200 once both informers listed and the table is programmed" "$code" 200
contains "the log says both kinds were listed" "$(cat "$work/proxy.log")" 'listed" kind="EndpointSlice"'
# The kubernetes Service (one port) is there from the start.
base=$(metric kelp_proxy_service_vips)
[[ ${base:-x} =~ ^[0-9]+$ ]] && ok "the VIPs of the Services already there are compiled ($base)" ||
	notok "the VIPs of the Services already there are compiled" "kelp_proxy_service_vips: $base"

# --- a Service with two ports and its EndpointSlice, in a namespace of their own ---
service() { # name clusterIP
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: $ns}
spec:
  type: ClusterIP
  clusterIP: $2
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: 8080}
  - {name: https, port: 443, protocol: TCP, targetPort: 8443}
EOF
}
slice() { # name service trigger-time [last address byte]
	cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $1
  namespace: $ns
  labels: {kubernetes.io/service-name: $2}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "$3"}
addressType: IPv4
ports:
- {name: http, port: 8080, protocol: TCP}
- {name: https, port: 8443, protocol: TCP}
endpoints:
- addresses: [198.18.21.2]
  conditions: {ready: true}
- addresses: [198.18.22.${4:-2}]
  conditions: {ready: true}
EOF
}
k create namespace "$ns" >/dev/null 2>&1
count0=$(metric ${netprog}_count)
{ service web 198.19.7.10; echo ---; slice web-abc web "$(now)"; } >"$work/web.yaml"
out=$(k apply -f "$work/web.yaml" 2>&1)
contains "kubectl apply creates the Service and its EndpointSlice" "$out" "endpointslice.discovery.k8s.io/web-abc created"
expect "both ports of the Service become VIPs" "$(wait_metric kelp_proxy_service_vips $((base + 2)))" $((base + 2))
m=$(scrape)
contains "... 198.19.7.10:80/TCP is in the table" "$m" 'service="proxy-api/web:http",vip="198.19.7.10:80/TCP"'
contains "... 198.19.7.10:443/TCP is in the table" "$m" 'service="proxy-api/web:https",vip="198.19.7.10:443/TCP"'
count1=$(wait_above ${netprog}_count "${count0:-0}")
[[ ${count1:-0} -gt ${count0:-0} ]] && ok "the network programming latency was observed ($count0 → $count1)" ||
	notok "the network programming latency was observed" "count before: $count0, after: $count1"

# --- deleting the Service removes its VIPs (the EndpointSlice alone makes none) ---
gen=$(metric kelp_proxy_table_generation)
contains "kubectl delete service" "$(k -n $ns delete service web 2>&1)" 'service "web" deleted'
expect "deleting the Service removes its VIPs" "$(wait_metric kelp_proxy_service_vips "$base")" "$base"
[[ $(metric kelp_proxy_table_generation) -gt $gen ]] && ok "the table generation moved on" ||
	notok "the table generation moved on"

# --- an object with an unparsable trigger time is programmed all the same ---
gen=$(metric kelp_proxy_table_generation)
{ service web 198.19.7.10; echo ---; slice web-abc web "yesterday-ish" 7; } >"$work/web.yaml"
check "kubectl apply of an EndpointSlice whose trigger-time annotation is not a time" k apply -f "$work/web.yaml"
expect "... the Service is back" "$(wait_metric kelp_proxy_service_vips $((base + 2)))" $((base + 2))
[[ $(wait_above kelp_proxy_table_generation "$gen") -gt $gen ]] &&
	ok "... and the slice's new endpoint was compiled" || notok "... and the slice's new endpoint was compiled"
contains "... the log names the bad annotation" "$(cat "$work/proxy.log")" "unparsable trigger-time annotation"
kill -0 "$proxy_pid" 2>/dev/null && ok "the proxy is still up" || notok "the proxy is still up"
expect "the proxy stays ready" "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" 200

# --- 50 EndpointSlice updates: how long from the change to the table ---
# Each update is a merge patch sent with curl and the kubeconfig's admin
# credentials, its trigger time taken just before: kubectl's own start-up
# (hundreds of ms) would otherwise be counted as the proxy's latency. Each
# update moves an endpoint, so each builds a new table.
api=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$work/ca.pem"
k config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$work/cert.pem"
k config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$work/key.pem"
# The merge patch: the trigger time, and the second endpoint's last byte.
patch_fmt='{"metadata": {"annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "%s"}},
 "endpoints": [{"addresses": ["198.18.21.2"], "conditions": {"ready": true}},
               {"addresses": ["198.18.22.%s"], "conditions": {"ready": true}}]}'
patch_slice() { # last address byte
	local t=$EPOCHREALTIME ts body
	printf -v ts '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${t%.*}" "${t#*.}"
	# shellcheck disable=SC2059
	printf -v body "$patch_fmt" "$ts" "$1"
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --cacert "$work/ca.pem" \
		--cert "$work/cert.pem" --key "$work/key.pem" -X PATCH --data "$body" \
		-H 'Content-Type: application/merge-patch+json' \
		"$api/apis/discovery.k8s.io/v1/namespaces/$ns/endpointslices/web-abc"
}
n=50
buckets >"$work/before"
before=$(metric ${netprog}_count)
for i in $(seq $n); do
	patch_slice $((100 + i))
done >"$work/patches"
expect "$n merge patches of the EndpointSlice are accepted" "$(cut -d' ' -f1 "$work/patches" | sort -u | xargs)" 200
after=$(wait_metric ${netprog}_count $((before + n)))
expect "each update is timed once" "$after" $((before + n))
buckets >"$work/after"
# The updates' own histogram: the difference of the two scrapes.
paste -d' ' "$work/before" "$work/after" | awk '{ print $1, $4 - $2 }' >"$work/delta"
under1=$(awk '$1 == "1" { print $2 }' "$work/delta")
# A test asserts that each update lands, and soon; the latency goal itself
# (p99 < 100 ms) is bench/lb's, measured on a quiet machine.
under10=$(awk '$1 == "10" { print $2 }' "$work/delta")
[[ ${under1:-0} -ge $((n * 9 / 10)) && ${under10:-0} -eq $n ]] &&
	ok "updates are programmed soon: $under1 of $n within 1 s, all within 10 s" ||
	notok "updates are programmed soon" "within 1 s: $under1 of $n; within 10 s: $under10"
# histogram_quantile as Prometheus computes it: linear within the bucket.
quantile() {
	awk -v q="$1" '{ le[NR] = $1; c[NR] = $2; n = NR }
		END { total = c[n]; rank = q * total; lo = 0; prev = 0
			for (i = 1; i <= n; i++) {
				if (c[i] >= rank) {
					if (le[i] == "+Inf") { printf "%.1f", lo * 1000; exit }
					printf "%.1f", (lo + (le[i] - lo) * (rank - prev) / (c[i] - prev)) * 1000
					exit
				}
				lo = le[i]; prev = c[i]
			} }' "$work/delta"
}
echo "# network programming latency over $n EndpointSlice updates (curl PATCH → table built):" \
	"p50 $(quantile 0.5) ms, p99 $(quantile 0.99) ms (histogram buckets, interpolated);" \
	"the PATCH round trip alone (TLS handshake included): median" \
	"$(cut -d' ' -f2 "$work/patches" | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] * 1000 }') ms"

# --- the API server is killed and started again on the same port, same data ---
apiport=${api##*:}
vips=$(metric kelp_proxy_service_vips)
kill -KILL "$pid"
wait "$pid" 2>/dev/null
sleep 0.5
expect "with the API server gone the table stays as it was" "$(metric kelp_proxy_service_vips)" "$vips"
expect "... and the proxy stays ready" "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" 200
"$kelp" server --data-dir "$work/data" --listen "127.0.0.1:$apiport" >>"$work/server.log" 2>&1 &
pid=$!
up=
for _ in $(seq 200); do
	k get --raw /readyz >/dev/null 2>&1 && up=1 && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -n $up ]]; then ok "kelp server starts again on the same port"; else
	notok "kelp server starts again on the same port" "$(tail -20 "$work/server.log")"; fi
service db 198.19.7.11 >"$work/db.yaml"
contains "a Service created after the restart" "$(k apply -f "$work/db.yaml" 2>&1)" "service/db created"
expect "the proxy converges to it (two more VIPs)" "$(wait_metric kelp_proxy_service_vips $((vips + 2)))" $((vips + 2))
contains "... 198.19.7.11:443/TCP is in the table" "$(scrape)" 'vip="198.19.7.11:443/TCP"'
contains "kubectl delete service web" "$(k -n $ns delete service web 2>&1)" 'service "web" deleted'
expect "a delete after the restart is followed too" "$(wait_metric kelp_proxy_service_vips "$vips")" "$vips"

# --- it stops cleanly (under ASan: without a leak) ---
kill -TERM "$proxy_pid"
wait "$proxy_pid"
expect "SIGTERM stops it with status 0" "$?" 0
proxy_pid=
if grep -qE 'Sanitizer|runtime error' "$work/proxy.log"; then
	notok "the proxy's log has no sanitizer report" "$(grep -A20 -E 'Sanitizer|runtime error' "$work/proxy.log" | head -40)"
else
	ok "the proxy's log has no sanitizer report"
fi
tap_done
