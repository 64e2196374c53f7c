#!/bin/sh
# The guest half of run_dsr.sh: builds the topology in network namespaces of
# this VM, starts kelp proxy in DSR mode and checks what clients and backends
# see. Each finding is one line "DSR_VM ok TEXT" or "DSR_VM not_ok TEXT"
# (details as "DSR_VM # TEXT"), the host turns them into TAP; the last line
# is "DSR_VM_VERDICT ok|fail". Runs under busybox sh, with iproute2's ip and
# tc, ethtool and kelp copied from the host.
#
#   client c  c0 198.18.1.2 ── n0 198.18.1.1  node n: kelp proxy, XDP on n0
#   backend i e0 198.18.1i.2 ── bi 198.18.1i.1      (i = 1..3)
#             dsr0: ipip from 198.18.1.1, the VIP on lo, httpd :80
#
# A VIP packet leaves n0's XDP program IPIP-encapsulated (outer source the
# node's --snat-address, outer destination the backend), dsr0 on the backend
# unwraps it, and the backend answers the client from the VIP, routed back
# by the node's plain forwarding: nothing of kelp sees a reply.
VIP=198.19.0.10
NODE=198.18.1.1
CLIENT=198.18.1.2
N=$(cat /requests)
PROXY_LOG=/tmp/proxy.log
failed=0
# busybox sh runs its own applets before PATH: this is iproute2's (and
# ip netns exec finds iproute2's ip and tc first in PATH).
ip() { /usr/sbin/ip "$@"; }

say() { echo "DSR_VM $*"; }
pass() { say "ok $*"; }
fail() {
	say "not_ok $*"
	failed=$((failed + 1))
}
diag() { sed 's/^/DSR_VM # /'; }
inn() {
	ns=$1
	shift
	ip netns exec "$ns" "$@"
}
finish() {
	if [ "$failed" -eq 0 ]; then echo "DSR_VM_VERDICT ok"; else echo "DSR_VM_VERDICT fail $failed"; fi
	exit 0
}
# counter NS IF STAT: an interface statistic inside a namespace.
counter() { inn "$1" cat "/sys/class/net/$2/statistics/$3"; }
# remember NS IF STAT, then delta NS IF STAT: how much it rose since.
remember() { counter "$@" >"/tmp/before.$1.$2.$3"; }
delta() { echo $(($(counter "$@") - $(cat "/tmp/before.$1.$2.$3"))); }
# answers_of I: the requests backend I answered.
answers_of() { grep -c "^backend $1 " /tmp/answers; }

# --- the topology ---
topology() {
	ip netns add c && ip netns add n || return 1
	ip link add c0 netns c type veth peer name n0 netns n || return 1
	inn c ip addr add $CLIENT/24 dev c0
	inn c ip link set c0 up
	inn c ip link set lo up
	# A veth sender hands over CHECKSUM_PARTIAL packets, which XDP cannot
	# complete; a NIC delivers whole checksums, so the client makes them.
	inn c ethtool -K c0 tx off >/dev/null || return 1
	inn c ip route add 198.19.0.0/16 via $NODE
	inn c ip route add 198.18.0.0/15 via $NODE
	inn n ip addr add $NODE/24 dev n0
	inn n ip link set n0 up
	inn n ip link set lo up
	inn n sysctl -qw net.ipv4.ip_forward=1
	for i in 1 2 3; do
		b=b$i
		ip netns add $b || return 1
		ip link add e0 netns $b type veth peer name $b netns n || return 1
		inn n ip addr add 198.18.1$i.1/24 dev $b
		inn n ip link set $b up
		inn $b ip addr add 198.18.1$i.2/24 dev e0
		inn $b ip link set e0 up
		inn $b ip link set lo up
		# XDP_REDIRECT into a veth is delivered only when its peer runs
		# NAPI: GRO on does that.
		inn $b ethtool -K e0 gro on >/dev/null || return 1
		inn $b ip route add default via 198.18.1$i.1
		# The VIP is the backend's own address: it answers from it.
		inn $b ip addr add $VIP/32 dev lo
		# A tunnel from the node's address only: its counters show both
		# outer addresses are the ones DSR promises.
		inn $b ip link add dsr0 type ipip local 198.18.1$i.2 remote $NODE || return 1
		inn $b ip link set dsr0 up
		# Decapsulated packets come from the client on dsr0 while the route
		# back to it is e0: strict reverse-path filtering would drop them.
		for k in all default e0 dsr0; do
			inn $b sysctl -qw net.ipv4.conf.$k.rp_filter=0
		done
		mkdir -p /www$i/cgi-bin
		cat >/www$i/cgi-bin/who <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "backend $i client \$REMOTE_ADDR"
EOF
		chmod +x /www$i/cgi-bin/who
		inn $b httpd -p 80 -h /www$i || return 1
		# The node learns its neighbours now, so XDP's FIB lookups find
		# them from the first request.
		inn n ping -c 1 -W 5 198.18.1$i.2 >/dev/null || return 1
	done
	inn c ping -c 1 -W 5 $NODE >/dev/null
}
if topology; then
	pass "a client, a node and three backends with ipip tunnels in their own namespaces"
