#!/usr/bin/env bash
# kelp proxy's XDP load balancer on the addresses a Service is reached by from
# outside the cluster: NodePorts on the node's address (--node-ip),
# externalIPs and LoadBalancer ingress IPs, with real TCP and UDP from a client
# namespace through the node namespace to three backends (the topology of
# tests/lib/kelp_proxy.sh):
#
#   client 198.18.1.2 ── 198.18.1.1 node (kelp proxy, --node-ip 198.18.1.1,
#                                         --node-name kn-node; 198.18.1.3 is
#                                         an address of the node's too, not
#                                         named by --node-ip)
#   backends 198.18.1i.2, i = 1..3: busybox httpd :8080, UDP echo :8080
#
# externalTrafficPolicy: Local is checked as Kubernetes specifies it: the
# NodePort reaches only the endpoints on this node (none: the packet is
# dropped, never sent to another node's), the client's address reaches the
# backend, and the ClusterIP (internalTrafficPolicy Cluster) reaches all.
# NodePort replies leave with the node's address under the kernel's default
# sysctls (accept_local off). Then the same proxy in full-NAT mode with no
# neighbour entries to start from, and with a fixed next hop (--lb-next-hop)
# to a backend the node has no route to. Prints TAP.
#   test_proxy_nodeport.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_proxy.sh"
tag=knp$$
work=$(mktemp -d /tmp/kelp-proxy-nodeport.XXXXXX)
pid=
pids=()
NODE_IP=198.18.1.1
OTHER_IP=198.18.1.3 # the node's as well, but not a --node-ip
EXT_IP=198.18.200.10
LB_IP=198.18.200.20
LB_PROXY_IP=198.18.200.21 # an ingress with ipMode Proxy

trap 'netns_end $tag 3' EXIT

# --- the topology ---
netns_begin $tag 3 "$work"
inn $nsn ip addr add $OTHER_IP/24 dev n0
for i in 1 2 3; do # a page that shows the address the backend sees the client at
	mkdir -p "$work/www$i/cgi-bin"
	cat >"$work/www$i/cgi-bin/peer" <<'EOF'
