#!/usr/bin/env bash
# Kubelet probes to a branch pod with net.ipv4.tcp_early_demux=1 (issue 6),
# on the VPC CNI's wiring of a branch pod (spec 5.3) rebuilt in namespaces
# (tests/e2e/netns.sh, ns_make_vpc_node / ns_make_trunk / ns_make_branch_pod):
#
#   node: eth0 10.0.1.10 fd00:10::10 ---- n0 [vpc] trunk1 ---- vlan.eth.1 :node
#         vlan<11 hex> ---- eth0 [pod web] 10.0.2.23 fd00:20::23
#
# A probe leaves by eth0, crosses the VPC and comes back in on vlan.eth.1 to
# the pod; the pod's reply is routed by table 101 back out vlan.eth.1, but
# early demux has already attached the prober's socket to it and the
# forwarding path drops it.
#   1. Without sgbpf: node -> pod TCP fails (v4, v6) while ping works, and
#      works with tcp_early_demux=0: the topology reproduces the problem.
#   2. With sgbpfd: 100 probes (connect, GET, response, close) per family
#      succeed in strict mode (the pod's SG allows the node's SG on the
#      probe port) and in standard mode (the SG does not allow the node).
#   3. Strict mode: a non-probe port is judged by the SGs (denied: no-rule
#      drops; allowed: admitted by its rule, yet not steered), and a probe
#      port the SGs do not open to the node is denied.
#   4. `sgbpf stats` counts allows by reason "probe"; `sgbpf monitor
#      --format json` shows events with reason "probe".
set -u
cd "$(dirname "$0")/../.." || exit 1
NS_PREFIX="sgbp$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh

SGBPFD="$T_ROOT/build/sgbpfd"
PROBE="$T_ROOT/tests/e2e/probe.py"
PIN="/sys/fs/bpf/sgbpf-probes-$$"
SOCK="/run/sgbpf-probes-$$.sock"
WORK=$(mktemp -d /tmp/sgbpf-probes.XXXXXX)
POL="$WORK/policy"
LOG="$WORK/sgbpfd.log"
DPID=
BG_PIDS=()

NODE4=10.0.1.10
NODE6=fd00:10::10
POD4=10.0.2.23
POD6=fd00:20::23
VLAN=1
# The VPC CNI names a branch pod's host veth "vlan" + 11 hex digits of the
# SHA-1 of "namespace.pod".
HOSTIF="vlan$(printf %s e2e.web-0 | sha1sum | cut -c1-11)"
P_OK=8080       # probe port the pod's SG opens to the node's SG
P_SHUT=8081     # probe port the pod's SG does not open to the node
APP=9000        # not a probe port; the pod's SG opens it to the node's SG
CLOSED=80       # not a probe port; not open to the node
SG_POD=sg-0e2eprobe000000a
SG_SHUT=sg-0e2eshut0000000a
SG_NODE=sg-0e2enode0000000a

