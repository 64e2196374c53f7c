#!/usr/bin/env bash
# kelp up, driven as a user would: the real kubectl against its TLS
# endpoint, promtool on its metrics, signals to stop it. Prints TAP.
#   test_kelp_up.sh path/to/kelp
set -uo pipefail
kelp=$1
work=$(mktemp -d /tmp/kelp-it-up.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name" "command: $*"; fi; }
kc() { kubectl --kubeconfig "$work/data/kubeconfig" --cache-dir "$work/cache" --request-timeout=5s "$@"; }

# start: run kelp up on a free port and wait for its kubeconfig.
start() {
	rm -f "$work/data/kubeconfig"
	"$kelp" up --data-dir "$work/data" --listen 127.0.0.1:0 "$@" >"$work/up.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[[ -s $work/data/kubeconfig ]] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

stop() {
	kill -INT "$pid"
	local rc=0
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	wait "$pid" || rc=$?
	pid=
	return $rc
}

check "kelp --version names the Kubernetes API level" bash -c "'$kelp' --version | grep -q 'Kubernetes API v1.32'"
check "kelp help lists the up role" bash -c "'$kelp' help | grep -q '^  up '"
"$kelp" nosuchrole >/dev/null 2>"$work/err"; rc=$?
check "an unknown role exits 2 and says so" bash -c "[[ $rc == 2 ]] && grep -q 'unknown role \"nosuchrole\"' '$work/err'"
"$kelp" up --bogus >/dev/null 2>"$work/err"; rc=$?
check "an unknown option exits 2" test "$rc" = 2

if start; then ok "kelp up writes its kubeconfig once serving"; else notok "kelp up writes its kubeconfig once serving" "$(cat "$work/up.log")"; fi
check "the kubeconfig is private (0600)" test "$(stat -c %a "$work/data/kubeconfig")" = 600
check "the CA key is private (0600)" test "$(stat -c %a "$work/data/pki/ca.key")" = 600
check "kubectl reaches /healthz over TLS with the admin credentials" bash -c "[[ \$(kubectl --kubeconfig '$work/data/kubeconfig' --cache-dir '$work/cache' get --raw /healthz) == ok ]]"
check "kubectl version reports the server as v1.32" bash -c "kubectl --kubeconfig '$work/data/kubeconfig' --cache-dir '$work/cache' version 2>/dev/null | grep -q '^Server Version: v1.32'"
check "/readyz and /livez answer ok" bash -c "[[ \$(kubectl --kubeconfig '$work/data/kubeconfig' --cache-dir '$work/cache' get --raw /readyz)\$(kubectl --kubeconfig '$work/data/kubeconfig' --cache-dir '$work/cache' get --raw /livez) == okok ]]"
kc get --raw /metrics >"$work/metrics" 2>&1
if command -v promtool >/dev/null; then
	check "/metrics passes promtool check metrics" bash -c "promtool check metrics <'$work/metrics' >'$work/promtool.out' 2>&1"
else
	n=$((n + 1)); echo "ok $n - /metrics passes promtool check metrics # SKIP promtool is not installed"
fi
check "/metrics counts the requests it served" grep -q '^kelp_http_requests_total{method="GET"} [1-9]' "$work/metrics"
server=$(grep 'server:' "$work/data/kubeconfig" | awk '{print $2}')
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/data/pki/ca.crt" "$server/nonexistent")
check "an unknown path is 404" test "$code" = 404
check "a client that does not trust the cluster CA is refused" bash -c "! curl -s -o /dev/null '$server/healthz'"
cp "$work/data/pki/ca.crt" "$work/ca1.crt"
check "SIGINT stops kelp up cleanly (exit 0)" stop
check "the stop is logged" grep -q '"stopping" signal="Interrupt"' "$work/up.log"

start
check "a restart keeps the cluster CA" cmp -s "$work/ca1.crt" "$work/data/pki/ca.crt"
check "the restarted server answers" bash -c "[[ \$(kubectl --kubeconfig '$work/data/kubeconfig' --cache-dir '$work/cache' get --raw /healthz) == ok ]]"
port=$(grep 'server:' "$work/data/kubeconfig" | sed 's/.*://')
"$kelp" up --data-dir "$work/data2" --listen "127.0.0.1:$port" >"$work/busy.log" 2>&1; rc=$?
check "a busy port fails with a clear message" bash -c "[[ $rc != 0 ]] && grep -q 'cannot listen' '$work/busy.log' && grep -q 'Address already in use' '$work/busy.log'"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM stops it too" test "$rc" = 0
echo "1..$n"
