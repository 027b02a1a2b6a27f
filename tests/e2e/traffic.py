#!/usr/bin/env python3
"""Real traffic for the end-to-end suites (run inside a namespace).

  traffic.py tcp-serve PORT [PORT...]       accept, echo each line back (forever)
  traffic.py tcp-try ADDR PORT [TIMEOUT]    connect + echo round trip: exit 0 ok, 1 no
  traffic.py udp-serve PORT [PORT...]       echo datagrams back (forever)
  traffic.py udp-try ADDR PORT [TIMEOUT]    one datagram there and back: exit 0 ok, 1 no
  traffic.py stream-recv PORT OUT           accept one connection; read 8-byte sequence
                                            numbers until EOF; write a JSON verdict to OUT
  traffic.py stream-send ADDR PORT STOPFILE send sequence numbers until STOPFILE exists,
                                            then close cleanly and print "sent=N retrans=N"
                                            (TCP_INFO total_retrans); exit 1 on any error

The stream verdict: every number arrived once, in order, the connection was
never reset, and the longest pause between reads (a dropped segment costs a
retransmission timeout, >= 200 ms) is reported as max_gap_ms.
"""
import json
import os
import select
import socket
import struct
import sys
import threading
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(port, kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def serve_connections(ports, handle):
    """Accept on every port forever; each connection to handle(c) in a thread."""
    socks = [listen(int(p), socket.SOCK_STREAM) for p in ports]
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()


def tcp_serve(ports):
    def echo(c):
        try:
            c.settimeout(30)
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    serve_connections(ports, echo)


def tcp_try(addr, port, timeout):
    try:
        c = socket.create_connection((addr, int(port)), timeout=timeout)
        c.settimeout(timeout)
        c.sendall(b"ping\n")
        ok = c.recv(16) == b"ping\n"
        c.close()
        return 0 if ok else 1
    except OSError:
        return 1


def udp_serve(ports):
    socks = [listen(int(p), socket.SOCK_DGRAM) for p in ports]
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            d, peer = s.recvfrom(65535)
            s.sendto(d, peer)


def udp_try(addr, port, timeout):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b"probe", (addr, int(port)))
        d, _ = s.recvfrom(64)
        return 0 if d == b"probe" else 1
    except OSError:
        return 1


def stream_recv(port, out):
    s = listen(int(port), socket.SOCK_STREAM)
    c, _ = s.accept()
    expect, buf, bad, err = 0, b"", None, None
    last = time.monotonic()
    max_gap = 0.0
    with open(out + ".tmp", "w") as f:
        json.dump({"state": "connected"}, f)
    os.rename(out + ".tmp", out)
    try:
        while True:
            d = c.recv(65536)
            now = time.monotonic()
            max_gap = max(max_gap, now - last)
            last = now
            if not d:
                break
            buf += d
            n = len(buf) // 8
            for i in range(n):
                (v,) = struct.unpack_from("!Q", buf, i * 8)
                if v != expect and bad is None:
                    bad = {"want": expect, "got": v}
                expect = v + 1
            buf = buf[n * 8:]
    except OSError as e:
        err = str(e)
    res = {"state": "done", "count": expect, "ok": bad is None and err is None and not buf,
           "bad": bad, "error": err, "max_gap_ms": round(max_gap * 1000, 1)}
    with open(out + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(out + ".tmp", out)


def stream_send(addr, port, stopfile):
    c = socket.create_connection((addr, int(port)), timeout=5)
    c.settimeout(10)
    seq = 0
    try:
        while not os.path.exists(stopfile):
            c.sendall(b"".join(struct.pack("!Q", seq + i) for i in range(64)))
            seq += 64
            time.sleep(0.002)
        # Retransmitted segments: 0 on a veth unless something dropped one.
        info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        (retrans,) = struct.unpack_from("I", info, 100)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        c.close()
    except OSError as e:
        print("stream-send: %s after %d numbers" % (e, seq), file=sys.stderr)
        return 1
    print("sent=%d retrans=%d" % (seq, retrans))
    return 0


def main(a):
    cmd = a[0]
    if cmd == "tcp-serve":
        tcp_serve(a[1:])
    elif cmd == "tcp-try":
        return tcp_try(a[1], a[2], float(a[3]) if len(a) > 3 else 1.0)
    elif cmd == "udp-serve":
        udp_serve(a[1:])
    elif cmd == "udp-try":
        return udp_try(a[1], a[2], float(a[3]) if len(a) > 3 else 1.0)
    elif cmd == "stream-recv":
        stream_recv(a[1], a[2])
    elif cmd == "stream-send":
        return stream_send(a[1], a[2], a[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
