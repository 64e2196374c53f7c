#!/usr/bin/python3
"""A client for the load-balancing tests: HTTP GETs to a VIP, each on its own
connection, reporting which backend answered (the body of busybox httpd's
index.html names it). Prints one JSON object.

  lbclient.py many N ADDR PORT            {"backend 1": 340, ..., "errors": 0}
  lbclient.py ports FIRST N ADDR PORT     {"40000": "backend 2", ...} (fixed source ports)
  lbclient.py hold ADDR PORT              connect, send half a request, print
                                          "held", finish it after a line on stdin
  lbclient.py holdmany N ADDR PORT        the same with N connections:
                                          {"41234": "backend 1", ...} by source port
  lbclient.py udp N ADDR PORT             N datagrams, {"backend 1": .., "sources": [...]}
"""
import json
import socket
import struct
import sys

LINGER_RST = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT, the port is free again


def body(s):
    """The body of the HTTP/1.0 answer on s, read to the end, stripped."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    b = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    return b.decode(errors="replace").strip()


def half_open(addr, port):
    """A connection with half a request sent: it stays open until finished."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((addr, port))
    s.sendall(b"GET / HTTP/1.0\r\n")
    return s


def get(addr, port, sport=None, timeout=3.0):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    try:
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", sport))
        s.connect((addr, port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        return body(s) or "empty"
    except OSError as e:
        return "error: " + (e.strerror or type(e).__name__)
    finally:
        s.close()


def main():
    mode = sys.argv[1]
    if mode == "many":
        n, addr, port = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        counts = {"errors": 0}
        first_error = None
        for _ in range(n):
            b = get(addr, port)
            if b.startswith("error") or b == "empty":
                counts["errors"] += 1
                first_error = first_error or b
                if counts["errors"] >= 5 and len(counts) == 1:
                    break  # nothing gets through: say so now, not after n timeouts
            else:
                counts[b] = counts.get(b, 0) + 1
        if first_error:
            counts["first_error"] = first_error
        print(json.dumps(counts))
    elif mode == "ports":
        first, n, addr, port = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
        print(json.dumps({str(p): get(addr, port, sport=p) for p in range(first, first + n)}))
    elif mode == "hold":
        s = half_open(sys.argv[2], int(sys.argv[3]))
        print("held", flush=True)
        sys.stdin.readline()
        s.sendall(b"Host: vip\r\n\r\n")
        print(json.dumps({"answer": body(s), "peer": s.getpeername()[0]}))
    elif mode == "holdmany":
        n, addr, port = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        socks = [half_open(addr, port) for _ in range(n)]
        print("held", flush=True)
        sys.stdin.readline()
        out = {}
        for s in socks:
            sport = str(s.getsockname()[1])
            try:
                s.sendall(b"Host: vip\r\n\r\n")
                out[sport] = body(s) or "empty"
            except OSError as e:
                out[sport] = "error: " + (e.strerror or type(e).__name__)
            finally:
                s.close()
        print(json.dumps(out), flush=True)
    elif mode == "udp":
        n, addr, port = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        counts, sources = {"errors": 0}, set()
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            try:
                s.sendto(b"who", (addr, port))
                data, src = s.recvfrom(2048)
                b = data.decode(errors="replace").strip()
                counts[b] = counts.get(b, 0) + 1
                sources.add(src[0])
            except OSError:
                counts["errors"] += 1
            finally:
                s.close()
        counts["sources"] = sorted(sources)
        print(json.dumps(counts))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
