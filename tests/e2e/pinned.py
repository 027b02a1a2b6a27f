#!/usr/bin/env python3
"""Read an sgbpfd pin directory (for the fault and load suites; root only).

  pinned.py slot PIN     the policy in force, as one JSON line:
                         {"slot", "generation", "cfg_generation", "records_ok",
                          "sig", "entries"}
  pinned.py sig PIN      the same as one shell-readable line:
                         "SIG GENERATION RECORDS_OK(1|0)"
  pinned.py counts PIN   entries of every hash/LPM map and of each slot, JSON

"sig" is a digest of everything the active slot holds (every slotted
table's entries with the slot field cleared, the slot's config without its
generation, and the active slot's endpoint records without theirs): two
slots have the same sig exactly when they hold the same policy, whatever
slot or generation. "records_ok": the slot config and every used endpoint
record of the active slot carry state.generation, i.e. the records and the
policy in force were committed together.
"""
import ctypes
import errno
import hashlib
import json
import os
import struct
import sys

# Slotted tables: (map, offset of the slot field in the key, its size).
SLOTTED = [("ep_config", 0, 4), ("ep_addrs", 0, 4), ("node_addrs", 0, 4),
           ("rule_trie", 4, 1), ("port_trie", 4, 1), ("exempt", 4, 1),
           ("probe_ports", 0, 4)]
OTHER = ["ifaces", "ct4_new", "ct4_est", "ct4t_est", "ct_new", "ct_est", "ct6t_est", "ct6u_est", "frags"]


_libc = ctypes.CDLL(None, use_errno=True)
_SYS_BPF = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET, BPF_OBJ_GET_INFO_BY_FD = 1, 4, 7, 15


def bpf(cmd, attr):
    """bpf(2) with attr (a bytes-like buffer, 128 bytes); returns the result."""
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    r = _libc.syscall(_SYS_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


class Map:
    """A pinned map, read with bpf(2) directly (a dump of ten thousand
    entries through bpftool's JSON takes a second; this, milliseconds)."""

    def __init__(self, path):
        p = ctypes.create_string_buffer(path.encode())
        self.fd = bpf(BPF_OBJ_GET, struct.pack("<QII", ctypes.addressof(p), 0, 0))
        info = ctypes.create_string_buffer(80)
        bpf(BPF_OBJ_GET_INFO_BY_FD, struct.pack("<IIQ", self.fd, 80, ctypes.addressof(info)))
        _type, _id, self.ksz, self.vsz, self.max = struct.unpack_from("<5I", info.raw)

    def _op(self, cmd, key, out):
        kp = ctypes.addressof(key) if key is not None else 0
        bpf(cmd, struct.pack("<IIQQQ", self.fd, 0, kp, ctypes.addressof(out), 0))

    def keys(self):
        # Bounded: a hash map changing under the walk may restart it.
        cur, nxt = None, ctypes.create_string_buffer(self.ksz)
        for _ in range(2 * self.max + 16):
            try:
                self._op(BPF_MAP_GET_NEXT_KEY, cur, nxt)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return
                raise
            yield nxt.raw
            cur = ctypes.create_string_buffer(nxt.raw, self.ksz)

    def lookup(self, key):
        k = ctypes.create_string_buffer(key, self.ksz)
        v = ctypes.create_string_buffer(self.vsz)
        try:
            self._op(BPF_MAP_LOOKUP_ELEM, k, v)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None     # deleted since it was listed
            raise
        return v.raw

    def close(self):
        os.close(self.fd)


def open_map(pin, name):
    path = os.path.join(pin, "maps", name)
    return Map(path) if os.path.exists(path) else None


def dump(pin, name, with_values=True):
    m = open_map(pin, name)
    if m is None:
        return None
    try:
        res = []
        for k in m.keys():
            v = m.lookup(k) if with_values else b""
            if v is not None:
                res.append((k, v))
        return res
    finally:
        m.close()


def lookup0(pin, name):
    m = open_map(pin, name)
    try:
        return m.lookup(bytes(4))
    finally:
        m.close()


def slot_of(key, off, size):
    return key[off] if size == 1 else struct.unpack_from("<I", key, off)[0]


def active(pin):
    st = lookup0(pin, "state")
    slot, _version, gen = struct.unpack_from("<IIQ", st, 0)
    slot &= 1
    h = hashlib.sha256()
    entries = {}
    for name, off, size in SLOTTED:
        ents = dump(pin, name)
        if ents is None:
            continue
        mine = sorted((k[:off] + bytes(size) + k[off + size:], v) for k, v in ents
                      if slot_of(k, off, size) == slot)
        entries[name] = len(mine)
        h.update(name.encode() + struct.pack("<I", len(mine)))
        for k, v in mine:
            h.update(k + v)
    cfg = dict(dump(pin, "slot_config"))[struct.pack("<I", slot)]
    (cfg_gen,) = struct.unpack_from("<Q", cfg, 0)
    h.update(b"slot_config" + cfg[8:])
    ok = cfg_gen == gen
    recs = open_map(pin, "ep_records")
    n_used = 0
    for idx in range(slot * 1024, slot * 1024 + 1024) if recs else ():
        v = recs.lookup(struct.pack("<I", idx))
        rgen, flags = struct.unpack_from("<QI", v, 0)
        if flags & 1:
            n_used += 1
            ok = ok and rgen == gen
            h.update(struct.pack("<I", idx % 1024) + v[8:])
    if recs:
        recs.close()
    entries["ep_records"] = n_used
    return {"slot": slot, "generation": gen, "cfg_generation": cfg_gen, "records_ok": ok,
            "sig": h.hexdigest()[:16], "entries": entries}


def counts(pin):
    res = {}
    for name, off, size in SLOTTED:
        ents = dump(pin, name)
        if ents is not None:
            res[name] = [sum(1 for k, _ in ents if slot_of(k, off, size) == s) for s in (0, 1)]
    for name in OTHER:
        ents = dump(pin, name, with_values=False)
        if ents is not None:
            res[name] = len(ents)
    return res


def main(a):
    if len(a) != 2 or a[0] not in ("slot", "sig", "counts"):
        print(__doc__, file=sys.stderr)
        return 2
    if a[0] == "sig":
        s = active(a[1])
        print(s["sig"], s["generation"], int(s["records_ok"]))
    else:
        print(json.dumps(active(a[1]) if a[0] == "slot" else counts(a[1]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
