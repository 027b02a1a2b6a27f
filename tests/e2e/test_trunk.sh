#!/usr/bin/env bash
# sgbpfd --trunk: XDP on the node's trunk, keyed by the frame's 802.1Q VLAN
# id, as an early-drop front line ahead of the pods' host veths (which keep
# TC ingress and egress and decide everything the front line passes). See
# docs/daemon.md "Trunk".
#
#   [vpc] tr0 ==== eth1 (trunk, XDP) :node ---(VLAN 11)--> vlan.eth.11 -> sgb-a -> [pod a]
#                                          ---(VLAN 12)--> vlan.eth.12 -> sgb-b -> [pod b]
#
# This kernel has no 802.1Q devices: the VPC side writes tagged frames with
# AF_PACKET (trunk.py), and a TC program on eth1's ingress (vlan_demux.bpf.c)
# stands for vlan.eth.N: it pops the tag and hands the frame to the veth
# vlan.eth.N that netns.sh's VPC CNI wiring routes to the pod (table N+100).
# Checks: frames a's SG allows reach pod a and are counted once as a's
# inbound allows (one conntrack entry, advanced once per frame); denied ones
# are dropped at the trunk (a's no-rule drops, event on eth1 with the VLAN)
# and never reach the pod; the same ports on b's VLAN are judged by b's
# SGs; a's address on b's VLAN is b's wrong-destination drop; an unknown
# VLAN counts against no endpoint; traffic to a pod that does not cross the
# trunk is still judged on its host veth; policy swaps moving and removing
# VLANs update the trunk's entries; the trunk going and coming back (new
# ifindex) is followed; a restart (with --config's trunk key) keeps the XDP
# link and updates its program.
set -u
cd "$(dirname "$0")/../.." || exit 1
NS_PREFIX="sgbtr$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

sgbpfd_suite trunk
t_require_root_and_bins
TRUNKPY="$T_ROOT/tests/e2e/trunk.py"
SPOOF="$T_ROOT/tests/e2e/spoof.py"
DEMUX_PIN="/sys/fs/bpf/sgbpf-trunk-demux-$$"
trap 'rm -rf "$DEMUX_PIN"; sgbpfd_suite_cleanup' EXIT

NODE4=10.0.1.10
A4=10.0.11.10
A6=fd00:11::10
B4=10.0.12.10
B6=fd00:12::10
CLIENT=10.0.9.9      # a VPC address outside the node
SG_A=sg-0e2etrunka000000a
SG_B=sg-0e2etrunkb000000a
P_A=5353             # UDP a's SG opens to 10.0.9.0/24
P_B=6000             # UDP b's SG opens to 10.0.9.0/24
P_TCP=8080           # TCP a's SG opens to 10.0.9.0/24

cli() { in_node "$SGBPF" "$@" --pin-dir "$PIN" --socket "$SOCK"; }
# q CMD EXPR: a python expression over the JSON that `sgbpf CMD -o json`
# prints (d), with ep(NAME) an endpoint of `sgbpf stats`.
q() {
	local cmd=$1
	shift
	# shellcheck disable=SC2086
	cli $cmd -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def ep(n):
    m = [x for x in d.get("endpoints", []) if x["name"] == n]
    return m[0] if m else {"inbound": {"allowPackets": 0, "dropPackets": 0},
                           "dropsByReason": {}, "allowsByReason": {}}
print(eval(sys.argv[1]))' "$1"
}
# wait_eq DESC WANT CMD EXPR: q CMD EXPR becomes WANT within 3 s.
wait_eq() {
	local desc=$1 want=$2 got i
	for ((i = 0; i < 60; i++)); do
		got=$(q "$3" "$4")
		[ "$got" = "$want" ] && break
		sleep 0.05
	done
	t_eq "$desc" "$want" "$got"
}
A_IN_ALLOW='ep("e2e/a")["inbound"]["allowPackets"]'
A_IN_DROP='ep("e2e/a")["inbound"]["dropPackets"]'
A_NORULE='ep("e2e/a")["dropsByReason"]["no-rule"]'
B_IN_ALLOW='ep("e2e/b")["inbound"]["allowPackets"]'
B_NORULE='ep("e2e/b")["dropsByReason"]["no-rule"]'
B_WRONGDST='ep("e2e/b")["dropsByReason"]["wrong-destination"]'
IN_DROPS='sum(e["inbound"]["dropPackets"] for e in d["endpoints"])'
UNKNOWN='d["other"]["unknownInterfacePackets"]'

