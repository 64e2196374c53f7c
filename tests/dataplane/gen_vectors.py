#!/usr/bin/env python3
"""Writes tests/dataplane/vectors.txt: the load balancer's packet vectors.

The frames are built here from their fields, and the expected results come
from Model, a small load balancer written from the rules in
dataplane/lbtable/lb_path.h and bpf/lb_maps.h rather than from their code:
rewritten frames are rebuilt from scratch (checksums computed whole), so an
executor's incremental checksum updates are checked byte for byte.

    python3 tests/dataplane/gen_vectors.py > tests/dataplane/vectors.txt
"""
import ipaddress
import struct
import sys

M32 = 0xFFFFFFFF
MAC_DST = bytes.fromhex("020000000001")
MAC_SRC = bytes.fromhex("020000000002")


# ---- bytes -------------------------------------------------------------------------

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def crc32c(b):
    crc = M32
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return ~crc & M32


def addr(a):
    return ipaddress.ip_address(a).packed


def is4(a):
    return ipaddress.ip_address(a).version == 4


def lb_addr(a):
    """The 16 bytes of struct lb_addr: IPv4 as ::ffff:a.b.c.d."""
    p = addr(a)
    return b"\0" * 10 + b"\xff\xff" + p if len(p) == 4 else p


def rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def murmur3(data):
    h = 0
    for i in range(0, len(data), 4):
        k = struct.unpack("<I", data[i:i + 4])[0]
        k = rotl((k * 0xCC9E2D51) & M32, 15)
        k = (k * 0x1B873593) & M32
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def flow_hash(f):
    s, d, sp, dp, pr = f
    return murmur3(lb_addr(s) + lb_addr(d) + struct.pack("!HHB", sp, dp, pr) + b"\0\0\0")


# ---- packets -----------------------------------------------------------------------
# A packet is a dict: src, dst, proto, sport, dport, payload, vlans, and
# optionally opts (IPv4 options), exts (IPv6 extension headers), frag
# (id, piece index, piece size), icmp (type, code, quoted packet, quoted length),
# df, tos, udp_zero, raw (ready bytes).

def l4(p, src, dst):
    pr, pay = p["proto"], p.get("payload", b"")
    v4 = is4(src)
    if pr == 6:
        h = struct.pack("!HHIIBBHHH", p["sport"], p["dport"], 1, 0, 5 << 4, p.get("tcp_flags", 0x02),
                        65535, 0, 0)
        seg = h + pay
        ck = csum(pseudo(src, dst, 6, len(seg)) + seg)
        return seg[:16] + struct.pack("!H", ck) + seg[18:]
    if pr == 17:
        seg = struct.pack("!HHHH", p["sport"], p["dport"], 8 + len(pay), 0) + pay
        if p.get("udp_zero") and v4:
            return seg
        ck = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
        return seg[:6] + struct.pack("!H", ck) + seg[8:]
    if pr == 132:
        seg = struct.pack("!HHII", p["sport"], p["dport"], 0x1234, 0) + pay
        c = crc32c(seg)
        return seg[:8] + struct.pack("<I", c) + seg[12:]
    if pr in (1, 58):
        t, code, q, qlen = p["icmp"]
        quoted = ip_packet(q)[:qlen]
        body = struct.pack("!BBHI", t, code, 0, 1400 if t in (3, 2) else 0) + quoted
        ph = pseudo(src, dst, 58, len(body)) if pr == 58 else b""
        return body[:2] + struct.pack("!H", csum(ph + body)) + body[4:]
    raise ValueError(pr)


def pseudo(src, dst, proto, n):
    if is4(src):
        return addr(src) + addr(dst) + struct.pack("!BBH", 0, proto, n)
    return addr(src) + addr(dst) + struct.pack("!IxxxB", n, proto)


def ip4_hdr(p, proto, plen, frag_field=None):
    opts = p.get("opts", b"")
    ihl = 5 + len(opts) // 4
    ff = frag_field if frag_field is not None else (0x4000 if p.get("df", True) else 0)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, p.get("tos", 0), 4 * ihl + plen,
                    p.get("id", 0x1234), ff, 64, proto, 0, addr(p["src"]), addr(p["dst"])) + opts
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def ip6_hdr(p, nh, plen):
    return struct.pack("!IHBB16s16s", 0x60000000 | (p.get("tos", 0) << 20), plen, nh, 64,
                       addr(p["src"]), addr(p["dst"]))


