#!/usr/bin/env bash
# A second client: Debian's python3-kubernetes against `kelp server`
# (TLS, the admin kubeconfig). Prints TAP.
#   test_python_client.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/kelp_server.sh" python

if ! /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
	echo "1..0 # SKIP python3-kubernetes is not installed"
	exit 0
fi
if ! kelp_server_start; then
	echo "not ok 1 - kelp server comes up"
	sed 's/^/# /' "$work/server.log"
	echo "1..1"
	exit 0
fi
/usr/bin/python3 "$here/python_client.py" "$work/data/kubeconfig"
