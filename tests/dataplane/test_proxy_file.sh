#!/usr/bin/env bash
# kelp proxy --from-file with no packet executor (--dataplane none): the file
# is read, compiled and read again whenever it changes; a broken file changes
# nothing; /readyz and /metrics say so. Prints TAP.
#   test_proxy_file.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_proxy.sh"
work=$(mktemp -d /tmp/kelp-proxy-file.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# --- the command line ---
out=$("$kelp" proxy --help 2>&1)
contains "kelp proxy --help lists --from-file" "$out" "--from-file FILE"
out=$("$kelp" proxy --dataplane fast --from-file x 2>&1)
expect "a bad --dataplane is refused with exit 2" "$?" 2
contains "... saying what it wants" "$out" "--dataplane: want auto, dpdk, xdp, kmod or none"
out=$("$kelp" proxy --from-file a --kubeconfig b 2>&1)
contains "one source only" "$out" "give exactly one of --kubeconfig and --from-file"
out=$("$kelp" proxy --from-file a --node-ip 300.1.1.1 2>&1)
contains "a bad --node-ip is refused" "$out" '--node-ip: "300.1.1.1" is not an IP address'
out=$("$kelp" proxy --from-file /dev/null --lb-mode dsr 2>&1)
contains "DSR without the node's address is refused" "$out" "--lb-mode dsr needs --snat-address"
out=$("$kelp" proxy --from-file /dev/null --lb-map-sizes ring-slots=0 2>&1)
contains "a bad --lb-map-sizes is refused" "$out" "--lb-map-sizes: want a list of services=N"

service() { # name clusterIP [type nodePort]
	cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: default}
spec:
  type: ${3:-ClusterIP}
  clusterIP: $2
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080${4:+, nodePort: $4}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $1-abc
  namespace: default
  labels: {kubernetes.io/service-name: $1}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [198.18.11.2]
  conditions: {ready: true}
- addresses: [198.18.12.2]
  conditions: {ready: true}
- addresses: [198.18.13.2]
  conditions: {ready: false}
EOF
}

file=$work/services.yaml
service web 198.19.0.10 >"$file"
"$kelp" proxy --from-file "$file" --dataplane none --data-dir "$work/data" \
	--node-ip 198.18.0.1 --listen 127.0.0.1:0 >"$work/proxy.log" 2>&1 &
pid=$!
if ! proxy_wait_port "$work/proxy.log"; then
	notok "kelp proxy starts and serves /metrics" "$(cat "$work/proxy.log")"
	tap_done
	exit 0
fi
ok "kelp proxy starts and serves /metrics"
url=http://127.0.0.1:$port

code=
for _ in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
	[[ $code == 200 ]] && break
	sleep 0.05
done
expect "/readyz is 200 once the file is programmed" "$code" 200
expect "one ClusterIP VIP compiled" "$(wait_metric kelp_proxy_service_vips 1)" 1
contains "the log says which executor and why" "$(cat "$work/proxy.log")" "none"
gen=$(metric kelp_proxy_table_generation)

# A NodePort service appended: its ClusterIP and one NodePort VIP on 198.18.0.1.
{ cat "$file"; service api 198.19.0.11 NodePort 30080; } >"$work/tmp" && cat "$work/tmp" >"$file"
expect "a change to the file is picked up (ClusterIP + NodePort)" "$(wait_metric kelp_proxy_service_vips 3)" 3
[[ $(metric kelp_proxy_table_generation) -gt $gen ]] && ok "the table generation moved on" ||
	notok "the table generation moved on"
count=$(metric kelp_proxy_network_programming_duration_seconds_count)
[[ ${count:-0} -ge 1 ]] && ok "network programming latency was observed ($count)" ||
	notok "network programming latency was observed" "count: $count"

# A broken file: nothing changes, the proxy says why and stays up.
gen=$(metric kelp_proxy_table_generation)
printf 'kind: Service\nmetadata: {name: [\n' >"$file"
sleep 0.3
expect "a file that does not parse changes nothing" "$(metric kelp_proxy_service_vips)" 3
expect "... not even the generation" "$(metric kelp_proxy_table_generation)" "$gen"
contains "... and the log says so" "$(cat "$work/proxy.log")" "does not parse"
kill -0 "$pid" && ok "the proxy is still up" || notok "the proxy is still up"

# Replaced by rename, as editors and kubelet-style writers do.
service api 198.19.0.11 NodePort 30080 >"$work/new.yaml"
mv "$work/new.yaml" "$file"
expect "a file replaced by rename is read (web removed)" "$(wait_metric kelp_proxy_service_vips 2)" 2

# An object the compiler refuses keeps its last version; the rest applies.
{ service api 198.19.0.11 NodePort 30080; service db 198.19.0.12; printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {clusterIP: 198.19.0.13, ports: "nope"}\n'; } >"$work/new.yaml"
mv "$work/new.yaml" "$file"
expect "a refused object does not stop the others" "$(wait_metric kelp_proxy_service_vips 3)" 3

kill -TERM "$pid"
wait "$pid"
expect "SIGTERM stops it with status 0" "$?" 0
pid=
tap_done