cleanup() {
	local p
	if [ "$T_FAIL" -ne 0 ] && [ -e "$PIN/maps/global_stats" ]; then
		echo "--- sgbpf stats -o json ---"
		in_node "$SGBPF" stats -o json --pin-dir "$PIN" --socket "$SOCK" 2>&1 | head -c 3000
		echo
	fi
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN"
	rm -f "$SOCK"
	if [ "$T_FAIL" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- sgbpfd log (last 40 lines) ---"
		tail -n 40 "$LOG"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_require_root_and_bins

# probes DESC WANT ADDR PORT COUNT [TIMEOUT]: COUNT probes from the node
# (source: the node address, by its routes); WANT 0 = every one answered,
# 1 = they fail (one try suffices). A failure shows probe.py's summary.
probes() {
	local desc=$1 want=$2 addr=$3 port=$4 n=$5 to=${6:-1}
	t_exit "$desc" "$want" in_node python3 "$PROBE" run "$addr" "$port" "$n" --timeout "$to"
}
ping_ok() { t_exit "$1" 0 in_node ping -c1 -W2 -q "$2"; }
demux() { in_node sysctl -qw net.ipv4.tcp_early_demux="$1"; }
cli() { in_node "$SGBPF" "$@" --pin-dir "$PIN" --socket "$SOCK"; }
# stat EXPR: a python expression over `sgbpf stats -o json` (d) and the
# pod's endpoint entry in it (e).
stat() {
	cli stats -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
e = [x for x in d["endpoints"] if x["name"] == "e2e/web-0"][0]
print(eval(sys.argv[1]))' "$1"
}
NORULE='e["dropsByReason"]["no-rule"]'

# write_policy MODE SG: the endpoints document (and the SGs) for MODE.
write_policy() {
	python3 - "$POL" "$1" "$2" <<EOF
import json, os, sys
pol, mode, sg = sys.argv[1:4]
def perm(port, node_sg):
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [],
            "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": [{"GroupId": node_sg}] if node_sg else []}
def group(gid, perms):
    return {"GroupId": gid, "GroupName": gid, "Description": "sgbpf probes e2e",
            "OwnerId": "123456789012", "VpcId": "vpc-0e2e000000000000a",
            "IpPermissions": perms, "IpPermissionsEgress": []}
# As on EKS: the pod's SG opens the probe port (and one app port) to the
# node's SG, whose members are the node's addresses.
groups = {"SecurityGroups": [
    group("$SG_POD", [perm($P_OK, "$SG_NODE"), perm($APP, "$SG_NODE")]),
    group("$SG_SHUT", [])]}
eps = {"node": {"ipv4": ["$NODE4"], "ipv6": ["$NODE6"], "enforcingMode": mode,
                "allowEvents": True},
       "endpoints": [{"name": "e2e/web-0", "interface": "$HOSTIF", "ipv4": ["$POD4"],
                      "ipv6": ["$POD6"], "securityGroups": [sg],
                      "probePorts": [$P_OK, $P_SHUT]}],
       "members": [{"securityGroup": "$SG_NODE", "ipv4": ["$NODE4"], "ipv6": ["$NODE6"]}]}
for name, doc in (("groups.json", groups), ("endpoints.json", eps)):
    tmp = os.path.join(pol, "." + name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.rename(tmp, os.path.join(pol, name))
EOF
}

# wait_log REGEX [SECONDS]: REGEX shows up in sgbpfd's log.
wait_log() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		grep -qE -- "$1" "$LOG" && return 0
		sleep 0.05
	done
	return 1
}
generation() {
	grep -E "event=policy_applied" "$LOG" | tail -n 1 | sed -E 's/.* generation=([0-9]+).*/\1/'
}

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN, pod interface $HOSTIF"
mkdir -p "$POL"
if ! { ns_make_vpc_node "$NODE4/24" "$NODE6/64" 10.0.1.1 fd00:10::1 &&
	ns_make_trunk "$VLAN" 10.0.2.1 fd00:20::1 &&
	ns_make_branch_pod web "$VLAN" "$HOSTIF" "$POD4" "$POD6"; }; then
	t_fail "namespace setup"
	t_done
	exit 1
fi
WEB=$(pod_ns web)
bg "$WEB" python3 "$PROBE" serve "$P_OK" "$P_SHUT" "$APP" "$CLOSED"

echo "== the wiring is the VPC CNI's"
t_match "priority 10: iif vlan.eth.$VLAN and iif $HOSTIF look up table $((VLAN + 100)); local at 20" \
	"^10:.*iif vlan\.eth\.$VLAN lookup $((VLAN + 100)) 10:.*iif $HOSTIF lookup $((VLAN + 100)) 20:.*lookup local" \
	"$(in_node ip -4 rule | tr '\n' ' ')"
t_match "IPv6 rules alike" \
	"^10:.*iif vlan\.eth\.$VLAN lookup $((VLAN + 100)) 10:.*iif $HOSTIF lookup $((VLAN + 100)) 20:.*lookup local" \
	"$(in_node ip -6 rule | tr '\n' ' ')"
t_match "table $((VLAN + 100)): gateway scope link, default via it, the pod on its veth" \
	"default via 10\.0\.2\.1 dev vlan\.eth\.$VLAN .*10\.0\.2\.1 dev vlan\.eth\.$VLAN scope link .*$POD4 dev $HOSTIF" \
	"$(in_node ip -4 route show table $((VLAN + 100)) | tr '\n' ' ')"
t_match "the node reaches the pod by its main interface" "$POD4 via 10\.0\.1\.1 dev eth0" \
	"$(in_node ip -4 route get "$POD4")"

echo "== tcp_early_demux is per network namespace"
demux 0
t_eq "node netns set to 0 leaves the VPC netns at its own value (1)" "1" \
	"$(in_ns "$NS_VPC" sysctl -n net.ipv4.tcp_early_demux)"
demux 1
t_eq "node netns: net.ipv4.tcp_early_demux=1" "1" "$(in_node sysctl -n net.ipv4.tcp_early_demux)"
echo "  node netns: $(in_node sysctl net.ipv4.tcp_early_demux), kernel $(uname -r)"

echo "== step 1: without sgbpf the topology reproduces the problem"
ping_ok "ping node -> pod (v4) works" "$POD4"
ping_ok "ping node -> pod (v6) works" "$POD6"
probes "early demux on: TCP node -> pod (v4) fails" 1 "$POD4" "$P_OK" 1 2
probes "early demux on: TCP node -> pod (v6) fails" 1 "$POD6" "$P_OK" 1 2
demux 0
probes "early demux off: TCP node -> pod (v4) works" 0 "$POD4" "$P_OK" 5
probes "early demux off: TCP node -> pod (v6) works" 0 "$POD6" "$P_OK" 5
demux 1

echo "== step 2: sgbpfd, strict mode"
write_policy strict "$SG_POD"
: >"$LOG"
in_node "$SGBPFD" --policy "$POL" --pin-dir "$PIN" --socket "$SOCK" \
	--iface-glob 'vlan[0-9a-f][0-9a-f]*' --reconcile-interval 1 >>"$LOG" 2>&1 &
DPID=$!
if ! wait_log "event=enforced iface=$HOSTIF .*endpoint=e2e/web-0" 10; then
	t_fail "sgbpfd starts and enforces e2e/web-0 on $HOSTIF" "$(tail -n 20 "$LOG")"
	t_done
	exit 1
fi
t_pass "sgbpfd starts and enforces e2e/web-0 on $HOSTIF"
if wait_log "event=probe_steering iface=eth0 " 5; then
	t_pass "sgbpfd found the node's main interface (eth0, holding $NODE4) for probe replies"
else
	t_fail "sgbpfd found the node's main interface for probe replies" \
		"$(grep -E 'probe_steering' "$LOG" | tail -n 3)"
fi
t_eq "tcp_early_demux stays 1 under sgbpf" "1" "$(in_node sysctl -n net.ipv4.tcp_early_demux)"
probes "strict: 100 probes node -> pod:$P_OK (v4)" 0 "$POD4" "$P_OK" 100
probes "strict: 100 probes node -> pod:$P_OK (v6)" 0 "$POD6" "$P_OK" 100

echo "== step 3: strict mode still judges the node's other traffic by the SGs"
before=$(stat "$NORULE")
probes "strict: node -> pod:$CLOSED (not a probe port, not allowed; v4) fails" 1 "$POD4" "$CLOSED" 1
probes "strict: node -> pod:$CLOSED (v6) fails" 1 "$POD6" "$CLOSED" 1
after=$(stat "$NORULE")
t_exit "... dropped by sgbpf as no-rule (no-rule drops $before -> $after)" 0 \
	test "$after" -ge "$((before + 2))"
before=$after
probes "strict: probe port $P_SHUT the SG does not open to the node (v4) is denied" 1 \
	"$POD4" "$P_SHUT" 1
probes "strict: probe port $P_SHUT (v6) is denied" 1 "$POD6" "$P_SHUT" 1
after=$(stat "$NORULE")
t_exit "... dropped by sgbpf as no-rule (no-rule drops $before -> $after)" 0 \
	test "$after" -ge "$((before + 2))"
# Only probe traffic is steered: a port the SG opens to the node, but not a
# probe port, keeps the VPC CNI's routing (and so needs early demux off).
before=$(stat 'e["allowsByReason"]["rule"]')
probes "strict: node -> pod:$APP (allowed, not a probe port) is not steered (v4 fails)" 1 \
	"$POD4" "$APP" 1
after=$(stat 'e["allowsByReason"]["rule"]')
t_exit "... yet its SYN was admitted by the SG's rule (allows by rule $before -> $after)" 0 \
	test "$after" -gt "$before"
demux 0
probes "strict, early demux off: node -> pod:$APP (allowed by the SG; v4) works" 0 "$POD4" "$APP" 5
probes "strict, early demux off: node -> pod:$APP (v6) works" 0 "$POD6" "$APP" 5
probes "strict, early demux off: node -> pod:$CLOSED (v4) is still denied" 1 "$POD4" "$CLOSED" 1
probes "strict, early demux off: probe port $P_SHUT (v6) is still denied" 1 "$POD6" "$P_SHUT" 1
demux 1

echo "== step 4: stats and monitor show probe traffic separately"
t_exit "stats -o json exits 0" 0 cli stats -o json
p_ep=$(stat 'e["allowsByReason"].get("probe", 0)')
p_all=$(stat 'd["allowsByReason"].get("probe", 0)')
t_exit "stats: e2e/web-0 allows by reason probe > 0 (got $p_ep)" 0 test "$p_ep" -gt 0
t_exit "stats: node-wide allows by reason probe > 0 (got $p_all)" 0 test "$p_all" -gt 0
s_ep=$(stat 'e["probes"]["steered"]')
s_all=$(stat 'd["probes"]["steered"]')
t_exit "stats: e2e/web-0's probe replies steered to the node > 0 (got $s_ep)" 0 test "$s_ep" -gt 0
t_exit "stats: node-wide steered >= the endpoint's ($s_all >= $s_ep)" 0 test "$s_all" -ge "$s_ep"
t_exit "stats table names the probe reason" 0 cli stats
t_match "... with a non-zero count" "probe +[1-9][0-9]*" "$T_OUT"
t_match "... and a kubelet probes line" "kubelet probes: allowed [1-9][0-9]*, dropped [0-9]+, steered to the node [1-9]" "$T_OUT"
in_node "$SGBPF" monitor --pin-dir "$PIN" --socket "$SOCK" --format json --duration 4 \
	--endpoint e2e/web-0 --probes-only >"$WORK/mon.json" 2>"$WORK/mon.err" &
MPID=$!
sleep 0.7
probes "strict: 10 probes (v4) while monitoring" 0 "$POD4" "$P_OK" 10
probes "strict: 10 probes (v6) while monitoring" 0 "$POD6" "$P_OK" 10
wait "$MPID"
t_eq "monitor --format json --duration 4 exits 0" 0 "$?"
t_exit "monitor: events with reason probe, node <-> pod:$P_OK, both families" 0 python3 -c '
import json, sys
node, pod, port = set(sys.argv[1:3]), set(sys.argv[3:5]), int(sys.argv[5])
ev = [json.loads(l) for l in open(sys.argv[6]) if l.strip()]
pr = [e for e in ev if e["reason"] == "probe"]
assert pr, "no probe events among %d: %s" % (len(ev), ev[:3])
assert all(e["probe"] for e in ev), "--probes-only let a non-probe event through"
for e in pr:
    ends = {(e["srcAddr"], e["srcPort"]), (e["dstAddr"], e["dstPort"])}
    assert e["verdict"] == "allow", e
    assert {a for a, _ in ends} & node and {a for a, _ in ends} & pod, e
    assert any(a in pod and p == port for a, p in ends), e
    # the packets of the pod to the node are steered, never those of the node
    assert e["steered"] == (e["direction"] == "out"), e
assert {e["family"] for e in pr} == {"ipv4", "ipv6"}, pr
assert any(e["steered"] for e in pr), "no steered event"
' "$NODE4" "$NODE6" "$POD4" "$POD6" "$P_OK" "$WORK/mon.json"

echo "== step 2 again: standard mode (the pod's SG does not allow the node)"
gen=$(generation)
write_policy standard "$SG_SHUT"
if wait_log "event=policy_applied .*generation=$((gen + 1))" 10; then
	t_pass "standard-mode policy applied (generation $((gen + 1)))"
else
	t_fail "standard-mode policy applied" "$(tail -n 20 "$LOG")"
fi
probes "standard: 100 probes node -> pod:$P_OK (v4)" 0 "$POD4" "$P_OK" 100
probes "standard: 100 probes node -> pod:$P_OK (v6)" 0 "$POD6" "$P_OK" 100
probes "standard: 100 probes node -> pod:$P_SHUT (v4)" 0 "$POD4" "$P_SHUT" 100
probes "standard: 100 probes node -> pod:$P_SHUT (v6)" 0 "$POD6" "$P_SHUT" 100
demux 0
probes "standard, early demux off: node -> pod:$CLOSED is not enforced (v4)" 0 "$POD4" "$CLOSED" 5
probes "standard, early demux off: node -> pod:$CLOSED (v6)" 0 "$POD6" "$CLOSED" 5
demux 1

t_done
