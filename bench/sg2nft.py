#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""sg2nft: the nftables ruleset a user would write instead of sgbpf, for
bench/live-nft.sh: the same security-group rules of a policy directory, per
endpoint interface, with conntrack.

    sg2nft.py POLICY_DIR [--table NAME]  > ruleset.nft

Forward hook of the node: `ct state established,related accept`,
`ct state invalid drop`, then per endpoint a jump on the pod's host-side
interface (oifname = traffic into the pod, iifname = out of it) to a chain
holding one rule per SG rule (as EC2 counts them: one per CIDR and per
prefix-list entry; a referenced group is one rule with a set of its
members' addresses), and a final drop. Rules stay in the policy's order.

Handles the shapes bench/gen-policy writes and the usual AWS JSON:
describe-security-groups documents, prefix-list documents, the endpoints
document; protocols tcp, udp, icmp, icmpv6, -1 and numbers.
"""
import json
import os
import sys

PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "-1": -1, "all": -1}


def load(dirpath):
    groups, plists, eps, members = {}, {}, [], {}
    for name in sorted(os.listdir(dirpath)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(dirpath, name)) as f:
            doc = json.load(f)
        for g in doc.get("SecurityGroups", []):
            groups[g["GroupId"]] = g
        if "PrefixListId" in doc and "Entries" in doc:
            plists[doc["PrefixListId"]] = [e["Cidr"] for e in doc["Entries"]]
        if "endpoints" in doc:
            eps.extend(doc["endpoints"])
            for m in doc.get("members", []):
                members.setdefault(m["securityGroup"], []).extend(
                    m.get("ipv4", []) + m.get("ipv6", []))
    for ep in eps:
        addrs = ep.get("ipv4", []) + ep.get("ipv6", [])
        for sg in ep.get("securityGroups", []):
            members.setdefault(sg, []).extend(addrs)
    return groups, plists, eps, members


def fam(addr):
    return "ip6" if ":" in addr else "ip"


def l4(perm):
    p = str(perm.get("IpProtocol", "-1")).lower()
    proto = PROTO.get(p)
    if proto is None:
        proto = int(p)
    lo, hi = perm.get("FromPort", -1), perm.get("ToPort", -1)
    if proto in (6, 17):
        name = "tcp" if proto == 6 else "udp"
        if lo is None or lo < 0:
            return name + " dport 0-65535"
        return "%s dport %s" % (name, str(lo) if lo == hi else "%d-%d" % (lo, hi))
    if proto in (1, 58):
        name = "icmp" if proto == 1 else "icmpv6"
        if lo is None or lo < 0:
            return "meta l4proto %s" % name
        s = "%s type %d" % (name, lo)
        if hi is not None and hi >= 0:
            s += " %s code %d" % (name, hi)
        return s
    if proto == -1:
        return ""
    return "meta l4proto %d" % proto


def rules_for(perms, side, plists, members):
    """side: 'saddr' (inbound: remote is the source) or 'daddr'."""
    out = []
    for perm in perms:
        match = l4(perm)
        srcs = [r["CidrIp"] for r in perm.get("IpRanges", [])]
        srcs += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])]
        for pl in perm.get("PrefixListIds", []):
            srcs += plists.get(pl["PrefixListId"], [])
        for c in srcs:
            out.append("%s %s %s %s accept" % (fam(c), side, c, match))
        for pair in perm.get("UserIdGroupPairs", []):
            addrs = members.get(pair["GroupId"], [])
            for f in ("ip", "ip6"):
                a = [x for x in addrs if fam(x) == f]
                if a:
                    out.append("%s %s { %s } %s accept" % (f, side, ", ".join(a), match))
    return [" ".join(r.split()) for r in out]


def main():
    args = sys.argv[1:]
    table = "sgbench"
    if "--table" in args:
        i = args.index("--table")
        table = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit("usage: sg2nft.py POLICY_DIR [--table NAME]")
    groups, plists, eps, members = load(args[0])
    w = sys.stdout.write
    w("table inet %s {\n" % table)
    w("  chain forward {\n    type filter hook forward priority 0; policy accept;\n")
    w("    ct state established,related accept\n    ct state invalid drop\n")
    chains = []
    for n, ep in enumerate(eps):
        ifname = ep.get("interface")
        if not ifname:
            continue
        w('    oifname "%s" jump in_%d\n    iifname "%s" jump out_%d\n' % (ifname, n, ifname, n))
        ins, outs = [], []
        for sg in ep.get("securityGroups", []):
            g = groups.get(sg)
            if g is None:
                sys.exit("sg2nft: endpoint %s names undefined group %s" % (ep["name"], sg))
            ins += rules_for(g.get("IpPermissions", []), "saddr", plists, members)
            outs += rules_for(g.get("IpPermissionsEgress", []), "daddr", plists, members)
        chains.append((n, ins, outs))
    w("  }\n")
    for n, ins, outs in chains:
        for name, rules in (("in_%d" % n, ins), ("out_%d" % n, outs)):
            w("  chain %s {\n" % name)
            for r in rules:
                w("    %s\n" % r)
            w("    drop\n  }\n")
    w("}\n")


if __name__ == "__main__":
    main()
