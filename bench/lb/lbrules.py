"""bench/lb: the Services the benchmark balances, and the three forms they
take: a Kubernetes List for kelp proxy --from-file (and the API), the
nftables ruleset kube-proxy's nftables mode would write for them, and the
iptables-restore input of its iptables mode. Written from kube-proxy's
documented rule layout (service-ips verdict map, numgen vmap, per-endpoint
chains; KUBE-SERVICES -> KUBE-SVC-* -> KUBE-SEP-*), not copied from it."""
import base64
import hashlib
import json

POD_CIDR = "198.18.0.0/16"  # clients and endpoints ("pods")
SVC_CIDR = "198.19.0.0/16"  # ClusterIPs
BACKENDS = ["198.18.2.%d" % i for i in range(2, 12)]  # the tested Service's endpoints
PORT, TARGET = 80, 8080


def ip4(base, i):
    a = sum(int(x) << (24 - 8 * k) for k, x in enumerate(base.split("."))) + i
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def services(n, tested=None, protos=("UDP", "TCP"), large=False):
    """n Services "svc-i" in namespace bench, port 80 in each of protos to
    8080, 10 endpoints each; the tested one's are BACKENDS. ClusterIPs count
    up from 198.19.0.10 and endpoints from 198.18.64.0; with large (up to
    11,000 Services, nothing routed) as lb-compile-bench lays them out:
    ClusterIPs from 198.19.200.0, endpoints from 198.18.0.0."""
    vip_base, ep_base = ("198.19.200.0", "198.18.0.0") if large else ("198.19.0.10", "198.18.64.0")
    out = []
    for i in range(n):
        eps = BACKENDS if i == tested else [ip4(ep_base, i * 10 + k) for k in range(10)]
        out.append({"name": "svc-%d" % i, "vip": ip4(vip_base, i), "eps": eps,
                    "protos": [p.lower() for p in protos]})
    return out


def spare_endpoint(n, i):
    """An address no endpoint of services(n, large=True) has."""
    return ip4("198.18.0.0", n * 10 + i)


def kube_file(svcs):
    """The Services and EndpointSlices as one List (JSON) for --from-file."""
    items = []
    for s in svcs:
        ports = [{"name": p, "port": PORT, "protocol": p.upper(), "targetPort": TARGET}
                 for p in s["protos"]]
        items.append({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": s["name"], "namespace": "bench"},
                      "spec": {"type": "ClusterIP", "clusterIP": s["vip"], "clusterIPs": [s["vip"]],
                               "ports": ports}})
        items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": s["name"] + "-abcde", "namespace": "bench",
                                   "labels": {"kubernetes.io/service-name": s["name"]}},
                      "addressType": "IPv4",
                      "ports": [{"name": p, "port": TARGET, "protocol": p.upper()} for p in s["protos"]],
                      "endpoints": [{"addresses": [e], "conditions": {"ready": True},
                                     "nodeName": "node-1"} for e in s["eps"]]})
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, separators=(",", ":"))


def short_hash(text):
    """kube-proxy names chains after a hash of what they serve; any stable one will do."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def nft_rules(svcs):
    """The ruleset kube-proxy's nftables mode would write for svcs: the
    service-ips verdict map, a chain per service port choosing an endpoint
    chain by numgen, a chain per endpoint that DNATs; filter hooks that check
    new flows against the (empty) firewall and no-endpoint maps."""
    chains, elements = [], []
    for s in svcs:
        for proto in s["protos"]:
            sp = "bench/%s/%s/p%d" % (s["name"], proto, PORT)
            svc_chain = "service-%s-%s" % (short_hash(sp)[:8], sp)
            vmap = []
            for k, ep in enumerate(s["eps"]):
                ep_chain = "endpoint-%s-%s__%s/%d" % (short_hash(sp + ep)[:8], sp, ep, TARGET)
                chains.append("\tchain %s {\n\t\tip saddr %s jump mark-for-masquerade\n"
                              "\t\tmeta l4proto %s dnat to %s:%d\n\t}" % (ep_chain, ep, proto, ep, TARGET))
                vmap.append("%d : goto %s" % (k, ep_chain))
            chains.append("\tchain %s {\n\t\tip daddr %s %s dport %d ip saddr != %s jump mark-for-masquerade\n"
                          "\t\tnumgen random mod %d vmap { %s }\n\t}"
                          % (svc_chain, s["vip"], proto, PORT, POD_CIDR, len(vmap), ", ".join(vmap)))
            elements.append("%s . %s . %d : goto %s" % (s["vip"], proto, PORT, svc_chain))
    vips = ", ".join(sorted({s["vip"] for s in svcs}))
    return """table ip kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips { type ipv4_addr; comment "Active ClusterIPs"; elements = { %s } }
	set nodeport-ips { type ipv4_addr; comment "IPs that accept NodePort traffic"; }
	map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; comment "vmap to drop or reject packets to services with no endpoints"; }
	map no-endpoint-nodeports { type inet_proto . inet_service : verdict; comment "vmap to drop or reject packets to service nodeports with no endpoints"; }
	map firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment "destinations that are subject to LoadBalancerSourceRanges"; }
	map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"; elements = { %s } }
	map service-nodeports { type inet_proto . inet_service : verdict; comment "NodePort traffic"; }
	chain filter-prerouting { type filter hook prerouting priority -110; policy accept; ct state new jump firewall-check; }
	chain filter-input { type filter hook input priority -110; policy accept; ct state new jump nodeport-endpoints-check; ct state new jump service-endpoints-check; }
	chain filter-forward { type filter hook forward priority -110; policy accept; ct state new jump service-endpoints-check; ct state new jump cluster-ips-check; }
	chain filter-output { type filter hook output priority -110; policy accept; ct state new jump service-endpoints-check; ct state new jump firewall-check; }
	chain filter-output-post-dnat { type filter hook output priority -90; policy accept; ct state new jump cluster-ips-check; }
	chain nat-prerouting { type nat hook prerouting priority -100; policy accept; jump services; }
	chain nat-output { type nat hook output priority -100; policy accept; jump services; }
	chain nat-postrouting { type nat hook postrouting priority 100; policy accept; jump masquerading; }
	chain firewall-check { ip daddr . meta l4proto . th dport vmap @firewall-ips; }
	chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }
	chain nodeport-endpoints-check { ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports; }
	chain cluster-ips-check {
		ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
		ip daddr %s drop comment "Drop traffic to unallocated ClusterIPs"
	}
	chain masquerading { meta mark & 0x4000 == 0 return; meta mark set meta mark ^ 0x4000; masquerade fully-random; }
	chain mark-for-masquerade { meta mark set meta mark | 0x4000; }
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
	}
