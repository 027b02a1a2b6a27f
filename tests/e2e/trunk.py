#!/usr/bin/env python3
"""802.1Q-tagged frames for tests/e2e/test_trunk.sh (run inside a namespace,
root): spoof.py's frames with a VLAN tag after the source MAC.

  trunk.py VLAN udp IFACE DST_MAC SRC_MAC SRC DST SPORT DPORT TAG [COUNT]
  trunk.py VLAN tcp IFACE DST_MAC SRC_MAC SRC DST SPORT DPORT FLAGS SEQ ACK [COUNT]
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spoof  # noqa: E402


def main(a):
    if len(a) < 2 or not a[0].isdigit() or not 0 < int(a[0]) < 4095:
        print(__doc__, file=sys.stderr)
        return 2
    tag = struct.pack("!HH", 0x8100, int(a[0]))
    send = spoof.send
    spoof.send = lambda iface, frames: send(iface, [f[:12] + tag + f[12:] for f in frames])
    return spoof.main(a[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
