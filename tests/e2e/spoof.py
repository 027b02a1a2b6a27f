#!/usr/bin/env python3
"""Forged frames for tests/e2e/test_spoof.sh (run inside a namespace, root).

  spoof.py udp IFACE DST_MAC SRC_MAC SRC DST SPORT DPORT TAG [COUNT]
        COUNT (default 3) UDP datagrams with payload TAG, written on IFACE
        with AF_PACKET: any source address and MAC, checksums right
  spoof.py tcp IFACE DST_MAC SRC_MAC SRC DST SPORT DPORT FLAGS SEQ ACK [COUNT]
        TCP segments (FLAGS: letters of S A R F P)
  spoof.py sink PORT OUT
        count UDP datagrams on PORT (IPv4 and IPv6) by payload; rewrite OUT
        (JSON {tag: count}) after each
"""
import ipaddress
import json
import os
import socket
import struct
import sys


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def frame(dst_mac, src_mac, src, dst, proto, l4):
    """Ethernet + IPv4/IPv6 header around l4 (its checksum field zero), with
    the L4 checksum filled in."""
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        pseudo = s.packed + d.packed + struct.pack("!BBH", 0, proto, len(l4))
    else:
        pseudo = s.packed + d.packed + struct.pack("!IxxxB", len(l4), proto)
    off = 6 if proto == 17 else 16
    l4 = l4[:off] + struct.pack("!H", csum(pseudo + l4) or 0xffff) + l4[off + 2:]
    if s.version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                         s.packed, d.packed)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        etype = 0x0800
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, s.packed, d.packed)
        etype = 0x86DD
    return mac(dst_mac) + mac(src_mac) + struct.pack("!H", etype) + ip + l4


def send(iface, frames):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for f in frames:
        s.send(f)
    s.close()


def main(a):
    if a[0] == "udp" and len(a) in (9, 10):
        iface, dmac, smac, src, dst, sport, dport, tag = a[1:9]
        payload = tag.encode()
        l4 = struct.pack("!HHHH", int(sport), int(dport), 8 + len(payload), 0) + payload
        send(iface, [frame(dmac, smac, src, dst, 17, l4)] * int(a[9] if len(a) > 9 else 3))
    elif a[0] == "tcp" and len(a) in (11, 12):
        iface, dmac, smac, src, dst, sport, dport, flags, seq, ack = a[1:11]
        bits = sum({"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}[c] for c in flags)
        l4 = struct.pack("!HHIIBBHHH", int(sport), int(dport), int(seq), int(ack), 5 << 4,
                         bits, 65535, 0, 0)
        send(iface, [frame(dmac, smac, src, dst, 6, l4)] * int(a[11] if len(a) > 11 else 3))
    elif a[0] == "sink" and len(a) == 3:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", int(a[1])))
        seen = {}
        while True:
            d, _ = s.recvfrom(2048)
            tag = d.decode(errors="replace")
            seen[tag] = seen.get(tag, 0) + 1
            with open(a[2] + ".tmp", "w") as f:
                json.dump(seen, f)
            os.rename(a[2] + ".tmp", a[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