else
	fail "the topology (network namespaces, veth, ipip)"
	ip -br link 2>&1 | diag
	finish
fi

# --- kelp proxy, DSR mode, XDP on the client side ---
inn n kelp proxy --from-file /services.yaml --dataplane xdp --dataplane-interfaces n0 \
	--lb-mode dsr --snat-address $NODE --data-dir /var/lib/kelp --listen 127.0.0.1:0 \
	--log-level debug >$PROXY_LOG 2>&1 &
proxy=$!
port=
t0=$(date +%s)
i=0
while [ $i -lt 1200 ]; do
	port=$(sed -n 's/.*serving.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' $PROXY_LOG | head -1)
	if [ -n "$port" ] && [ "$(inn n timeout 5 wget -q -O - "http://127.0.0.1:$port/readyz")" = ok ]; then
		break
	fi
	port=
	kill -0 $proxy 2>/dev/null || break
	usleep 100000
	i=$((i + 1))
done
if [ -n "$port" ] && grep '"executor" dataplane="xdp"' $PROXY_LOG | grep -q 'DSR mode'; then
	pass "kelp proxy is ready with the XDP executor in DSR mode ($(($(date +%s) - t0)) s)"
	grep -o 'why=.*' $PROXY_LOG | head -1 | diag
else
	fail "kelp proxy is ready with the XDP executor in DSR mode"
	# Without the verifier's instruction dump: its source lines and verdict.
	grep -v '^[0-9]*: (' $PROXY_LOG | tail -n 20 | diag
	finish
fi
case $(inn n ip link show n0) in
*xdp*) pass "n0 carries an XDP program" ;;
*) fail "n0 carries an XDP program" ;;
esac

metrics() { inn n timeout 5 wget -q -O - "http://127.0.0.1:$port/metrics"; }
service_counter() { # NAME: the TCP service counter of VIP:80
	metrics | awk -v m="$1" -v v="vip=\"$VIP:80/TCP\"" 'index($0, m "{") == 1 && index($0, v) { print $2 }'
}
pkts0=$(service_counter kelp_proxy_service_packets_total)
conns0=$(service_counter kelp_proxy_service_connections_total)
for i in 1 2 3; do
	remember b$i dsr0 rx_packets
	remember n b$i rx_packets
done

# --- N requests, each on a new connection (a new source port) ---
t0=$(date +%s)
inn c sh -c "i=0; while [ \$i -lt $N ]; do timeout 10 wget -q -O - http://$VIP/cgi-bin/who || echo failed; i=\$((i + 1)); done" >/tmp/answers 2>&1
t1=$(date +%s)
answered=$(grep -c '^backend [123] ' /tmp/answers)
if [ "$answered" -eq "$N" ]; then
	pass "all $N requests to $VIP:80 are answered ($((t1 - t0)) s)"
else
	fail "all $N requests to $VIP:80 are answered (only $answered)"
	grep -v '^backend' /tmp/answers | sort | uniq -c | head -5 | diag
	tail -n 10 $PROXY_LOG | diag
fi
c1=$(answers_of 1)
c2=$(answers_of 2)
c3=$(answers_of 3)
# Maglev over ephemeral source ports: N/3 each on average; N/6 is almost 4
# standard deviations below that for N = 120.
min=$((N / 6))
if [ "$c1" -ge $min ] && [ "$c2" -ge $min ] && [ "$c3" -ge $min ]; then
	pass "every backend answers a share (1: $c1, 2: $c2, 3: $c3; at least $min each)"
else
	fail "every backend answers a share (1: $c1, 2: $c2, 3: $c3; want at least $min each)"
