#!/usr/bin/env bash
# A second client: Debian's python3-kubernetes against `kelp server`
# (TLS, the admin kubeconfig). Prints TAP.
#   test_python_client.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/kelp-e2e-python.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if ! /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
	echo "1..0 # SKIP python3-kubernetes is not installed"
	exit 0
fi
"$kelp" server --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
	[[ -s $work/data/kubeconfig ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
if [[ ! -s $work/data/kubeconfig ]]; then
	echo "not ok 1 - kelp server comes up"
	sed 's/^/# /' "$work/server.log"
	echo "1..1"
	exit 0
fi
/usr/bin/python3 "$here/python_client.py" "$work/data/kubeconfig"