# write_policy AVLAN BVLAN: a on AVLAN, b on BVLAN (0: b left out).
write_policy() {
	python3 - "$WORK" "$1" "$2" <<EOF || return 1
import json, sys
work, avlan, bvlan = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def group(gid, perms):
    return {"GroupId": gid, "IpPermissions": [
        {"IpProtocol": proto, "FromPort": port, "ToPort": port,
         "IpRanges": [{"CidrIp": "10.0.9.0/24"}]} for proto, port in perms],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
json.dump({"SecurityGroups": [group("$SG_A", [("udp", $P_A), ("tcp", $P_TCP)]),
                              group("$SG_B", [("udp", $P_B)])]}, open(work + "/groups.json", "w"))
eps = [{"name": "e2e/a", "interface": "sgb-a", "vlanId": avlan, "ipv4": ["$A4"],
        "ipv6": ["$A6"], "securityGroups": ["$SG_A"]}]
if bvlan:
    eps.append({"name": "e2e/b", "interface": "sgb-b", "vlanId": bvlan, "ipv4": ["$B4"],
                "ipv6": ["$B6"], "securityGroups": ["$SG_B"]})
json.dump({"node": {"ipv4": ["$NODE4"], "enforcingMode": "strict"}, "endpoints": eps},
          open(work + "/endpoints.json", "w"))
EOF
	put_policy "$WORK/groups.json" groups.json && put_policy "$WORK/endpoints.json" endpoints.json
}

# The trunk: eth1 (node) / tr0 (VPC), with the VLAN stand-in on eth1's
# ingress. demux_map VLAN DEV: frames tagged VLAN go to DEV.
make_trunk() {
	in_node ip link add eth1 type veth peer name tr0 netns "$NS_VPC" || return 1
	in_node ip link set eth1 up && in_ns "$NS_VPC" ip link set tr0 up || return 1
	in_node tc qdisc add dev eth1 clsact || return 1
	in_node tc filter add dev eth1 ingress pref 1 handle 1 bpf direct-action \
		object-pinned "$DEMUX_PIN/prog"
}
demux_map() {
	# shellcheck disable=SC2046
	bpftool map update pinned "$DEMUX_PIN/maps/demux" key $(le32 "$1") \
		value $(le32 "$(ifindex_of "$2")")
}
le32() { printf '%d %d %d %d' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
ifindex_of() { in_node ip -o link show dev "$1" | cut -d: -f1; }

# send VLAN udp|tcp DST ...: frames from the VPC client on the trunk, to
# vlan.eth.VLAN's MAC (the branch ENI's), i.e. as the VPC delivers them.
send() {
	local vlan=$1 kind=$2 dst=$3 bmac
	shift 3
	bmac=$(mac_of "$NS_NODE" "vlan.eth.$vlan" 2>/dev/null)
	in_ns "$NS_VPC" python3 "$TRUNKPY" "$vlan" "$kind" tr0 "${bmac:-02:00:00:00:00:01}" \
		"$(mac_of "$NS_VPC" tr0)" "$CLIENT" "$dst" "$@"
}
# got NS PORT TAG: datagrams tagged TAG the sink on PORT in pod NS received.
got() {
	python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))
except Exception: print(0)' "$WORK/sink-$1-$2.json" "$3"
}
wait_got() {
	local desc=$1 want=$2 g i
	for ((i = 0; i < 60; i++)); do
		g=$(got "$3" "$4" "$5")
		[ "$g" = "$want" ] && break
		sleep 0.05
	done
	t_eq "$desc" "$want" "$g"
}

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
if ! { ns_make_vpc_node "$NODE4/24" fd00:10::10/64 10.0.1.1 fd00:10::1 &&
	ns_make_trunk 11 10.0.11.1 fd00:11::1 && ns_make_trunk 12 10.0.12.1 fd00:12::1 &&
	ns_make_trunk 13 10.0.13.1 fd00:13::1 &&
	ns_make_branch_pod a 11 sgb-a "$A4" "$A6" &&
	ns_make_branch_pod b 12 sgb-b "$B4" "$B6"; }; then
	suite_abort "namespace setup"
fi
# Pod a also reachable through VLAN 13 (the swap below moves it there).
in_node ip route add "$A4" dev sgb-a table 113 || suite_abort "table 113"
mkdir -p "$DEMUX_PIN"
if ! clang -O2 -g -target bpf -Wall -I"/usr/include/$(uname -m)-linux-gnu" \
	-c tests/e2e/vlan_demux.bpf.c -o "$WORK/vlan_demux.o" ||
	! bpftool prog load "$WORK/vlan_demux.o" "$DEMUX_PIN/prog" type classifier \
		pinmaps "$DEMUX_PIN/maps" ||
	! make_trunk || ! demux_map 11 vlan.eth.11 || ! demux_map 12 vlan.eth.12 ||
	! demux_map 13 vlan.eth.13; then
	suite_abort "the trunk and its VLAN stand-in (clang, bpftool, tc)"