fi
# httpd listens on an IPv6 socket: IPv4 clients appear as ::ffff:a.b.c.d.
sed -i 's/::ffff://; s/\[\(.*\)\]$/\1/' /tmp/answers
others=$(grep '^backend' /tmp/answers | grep -vc " client $CLIENT\$")
if [ "$answered" -gt 0 ] && [ "$others" -eq 0 ]; then
	pass "every backend saw the client's own address $CLIENT (no source NAT)"
else
	fail "every backend saw the client's own address $CLIENT (no source NAT)"
	grep '^backend' /tmp/answers | grep -v " client $CLIENT\$" | head -3 | diag
fi

# --- the packets went through the tunnel ---
low=
tun=
for i in 1 2 3; do
	d=$(delta b$i dsr0 rx_packets)
	tun="$tun $d"
	# A request is at least SYN, ACK with the request, ACK of the reply's
	# end: three packets from the client, each through the tunnel.
	[ "$d" -ge $((3 * $(answers_of $i))) ] && [ "$d" -gt 0 ] || low="$low b$i"
done
if [ -z "$low" ]; then
	pass "each backend's tunnel from $NODE carried its requests' packets (dsr0 rx:$tun)"
else
	fail "each backend's tunnel from $NODE carried its requests' packets (dsr0 rx:$tun; too few:$low)"
fi
pkts=$(service_counter kelp_proxy_service_packets_total)
conns=$(service_counter kelp_proxy_service_connections_total)
dp=$((${pkts:-0} - ${pkts0:-0}))
dc=$((${conns:-0} - ${conns0:-0}))
if [ "$dc" -ge "$N" ] && [ "$dp" -ge $((3 * N)) ]; then
	pass "the proxy's counters for $VIP:80 rose by the requests ($dc connections, $dp packets)"
else
	fail "the proxy's counters for $VIP:80 rose by the requests ($dc connections, $dp packets; want $N, $((3 * N)))"
	metrics | grep "vip=\"$VIP" | diag
fi

# --- the replies: from the VIP, straight back, untranslated ---
# Each backend's own TCP sockets are VIP:80 <-> the client: it answered from
# the VIP itself. busybox netstat prints "tcp 0 0 LOCAL FOREIGN STATE" (the
# addresses IPv4-mapped: httpd's socket is IPv6).
socks=
bad=0
for i in 1 2 3; do
	s=$(inn b$i netstat -tn | sed 's/::ffff://g' |
		awk -v l="$VIP:80" -v f="$CLIENT:" '$4 == l && index($5, f) == 1' | wc -l)
	socks="$socks $s"
	[ "$s" -gt 0 ] || bad=1
done
if [ $bad -eq 0 ]; then
	pass "the backends' connections are $VIP:80 <-> $CLIENT: they answered from the VIP (sockets:$socks)"
else
	fail "the backends' connections are $VIP:80 <-> $CLIENT (sockets:$socks)"
	for i in 1 2 3; do inn b$i netstat -tn | head -5 | diag; done
fi
# The replies cross the node through b1..b3, where kelp attached nothing:
# no XDP, no tc filter; DSR needs no return path.
progs=
low=
for i in 1 2 3; do
	case $(inn n ip link show b$i) in *xdp*) progs="$progs xdp(b$i)" ;; esac
	[ -n "$(inn n tc filter show dev b$i ingress)" ] && progs="$progs tc(b$i)"
	# At least the reply and the FIN of each answer.
	[ "$(delta n b$i rx_packets)" -ge $((2 * $(answers_of $i))) ] || low="$low b$i"
done
if [ -z "$progs" ] && [ -z "$low" ]; then
	pass "the replies came back through b1..b3, which carry no XDP or tc program"
else
	fail "the replies came back through b1..b3, which carry no XDP or tc program (programs:${progs:- none}; too few packets:${low:- none})"
fi

# --- one 5-tuple, one backend ---
# busybox's nc and wget cannot choose their source port; curl can.
ports_round() {
	inn c sh -c "for p in 41001 41002 41003 41004 41005 41006 41007 41008; do
		curl -s -m 10 --local-port \$p http://$VIP/cgi-bin/who | grep -o '^backend [0-9]' | tr '\n' ' '
		echo \$p
	done"
}
r1=$(ports_round)
r2=$(ports_round)
if [ "$(echo "$r1" | grep -c '^backend')" -eq 8 ] && [ "$r1" = "$r2" ]; then
	pass "the same 5-tuple reaches the same backend ($(echo "$r1" | cut -c9 | tr -d '\n'))"
else
	fail "the same 5-tuple reaches the same backend"
	echo "$r1" | diag
	echo "$r2" | diag
fi

kill $proxy 2>/dev/null
finish
