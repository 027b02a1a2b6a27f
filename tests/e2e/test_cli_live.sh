#!/usr/bin/env bash
# The live-node CLI verbs (status, endpoints, endpoint, sg, ct, stats,
# monitor) against a running sgbpfd in test namespaces, checked against the
# traffic sent: N denied SYNs to port 22 show up as N no-rule drops in
# `stats` and as N events in `monitor --drops-only` (started before them),
# allowed flows are in `ct list` and denied ones are not, `ct flush` removes
# entries, flow-log records aggregate packets per flow, allow events appear
# once node.allowEvents is on, -o json parses, exit codes, non-root refusal.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgbcli$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh

SGBPFD="$T_ROOT/build/sgbpfd"
TRAFFIC="$T_ROOT/tests/e2e/traffic.py"
FIX="$T_ROOT/tests/fixtures/e2e"
PIN="/sys/fs/bpf/sgbpf-cli-$$"
WORK=$(mktemp -d /tmp/sgbpf-cli.XXXXXX)
chmod 755 "$WORK"
POL="$WORK/policy"
SOCK="$WORK/sgbpfd.sock"
LOG="$WORK/sgbpfd.log"
DPID=
BG_PIDS=()

cleanup() {
	local p
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN"
	if [ "$T_FAIL" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- sgbpfd log (last 30 lines) ---"
		tail -n 30 "$LOG"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_require_root_and_bins

# The CLI runs in the node namespace, like sgbpfd (interface names resolve there).
cli() { in_node "$SGBPF" "$@" --pin-dir "$PIN" --socket "$SOCK"; }
# jq-less JSON checks: jcheck DESC PYTHON_EXPR_ON_d JSON_TEXT
jcheck() {
	local desc=$1 expr=$2 text=$3 out
	if out=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
ok = eval(sys.argv[1])
print(ok)
sys.exit(0 if ok else 1)' "$expr" <<<"$text" 2>&1); then
		t_pass "$desc"
	else
		t_fail "$desc" "$expr -> $out | ${text:0:600}"
	fi
}

# syn SRC DST SPORT DPORT N: N bare TCP SYNs (raw socket) from the remote, so
# the test knows exactly how many packets were sent (connect() retransmits).
cat >"$WORK/syn.py" <<'EOF'
import socket, struct, sys
src, dst, sport, dport, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for i in range(n):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000 + i, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    s.sendto(hdr, (dst, 0))
EOF
syn() { in_ns "$NS_REMOTE" python3 "$WORK/syn.py" "$@"; }

# stat_of JSON EXPR: evaluate a python expression over the stats JSON d.
stat_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" <<<"$1"; }
WEB_NORULE='[e for e in d["endpoints"] if e["name"]=="e2e/web-0"][0]["dropsByReason"]["no-rule"]'

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
mkdir -p "$POL"
cp "$FIX/daemon/groups.json" "$FIX/daemon/endpoints.json" "$POL/"
if ! { ns_make_node && ns_make_remote 10.0.0.50 fd00:20::50 &&
	ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23 &&
	ns_make_pod cli sgb-cli0 10.0.1.25 fd00:10::25; }; then
	t_fail "namespace setup"
	t_done
	exit 1
fi
WEB=$(pod_ns web)
CLI=$(pod_ns cli)
bg "$WEB" python3 "$TRAFFIC" tcp-serve 80 22
bg "$WEB" python3 "$TRAFFIC" udp-serve 5353
bg "$NS_REMOTE" python3 "$TRAFFIC" tcp-serve 80

echo "== before sgbpfd: nothing pinned"
t_exit "status with nothing pinned exits 2" 2 cli status --interval 0
t_match "... and says nothing is pinned there" "no sgbpf datapath pinned at $PIN" "$T_ERR"

in_node "$SGBPFD" --policy "$POL" --pin-dir "$PIN" --socket "$SOCK" --iface-glob 'sgb-*' \
	--reconcile-interval 1 >"$LOG" 2>&1 &
DPID=$!
for _ in $(seq 100); do grep -q "event=running" "$LOG" && break; sleep 0.05; done
if ! grep -q "event=running" "$LOG"; then
	t_fail "sgbpfd starts" "$(tail -n 20 "$LOG")"
	t_done
	exit 1
fi
t_pass "sgbpfd starts"
GEN=$(grep -E "event=policy_applied" "$LOG" | tail -n 1 | sed -E 's/.* generation=([0-9]+).*/\1/')

echo "== help, usage errors, privilege"
for v in status endpoints endpoint sg "ct" stats monitor; do
	t_exit "sgbpf $v --help exits 0" 0 "$SGBPF" $v --help
done
t_match "ct --help says untracked flows have no entries" "Untracked flows .* have no entries" \
	"$("$SGBPF" ct --help | tr '\n' ' ')"
t_match "monitor --help says allow events need node.allowEvents" "node.allowEvents" \
	"$("$SGBPF" monitor --help)"
t_exit "status with an unknown option exits 2" 2 cli status --bogus
t_exit "ct without list/flush exits 2" 2 cli ct
t_exit "ct flush without a filter exits 2" 2 cli ct flush
t_match "... and asks for a filter or --all" "no filter given" "$T_ERR"
t_exit "stats -o yaml exits 2" 2 cli stats -o yaml
t_exit "ct list --proto bogus exits 2" 2 cli ct list --proto bogus
t_exit "status against an empty pin dir exits 2" 2 in_node "$SGBPF" status --pin-dir "$WORK/none"
t_eq "... with a one-line cause" 1 "$(wc -l <<<"$T_ERR")"
t_exit "status as nobody exits 2" 2 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$SGBPF" status --pin-dir "$PIN" --socket "$SOCK"
t_match "... saying it needs root" "needs root" "$T_ERR"
t_exit "ct flush as nobody exits 2" 2 setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$SGBPF" ct flush --all --pin-dir "$PIN"

echo "== status"
t_exit "status exits 0 with sgbpfd up" 0 cli status --interval 0.2
t_match "status table: sgbpfd running" "sgbpfd: +running" "$T_OUT"
t_match "status table: sgb-web0 attached" "sgb-web0 .* e2e/web-0" "$T_OUT"
t_match "status table: IPv4 conntrack against its own maps (ct4_est + ct4t_est)" \
	"conntrack: +IPv4: [0-9]+ of 2097152 \([0-9.]+%\) established, [0-9]+ of 131072 \([0-9.]+%\) new" "$T_OUT"
t_match "status table: IPv6 conntrack against its own maps (ct_est + ct6t_est + ct6u_est)" \
	" +IPv6: [0-9]+ of 3145728 \([0-9.]+%\) established, [0-9]+ of 131072 \([0-9.]+%\) new" "$T_OUT"
t_exit "status -o json exits 0" 0 cli status -o json --interval 0.2
S=$T_OUT
jcheck "status json: daemon running, generation $GEN in force" \
	"d['daemon']['running'] and d['policy']['generation'] == $GEN and d['daemon']['generation'] == $GEN" "$S"
jcheck "status json: sgbpfd reports when the policy was applied, its attach mode and links" \
	"d['daemon']['appliedAt'].endswith('Z') and d['daemon']['attach'] == 'tc' and sorted(l['interface'] for l in d['daemon']['links'] if l['enforced']) == ['sgb-cli0', 'sgb-web0']" "$S"
jcheck "status json: both pods attached with the current TC programs" \
	"sorted(a['interface'] for a in d['attachments'] if a['tcIngress'] and a['tcIngress']['current'] and a['tcEgress']['current']) == ['sgb-cli0', 'sgb-web0']" "$S"
jcheck "status json: map fill levels with capacities" \
	"{m['name'] for m in d['maps']} >= {'ct4_est','ct4t_est','ct4_new','ct_est','ct6t_est','ct6u_est','ct_new','rule_trie','port_trie','ifaces'} and all(m['maxEntries'] > 0 for m in d['maps'])" "$S"
jcheck "status json: conntrack occupancy against its limits, both families together" \
	"d['conntrack']['establishedMax'] == 5 * 1048576 and d['conntrack']['newMax'] == 2 * 131072" "$S"
# Per family: each family's flows fill only its own maps (established:
# ct4_est and ct4t_est for TCP; ct_est, ct6t_est for TCP, ct6u_est for UDP).
# (jcheck evaluates one expression: the names are bound with :=.)
CT_FAMILIES="(m := {x['name']: x for x in d['maps']}) and (c := d['conntrack']) and (f := c['families']) and \
(t := {('ipv4', 'established'): ('ct4_est', 'ct4t_est'), ('ipv4', 'new'): ('ct4_new',), ('ipv6', 'established'): ('ct_est', 'ct6t_est', 'ct6u_est'), ('ipv6', 'new'): ('ct_new',)})"
jcheck "status json: conntrack per family, each against its own maps' capacity and entries" \
	"$CT_FAMILIES and sorted(f) == ['ipv4', 'ipv6'] and \
all(f[fa][k] == sum(m[x]['entries'] for x in mp) and f[fa][k + 'Max'] == sum(m[x]['maxEntries'] for x in mp) == len(mp) * (1048576 if k == 'established' else 131072) for (fa, k), mp in t.items()) and \
all(c[k] == f['ipv4'][k] + f['ipv6'][k] for k in ('established', 'new'))" "$S"
jcheck "status json: drops with an honest window" "d['drops']['windowSeconds'] == 0.2 and 'inWindow' in d['drops']" "$S"
t_exit "status against a dead socket exits 1 (enforcement goes on)" 1 in_node "$SGBPF" status \
	--pin-dir "$PIN" --socket "$WORK/nosuch.sock" --interval 0
t_match "... and says sgbpfd is not answering" "NOT answering" "$T_OUT"

echo "== endpoints, endpoint, sg"
t_exit "endpoints exits 0" 0 cli endpoints
t_match "endpoints table lists web-0 with its interface, address and SG" \
	"e2e/web-0 +sgb-web0 .*10.0.1.23.*sg-0e2eweb00000000a" "$T_OUT"
t_exit "endpoints -o json exits 0" 0 cli endpoints -o json
jcheck "endpoints json: web-0 addresses, SGs, interface from the live slot" \
	"[(e['interface'], sorted(e['addresses']), e['securityGroups']) for e in d['endpoints'] if e['name']=='e2e/web-0'] == [('sgb-web0', ['10.0.1.23', 'fd00:10::23'], ['sg-0e2eweb00000000a'])]" "$T_OUT"
t_exit "endpoint e2e/web-0 exits 0" 0 cli endpoint e2e/web-0
t_match "endpoint table shows its effective inbound rules" "inbound: [0-9]+ rules" "$T_OUT"
t_match "... and that outbound allows nothing" "outbound: no rules" "$T_OUT"
t_exit "endpoint e2e/web-0 -o json exits 0" 0 cli endpoint e2e/web-0 -o json
jcheck "endpoint json: inbound tcp 80-89 rule from sg-0e2eweb00000000a, no outbound" \
	"any(r['ports']=='80-89' and r['protocol']=='tcp' and r['securityGroup']=='sg-0e2eweb00000000a' for r in d['inbound']) and d['outbound'] == [] and d['policyInPlace']" "$T_OUT"
t_exit "endpoint with --policy instead of sgbpfd exits 0" 0 in_node "$SGBPF" endpoint e2e/web-0 \
	--pin-dir "$PIN" --socket "$WORK/nosuch.sock" --policy "$POL" -o json
t_exit "endpoint nosuch exits 1" 1 cli endpoint e2e/nosuch
t_exit "sg sg-0e2eweb00000000a -o json exits 0" 0 cli sg sg-0e2eweb00000000a -o json
jcheck "sg json: rules, web-0 uses it, membership resolves to web-0's addresses" \
	"len(d['rules']) >= 4 and [e['name'] for e in d['endpoints']] == ['e2e/web-0'] and sorted(a['address'] for a in d['memberAddresses']) == ['10.0.1.23', 'fd00:10::23']" "$T_OUT"
t_exit "sg table exits 0" 0 cli sg sg-0e2ecli00000000a
t_match "sg table names the endpoint using it" "e2e/cli-0" "$T_OUT"
t_exit "sg sg-nosuch exits 1" 1 cli sg sg-0000000000000dead

echo "== offline verbs without a directory use the policy sgbpfd enforces"
t_exit "validate (no DIR) exits 0" 0 in_node "$SGBPF" validate --socket "$SOCK"
t_match "validate names sgbpfd's directory" "^$POL: valid" "$T_OUT"
t_exit "rules (no DIR) exits 0" 0 in_node "$SGBPF" rules --socket "$SOCK" --endpoint e2e/web-0 -o json
jcheck "rules json comes from sgbpfd's directory" "d['policy'] == '$POL'" "$T_OUT"
t_exit "check (no --policy): web-0 inbound tcp/22 denied" 1 in_node "$SGBPF" check --socket "$SOCK" \
	--endpoint e2e/web-0 --in --proto tcp --remote 10.0.0.50 --port 22
t_match "check says deny, no-rule" "^deny" "$T_OUT"
t_exit "check with no daemon and no --policy exits 2" 2 in_node "$SGBPF" check \
	--socket "$WORK/nosuch.sock" --endpoint e2e/web-0 --in --proto tcp --remote 10.0.0.50 --port 22
t_match "... naming the socket" "does not answer at $WORK/nosuch.sock" "$T_ERR"

echo "== denied SYNs: stats and monitor agree with the traffic"
N=5
t_exit "stats -o json exits 0" 0 cli stats -o json
BEFORE=$(stat_of "$T_OUT" "$WEB_NORULE")
in_node "$SGBPF" monitor --pin-dir "$PIN" --socket "$SOCK" --drops-only --count "$N" \
	--endpoint e2e/web-0 -o json --duration 15 >"$WORK/mon.json" 2>"$WORK/mon.err" &
MONPID=$!
sleep 0.5
syn 10.0.0.50 10.0.1.23 40022 22 "$N"
wait "$MONPID"
t_eq "monitor --drops-only --count $N exits 0 once it saw them" 0 "$?"
t_exit "stats -o json after the SYNs" 0 cli stats -o json
AFTER=$(stat_of "$T_OUT" "$WEB_NORULE")
t_eq "stats: exactly $N more no-rule drops for e2e/web-0" "$N" "$((AFTER - BEFORE))"
jcheck "stats json: global no-rule drops at least $N" "d['dropsByReason']['no-rule'] >= $N" "$T_OUT"
t_eq "monitor printed $N events" "$N" "$(wc -l <"$WORK/mon.json")"
t_exit "monitor events: drop, no-rule, inbound, 10.0.0.50:40022 -> 10.0.1.23:22, web-0" 0 python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev and all(e["verdict"] == "drop" and e["reason"] == "no-rule" and e["direction"] == "in"
                  and e["srcAddr"] == "10.0.0.50" and e["dstAddr"] == "10.0.1.23"
                  and e["srcPort"] == 40022 and e["dstPort"] == 22 and e["protocol"] == "tcp"
                  and e["endpoint"] == "e2e/web-0" and e["interface"] == "sgb-web0" for e in ev), ev
' "$WORK/mon.json"
# A ring buffer has one reader position, so the flow-log monitor runs on its own.
in_node "$SGBPF" monitor --pin-dir "$PIN" --socket "$SOCK" --drops-only --format flowlog \
	--duration 3 >"$WORK/flow.log" 2>"$WORK/flow.err" &
FLOWPID=$!
sleep 0.5
syn 10.0.0.50 10.0.1.23 40024 22 "$N"
wait "$FLOWPID"
t_eq "monitor --format flowlog --duration 3 exits 0" 0 "$?"
# Bytes are frame lengths at the hook: 14 Ethernet + 20 IPv4 + 20 TCP per SYN.
t_match "flowlog: one v2 record aggregating the $N SYNs, REJECT" \
	"^2 - sgb-web0 10\\.0\\.0\\.50 10\\.0\\.1\\.23 40024 22 6 $N $((N * 54)) [0-9]+ [0-9]+ REJECT OK$" \
	"$(cat "$WORK/flow.log")"
t_eq "flowlog: exactly one record" 1 "$(wc -l <"$WORK/flow.log")"

# Text format, with a drop generated while it waits.
in_node "$SGBPF" monitor --pin-dir "$PIN" --socket "$SOCK" --drops-only --count 1 \
	--duration 10 >"$WORK/mon.txt" 2>&1 &
MONPID=$!
sleep 0.5
syn 10.0.0.50 10.0.1.23 40023 22 1
wait "$MONPID"
t_match "monitor text: time, endpoint, dir, 5-tuple, verdict, reason" \
	"^[0-9:.]+ +e2e/web-0 +in +tcp 10\.0\.0\.50:40023 -> 10\.0\.1\.23:22 DROP no-rule" "$(cat "$WORK/mon.txt")"

echo "== conntrack: allowed flows listed, denied ones not"
t_exit "remote -> web tcp/80 allowed" 0 in_ns "$NS_REMOTE" python3 "$TRAFFIC" tcp-try 10.0.1.23 80
t_exit "remote -> web udp/5353 allowed" 0 in_ns "$NS_REMOTE" python3 "$TRAFFIC" udp-try 10.0.1.23 5353
t_exit "cli -> remote tcp/80 allowed" 0 in_ns "$CLI" python3 "$TRAFFIC" tcp-try 10.0.0.50 80
t_exit "remote -> web udp/5353 over IPv6 allowed" 0 in_ns "$NS_REMOTE" python3 "$TRAFFIC" udp-try fd00:10::23 5353
t_exit "status -o json with flows of both families" 0 cli status -o json --interval 0
jcheck "status json: the flows counted in their family's maps, short-key tables apart" \
	"$CT_FAMILIES and f['ipv4']['established'] >= 3 and f['ipv6']['established'] >= 1 and \
m['ct4t_est']['entries'] >= 2 and m['ct4_est']['entries'] >= 1 and m['ct6u_est']['entries'] >= 1 and \
all(f[fa][k] == sum(m[x]['entries'] for x in mp) for (fa, k), mp in t.items())" "$T_OUT"
t_exit "ct list exits 0" 0 cli ct list
t_match "ct table shows web-0's tcp/80 flow" "e2e/web-0 +tcp +10\.0\.1\.23:80 +10\.0\.0\.50:[0-9]+ " "$T_OUT"
t_exit "ct list -o json exits 0" 0 cli ct list -o json
CT=$T_OUT
jcheck "ct json: web-0 tcp/80 from 10.0.0.50, tracked, admitted by a rule, packets both ways" \
	"any(f['endpoint']=='e2e/web-0' and f['protocol']=='tcp' and f['localPort']==80 and f['remoteAddress']=='10.0.0.50' and f['tracked'] and f['ruleId'] is not None and f['in']['packets']>0 and f['out']['packets']>0 and f['expiresInSeconds']>0 and f['ageSeconds']>=0 for f in d['flows'])" "$CT"
jcheck "ct json: web-0 udp/5353 stream" \
	"any(f['endpoint']=='e2e/web-0' and f['protocol']=='udp' and f['localPort']==5353 and f['state']=='established' for f in d['flows'])" "$CT"
jcheck "ct json: web-0 udp/5353 stream over IPv6, established (read from ct6u_est under the wide key)" \
	"any(f['endpoint']=='e2e/web-0' and f['family']=='ipv6' and f['protocol']=='udp' and f['localAddress']=='fd00:10::23' and f['localPort']==5353 and f['state']=='established' and f['table']=='established' for f in d['flows'])" "$CT"
jcheck "ct json: cli-0 outbound tcp to 10.0.0.50:80" \
	"any(f['endpoint']=='e2e/cli-0' and f['remotePort']==80 and f['originDirection']=='out' for f in d['flows'])" "$CT"
jcheck "ct json: no entry for the denied port 22" "not any(f['localPort']==22 for f in d['flows'])" "$CT"
t_exit "ct list --endpoint e2e/web-0 --proto udp -o json" 0 cli ct list --endpoint e2e/web-0 --proto udp -o json
jcheck "ct filters: only web-0 udp flows" \
	"d['flows'] and all(f['endpoint']=='e2e/web-0' and f['protocol']=='udp' for f in d['flows'])" "$T_OUT"
t_exit "ct list --addr 10.0.1.25 -o json" 0 cli ct list --addr 10.0.1.25 -o json
jcheck "ct --addr: only flows with that address" \
	"d['flows'] and all('10.0.1.25' in (f['localAddress'], f['remoteAddress']) for f in d['flows'])" "$T_OUT"
t_exit "ct list --endpoint nosuch exits 1" 1 cli ct list --endpoint e2e/nosuch
t_exit "ct flush --endpoint e2e/web-0 --proto udp exits 0" 0 cli ct flush --endpoint e2e/web-0 --proto udp
t_match "... and prints the count" "^flushed [1-9][0-9]* conntrack entr" "$T_OUT"
t_exit "ct list after the flush" 0 cli ct list --endpoint e2e/web-0 -o json
jcheck "flushed: no web-0 udp entry, tcp one still there" \
	"not any(f['protocol']=='udp' for f in d['flows']) and any(f['protocol']=='tcp' for f in d['flows'])" "$T_OUT"

echo "== stats per rule, watch"
t_exit "stats --endpoint e2e/web-0 -o json" 0 cli stats --endpoint e2e/web-0 -o json
jcheck "stats: the tcp 80-89 rule of sg-0e2eweb00000000a admitted a new flow" \
	"any(r['securityGroup']=='sg-0e2eweb00000000a' and '80-89' in r['rule'] and r['newFlows']>=1 for r in d['rules']) and [e['name'] for e in d['endpoints']]==['e2e/web-0']" "$T_OUT"
t_exit "stats table exits 0" 0 cli stats
t_match "stats table: per-reason section" "no-rule +[0-9]+" "$T_OUT"
t_exit "stats --watch 0.5 --count 2 -o json" 0 cli stats --watch 0.5 --count 2 -o json
t_eq "... prints one JSON line per interval" 2 "$(wc -l <<<"$T_OUT")"
jcheck "... each a rate document" "d['unit']=='per-second' and d['intervalSeconds'] > 0.4" "$(tail -n 1 <<<"$T_OUT")"

echo "== allow events once node.allowEvents is on"
python3 - "$POL/endpoints.json" <<'EOF'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["node"]["allowEvents"] = True
json.dump(d, open(p + ".tmp", "w"), indent=2)
os.rename(p + ".tmp", p)
EOF
t_exit "sgbpf apply with allowEvents" 0 in_node "$SGBPF" apply --socket "$SOCK"
t_exit "status shows allow events on" 0 cli status -o json --interval 0
jcheck "... allowEvents true" "d['policy']['allowEvents']" "$T_OUT"
# Other allow events of web-0 (its IPv6 router solicitations) may come
# first: the check takes the TCP flow's first event.
in_node "$SGBPF" monitor --pin-dir "$PIN" --socket "$SOCK" --endpoint e2e/web-0 \
	-o json --duration 3 >"$WORK/allow.json" 2>&1 &
MONPID=$!
sleep 0.5
in_ns "$NS_REMOTE" python3 "$TRAFFIC" tcp-try 10.0.1.23 81 >/dev/null 2>&1
wait "$MONPID"
jcheck "monitor: an allow event naming the SG and rule" \
	"d['verdict']=='allow' and d['reason']=='rule' and d['securityGroup']=='sg-0e2eweb00000000a' and d['dstPort']==81" \
	"$(grep -m 1 '"dstPort":81[,}]' "$WORK/allow.json")"

t_done
