# Helpers for shell tests of `kelp proxy` started on 127.0.0.1:0 with its log
# in a file. After
#   proxy_wait_port LOG && url=http://127.0.0.1:$port
# (or proxy_start, below, in a network namespace) scrape, metric NAME and
# wait_metric NAME VALUE read its /metrics.

# Wait (5 s at most) for the proxy's "serving" log line; port= its port.
proxy_wait_port() {
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*serving.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	return 1
}

# In the network namespace proxy_ns, when proxy_start set it.
scrape() { ${proxy_ns:+nsenter --net=/run/netns/$proxy_ns} curl -s "$url/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }

# wait_metric NAME VALUE: until the gauge reads VALUE (10 s at most); prints
# the last value read.
wait_metric() {
	local v
	for _ in $(seq 200); do
		v=$(metric "$1")
		[[ $v == "$2" ]] && break
		sleep 0.05
	done
	echo "$v"
}

# ---- kelp proxy in a node namespace, between a client and backends ----------
# The topology of the tests that send real traffic through a packet executor
# (TAG: a prefix of the test's own, such as kp$$):
#
#   client TAG-c   c0 198.18.1.2 ── n0 198.18.1.1    node TAG-n (forwarding)
#   backend TAG-bi e0 198.18.1i.2 ── bi 198.18.1i.1  (in the node), i = 1..n
#
# The client routes 198.18.0.0/16 and 198.19.0.0/16 through the node.
# Backend i serves "backend i" with busybox httpd on TCP 8080 (files from
# WORK/wwwi) and echoes it on UDP 8080; the servers' pids go into the array
# pids, for the caller's cleanup to kill. netns_remove TAG N removes it all.
# from_client runs tests/dataplane/lbclient.py in the client.

lbclient=$(cd "$(dirname "${BASH_SOURCE[0]}")/../dataplane" && pwd)/lbclient.py
from_client() { inn "$nsc" /usr/bin/python3 "$lbclient" "$@"; } # lbclient.py ARGS in TAG-c

inn() { # NS cmd...: run cmd in network namespace NS
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

netns_topology() { # TAG N WORK
	local tag=$1 n=$2 work=$3 i ns
	ip netns add "$tag-c" && ip netns add "$tag-n" || return 1
	ip link add c0 netns "$tag-c" type veth peer name n0 netns "$tag-n"
	inn "$tag-c" ip addr add 198.18.1.2/24 dev c0
	inn "$tag-n" ip addr add 198.18.1.1/24 dev n0
	inn "$tag-c" ip link set c0 up
	# A veth sender hands over CHECKSUM_PARTIAL packets (the TCP checksum
	# field holds only the pseudo-header sum) and XDP cannot see that; a NIC
	# delivers complete checksums, so the client computes them as a remote
	# host would.
	inn "$tag-c" ethtool -K c0 tx off >/dev/null
	inn "$tag-c" ip link set lo up
	inn "$tag-n" ip link set n0 up
	inn "$tag-n" ip link set lo up
	inn "$tag-c" ip route add 198.19.0.0/16 via 198.18.1.1
	inn "$tag-c" ip route add 198.18.0.0/16 via 198.18.1.1
	inn "$tag-n" sysctl -qw net.ipv4.ip_forward=1
	for i in $(seq "$n"); do
		ns=$tag-b$i
		ip netns add "$ns" || return 1
		ip link add e0 netns "$ns" type veth peer name b$i netns "$tag-n"
		inn "$ns" ip addr add 198.18.1$i.2/24 dev e0
		inn "$ns" ip link set e0 up
		# XDP_REDIRECT into a veth is delivered only when its peer runs
		# NAPI (GRO on, or an XDP program there); a NIC always can transmit it.
		inn "$ns" ethtool -K e0 gro on tx off >/dev/null
		inn "$ns" ip link set lo up
		inn "$ns" ip route add default via 198.18.1$i.1
		inn "$tag-n" ip addr add 198.18.1$i.1/24 dev b$i
		inn "$tag-n" ip link set b$i up
		mkdir -p "$work/www$i"
		echo "backend $i" >"$work/www$i/index.html"
		# ip netns exec itself, not inn: $! must be the server
		ip netns exec "$ns" busybox httpd -f -p 8080 -h "$work/www$i" &
		pids+=($!)
		ip netns exec "$ns" /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 8080))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b'backend $i', a)
