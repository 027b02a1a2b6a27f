#!/usr/bin/env python3
"""Kubelet-style HTTP probes for the end-to-end suites (run inside a namespace).

  probe.py serve PORT [PORT...]
      answer each connection's request with "HTTP/1.1 200 OK" and close (forever)
  probe.py run ADDR PORT COUNT [--timeout S] [--max-fail N] [--src SRC]
      COUNT probes, one after the other (from address SRC, as the kubelet
      uses the node's address): connect, send a GET, read the whole
      response until the server closes, close. Prints one JSON line
      {"attempts", "ok", "failed", "maxMs", "errors"}; exit 0 when every
      probe succeeded, 1 otherwise. Stops after N failures (default 3) so a
      broken path fails fast; each step waits at most S seconds (default 1).
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from traffic import serve_connections  # noqa: E402

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def serve(ports):
    def answer(c):
        try:
            c.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            c.sendall(RESPONSE)
        except OSError:
            pass
        finally:
            c.close()

    serve_connections(ports, answer)


def probe_once(addr, port, timeout, src=None):
    c = socket.create_connection((addr, port), timeout=timeout,
                                 source_address=(src, 0) if src else None)
    try:
        c.settimeout(timeout)
        host = "[%s]" % addr if ":" in addr else addr
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.30\r\n"
                  b"Connection: close\r\n\r\n" % (host.encode(), port))
        buf = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            buf += d
    finally:
        c.close()
    if buf != RESPONSE:
        raise OSError("unexpected response %r" % buf[:80])


def run(addr, port, count, timeout, max_fail, src=None):
    ok = failed = 0
    errors = {}
    max_ms = 0.0
    for _ in range(count):
        t = time.monotonic()
        try:
            probe_once(addr, port, timeout, src)
            ok += 1
        except OSError as e:
            failed += 1
            key = type(e).__name__ + ": " + str(e)
            errors[key] = errors.get(key, 0) + 1
        max_ms = max(max_ms, (time.monotonic() - t) * 1000)
        if failed >= max_fail:
            break
    print(json.dumps({"attempts": ok + failed, "ok": ok, "failed": failed,
                      "maxMs": round(max_ms, 1), "errors": errors}))
    return 0 if ok == count else 1


def main(a):
    if len(a) >= 2 and a[0] == "serve":
        serve(a[1:])
        return 0
    if len(a) >= 4 and a[0] == "run":
        opts = {"--timeout": 1.0, "--max-fail": 3, "--src": None}
        rest = a[4:]
        if len(rest) % 2 or any(k not in opts for k in rest[::2]):
            print(__doc__, file=sys.stderr)
            return 2
        for k, v in zip(rest[::2], rest[1::2]):
            opts[k] = v if k == "--src" else float(v)
        return run(a[1], int(a[2]), int(a[3]), opts["--timeout"], int(opts["--max-fail"]),
                   opts["--src"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