fi
for p in a b; do
	for port in $P_A $P_B; do
		bg "$(pod_ns $p)" python3 "$SPOOF" sink "$port" "$WORK/sink-$p-$port.json"
	done
done
bg "$(pod_ns a)" python3 "$T_ROOT/tests/e2e/traffic.py" tcp-serve "$P_TCP"

write_policy 11 12
echo "== a run without --trunk leaves eth1 attached as a pod interface would be"
in_node "$SGBPFD" --once --policy "$POL" --pin-dir "$PIN" --socket '' --iface-glob 'eth1' \
	>>"$LOG" 2>&1
t_eq "its untagged entry {eth1, 0} is pinned (fail closed)" "[0]" \
	"$(q status 'sorted(a["vlan"] for a in d["attachments"] if a["interface"] == "eth1")')"

echo "== sgbpfd --trunk eth1"
from=$(log_lines)
sgbpfd_start --trunk eth1 --reconcile-interval 1 || suite_abort "sgbpfd starts"
TRUNK_IFX=$(ifindex_of eth1)
t_exit "trunk attached (log)" 0 wait_log "$from" \
	"event=trunk_attached iface=eth1 ifindex=$TRUNK_IFX .*msg=\"XDP front line" 5
t_match "its entries: VLANs 11 and 12" "event=trunk_vlans iface=eth1 .*vlans=2 added=2" \
	"$(log_since "$from")"
t_match "eth1 runs sgbpf's XDP program" "prog/xdp id [0-9]+" \
	"$(in_node ip -d link show dev eth1)"
t_exit "its XDP link is pinned" 0 test -e "$PIN/links/xdp-$TRUNK_IFX"
t_eq "no sgbpf TC program on the trunk (TX was judged where it entered)" "" \
	"$(in_node tc filter show dev eth1 egress)"
t_eq "status: the trunk, its VLANs, its XDP program current" "eth1 [11, 12] True" \
	"$(q status '" ".join(str(x) for x in (d["trunks"][0]["interface"], sorted(d["trunks"][0]["vlans"]), d["trunks"][0]["xdp"]["current"]))')"
t_eq "status: trunk rows are NET_FACING front-line entries of a and b (the untagged one gone)" \
	"[[11, 'e2e/a', 'net', True], [12, 'e2e/b', 'net', True]]" \
	"$(q status 'sorted([a["vlan"], a["endpoint"], a["role"], a["frontLine"]] for a in d["attachments"] if a["interface"] == "eth1")')"
t_eq "host veths keep TC ingress and egress (inbound is decided there)" "True True True True" \
	"$(q status '" ".join(str(a[h] is not None) for a in d["attachments"] if a["interface"] in ("sgb-a", "sgb-b") for h in ("tcIngress", "tcEgress"))')"
t_match "sgbpf status (table) names the trunk" "trunk: +eth1 \\(ifindex $TRUNK_IFX\\): XDP attached, front line for 2 VLANs" \
	"$(cli status --interval 0)"

echo "== VLAN 11 is a's: its SG decides, counted once"
a0=$(q stats "$A_IN_ALLOW")
send 11 udp "$A4" 40000 "$P_A" ok-a 3
wait_got "3 datagrams a's SG allows reach pod a through the trunk" 3 a "$P_A" ok-a
wait_eq "counted once each as a's inbound allows" "$((a0 + 3))" stats "$A_IN_ALLOW"
t_eq "one conntrack entry for the flow, advanced once per frame" "[3]" \
	"$(q "ct list" "[e['in']['packets'] for e in d['flows'] if e['remotePort'] == 40000]")"
send 11 tcp "$A4" 40001 "$P_TCP" S 1000 0 1
wait_eq "a TCP SYN a's SG allows: one entry, one inbound packet, answered by the pod" \
	"[(1, 'syn-recv')]" "ct list" \
	"[(e['in']['packets'], e['state']) for e in d['flows'] if e['remotePort'] == 40001]"

