#!/usr/bin/env bash
# Spoofing, live (issue 9; spec 4.3, 6.3): a pod writes forged frames with
# AF_PACKET (tests/e2e/spoof.py) through its veth and sgbpfd's programs.
# Sent from another pod's address (IPv4, IPv6), from the node's address,
# from an address nobody owns, or with another MAC: none reaches the remote,
# each is counted as spoofed-source / spoofed-mac. Forged replies: a pod
# forging another pod's side of a live TCP connection is dropped and leaves
# that pod's conntrack entry untouched; a SYN forged as the other pod plants
# nothing, so the remote's "reply" to it is dropped. The same forgeries with
# the pod's own address and MAC pass (the sender works).
# The offline suites cover the same logic frame by frame (tests/bpf/
# test_srcdst.c: spoofed_source, spoofed_mac, wrong_destination,
# no_conntrack_poisoning); this one shows it on real interfaces.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgsp$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

sgbpfd_suite spoof
SPOOF="$T_ROOT/tests/e2e/spoof.py"
FIX="$T_ROOT/tests/fixtures/e2e"

t_require_root_and_bins

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
{ ns_make_node && ns_make_remote 10.0.0.50 fd00:20::50 &&
	ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23 &&
	ns_make_pod cli sgb-cli0 10.0.1.25 fd00:10::25; } || suite_abort "namespace setup"
WEB=$(pod_ns web)
CLI=$(pod_ns cli)
link_mac() { in_ns "$1" ip -br link show dev "$2" | awk '{print $3}'; }
CLI_MAC=$(link_mac "$CLI" eth0)
WEB_MAC=$(link_mac "$WEB" eth0)
GW_MAC=$(link_mac "$NS_NODE" sgb-cli0)
RGW_MAC=$(link_mac "$NS_NODE" vpc0)
RMT_MAC=$(link_mac "$NS_REMOTE" eth0)
# cli-0 with its MAC on record, so the MAC is checked too.
cp "$FIX/daemon/groups.json" "$POL/"
python3 - "$FIX/daemon/endpoints.json" "$POL/endpoints.json" "$CLI_MAC" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for e in d["endpoints"]:
    if e["name"] == "e2e/cli-0":
        e["mac"] = sys.argv[3]
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF
sgbpfd_start || suite_abort "sgbpfd starts" "$(tail -n 20 "$LOG")"
bg "$NS_REMOTE" python3 "$SPOOF" sink 9999 "$WORK/sink.json"
bg "$WEB" python3 "$T_ROOT/tests/e2e/traffic.py" tcp-serve 80
sleep 0.4

# drops ENDPOINT REASON: that endpoint's drop counter for a reason.
drops() {
	"$SGBPF" stats --endpoint "$1" --pin-dir "$PIN" --socket "$SOCK" -o json | python3 -c '
import json, sys
ep = [e for e in json.load(sys.stdin)["endpoints"] if e["name"] == sys.argv[1]][0]
print(ep["dropsByReason"][sys.argv[2]])' "$1" "$2"
}
got() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' \
	"$WORK/sink.json" "$1" 2>/dev/null || echo 0; }
# udp_from TAG SRC_ADDR SRC_MAC DST: three forged datagrams from cli to the remote's sink.
udp_from() {
	in_ns "$CLI" python3 "$SPOOF" udp eth0 "$GW_MAC" "$3" "$2" "$4" 40000 9999 "$1"
}

echo "== the sender works: cli's own address and MAC pass"
udp_from own4 10.0.1.25 "$CLI_MAC" 10.0.0.50
udp_from own6 fd00:10::25 "$CLI_MAC" fd00:20::50
sleep 0.5
t_eq "own IPv4 address: all 3 datagrams arrive" 3 "$(got own4)"
t_eq "own IPv6 address: all 3 datagrams arrive" 3 "$(got own6)"