" &
		pids+=($!)
	done
}

netns_remove() { # TAG N
	local ns
	for ns in "$1-c" "$1-n" $(seq -f "$1-b%g" "$2"); do ip netns del "$ns" 2>/dev/null; done
}

# netns_begin TAG N WORK: netns_topology, with nsc= and nsn= the client's and
# the node's namespaces; or the TAP that says why not, and exit: without root
# a skip, a failure when the namespaces cannot be made.
netns_begin() {
	nsc=$1-c nsn=$1-n
	if [[ $(id -u) -ne 0 ]]; then
		echo "1..0 # SKIP needs root (network namespaces, BPF)"
		exit 0
	fi
	netns_topology "$@" || { notok "network namespaces"; tap_done; exit 0; }
}

# netns_end TAG N: for the test's exit trap: stops the proxy ($pid) and the
# servers (pids), removes what the proxy left in the kernel (proxy --cleanup
# on $work/data), the namespaces and $work.
netns_end() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	"$kelp" proxy --cleanup --data-dir "$work/data" >/dev/null 2>&1
	netns_remove "$1" "$2"
	rm -rf "$work"
}

# backend_endpoints I[@NODE]...: EndpointSlice endpoints (YAML) for backends
# I, ready, and with nodeName NODE where one is given.
backend_endpoints() {
	local e
	for e in "$@"; do
		printf -- '- addresses: [198.18.1%s.2]\n  conditions: {ready: true}\n' "${e%%@*}"
		if [[ $e == *@* ]]; then printf '  nodeName: %s\n' "${e#*@}"; fi
	done
}

# proxy_start NS LOG ARGS...: kelp proxy ($kelp) with ARGS in network
# namespace NS, serving on 127.0.0.1:0 there, its output added to LOG.
# Returns once its /readyz says ok (10 s at most) with pid= its pid and
# port= and url= its address; scrape, metric and service_counter then read
# its /metrics in NS.
proxy_start() {
	proxy_ns=$1 proxy_log=$2
	shift 2
	nsenter --net=/run/netns/$proxy_ns "$kelp" proxy "$@" --listen 127.0.0.1:0 >>"$proxy_log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		port=$(grep serving "$proxy_log" | tail -1 | sed -n 's/.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p')
		url=http://127.0.0.1:$port
		if [[ -n $port ]] && [[ $(nsenter --net=/run/netns/$proxy_ns curl -s "$url/readyz") == ok ]]; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# first_answer WHAT HOST[:PORT]: ok when a first request from the client to
# http://HOST[:PORT]/ is answered by a backend; else not ok, with what the
# node has attached and the proxy's last words, then the plan, and exit.
first_answer() {
	local got
	got=$(inn "$nsc" curl -s -m 3 "http://$2/")
	if [[ $got != "backend "* ]]; then
		notok "a first request to $1 is answered" \
			"got '$got'; $(inn "$nsn" bpftool net 2>&1 | head -12); $(tail -5 "$proxy_log")"
		tap_done
		exit 0
	fi
	ok "a first request to $1 is answered ($got)"
}

# service_counter NAME VIP: the per-service counter NAME of VIP (as the
# metric's label spells it: 198.19.0.10:80/TCP).
service_counter() {
	scrape | awk -v m="$1" -v v="vip=\"$2\"" 'index($0, m "{") == 1 && index($0, v) { print $2 }'
}

# answered_by COUNTS I...: "ok" when lbclient.py's COUNTS hold no error and
# answers from backends I... and from no other one; else COUNTS.
answered_by() {
	/usr/bin/python3 -c '
import json, sys
c = json.loads(sys.argv[1])
got = {k for k, v in c.items() if k.startswith("backend ") and v}
want = {"backend " + i for i in sys.argv[2:]}
print("ok" if c.get("errors") == 0 and got == want else sys.argv[1])' "$@"
}