n0=$(q stats "$A_NORULE")
d0=$(q stats "$A_IN_DROP")
mon="$WORK/monitor.json"
cli monitor --format json --drops-only --duration 4 >"$mon" 2>/dev/null &
BG_PIDS+=($!)
MPID=$!
sleep 0.5
send 11 udp "$A4" 40002 "$P_B" no-a 2
wait_eq "2 datagrams a's SG does not allow: a's no-rule drops" "$((n0 + 2))" stats "$A_NORULE"
t_eq "counted once (a's inbound drops +2, not +4)" "$((d0 + 2))" "$(q stats "$A_IN_DROP")"
sleep 0.3
t_eq "they never reach pod a" 0 "$(got a "$P_B" no-a)"
send 11 tcp "$A4" 40006 "$P_B" S 1000 0 2
wait_eq "2 SYNs a's SG does not allow: a's no-rule drops" "$((n0 + 4))" stats "$A_NORULE"
t_eq "counted once (a's inbound drops +4 in all)" "$((d0 + 4))" "$(q stats "$A_IN_DROP")"

echo "== VLAN 12 is b's: b's SG decides"
b0=$(q stats "$B_IN_ALLOW")
bn0=$(q stats "$B_NORULE")
send 12 udp "$B4" 40003 "$P_B" ok-b 2
wait_got "UDP $P_B (b's SG allows it) reaches pod b" 2 b "$P_B" ok-b
wait_eq "b's inbound allows +2" "$((b0 + 2))" stats "$B_IN_ALLOW"
send 12 udp "$B4" 40004 "$P_A" no-b 2
wait_eq "UDP $P_A on b's VLAN: b's no-rule drops (a's SG would allow it)" "$((bn0 + 2))" \
	stats "$B_NORULE"
t_eq "not delivered to pod b" 0 "$(got b "$P_A" no-b)"
w0=$(q stats "$B_WRONGDST")
send 12 udp "$A4" 40005 "$P_A" cross 2
wait_eq "a's address on b's VLAN: b's wrong-destination drops" "$((w0 + 2))" stats "$B_WRONGDST"
t_eq "and pod a gets nothing by that way" 0 "$(got a "$P_A" cross)"

wait "$MPID" 2>/dev/null
# mon_drops SPORT: the drops monitor saw of the frames from SPORT.
mon_drops() {
	python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [e for e in ev if e.get("srcPort") == int(sys.argv[2])]
print(len(ev), *sorted({(e["endpoint"], e["ifindex"], e["vlan"], e["direction"], e["reason"]) for e in ev})[0] if ev else "")' "$mon" "$1"
}
t_eq "monitor: the SYNs (they only open flows) dropped at the trunk, eth1 VLAN 11" \
	"2 e2e/a $TRUNK_IFX 11 in no-rule" "$(mon_drops 40006)"
t_eq "monitor: the datagrams (could be a Service's NATed replies) left to sgb-a, dropped there" \
	"2 e2e/a $(ifindex_of sgb-a) 0 in no-rule" "$(mon_drops 40002)"

echo "== a VLAN no endpoint has is not a pod's"
u0=$(q stats "$UNKNOWN")
e0=$(q stats "$IN_DROPS")
send 99 tcp "$A4" 40007 "$P_B" S 1000 0 3
wait_eq "passed by the trunk, counted as an unknown interface's" "$((u0 + 3))" stats "$UNKNOWN"
# Judged for a pod, these SYNs (to a's address, a port a's SG does not
# open) would be a's no-rule or b's wrong-destination inbound drops.
# (The pods' own background traffic - router solicitations, MLD - is
# outbound, so the endpoints' total is no measure here.)
t_eq "against no endpoint (a's and b's inbound drops unchanged)" "$e0" "$(q stats "$IN_DROPS")"

echo "== traffic to a pod that does not cross the trunk is judged on its host veth"
n0=$(q stats "$A_NORULE")
# One frame per call: the egress drop fails the sender's write (ENOBUFS).
for _ in 1 2; do
	in_node python3 "$SPOOF" udp sgb-a "$(mac_of "$(pod_ns a)" eth0)" \
		"$(mac_of "$NS_NODE" sgb-a)" "$CLIENT" "$A4" 40007 "$P_B" raw 1 2>/dev/null
done
wait_eq "raw frames written on sgb-a (a hostNetwork NET_RAW process): a's no-rule drops" \
	"$((n0 + 2))" stats "$A_NORULE"
t_eq "not delivered" 0 "$(got a "$P_B" raw)"

echo "== policy swaps move and remove VLANs"
from=$(log_lines)
write_policy 13 12
t_exit "a moved to VLAN 13: entry changed" 0 wait_log "$from" \
	"event=trunk_vlans iface=eth1 .*vlans=2 added=1 changed=0 removed=1" 5