def ext_chain(exts, last):
    """IPv6 extension headers [(type, body)], the last one pointing at last."""
    out = b""
    for i, (t, body) in enumerate(exts):
        nh = exts[i + 1][0] if i + 1 < len(exts) else last
        if t == 44:
            out += struct.pack("!BB", nh, 0) + body
        else:
            n = (2 + len(body) + 7) // 8 * 8
            out += struct.pack("!BB", nh, n // 8 - 1) + body + b"\0" * (n - 2 - len(body))
    return out


def ip_packet(p):
    """The IP datagram of p (fragments: the piece named by p['frag'])."""
    if "raw_ip" in p:
        return p["raw_ip"]
    seg = l4(p, p["src"], p["dst"])
    frag = p.get("frag")
    if frag:
        fid, idx, size = frag
        piece = seg[idx * size:(idx + 1) * size]
        more = (idx + 1) * size < len(seg)
        if is4(p["src"]):
            return ip4_hdr(p, p["proto"], len(piece), (idx * size // 8) | (0x2000 if more else 0)) + piece
        fh = struct.pack("!HI", (idx * size // 8) << 3 | (1 if more else 0), fid)
        exts = p.get("exts", []) + [(44, fh)]
        x = ext_chain(exts, p["proto"])
        return ip6_hdr(p, exts[0][0], len(x) + len(piece)) + x + piece
    if is4(p["src"]):
        return ip4_hdr(p, p["proto"], len(seg)) + seg
    exts = p.get("exts", [])
    x = ext_chain(exts, p["proto"])
    return ip6_hdr(p, exts[0][0] if exts else p["proto"], len(x) + len(seg)) + x + seg


def l2(p, ethertype):
    h = MAC_DST + MAC_SRC
    for tpid, vid in p.get("vlans", []):
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", ethertype)


def frame(p):
    if "raw" in p:
        return p["raw"]
    ip = ip_packet(p)
    f = l2(p, 0x0800 if is4(p["src"]) else 0x86DD) + ip
    return f + b"\0" * (p.get("pad", 0))


def encap(p, outer_src, outer_dst, fhash):
    """DSR: the frame with an outer IPIP / IPv6-in-IPv6 header after L2."""
    ip = ip_packet(p)
    if is4(outer_src):
        df = 0x4000 if p.get("df", True) else 0
        h = struct.pack("!BBHHHBBH4s4s", 0x45, p.get("tos", 0), 20 + len(ip), 0, df, 64, 4, 0,
                        addr(outer_src), addr(outer_dst))
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    else:
        h = struct.pack("!IHBB16s16s", 0x60000000 | (p.get("tos", 0) << 20) | (fhash & 0xFFFFF),
                        len(ip), 41, 64, addr(outer_src), addr(outer_dst))
    return l2(p, 0x0800 if is4(outer_src) else 0x86DD) + h + ip + b"\0" * p.get("pad", 0)


# ---- the model ---------------------------------------------------------------------

class Model:
    def __init__(self):
        self.backends = {}   # idx -> (addr, port, id)
        self.services = {}   # (vip, port, proto) -> dict(id, ring, affinity, off)
        self.arena = 0
        self.mode, self.snat = "dnat", {}
        self.ct, self.frag, self.aff = {}, {}, {}
        self.now = 0
        self.counters = {}

    def live(self, idx, bid):
        b = self.backends.get(idx)
        return b if b and b[2] == bid and bid else None

    def count(self, sid, nbytes, new=False, nob=False):
        c = self.counters.setdefault(sid, [0, 0, 0, 0])
        if nob:
            c[3] += 1
            return
        c[0] += 1
        c[1] += nbytes
        c[2] += int(new)

    def forward(self, p):
        """(verdict, out frame or None, backend idx or None)"""
        f = (p["src"], p["dst"], p.get("sport", 0), p.get("dport", 0), p["proto"])
        length = len(ip_packet(p))
        if p.get("frag") and p["frag"][1] > 0:
            key = (p["src"], p["dst"], p["frag"][0], p["proto"])
            fv = self.frag.get(key)
            if not fv or not self.live(fv[0], fv[1]):
                return "pass", None, None
            idx, bid, sid, mode, t = fv
            self.count(sid, length)
            return "fwd", self.apply(p, mode, idx, t), idx
        if p["proto"] in (1, 58):
            q = p["icmp"][2]
            f = (q["dst"], q["src"], q["dport"], q["sport"], q["proto"])
        # conntrack first: a known flow whose backend lives keeps the
        # service id and mode it started with, whatever the VIP is now
        ct = self.ct.get(f)
        be = svc = None
        if p["proto"] == 6 and p.get("tcp_flags", 0x02) & 0x12 == 0x02:
            # a SYN: its VIP must be one now, and the entry that Service's
            svc = self.services.get((f[1], f[3], f[4]))
            if not svc:
                return "pass", None, None
            if ct and ct.get("sid") != svc["id"]:
                ct = None
        if ct and not ct.get("reply"):
            be = self.live(ct["idx"], ct["bid"])
        new = False
        if be:
            idx, sport, sid, mode = ct["idx"], ct["sport"], ct["sid"], ct["mode"]
        else:
            if p["proto"] in (1, 58):
                return "pass", None, None
            svc = svc or self.services.get((f[1], f[3], f[4]))
            if not svc:
                return "pass", None, None
            sid, mode = svc["id"], self.mode
            r = self.new_flow(f, svc, mode)
            if r is None:
                self.count(sid, 0, nob=True)
                return "drop", None, None
            idx, sport = r
            new = True
        t = self.tuple(f, mode, idx, sport)
        if p.get("frag") and p["proto"] not in (1, 58):
            self.frag[(p["src"], p["dst"], p["frag"][0], p["proto"])] = (idx, self.backends[idx][2], sid, mode, t)
        self.count(sid, length, new)
        return "fwd", self.apply(p, mode, idx, t), idx

    def tuple(self, f, mode, idx, sport):
        b = self.backends[idx]
        snat = self.snat.get(4 if is4(f[0]) else 6)
        if mode == "fullnat" and snat:
            return (snat, b[0], sport, b[1])
        return (f[0], b[0], f[2], b[1])

    def new_flow(self, f, svc, mode):
        h = flow_hash(f)
        idx = None
        if svc["affinity"] is not None:
            a = self.aff.get((svc["id"], f[0]))
            if a and self.now - a[2] <= svc["affinity"] and self.live(a[0], a[1]):
                idx = a[0]
        if idx is None:
            if not svc["ring"]:
                return None
            idx = svc["ring"][h % len(svc["ring"])]
            if idx not in self.backends or not self.backends[idx][2]:
                return None
        b = self.backends[idx]
        if is4(b[0]) != is4(f[0]):
            return None
        if svc["affinity"] is not None:
            self.aff[(svc["id"], f[0])] = (idx, b[2], self.now)
        sport = f[2]
        snat = self.snat.get(4 if is4(f[0]) else 6)
        rv = dict(reply=True, orig=f)
        if mode == "fullnat" and snat:
            for i in range(4):
                port = f[2] if i == 0 else 1024 + ((h >> 8) + i * 7919) % 64512
                rk = (b[0], snat, b[1], port, f[4])
                cur = self.ct.get(rk)
                if cur and not (cur.get("reply") and cur["orig"] == f):
                    continue
                self.ct[rk] = rv
                sport = port
                break
            else:
                return None
        elif mode != "dsr":
            self.ct[(b[0], f[0], b[1], f[2], f[4])] = rv
        self.ct[f] = dict(idx=idx, bid=b[2], sid=svc["id"], sport=sport, mode=mode)
        return idx, sport

    def apply(self, p, mode, idx, t):
        if mode == "dsr":
            b = self.backends[idx]
            fam = 4 if is4(p["src"]) else 6
            f = (p["src"], p["dst"], p.get("sport", 0), p.get("dport", 0), p["proto"])
            if p.get("frag") and p["frag"][1] > 0:
                f = (p["src"], p["dst"], 0, 0, p["proto"])
            return encap(p, self.snat[fam], b[0], flow_hash(f))
        return frame(translate(p, t))

    def reverse(self, p):
        f = (p["src"], p["dst"], p.get("sport", 0), p.get("dport", 0), p["proto"])
        if p["proto"] in (1, 58):
            q = p["icmp"][2]
            f = (q["dst"], q["src"], q["dport"], q["sport"], q["proto"])
        ct = self.ct.get(f)
        if not ct or not ct.get("reply"):
            return "pass", None, None
        o = ct["orig"]
        return "fwd", frame(translate(p, (o[1], o[0], o[3], o[2]))), None


def translate(p, t):
    """p with its flow made (saddr, daddr, sport, dport) = t; ICMP errors
    translate the quoted packet (the flow reversed) and the outer header."""
    p = dict(p)
    if p["proto"] in (1, 58):
        ty, code, q, qlen = p["icmp"]
        fs, fd = q["dst"], q["src"]
        q = dict(q, src=t[1], dst=t[0], sport=t[3], dport=t[2])
        if p["src"] == fs:
            p["src"] = t[0]
        p["dst"] = t[1]
        p["icmp"] = (ty, code, q, qlen)
        return p
    p.update(src=t[0], dst=t[1])
    if not (p.get("frag") and p["frag"][1] > 0):
        p.update(sport=t[2], dport=t[3])
    return p


# ---- the vectors -------------------------------------------------------------------

out = []
model = None


def emit(s=""):
    out.append(s)


def table(name, mode="dnat", snat=None, snat6=None):
    global model
    model = Model()
    model.mode = mode
    model.snat = {4: snat, 6: snat6}
    emit()
    emit("table " + name)
    emit("config %s snat=%s snat6=%s" % (mode, snat or "::", snat6 or "::"))


def backend(idx, a, port, bid):
    model.backends[idx] = (a, port, bid)
    emit("backend %d %s %d id=%d" % (idx, a, port, bid))


def service(vip, port, proto, sid, ring, affinity=None):
    model.services[(vip, port, proto)] = dict(id=sid, ring=ring, affinity=affinity)
    pname = {6: "tcp", 17: "udp", 132: "sctp"}[proto]
    emit("service %s %d %s id=%d ring=%s%s" % (vip, port, pname, sid,
         ",".join(map(str, ring)) if ring else "empty",
         " affinity=%d" % affinity if affinity is not None else ""))


def packet(name, p, direction="in", expect=None, note=None):
    emit("packet %s %s%s" % (name, direction, "   # " + note if note else ""))
    emit("frame " + frame(p).hex())
    if expect is not None:
        verdict, o, idx = expect, None, None
    elif direction == "in":
        verdict, o, idx = model.forward(p)
    else:
        verdict, o, idx = model.reverse(p)
    emit("expect %s%s" % (verdict, " backend=%d" % idx if idx is not None else ""))
    if o is not None:
        emit("out " + o[12:].hex())
    return idx


def counters(sid):
    c = model.counters.get(sid, [0, 0, 0, 0])
    emit("counters %d packets=%d bytes=%d conns=%d no_backend=%d" % (sid, *c))


def advance(sec):
    model.now += sec
    emit("advance %d" % sec)


def tcp(src, dst, sport, dport, **kw):
    return dict(src=src, dst=dst, proto=6, sport=sport, dport=dport, payload=kw.pop("payload", b"hello"), **kw)


def udp(src, dst, sport, dport, **kw):
    return dict(src=src, dst=dst, proto=17, sport=sport, dport=dport, payload=kw.pop("payload", b"query"), **kw)


def find_sport(src, dst, dport, proto, ring, want, start=40000, avoid=()):
    for sp in range(start, start + 5000):
        if sp not in avoid and ring[flow_hash((src, dst, sp, dport, proto)) % len(ring)] == want:
            return sp
    raise RuntimeError("no port")


C4, C4B, VIP4 = "198.18.100.2", "198.18.100.3", "198.19.0.10"
B4 = ["198.18.1.2", "198.18.2.2", "198.18.3.2"]
C6, VIP6 = "2001:2:0:100::2", "2001:2:0:19::10"
B6 = ["2001:2:0:1::2", "2001:2:0:2::2", "2001:2:0:3::2"]
R4, R6 = "198.18.250.1", "2001:2:0:250::1"
RING = [0, 1, 2, 0, 1, 2, 0]


def dnat4():
    table("dnat4")
    for i in range(3):
        backend(i, B4[i], 8080, 10 + i)
    service(VIP4, 80, 6, 1, RING)
    service(VIP4, 53, 17, 2, RING)
    service("198.19.0.11", 80, 6, 3, [])
    c = tcp(C4, VIP4, 40000, 80)
    first = packet("tcp4_vip_new_flow", c)
    packet("tcp4_same_flow_again", c)
    counters(1)
    packet("udp4_vip", udp(C4, VIP4, 40001, 53))
    packet("udp4_zero_checksum_stays_zero", udp(C4, VIP4, 40002, 53, udp_zero=True))
    packet("udp4_ethernet_padding_kept", udp(C4, VIP4, 40003, 53, payload=b"x", pad=14))
    packet("tcp4_vlan_8021q", tcp(C4, VIP4, 40004, 80, vlans=[(0x8100, 100)]))
    packet("tcp4_qinq_8021ad", tcp(C4, VIP4, 40005, 80, vlans=[(0x88A8, 10), (0x8100, 100)]))
    packet("tcp4_ip_options", tcp(C4, VIP4, 40006, 80, opts=b"\x01\x01\x01\x00"))
    packet("tcp4_not_a_vip_passes", tcp(C4, "198.19.0.99", 40007, 80))
    packet("tcp4_vip_unknown_port_passes", tcp(C4, VIP4, 40008, 81))
    packet("udp4_vip_tcp_port_passes", udp(C4, VIP4, 40009, 80))
    packet("tcp4_empty_ring_drops", tcp(C4, "198.19.0.11", 40010, 80))
    counters(3)
    # the reply of the first flow, from its backend
    packet("tcp4_reply_gets_vip_source", tcp(B4[first], C4, 8080, 40000), "reply")
    packet("tcp4_reply_unknown_passes", tcp(B4[first], C4, 8080, 39999), "reply")
    # PMTU: a router on the client side says the reply was too big
    quoted = tcp(VIP4, C4, 80, 40000, payload=b"x" * 40)
    packet("icmp4_frag_needed_follows_flow",
           dict(src=R4, dst=VIP4, proto=1, icmp=(3, 4, quoted, 48)))
    packet("icmp4_frag_needed_short_quote",
           dict(src=R4, dst=VIP4, proto=1, icmp=(3, 4, quoted, 28)))
    packet("icmp4_error_unknown_flow_passes",
           dict(src=R4, dst=VIP4, proto=1, icmp=(3, 4, tcp(VIP4, C4, 80, 1234), 48)))
    packet("icmp4_echo_to_vip_passes", dict(raw=l2({}, 0x0800) + ip4_hdr(
        dict(src=C4, dst=VIP4), 1, 8) + bytes.fromhex("0800f7ff00000000")), expect="pass")
    # the backend side: a router between node and backend about the forwarded SYN
    fwd = tcp(C4, B4[first], 40000, 8080, payload=b"hello")
    packet("icmp4_reply_side_error_translated",
           dict(src=R4, dst=C4, proto=1, icmp=(3, 4, fwd, 48)), "reply")
    # fragments: first (balanced by ports), a later one follows, an unknown one passes
    big = udp(C4, VIP4, 40020, 53, payload=bytes(range(64)), id=0x4242, df=False)
    packet("udp4_first_fragment", dict(big, frag=(0x4242, 0, 24)))
    packet("udp4_later_fragment_follows", dict(big, frag=(0x4242, 1, 24)))
    packet("udp4_unknown_later_fragment_passes", dict(big, id=0x4343, frag=(0x4343, 1, 24)))
    # established flows keep their backend when the ring changes; new ones use the new ring
    other = (first + 1) % 3
    service(VIP4, 80, 6, 1, [other] * 7)
    packet("tcp4_established_keeps_backend", c)
    packet("tcp4_new_flow_uses_new_ring", tcp(C4, VIP4, 40030, 80))
    # the VIP:port goes to another Service (a new id) while the flow's backend
    # lives: the flow keeps its backend and is still counted as the old one's,
    # as under the kernel's conntrack; a SYN of the same 5-tuple starts a new
    # connection, on the new Service's ring
    service(VIP4, 80, 6, 5, [other] * 7)
    c_ack = dict(c, tcp_flags=0x10)
    assert packet("tcp4_established_outlives_its_service", c_ack) == first
    counters(1)
    assert packet("tcp4_syn_of_the_same_5tuple_takes_the_new_service", c) == other
    counters(5)
    service(VIP4, 80, 6, 1, [other] * 7)
    # its backend goes (the slot is reused by another endpoint): pick again
    backend(first, "198.18.9.2", 8080, 99)
    packet("tcp4_backend_gone_repicked", c)
    counters(1)
    # SCTP: the port changes, so the CRC32c is recomputed whole
    service(VIP4, 80, 132, 4, [0])
    packet("sctp4_vip_crc_recomputed", dict(src=C4, dst=VIP4, proto=132, sport=40040, dport=80,
                                            payload=b"\0\x01\0\x0cdata"))


def malformed4():
    table("malformed")
    backend(0, B4[0], 8080, 10)
    service(VIP4, 80, 6, 1, [0])
    service(VIP4, 53, 17, 2, [0])
    ok = frame(tcp(C4, VIP4, 40000, 80))
    eth, ip = ok[:14], ok[14:]

    def raw(name, b, note):
        packet(name, dict(raw=b), expect="pass", note=note)
    raw("truncated_ethernet", ok[:10], "10 bytes")
    raw("truncated_ip_header", ok[:14 + 12], "12 bytes of IPv4")
    raw("truncated_tcp_header", eth + ip4_hdr(dict(src=C4, dst=VIP4), 6, 10) + ip[20:30], "10 of 20 TCP bytes")
    raw("ihl_below_5", eth + bytes([0x44]) + ip[1:], "IHL 4")
    raw("ihl_past_the_end", eth + bytes([0x4F]) + ip[1:20] + ip[20:24], "IHL 15, 24 bytes")
    raw("total_length_beyond_frame", eth + ip[:2] + struct.pack("!H", len(ip) + 40) + ip[4:], "+40")
    raw("total_length_below_ihl", eth + ip[:2] + struct.pack("!H", 12) + ip[4:], "12 < 20")
    raw("tcp_data_offset_below_5", ok[:14 + 20 + 12] + bytes([0x40]) + ok[14 + 20 + 13:], "doff 4")
    u = frame(udp(C4, VIP4, 40001, 53))
    raw("udp_length_zero", u[:14 + 24] + b"\0\0" + u[14 + 26:], "zero-length UDP")
    raw("udp_length_below_8", u[:14 + 24] + b"\0\x05" + u[14 + 26:], "UDP length 5")
    raw("udp_length_beyond_datagram", u[:14 + 24] + b"\0\x80" + u[14 + 26:], "128 > payload")
    raw("not_ip_arp", MAC_DST + MAC_SRC + b"\x08\x06" + bytes(28), "ARP")
    raw("three_vlan_tags", MAC_DST + MAC_SRC + b"\x88\xa8\0\x01\x81\0\0\x02\x81\0\0\x03\x08\0" + ip,
        "more tags than we skip")
    raw("truncated_vlan_tag", MAC_DST + MAC_SRC + b"\x81\x00\x00", "half a tag")
    raw("version_6_in_ipv4_ethertype", eth + bytes([0x65]) + ip[1:], "version nibble 6")
    packet("valid_after_all_that", tcp(C4, VIP4, 40002, 80))


def dnat6():
    table("dnat6")
    for i in range(3):
        backend(i, B6[i], 8080, 10 + i)
    service(VIP6, 80, 6, 1, RING)
    service(VIP6, 53, 17, 2, RING)
    c = tcp(C6, VIP6, 40000, 80)
    first = packet("tcp6_vip_new_flow", c)
    packet("tcp6_same_flow_again", c)
    packet("udp6_vip", udp(C6, VIP6, 40001, 53))
    packet("tcp6_vlan", tcp(C6, VIP6, 40002, 80, vlans=[(0x8100, 7)]))
    packet("tcp6_hop_by_hop_and_dest_options", tcp(C6, VIP6, 40003, 80, exts=[(0, b"\x01\x04\0\0\0\0"), (60, b"")]))
    packet("tcp6_routing_header_done", tcp(C6, VIP6, 40004, 80, exts=[(43, b"\0\0\0\0\0\0")]),
           note="type 0, segments left 0")
    packet("tcp6_not_a_vip_passes", tcp(C6, "2001:2:0:19::99", 40005, 80))
    packet("tcp6_reply_gets_vip_source", tcp(B6[first], C6, 8080, 40000), "reply")
    quoted = tcp(VIP6, C6, 80, 40000, payload=b"y" * 40)
    packet("icmp6_packet_too_big_follows_flow", dict(src=R6, dst=VIP6, proto=58, icmp=(2, 0, quoted, 68)))
    big = udp(C6, VIP6, 40020, 53, payload=bytes(range(64)))
    packet("udp6_first_fragment", dict(big, frag=(0xabcdef01, 0, 24)))
    packet("udp6_later_fragment_follows", dict(big, frag=(0xabcdef01, 1, 24)))
    packet("udp6_unknown_later_fragment_passes", dict(big, frag=(0x0bad, 1, 24)))
    ok = frame(tcp(C6, VIP6, 40006, 80))
    packet("ipv6_payload_length_zero", dict(raw=ok[:18] + b"\0\0" + ok[20:]), expect="pass", note="jumbogram")
    packet("ipv6_extension_chain_too_long", tcp(C6, VIP6, 40007, 80, exts=[(60, b"")] * 5), expect="pass")
    trunc = bytearray(frame(tcp(C6, VIP6, 40008, 80, exts=[(60, b"\0" * 12)]))[:14 + 40 + 6])
    struct.pack_into("!H", trunc, 18, 6)
    packet("ipv6_extension_header_cut_short", dict(raw=bytes(trunc)), expect="pass", note="6 of 16 bytes")
    cut = bytearray(frame(tcp(C6, VIP6, 40009, 80)))
    struct.pack_into("!H", cut, 18, 8)
    packet("ipv6_tcp_cut_by_payload_length", dict(raw=bytes(cut)), expect="pass")
    packet("ipv6_routing_header_segments_left", tcp(C6, VIP6, 40010, 80, exts=[(43, b"\0\x01\0\0\0\0")]),
           expect="pass", note="the destination is not final")
    counters(1)


def fullnat():
    table("fullnat", "fullnat", "198.18.0.1", "2001:2:0:ff::1")
    for i in range(3):
        backend(i, B4[i], 8080, 10 + i)
    for i in range(3):
        backend(3 + i, B6[i], 8080, 20 + i)
    service(VIP4, 80, 6, 1, RING)
    service(VIP6, 80, 6, 2, [3, 4, 5])
    c = tcp(C4, VIP4, 40000, 80)
    first = packet("fullnat4_snat_to_node", c)
    packet("fullnat4_reply_back_to_client", tcp(B4[first], "198.18.0.1", 8080, 40000), "reply")
    # another client with the same source port on the same backend: another SNAT port
    sp = 40000
    for host in range(3, 200):
        cl = "198.18.100.%d" % host
        if RING[flow_hash((cl, VIP4, sp, 80, 6)) % 7] == first:
            break
    packet("fullnat4_snat_port_clash_moves", tcp(cl, VIP4, sp, 80))
    ct = model.ct[(cl, VIP4, sp, 80, 6)]
    packet("fullnat4_reply_on_moved_port", tcp(B4[first], "198.18.0.1", 8080, ct["sport"]), "reply")
    fwd = tcp("198.18.0.1", B4[first], 40000, 8080)
    packet("fullnat4_icmp_about_forwarded_packet",
           dict(src=R4, dst="198.18.0.1", proto=1, icmp=(3, 4, fwd, 48)), "reply")
    c6 = tcp(C6, VIP6, 40000, 80)
    i6 = packet("fullnat6_snat_to_node", c6)
    packet("fullnat6_reply_back_to_client", tcp(model.backends[i6][0], "2001:2:0:ff::1", 8080, 40000), "reply")


def dsr():
    table("dsr", "dsr", "198.18.0.1", "2001:2:0:ff::1")
    for i in range(3):
        backend(i, B4[i], 80, 10 + i)
    for i in range(3):
        backend(3 + i, B6[i], 80, 20 + i)
    service(VIP4, 80, 6, 1, RING)
    service(VIP6, 80, 6, 2, [3, 4, 5])
    service(VIP4, 53, 17, 3, RING)
    packet("dsr4_ipip_encapsulated", tcp(C4, VIP4, 40000, 80))
    packet("dsr6_ipv6_in_ipv6_encapsulated", tcp(C6, VIP6, 40000, 80))
    packet("dsr4_vlan_tag_kept_in_front", tcp(C4, VIP4, 40001, 80, vlans=[(0x8100, 100)]))
    big = udp(C4, VIP4, 40020, 53, payload=bytes(range(64)), id=0x4242, df=False)
    packet("dsr4_first_fragment", dict(big, frag=(0x4242, 0, 24)))
    packet("dsr4_later_fragment_follows", dict(big, frag=(0x4242, 1, 24)))
    packet("dsr4_reply_path_untouched", tcp(VIP4, C4, 80, 40000), "reply")


def affinity():
    table("affinity")
    for i in range(3):
        backend(i, B4[i], 8080, 10 + i)
    service(VIP4, 80, 6, 1, RING, affinity=60)
    first = packet("affinity_first_flow", tcp(C4, VIP4, 40000, 80))
    other = (first + 1) % 3
    sp = find_sport(C4, VIP4, 80, 6, RING, other, 41000)
    packet("affinity_other_port_same_backend", tcp(C4, VIP4, sp, 80), note="the ring says %d" % other)
    advance(61)
    sp2 = find_sport(C4, VIP4, 80, 6, RING, other, 42000)
    packet("affinity_expired_ring_again", tcp(C4, VIP4, sp2, 80))
    sp3 = find_sport(C4B, VIP4, 80, 6, RING, other, 43000)
    packet("affinity_is_per_client", tcp(C4B, VIP4, sp3, 80))
    counters(1)


dnat4()
malformed4()
dnat6()
fullnat()
dsr()
affinity()

HEADER = """\
# The load balancer's packet vectors: one file for every executor.
#
# Run by tests/dataplane/test_lb_path.c (lb_path.h on in-memory tables) and
# test_bpf_xdp.c (the XDP and tc programs under BPF_PROG_TEST_RUN); the DPDK
# and kernel-module executors run the same file. Written by gen_vectors.py,
# which builds the frames from their fields and the expected frames from a
# model of the load balancer, checksums computed whole: edit that, then
#   python3 tests/dataplane/gen_vectors.py > tests/dataplane/vectors.txt
#
# One directive a line; '#' to the end of a line is a comment.
#
#   table NAME          a fresh executor: no services, backends, conntrack,
#                       fragments, affinity or counters. Everything up to the
#                       next `table` runs in order on that one state.
#   config MODE snat=A snat6=A
#                       MODE dnat | fullnat | dsr (lb_config flags); the
#                       node's IPv4/IPv6 address for full-NAT and as DSR's
#                       outer source (:: for none)
#   backend IDX ADDR PORT id=ID
#                       backend slot IDX (lb_backends), set or replaced
#   service VIP PORT PROTO id=ID ring=IDX,IDX,...|empty [affinity=SECONDS]
#                       a service port (lb_services), set or replaced; its
#                       ring goes in the ring arena after every earlier ring
#                       (a replaced service gets a new range, as the compiler
#                       does). PROTO tcp | udp | sctp.
#   advance SECONDS     every timestamp the state holds is that much older
#                       (ClientIP affinity timeouts)
#   packet NAME DIR     DIR in: the client side (lb_forward, XDP);
#                       reply: the return side (lb_reverse, tc)
#   frame HEX           the packet's frame, Ethernet header first
#   expect VERDICT [backend=IDX]
#                       pass: untouched, to the kernel; drop; fwd: rewritten
#                       (NAT in place, or DSR's outer header added). backend=
#                       is the slot picked (also visible in `out`).
#   out HEX             fwd: the frame after it, from the EtherType on (the
#                       MAC addresses are the executor's forwarding choice)
#   counters ID packets=N bytes=N conns=N no_backend=N
#                       service ID's counters so far (bytes: IP lengths)
#
# The flow hash is murmur3_x86_32 (seed 0) of the 40 bytes of struct lb_flow
# (addresses as ::ffff:a.b.c.d for IPv4, ports in network order, pads zero);
# a new flow takes ring[hash % ring size]. A full-NAT flow keeps the
# client's port towards the backend unless the reply 5-tuple is taken; the
# i-th retry (i = 1..3) uses 1024 + ((hash >> 8) + i * 7919) % 64512.
"""
sys.stdout.write(HEADER)
sys.stdout.write("\n".join(out) + "\n")