echo "== forged sources"
S0=$(drops e2e/cli-0 spoofed-source)
M0=$(drops e2e/cli-0 spoofed-mac)
udp_from as-web4 10.0.1.23 "$CLI_MAC" 10.0.0.50
udp_from as-web6 fd00:10::23 "$CLI_MAC" fd00:20::50
udp_from as-node4 10.0.1.10 "$CLI_MAC" 10.0.0.50
udp_from as-node6 fd00:10::10 "$CLI_MAC" fd00:20::50
udp_from as-nobody4 10.0.0.77 "$CLI_MAC" 10.0.0.50
udp_from as-remote4 10.0.0.50 "$CLI_MAC" 10.0.0.50
udp_from web-mac4 10.0.1.25 "$WEB_MAC" 10.0.0.50
udp_from rand-mac6 fd00:10::25 02:de:ad:be:ef:01 fd00:20::50
sleep 0.5
for tag in as-web4 as-web6 as-node4 as-node6 as-nobody4 as-remote4; do
	t_eq "$tag: nothing arrives" 0 "$(got "$tag")"
done
t_eq "another pod's MAC: nothing arrives" 0 "$(got web-mac4)"
t_eq "a made-up MAC (IPv6): nothing arrives" 0 "$(got rand-mac6)"
t_eq "18 datagrams counted as spoofed-source on cli-0" 18 $(($(drops e2e/cli-0 spoofed-source) - S0))
t_eq "6 datagrams counted as spoofed-mac on cli-0" 6 $(($(drops e2e/cli-0 spoofed-mac) - M0))

echo "== forged replies and conntrack"
# A live connection remote -> web:80, held open.
nsenter --net="/run/netns/$NS_REMOTE" python3 -c '
import os, socket, sys, time
c = socket.create_connection(("10.0.1.23", 80), timeout=5)
c.sendall(b"hold\n"); c.recv(16)
print(c.getsockname()[1], flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
try:
    c.sendall(b"again\n")
    print("alive" if c.recv(16) == b"again\n" else "dead", flush=True)
except OSError as e:
    print("dead:", e, flush=True)' "$WORK/hold.go" >"$WORK/hold.port" 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 40); do [ -s "$WORK/hold.port" ] && break; sleep 0.05; done
RPORT=$(head -n 1 "$WORK/hold.port")
# ct_web RPORT: [state, packets in, packets out] of web-0's entries with that remote port.
ct_web() {
	"$SGBPF" ct list --endpoint e2e/web-0 --pin-dir "$PIN" --socket "$SOCK" -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
ents = d["flows"] if isinstance(d, dict) and "flows" in d else d
m = [e for e in ents if int(e.get("remotePort", -1)) == int(sys.argv[1])]
print(json.dumps([[e["state"], e["in"]["packets"], e["out"]["packets"]] for e in m]))' "$1"
}
BEFORE=$(ct_web "$RPORT")
t_match "web-0 tracks the held connection from port $RPORT" 'established' "$BEFORE"
S0=$(drops e2e/cli-0 spoofed-source)
# cli forges web's side of it: data, a FIN and a RST.
for fl in PA F R; do
	in_ns "$CLI" python3 "$SPOOF" tcp eth0 "$GW_MAC" "$CLI_MAC" 10.0.1.23 10.0.0.50 80 "$RPORT" \
		"$fl" 1000 1000
done
sleep 0.3
t_eq "forged replies as web: 9 segments counted as spoofed-source" 9 \
	$(($(drops e2e/cli-0 spoofed-source) - S0))
t_eq "web-0's entry untouched by the forgeries (state, packets)" "$BEFORE" "$(ct_web "$RPORT")"
touch "$WORK/hold.go"
for _ in $(seq 40); do [ "$(wc -l <"$WORK/hold.port")" -ge 2 ] && break; sleep 0.05; done
t_eq "the held connection survives the forged data, FIN and RST" alive "$(sed -n 2p "$WORK/hold.port")"
# Plant: cli opens a flow as web to the remote's 443; the remote's "reply"
# (SYN-ACK to web from 443) must find nothing.
in_ns "$CLI" python3 "$SPOOF" tcp eth0 "$GW_MAC" "$CLI_MAC" 10.0.1.23 10.0.0.50 41000 443 S 7 0 1
N0=$(drops e2e/web-0 no-rule)
in_ns "$NS_REMOTE" python3 "$SPOOF" tcp eth0 "$RGW_MAC" "$RMT_MAC" 10.0.0.50 10.0.1.23 443 41000 SA \
	99 8 1
sleep 0.3
t_eq "nothing planted: no web-0 entry for the forged flow" "[]" "$(ct_web 443)"
t_eq "the remote's reply to the forged SYN is dropped at web-0 (no-rule)" 1 \
	$(($(drops e2e/web-0 no-rule) - N0))
sgbpfd_stop TERM
t_done