#!/bin/sh
a=${REMOTE_ADDR#[}; a=${a%]}
printf 'Content-Type: text/plain\r\n\r\n%s\n' "${a#::ffff:}"
EOF
	chmod +x "$work/www$i/cgi-bin/peer"
done
ok "three backends, a node with two addresses and a client in their own namespaces"

# --- the Services ---
# service NAME IP TYPE PORTS SPEC STATUS ENDPOINT...: a Service with ClusterIP
# 198.19.0.IP (SPEC, STATUS: more of them, in YAML's flow style) and its
# EndpointSlice: ports http (TCP) and udp on 8080 of ENDPOINTs I[@NODE].
service() {
	printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\n' "$1"
	printf 'spec: {type: %s, clusterIP: 198.19.0.%s, ports: [%s]%s}\nstatus: {%s}\n' \
		"$3" "$2" "$4" "${5:+, $5}" "$6"
	printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n'
	printf 'metadata: {name: %s-1, namespace: default, labels: {kubernetes.io/service-name: %s}}\n' \
		"$1" "$1"
	printf 'ports: [{name: http, port: 8080, protocol: TCP}, {name: udp, port: 8080, protocol: UDP}]\n'
	printf 'endpoints:\n%s\n' "$(backend_endpoints "${@:7}")"
}
svc_port() { # NAME PROTO [NODEPORT]: a Service port 80 to the endpoints' NAME
	echo "{name: $1, port: 80, protocol: $2, targetPort: 8080${3:+, nodePort: $3}}"
}
local_etp="externalTrafficPolicy: Local"
{
	service web 10 NodePort "$(svc_port http TCP 30080), $(svc_port udp UDP 30080)" "" "" 1 2 3
	service local 11 NodePort "$(svc_port http TCP 30081)" "$local_etp" "" 1@kn-node 2@kn-node 3@kn-other
	service remote 12 NodePort "$(svc_port http TCP 30082)" "$local_etp" "" 3@kn-other
	service ext 13 ClusterIP "$(svc_port http TCP)" "externalIPs: [$EXT_IP]" "" 1 2 3
	service lb 14 LoadBalancer "$(svc_port http TCP 30084)" "" \
		"loadBalancer: {ingress: [{ip: $LB_IP}, {ip: $LB_PROXY_IP, ipMode: Proxy}]}" 1 2 3
	service one 15 ClusterIP "$(svc_port http TCP)" "" "" 1
} >"$work/services.yaml"

if ! proxy_start $nsn "$work/proxy.log" --from-file "$work/services.yaml" \
	--dataplane xdp --dataplane-interfaces n0,b1,b2,b3 \
	--node-ip $NODE_IP --node-name kn-node --data-dir "$work/data" --log-level debug; then
	notok "kelp proxy comes up with the XDP executor and --node-ip" "$(tail -30 "$work/proxy.log")"
	tap_done
	exit 0
fi
ok "kelp proxy comes up with the XDP executor and --node-ip"

# --- a NodePort on the node's address ---
# A reply gets the node's own address back as its source in tc ingress on
# the backend's interface; handed to the kernel's input routing it would be
# dropped as a martian (fib_validate_source) unless accept_local were on, so
# kelp sends it out itself. The kernel's defaults are kept to show it.
inn $nsn sysctl -qw net.ipv4.conf.all.accept_local=0 \
	net.ipv4.conf.b1.accept_local=0 net.ipv4.conf.b2.accept_local=0 net.ipv4.conf.b3.accept_local=0
first_answer "the NodePort" $NODE_IP:30080
conns0=$(service_counter kelp_proxy_service_connections_total $NODE_IP:30080/TCP)
pkts0=$(service_counter kelp_proxy_service_packets_total $NODE_IP:30080/TCP)
N=300
res=$(from_client many $N $NODE_IP 30080)
expect "every one of $N requests to the NodePort is answered, by all 3 backends ($res)" \
	"$(answered_by "$res" 1 2 3)" ok
conns=$(service_counter kelp_proxy_service_connections_total $NODE_IP:30080/TCP)
pkts=$(service_counter kelp_proxy_service_packets_total $NODE_IP:30080/TCP)
# A client port reused while its 5-tuple is still in conntrack continues that
# entry, so allow 1% of those.
[[ $((conns - conns0)) -le $N && $((conns - conns0)) -ge $((N * 99 / 100)) ]] &&
	ok "the NodePort's connections counter rose by the $N requests ($((conns - conns0)))" ||
	notok "the NodePort's connections counter rose by the $N requests" "before $conns0, after $conns"
[[ $((pkts - pkts0)) -ge $((3 * N)) ]] && ok "its packets counter rose with them ($((pkts - pkts0)))" ||
	notok "its packets counter rose with them" "before $pkts0, after $pkts"
expect "nothing listens on the node port in the node" "$(inn $nsn ss -Hltnu | grep -c ':3008[0-9]\b')" 0
rules=$( (inn $nsn nft list ruleset 2>/dev/null; inn $nsn iptables-save 2>/dev/null) | grep -c '3008[0-9]')
expect "no nftables or iptables rule names a node port" "$rules" 0

res=$(from_client udp 30 $NODE_IP 30080)
expect "UDP to the NodePort is answered by all 3 backends ($res)" "$(answered_by "$res" 1 2 3)" ok
contains "... with the node's address as the replies' source" "$res" "\"sources\": [\"$NODE_IP\"]"

out=$(inn $nsc curl -s -m 1 "http://$OTHER_IP:30080/")
expect "a node port on an address not given with --node-ip goes to the kernel, which refuses it" \
	"$? ${out:-nothing}" "7 nothing"

# --- externalTrafficPolicy: Local ---
res=$(from_client many 90 $NODE_IP 30081)
expect "a Local NodePort reaches only the endpoints on this node (1 and 2 of 3) ($res)" \
	"$(answered_by "$res" 1 2)" ok
expect "... and the backend sees the client's own address" \
	"$(inn $nsc curl -s -m 3 "http://$NODE_IP:30081/cgi-bin/peer")" 198.18.1.2
res=$(from_client many 90 198.19.0.11 80)
expect "the same Service's ClusterIP (internalTrafficPolicy Cluster) reaches all 3 ($res)" \
	"$(answered_by "$res" 1 2 3)" ok
nb0=$(service_counter kelp_proxy_service_no_backend_total $NODE_IP:30082/TCP)
out=$(inn $nsc curl -s -m 1 "http://$NODE_IP:30082/")
expect "a Local NodePort with no endpoint on this node drops, not sent to another node's" \
	"$? ${out:-nothing}" "28 nothing"
nb=$(service_counter kelp_proxy_service_no_backend_total $NODE_IP:30082/TCP)
[[ ${nb:-0} -gt ${nb0:-0} ]] && ok "... counted as no backend ($nb0 -> $nb)" ||
	notok "... counted as no backend" "before '$nb0', after '$nb'"
res=$(from_client many 30 198.19.0.12 80)
expect "... while its ClusterIP reaches the other node's endpoint ($res)" "$(answered_by "$res" 3)" ok

# --- externalIPs and LoadBalancer ingress ---
res=$(from_client many 60 $EXT_IP 80)
expect "an externalIP reaches all 3 backends ($res)" "$(answered_by "$res" 1 2 3)" ok
res=$(from_client many 60 $LB_IP 80)
expect "a LoadBalancer ingress IP reaches all 3 backends ($res)" "$(answered_by "$res" 1 2 3)" ok
res=$(from_client many 60 $NODE_IP 30084)
expect "... and so does the LoadBalancer Service's NodePort ($res)" "$(answered_by "$res" 1 2 3)" ok
out=$(inn $nsc curl -s -m 1 "http://$LB_PROXY_IP/")
[[ $? -ne 0 && -z $out ]] && ok "an ingress IP with ipMode Proxy is left to the load balancer (not balanced)" ||
	notok "an ingress IP with ipMode Proxy is left to the load balancer" "got '$out'"
expect "nothing listens on the external addresses" "$(inn $nsn ss -Hltnu | grep -c '198\.18\.200\.')" 0

# --- full-NAT: the backends see the node, and no neighbour entry is needed first ---
# With no neighbour for a backend, xdp_lb hands the rewritten packet (its
# source now the node's own address) to the kernel to resolve one.
kill "$pid" && wait "$pid" 2>/dev/null
pid=
inn $nsn ip neigh flush all
if proxy_start $nsn "$work/proxy.log" --from-file "$work/services.yaml" \
	--dataplane xdp --dataplane-interfaces n0,b1,b2,b3 --lb-mode fullnat --snat-address $NODE_IP \
	--node-ip $NODE_IP --node-name kn-node --data-dir "$work/data" --log-level debug; then
	ok "the proxy restarts in full-NAT mode"
else
	notok "the proxy restarts in full-NAT mode" "$(tail -20 "$work/proxy.log")"
fi
expect "... with accept_local on its interfaces" "$(inn $nsn sysctl -n net.ipv4.conf.n0.accept_local)" 1
res=$(from_client many 60 198.19.0.10 80)
expect "full-NAT: a ClusterIP reaches all 3 backends, none of them a neighbour before ($res)" \
	"$(answered_by "$res" 1 2 3)" ok
res=$(from_client many 60 $NODE_IP 30080)
expect "full-NAT: the NodePort too ($res)" "$(answered_by "$res" 1 2 3)" ok
expect "full-NAT: the backend sees the node's address, not the client's" \
	"$(inn $nsc curl -s -m 3 "http://198.19.0.10/cgi-bin/peer")" $NODE_IP

# --- a fixed next hop: no FIB lookup, so no route to the backend is needed ---
# Service "one" has backend 1 only; the node forgets its route to it.
kill "$pid" && wait "$pid" 2>/dev/null
pid=
mac1=$(inn $tag-b1 cat /sys/class/net/e0/address)
inn $nsn ip route del 198.18.11.0/24 dev b1
if proxy_start $nsn "$work/proxy.log" --from-file "$work/services.yaml" \
	--dataplane xdp --dataplane-interfaces n0,b1,b2,b3 --lb-next-hop b1,$mac1 \
	--node-ip $NODE_IP --node-name kn-node --data-dir "$work/data" --log-level debug; then
	ok "the proxy restarts with --lb-next-hop b1,$mac1"
else
	notok "the proxy restarts with --lb-next-hop b1,$mac1" "$(tail -20 "$work/proxy.log")"
fi
contains "... and logs it" "$(grep "why=" "$work/proxy.log" | tail -1)" "next hop $mac1 on b1"
res=$(from_client many 30 198.19.0.15 80)
expect "every request goes out of b1 to backend 1 though the node has no route to it ($res)" \
	"$(answered_by "$res" 1)" ok
kill "$pid" && wait "$pid" 2>/dev/null
pid=
out=$(nsenter --net=/run/netns/$nsn "$kelp" proxy --from-file "$work/services.yaml" --dataplane xdp \
	--dataplane-interfaces n0 --lb-next-hop nosuchif0,$mac1 --data-dir "$work/data" \
	--listen 127.0.0.1:0 2>&1)
expect "an unknown next-hop interface stops the proxy (exit 1)" "$?" 1
contains "... saying which" "$out" "next-hop interface nosuchif0"

# --- a bigger ring map: the table's three maps are made afresh together ---
inn $nsn ip route add 198.18.11.0/24 dev b1
if proxy_start $nsn "$work/proxy.log" --from-file "$work/services.yaml" \
	--dataplane xdp --dataplane-interfaces n0,b1,b2,b3 --lb-map-sizes ring-slots=2097152 \
	--node-ip $NODE_IP --node-name kn-node --data-dir "$work/data" --log-level debug; then
	ok "the proxy restarts with another ring map size"
else
	notok "the proxy restarts with another ring map size" "$(tail -20 "$work/proxy.log")"
fi
why=$(grep "why=" "$work/proxy.log" | tail -1)
replaced=0
for m in lb_services lb_backends lb_rings; do [[ $why == *"replaced pinned map $m "* ]] && replaced=$((replaced + 1)); done
expect "... which replaces lb_rings and with it lb_services and lb_backends" "$replaced" 3
res=$(from_client many 60 198.19.0.10 80)
expect "... and balances over the new maps ($res)" "$(answered_by "$res" 1 2 3)" ok
tap_done