t_eq "status: VLANs 12 and 13" "[12, 13]" "$(q status 'sorted(d["trunks"][0]["vlans"])')"
u0=$(q stats "$UNKNOWN")
n0=$(q stats "$A_NORULE")
send 11 udp "$A4" 40008 "$P_B" old11 2
wait_eq "VLAN 11 is no one's now: passed by the trunk as unknown" "$((u0 + 2))" stats "$UNKNOWN"
wait_eq "... and, still routed to pod a here, dropped by a's host veth (no-rule)" \
	"$((n0 + 2))" stats "$A_NORULE"
n0=$(q stats "$A_NORULE")
send 13 udp "$A4" 40009 "$P_B" new13 2
wait_eq "VLAN 13 is a's: a's no-rule drops" "$((n0 + 2))" stats "$A_NORULE"
send 13 udp "$A4" 40010 "$P_A" ok13 2
wait_got "and what a's SG allows reaches a through VLAN 13" 2 a "$P_A" ok13
from=$(log_lines)
write_policy 13 0
t_exit "b left the policy: its VLAN's entry removed" 0 wait_log "$from" \
	"event=trunk_vlans iface=eth1 .*vlans=1 added=0 changed=0 removed=1" 5
t_eq "status: VLAN 13 only" "[13]" "$(q status 'sorted(d["trunks"][0]["vlans"])')"
write_policy 13 12
t_exit "b back on VLAN 12" 0 wait_log "$from" "event=trunk_vlans iface=eth1 .*vlans=2 added=1" 5

echo "== the trunk goes and comes back with a new ifindex"
from=$(log_lines)
in_node ip link del eth1
t_exit "trunk_gone logged" 0 wait_log "$from" "event=trunk_gone iface=eth1 ifindex=$TRUNK_IFX" 5
t_eq "its entries are gone" "[]" "$(q status '[a["vlan"] for a in d["attachments"] if a["vlan"]]')"
t_exit "its XDP link is unpinned" 1 test -e "$PIN/links/xdp-$TRUNK_IFX"
make_trunk || suite_abort "re-creating the trunk"
NEW_IFX=$(ifindex_of eth1)
t_exit "re-attached to the new eth1 (ifindex $NEW_IFX)" 0 wait_log "$from" \
	"event=trunk_attached iface=eth1 ifindex=$NEW_IFX" 5
t_eq "status: the new trunk with VLANs 12 and 13" "$NEW_IFX [12, 13] True" \
	"$(q status '" ".join(str(x) for x in (d["trunks"][0]["ifindex"], sorted(d["trunks"][0]["vlans"]), d["trunks"][0]["xdp"]["current"]))')"
n0=$(q stats "$A_NORULE")
send 13 udp "$A4" 40011 "$P_B" back 2
wait_eq "the new trunk's front line drops for a again" "$((n0 + 2))" stats "$A_NORULE"

echo "== restart with --config's trunk key: the pinned XDP link is kept, its program updated"
sgbpfd_stop KILL
old_prog=$(q status 'd["trunks"][0]["xdp"]["progId"]')
printf 'trunk = eth1\nreconcile-interval = 1\n' >"$WORK/sgbpfd.conf"
from=$(log_lines)
sgbpfd_start --config "$WORK/sgbpfd.conf" || suite_abort "sgbpfd restarts"
t_exit "trunk attached again after the restart" 0 wait_log "$from" \
	"event=trunk_attached iface=eth1 ifindex=$NEW_IFX" 5
t_eq "same link, a new current program" "True True" \
	"$(q status '" ".join(str(x) for x in (d["trunks"][0]["xdp"]["progId"] != '"$old_prog"', d["trunks"][0]["xdp"]["current"]))')"
t_eq "entries unchanged across the restart" "[12, 13]" "$(q status 'sorted(d["trunks"][0]["vlans"])')"

echo "== without --trunk the next start removes the trunk's XDP and entries"
sgbpfd_stop TERM
from=$(log_lines)
sgbpfd_start || suite_abort "sgbpfd starts without --trunk"
t_exit "stale trunk entries removed" 0 wait_log "$from" "event=stale_iface_removed msg=\"ifindex $NEW_IFX vlan 1[23]" 5
t_eq "no trunk in status" "0" "$(q status 'len(d["trunks"])')"
t_exit "no XDP link pinned for it" 1 test -e "$PIN/links/xdp-$NEW_IFX"

t_done