%s
}
""" % (vips, ", ".join(elements), SVC_CIDR, "\n".join(chains))


def iptables_rules(svcs):
    """iptables-restore input as kube-proxy's iptables mode writes it:
    KUBE-SERVICES matches each ClusterIP:port and jumps to KUBE-SVC-*, which
    picks a KUBE-SEP-* with -m statistic --mode random; KUBE-SEP-* DNATs."""
    nat_chains = [":KUBE-SERVICES", ":KUBE-POSTROUTING", ":KUBE-MARK-MASQ", ":KUBE-NODEPORTS"]
    nat = ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
           '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
           '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
           "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
           "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
           "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
           '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
           "-j MASQUERADE --random-fully"]
    svc_rules, per_svc = [], []
    for s in svcs:
        for proto in s["protos"]:
            name = "bench/%s:%s" % (s["name"], proto)
            svc = "KUBE-SVC-" + short_hash(name + proto)
            nat_chains.append(":" + svc)
            svc_rules.append('-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment "%s cluster IP" '
                             "-m %s --dport %d -j %s" % (s["vip"], proto, name, proto, PORT, svc))
            per_svc.append('-A %s ! -s %s -d %s/32 -p %s -m comment --comment "%s cluster IP" '
                           "-m %s --dport %d -j KUBE-MARK-MASQ"
                           % (svc, POD_CIDR, s["vip"], proto, name, proto, PORT))
            n = len(s["eps"])
            for k, ep in enumerate(s["eps"]):
                sep = "KUBE-SEP-" + short_hash(name + proto + ep)
                nat_chains.append(":" + sep)
                stat = ("-m statistic --mode random --probability %0.11f " % (1.0 / (n - k))
                        if k < n - 1 else "")
                per_svc.append('-A %s -m comment --comment "%s -> %s:%d" %s-j %s'
                               % (svc, name, ep, TARGET, stat, sep))
                per_svc.append('-A %s -s %s/32 -m comment --comment "%s" -j KUBE-MARK-MASQ'
                               % (sep, ep, name))
                per_svc.append('-A %s -p %s -m comment --comment "%s" -m %s -j DNAT '
                               "--to-destination %s:%d" % (sep, proto, name, proto, ep, TARGET))
    svc_rules.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this '
                     'must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    filt = ["*filter", ":KUBE-FIREWALL - [0:0]", ":KUBE-PROXY-FIREWALL - [0:0]",
            ":KUBE-SERVICES - [0:0]", ":KUBE-EXTERNAL-SERVICES - [0:0]", ":KUBE-FORWARD - [0:0]",
            ":KUBE-NODEPORTS - [0:0]",
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
            "-A INPUT -j KUBE-FIREWALL",
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            "-A OUTPUT -j KUBE-FIREWALL",
            '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" '
            "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
            "COMMIT"]
    nat_hdr = ["*nat"] + [c + " - [0:0]" for c in nat_chains]
    return "\n".join(filt + nat_hdr + nat + svc_rules + per_svc + ["COMMIT", ""])
