#!/usr/bin/env bash
# sgbpfd end to end: real kernel, real TCP/UDP/ICMP/ICMPv6 traffic between
# namespaces. A "node" namespace runs sgbpfd; pods are namespaces joined to
# it by veth pairs named as in the endpoints document; a "remote" namespace
# stands for the rest of the VPC (10.0.0.50, fd00:20::50).
#
# Covers: --once exit codes, allowed and denied flows both ways per SG with
# replies, `sgbpf apply`, a policy change under a running TCP stream, a
# malformed file written under traffic, kill -9 + restart under the stream
# (no byte lost, no retransmission), fail closed for an interface that
# appears before its endpoint, pod deletion and re-creation with the same
# address and other SGs (no old state), endpoint removal, reconcile after
# a pod vanished while sgbpfd was down, SIGTERM leaving enforcement in
# place, XDP mode and back, and a pinned layout version mismatch; conntrack
# GC (--gc-interval 1 throughout, so the stream test also shows it never
# touches a live flow); an endpoint removed whose interface matches no
# --iface-glob stays attached and closed, also across a restart.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgbd$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

SGBPFD="$T_ROOT/build/sgbpfd"
TRAFFIC="$T_ROOT/tests/e2e/traffic.py"
FIX="$T_ROOT/tests/fixtures/e2e"
PIN="/sys/fs/bpf/sgbpf-e2e-$$"
PIN2="/sys/fs/bpf/sgbpf-e2e-once-$$"
WORK=$(mktemp -d /tmp/sgbpfd-e2e.XXXXXX)
POL="$WORK/policy"
SOCK="$WORK/sgbpfd.sock"
LOG="$WORK/sgbpfd.log"

cleanup() {
	local p
	if [ "$T_FAIL" -ne 0 ] && [ -e "$PIN/maps/global_stats" ]; then
		echo "--- datapath drop/allow counters (global_stats, per CPU) ---"
		bpftool map dump pinned "$PIN/maps/global_stats" 2>&1 | grep -vE '^\s*0,?$' | head -80
	fi
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN" "$PIN2"
	if [ "$T_FAIL" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- sgbpfd log (last 60 lines) ---"
		tail -n 60 "$LOG"
	fi
	[ -n "${SGBPF_E2E_KEEP:-}" ] && cp "$LOG" "$SGBPF_E2E_KEEP"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_require_root_and_bins

# start_daemon [FLAG...] / stop_daemon SIGNAL: sgbpfd_start / sgbpfd_stop
# (sgbpfd.sh) with this suite's quick reconcile and GC.
start_daemon() { sgbpfd_start --reconcile-interval 1 --gc-interval 1 "$@"; }
stop_daemon() { sgbpfd_stop "$1"; }

# set_sgs NAME SG...: rewrite the endpoints document with NAME's SGs.
# add_ep NAME IFACE V4 V6 SG / del_ep NAME: add or remove an endpoint.
edit_eps() {
	python3 - "$POL/endpoints.json" "$@" <<'EOF'
import json, os, sys
path, op, name = sys.argv[1], sys.argv[2], sys.argv[3]
doc = json.load(open(path))
eps = doc["endpoints"]
if op == "set_sgs":
    for e in eps:
        if e["name"] == name:
            e["securityGroups"] = sys.argv[4:]
elif op == "add_ep":
    iface, v4, v6, sg = sys.argv[4:8]
    eps.append({"name": name, "interface": iface, "ipv4": [v4], "ipv6": [v6],
                "securityGroups": [sg]})
elif op == "del_ep":
    doc["endpoints"] = [e for e in eps if e["name"] != name]
tmp = os.path.join(os.path.dirname(path), ".endpoints.json.tmp")
json.dump(doc, open(tmp, "w"), indent=2)
os.rename(tmp, path)
EOF
}

# The conntrack maps, each with where its entries hold the ep_id (k: the
# key, v: the value; byte offset; width): the IPv4 maps' compact key starts
# with a 16-bit one, the wide key with a 32-bit one, and the short-key
# tables' keys (ct4t_est, ct6t_est, ct6u_est) have none: their value's ep_id
# (include/sgbpf/layout.h).
CT_MAPS="ct4_new:k:0:2 ct4_est:k:0:2 ct4t_est:v:90:2 ct_new:k:0:4 ct_est:k:0:4 ct6t_est:v:90:2 ct6u_est:v:90:2"
# (python) ep_of(entry, part, off, width): the ep_id of a bpftool -j entry.
CT_EP_OF='
def ep_of(e, part, off, w):
    b = bytes(int(x, 16) for x in e["key" if part == "k" else "value"])
    return int.from_bytes(b[off:off + w], "little")
'

# ct_count EP_ID: conntrack entries (both tables, both families) owned by
# the endpoint.
ct_count() {
	local m total=0 n
	for m in $CT_MAPS; do
		n=$(bpftool -j map dump pinned "$PIN/maps/${m%%:*}" | python3 -c "$CT_EP_OF"'
import json, sys
ep, part, off, w = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(sum(ep_of(e, part, off, w) == ep for e in json.load(sys.stdin)))' \
			"$1" $(tr : ' ' <<<"${m#*:}")) || n=999999
		total=$((total + n))
	done
	echo "$total"
}

# iface_entries IFINDEX: ifaces map entries for an ifindex.
iface_entries() {
	bpftool -j map dump pinned "$PIN/maps/ifaces" | python3 -c '
import json, sys
ifi = int(sys.argv[1])
n = 0
for e in json.load(sys.stdin):
    k = e.get("formatted", e).get("key")
    if isinstance(k, dict):
        v = k["ifindex"]
    else:
        v = int.from_bytes(bytes(int(x, 16) for x in k[:4]), "little")
    n += v == ifi
print(n)' "$1"
}

# iface_ep IFINDEX: ep_id of the untagged ifaces entry of an ifindex ("" when none).
iface_ep() {
	bpftool -j map dump pinned "$PIN/maps/ifaces" | python3 -c '
import json, sys
ifi = int(sys.argv[1])
for e in json.load(sys.stdin):
    f = e.get("formatted")
    if f:
        k, v = f["key"], f["value"]
        if k["ifindex"] == ifi and k["vlan_id"] == 0:
            print(v["ep_id"])
    else:
        b = bytes(int(x, 16) for x in e["key"])
        if int.from_bytes(b[:4], "little") == ifi and b[4:6] == bytes(2):
            print(int.from_bytes(bytes(int(x, 16) for x in e["value"][:4]), "little"))' "$1"
}

# ct_expire EP_ID: stamp every conntrack entry of the endpoint with
# last_seen_ns = 1 (long expired, whatever its timeout), as if it had
# idled out. Prints how many.
ct_expire() {
	local m n=0 line
	for m in $CT_MAPS; do
		while read -r line; do
			# shellcheck disable=SC2086
			bpftool map update pinned "$PIN/maps/${m%%:*}" $line exist && n=$((n + 1))
		done < <(bpftool -j map dump pinned "$PIN/maps/${m%%:*}" | python3 -c "$CT_EP_OF"'
import json, sys
ep, part, off, w = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for e in json.load(sys.stdin):
    k = [int(x, 16) for x in e["key"]]
    v = [int(x, 16) for x in e["value"]]
    if ep_of(e, part, off, w) != ep:
        continue
    v[8:16] = list((1).to_bytes(8, "little"))   # last_seen_ns
    print("key hex", " ".join("%02x" % b for b in k), "value hex",
          " ".join("%02x" % b for b in v))' "$1" $(tr : ' ' <<<"${m#*:}"))
	done
	echo "$n"
}

# status_json PY_EXPR: evaluate PY_EXPR on the daemon's status answer (d).
status_json() {
	python3 - "$SOCK" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"status"}\n')
buf = b""
while not buf.endswith(b"\n"):
    c = s.recv(65536)
    if not c:
        break
    buf += c
d = json.loads(buf)
print(eval(sys.argv[2]))
EOF
}

ep_id_of() { # NAME: from the last "enforced" line naming it
	grep -E "event=enforced .*endpoint=$1 " "$LOG" | tail -n 1 | sed -E 's/.* ep_id=([0-9]+).*/\1/'
}

generation() {
	grep -E "event=policy_applied" "$LOG" | tail -n 1 | sed -E 's/.* generation=([0-9]+).*/\1/'
}

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
daemon_pods
bg "$WEB" python3 "$TRAFFIC" tcp-serve 80 8080 99
bg "$WEB" python3 "$TRAFFIC" udp-serve 5353 5354
bg "$CLI" python3 "$TRAFFIC" tcp-serve 80
bg "$NS_REMOTE" python3 "$TRAFFIC" tcp-serve 80 443
sleep 0.5
can "no enforcement yet: remote -> cli ping passes" "$NS_REMOTE" ping1 10.0.1.25

echo "== --once"
ip netns add "$NS_PREFIX-once"
cp -r "$POL" "$WORK/bad"
cp "$FIX/bad-port.json" "$WORK/bad/"
t_exit "--once with a malformed policy exits 1" 1 nsenter --net="/run/netns/$NS_PREFIX-once" \
	"$SGBPFD" --once --policy "$WORK/bad" --pin-dir "$PIN2" --socket ''
t_match "--once names the file and JSON path" \
	'event=policy_error .*file=bad-port.json path=SecurityGroups\[0\]\.IpPermissions\[0\]\.FromPort' "$T_ERR"
cat >"$WORK/sgbpfd.conf" <<EOF
# sgbpfd config: keys are the long flag names
policy = $POL
pin-dir = $PIN2
socket = ""
log-format = json
log-level = warn
EOF
t_exit "--once with a good policy (from --config, flags override) exits 0" 0 \
	nsenter --net="/run/netns/$NS_PREFIX-once" "$SGBPFD" --config "$WORK/sgbpfd.conf" --once \
	--log-level info
t_exit "JSON log lines parse, with ts, level, event, generation, timings" 0 python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin.read().splitlines()]
assert lines and all({"ts", "level", "event"} <= set(l) for l in lines), lines
ok = [l for l in lines if l["event"] == "policy_applied"]
assert ok and {"generation", "compile_ms", "swap_ms"} <= set(ok[0]), lines
' <<<"$T_ERR"
t_exit "sgbpfd --help exits 0" 0 "$SGBPFD" --help
t_exit "sgbpfd with an unknown flag exits 2" 2 "$SGBPFD" --policy "$POL" --bogus
t_exit "sgbpfd without --policy exits 2" 2 "$SGBPFD" --once
t_exit "--once with a missing policy dir exits 2" 2 nsenter --net="/run/netns/$NS_PREFIX-once" \
	"$SGBPFD" --once --policy "$WORK/nonexistent" --pin-dir "$PIN2" --socket ''
# Another layout version pinned: refused, naming both versions, never mixed.
bpftool map update pinned "$PIN2/maps/state" key 0 0 0 0 value 0 0 0 0 99 0 0 0 2 0 0 0 0 0 0 0
t_exit "pinned state of another layout version is refused (exit 2)" 2 \
	nsenter --net="/run/netns/$NS_PREFIX-once" "$SGBPFD" --once --policy "$POL" --pin-dir "$PIN2" --socket ''
LAYOUT_V=$(sed -nE 's/^#define SGBPF_LAYOUT_VERSION ([0-9]+).*/\1/p' "$T_ROOT/include/sgbpf/layout.h")
t_match "the refusal names both layout versions" "layout version 99, this build uses layout version $LAYOUT_V;" "$T_ERR"
rm -rf "$PIN2"

echo "== start sgbpfd"
if ! start_daemon; then
	t_fail "sgbpfd starts" "$(tail -n 20 "$LOG")"
	t_done
	exit 1
fi
t_pass "sgbpfd starts and attaches"
t_match "web-0 enforced, with time from interface to enforcement" \
	'event=enforced iface=sgb-web0 .*endpoint=e2e/web-0 .*since_appeared_ms=' "$(cat "$LOG")"
WEB_ID=$(ep_id_of e2e/web-0)
CLI_ID=$(ep_id_of e2e/cli-0)
t_exit "a second sgbpfd on the same pin dir is refused (exit 2)" 2 in_node "$SGBPFD" --once \
	--policy "$POL" --pin-dir "$PIN" --socket ''
t_match "the refusal says another sgbpfd uses the pin dir" "event=already_running" "$T_ERR"

echo "== allowed and denied flows"
can "remote -> web tcp/80 (v4) allowed" "$NS_REMOTE" tcp 10.0.1.23 80
can "remote -> web tcp/80 (v6) allowed" "$NS_REMOTE" tcp fd00:10::23 80
cannot "remote -> web tcp/8080 denied (no rule)" "$NS_REMOTE" tcp 10.0.1.23 8080
cannot "remote -> web tcp/8080 (v6) denied" "$NS_REMOTE" tcp fd00:10::23 8080
can "remote -> web udp/5353 allowed, reply passes" "$NS_REMOTE" udp 10.0.1.23 5353
can "remote -> web udp/5353 (v6) allowed" "$NS_REMOTE" udp fd00:10::23 5353
cannot "remote -> web udp/5354 denied" "$NS_REMOTE" udp 10.0.1.23 5354
can "remote -> web ping allowed" "$NS_REMOTE" ping1 10.0.1.23
can "remote -> web ping6 allowed" "$NS_REMOTE" ping1 fd00:10::23
cannot "remote -> cli ping denied (no inbound rule)" "$NS_REMOTE" ping1 10.0.1.25
cannot "remote -> cli ping6 denied" "$NS_REMOTE" ping1 fd00:10::25
cannot "remote -> cli tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.25 80
can "cli -> remote tcp/80 allowed (egress all), reply passes" "$CLI" tcp 10.0.0.50 80
can "cli -> remote tcp/443 (v6) allowed" "$CLI" tcp fd00:20::50 443
can "cli -> remote ping allowed, reply passes" "$CLI" ping1 10.0.0.50
can "cli -> remote ping6 allowed" "$CLI" ping1 fd00:20::50
cannot "web -> remote tcp/80 denied (no egress rule)" "$WEB" tcp 10.0.0.50 80
cannot "web -> remote ping denied" "$WEB" ping1 10.0.0.50
can "cli -> web tcp/80 allowed (pod to pod: cli egress and web ingress agree)" "$CLI" tcp 10.0.1.23 80
cannot "web -> cli tcp/80 denied (web has no egress rule)" "$WEB" tcp 10.0.1.25 80

echo "== conntrack garbage collection"
N=$(ct_count "$CLI_ID")
if [ "$N" -gt 0 ] && [ "$N" -lt 999999 ]; then t_pass "cli-0 owns conntrack entries ($N)"; else
	t_fail "cli-0 owns conntrack entries" "ct_count=$N ep_id=$CLI_ID"; fi
G_DEL0=$(status_json 'd["gc"]["total"]["deleted"]')
from=$(log_lines)
E=$(ct_expire "$CLI_ID")
t_eq "every cli-0 entry stamped expired" "$N" "$E"
if wait_log "$from" 'event=ct_gc scanned=[0-9]+ expired=[0-9]+ deleted=[1-9]' 5; then
	t_pass "GC pass logged with its counts"
else
	t_fail "GC pass logged with its counts" "$(log_since "$from")"
fi
t_eq "expired cli-0 entries collected" 0 "$(ct_count "$CLI_ID")"
t_exit "status counts the deletions (gc.total.deleted grew by >= $N)" 0 \
	status_json "exit(0 if d['gc']['total']['deleted'] >= $G_DEL0 + $N and d['gc']['runs'] > 0 and d['gc']['intervalSeconds'] == 1 else 1)"
can "after GC: cli -> remote tcp/80 still allowed (new flow)" "$CLI" tcp 10.0.0.50 80

echo "== sgbpf apply"
G0=$(generation)
t_exit "sgbpf apply reloads (exit 0)" 0 "$SGBPF" apply --socket "$SOCK"
t_match "sgbpf apply reports the new generation" "applied generation $((G0 + 1))" "$T_OUT"
t_exit "sgbpf apply DIR (exit 0)" 0 "$SGBPF" apply "$POL" --socket "$SOCK"
t_exit "sgbpf apply without a daemon exits 2" 2 "$SGBPF" apply --socket "$WORK/none.sock"

echo "== policy change under a running TCP stream"
bg "$WEB" python3 "$TRAFFIC" stream-recv 88 "$WORK/stream.json"
sleep 0.3
nsenter --net="/run/netns/$NS_REMOTE" python3 "$TRAFFIC" stream-send 10.0.1.23 88 "$WORK/stop" \
	>"$WORK/sender.out" 2>&1 &
SENDER=$!
BG_PIDS+=("$SENDER")
for _ in $(seq 50); do grep -q connected "$WORK/stream.json" 2>/dev/null && break; sleep 0.05; done
t_match "stream remote -> web tcp/88 connected" connected "$(cat "$WORK/stream.json" 2>/dev/null)"
sleep 0.5
from=$(log_lines)
G1=$(generation)
edit_eps set_sgs e2e/web-0 sg-0e2eweb80800000a
if wait_log "$from" "event=policy_applied generation=$((G1 + 1)) "; then
	t_pass "inotify: edited endpoints document hot-swapped (generation $((G1 + 1)))"
else
	t_fail "inotify: edited endpoints document hot-swapped" "$(log_since "$from")"
fi
t_match "swap logged with compile and swap timings" 'compile_ms=[0-9.]+ swap_ms=[0-9.]+' \
	"$(log_since "$from")"
cannot "after the change: new remote -> web tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80
can "after the change: new remote -> web tcp/8080 allowed" "$NS_REMOTE" tcp 10.0.1.23 8080
cannot "after the change: udp/5353 denied" "$NS_REMOTE" udp 10.0.1.23 5353
can "after the change: ping allowed" "$NS_REMOTE" ping1 10.0.1.23

echo "== malformed policy file written under traffic"
from=$(log_lines)
G2=$(generation)
put_policy "$FIX/bad-port.json" bad-port.json
if wait_log "$from" 'event=policy_error .*file=bad-port.json path=SecurityGroups\[0\]\.IpPermissions\[0\]\.FromPort'; then
	t_pass "malformed file logged with file and JSON path"
else
	t_fail "malformed file logged with file and JSON path" "$(log_since "$from")"
fi
wait_log "$from" "event=policy_rejected" >/dev/null
t_eq "generation unchanged by the malformed file" "$G2" "$(generation)"
t_exit "sgbpf apply with the malformed file exits 1" 1 "$SGBPF" apply --socket "$SOCK"
t_match "sgbpf apply prints file and path" "bad-port.json: SecurityGroups\[0\]\.IpPermissions\[0\]\.FromPort" "$T_ERR"
cannot "policy in force unchanged: tcp/80 still denied" "$NS_REMOTE" tcp 10.0.1.23 80
can "policy in force unchanged: tcp/8080 still allowed" "$NS_REMOTE" tcp 10.0.1.23 8080
rm -f "$POL/bad-port.json"
t_exit "file removed: sgbpf apply exits 0" 0 "$SGBPF" apply --socket "$SOCK"

echo "== kill -9 and restart under the stream"
stop_daemon KILL
t_match "programs stay attached after kill -9" "sgbpf_tc_ingres" \
	"$(in_node tc filter show dev sgb-web0 ingress)"
cannot "daemon dead: tcp/80 still denied" "$NS_REMOTE" tcp 10.0.1.23 80
can "daemon dead: tcp/8080 still allowed" "$NS_REMOTE" tcp 10.0.1.23 8080
G3=$(generation)
from=$(log_lines)
if start_daemon; then t_pass "sgbpfd restarts"; else t_fail "sgbpfd restarts" "$(log_since "$from")"; fi
t_match "restart takes over the pinned state" \
	"event=datapath_ready .*takeover=yes generation=$G3 endpoints=2" "$(log_since "$from")"
t_match "restart applies a new generation" "event=policy_applied generation=$((G3 + 1)) " \
	"$(log_since "$from")"
t_eq "web-0 keeps its endpoint id across the restart" "$WEB_ID" "$(ep_id_of e2e/web-0)"
cannot "after restart: tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80
can "after restart: tcp/8080 allowed" "$NS_REMOTE" tcp 10.0.1.23 8080
sleep 0.5
touch "$WORK/stop"
wait "$SENDER"
t_eq "stream sender finished without error" 0 "$?"
for _ in $(seq 60); do grep -q done "$WORK/stream.json" 2>/dev/null && break; sleep 0.05; done
SENT=$(sed -nE 's/.*sent=([0-9]+).*/\1/p' "$WORK/sender.out")
RETRANS=$(sed -nE 's/.*retrans=([0-9]+).*/\1/p' "$WORK/sender.out")
VERDICT=$(cat "$WORK/stream.json" 2>/dev/null)
t_match "stream: every sequence number arrived, in order" '"ok": true' "$VERDICT"
t_match "stream: receiver count equals sender count ($SENT)" "\"count\": ${SENT:-x}," "$VERDICT"
t_eq "stream: no TCP retransmission (no segment dropped across change, bad file, kill -9, restart)" \
	0 "${RETRANS:-x}"
t_match "stream carried real traffic" '^[0-9]{4,}$' "${SENT:-0}"

echo "== fail closed: an interface before its endpoint"
from=$(log_lines)
ns_make_pod new sgb-new0 10.0.1.30 fd00:10::30
NEW=$(pod_ns new)
bg "$NEW" python3 "$TRAFFIC" tcp-serve 80
if wait_log "$from" 'event=fail_closed iface=sgb-new0'; then
	t_pass "unknown pod interface attached fail closed"
else
	t_fail "unknown pod interface attached fail closed" "$(log_since "$from")"
fi
sleep 0.3
cannot "fail closed: remote -> new tcp/80 dropped" "$NS_REMOTE" tcp 10.0.1.30 80
cannot "fail closed: remote -> new ping dropped" "$NS_REMOTE" ping1 10.0.1.30
cannot "fail closed: new -> remote ping dropped" "$NEW" ping1 10.0.0.50
from=$(log_lines)
edit_eps add_ep e2e/new-0 sgb-new0 10.0.1.30 fd00:10::30 sg-0e2eweb00000000a
if wait_log "$from" 'event=enforced iface=sgb-new0 .*endpoint=e2e/new-0 .*since_appeared_ms=[0-9.]+'; then
	t_pass "endpoint appears: interface re-pointed, time since appearance logged"
else
	t_fail "endpoint appears: interface re-pointed" "$(log_since "$from")"
fi
can "new-0 enforced: remote -> new tcp/80 allowed" "$NS_REMOTE" tcp 10.0.1.30 80
can "new-0 enforced: remote -> new ping allowed" "$NS_REMOTE" ping1 10.0.1.30
cannot "new-0 enforced: new -> remote ping denied (no egress)" "$NEW" ping1 10.0.0.50

echo "== pod deleted and re-created with the same address, other SGs"
can "web has conntrack state (ping)" "$NS_REMOTE" ping1 10.0.1.23
N=$(ct_count "$WEB_ID")
if [ "$N" -gt 0 ] && [ "$N" -lt 999999 ]; then t_pass "web-0 owns conntrack entries ($N)"; else
	t_fail "web-0 owns conntrack entries" "ct_count=$N ep_id=$WEB_ID"; fi
from=$(log_lines)
ns_del_pod web sgb-web0
if wait_log "$from" "event=endpoint_state_deleted ep_id=$WEB_ID reason=\"interface gone\""; then
	t_pass "pod deleted: interface gone, its state deleted"
else
	t_fail "pod deleted: interface gone, its state deleted" "$(log_since "$from")"
fi
t_eq "no conntrack entry of web-0 left" 0 "$(ct_count "$WEB_ID")"
edit_eps set_sgs e2e/web-0 sg-0e2eweb99000000a
t_exit "new SGs for web-0 applied" 0 "$SGBPF" apply --socket "$SOCK"
from=$(log_lines)
ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23
bg "$WEB" python3 "$TRAFFIC" tcp-serve 80 8080 99
if wait_log "$from" 'event=enforced iface=sgb-web0 .*endpoint=e2e/web-0'; then
	t_pass "re-created pod enforced"
else
	t_fail "re-created pod enforced" "$(log_since "$from")"
fi
t_eq "re-created pod starts with no conntrack state" 0 "$(ct_count "$WEB_ID")"
sleep 0.3
can "re-created: remote -> web tcp/99 allowed (new SG)" "$NS_REMOTE" tcp 10.0.1.23 99
cannot "re-created: remote -> web tcp/8080 denied (old SG gone)" "$NS_REMOTE" tcp 10.0.1.23 8080
cannot "re-created: remote -> web tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80
cannot "re-created: remote -> web ping denied (new SG has no ICMP)" "$NS_REMOTE" ping1 10.0.1.23

echo "== endpoint removed from the policy"
can "cli -> remote ping before removal" "$CLI" ping1 10.0.0.50
from=$(log_lines)
edit_eps del_ep e2e/cli-0
if wait_log "$from" "event=endpoint_state_deleted ep_id=$CLI_ID reason=\"endpoint removed\""; then
	t_pass "endpoint removed: its state deleted"
else
	t_fail "endpoint removed: its state deleted" "$(log_since "$from")"
fi
t_match "its interface stays attached, fail closed" 'event=fail_closed iface=sgb-cli0' "$(log_since "$from")"
cannot "removed endpoint's interface drops new flows" "$CLI" ping1 10.0.0.50
t_eq "no conntrack entry of cli-0 left" 0 "$(ct_count "$CLI_ID")"
t_match "its programs stay on sgb-cli0" "sgbpf_tc_ingres" "$(in_node tc filter show dev sgb-cli0 ingress)"

echo "== endpoint removed: an interface no --iface-glob matches stays attached, closed"
from=$(log_lines)
ns_make_pod odd pod-odd0 10.0.1.40 fd00:10::40
ODD=$(pod_ns odd)
bg "$ODD" python3 "$TRAFFIC" tcp-serve 80
edit_eps add_ep e2e/odd-0 pod-odd0 10.0.1.40 fd00:10::40 sg-0e2eweb00000000a
if wait_log "$from" 'event=enforced iface=pod-odd0 .*endpoint=e2e/odd-0'; then
	t_pass "odd-0 (interface outside --iface-glob) enforced"
else
	t_fail "odd-0 (interface outside --iface-glob) enforced" "$(log_since "$from")"
fi
ODD_ID=$(ep_id_of e2e/odd-0)
ODD_IFINDEX=$(in_node ip -o link show pod-odd0 | cut -d: -f1)
sleep 0.3
can "odd-0 enforced: remote -> odd tcp/80 allowed" "$NS_REMOTE" tcp 10.0.1.40 80
can "odd-0 enforced: remote -> odd ping allowed" "$NS_REMOTE" ping1 10.0.1.40
from=$(log_lines)
edit_eps del_ep e2e/odd-0
if wait_log "$from" "event=endpoint_state_deleted ep_id=$ODD_ID reason=\"endpoint removed\""; then
	t_pass "odd-0 removed: its state deleted"
else
	t_fail "odd-0 removed: its state deleted" "$(log_since "$from")"
fi
t_match "pod-odd0 logged fail closed" 'event=fail_closed iface=pod-odd0 .*ep_id=1023' "$(log_since "$from")"
t_eq "pod-odd0 not detached" "" "$(log_since "$from" | grep -E 'event=detached iface=pod-odd0')"
t_match "pod-odd0 keeps its TC ingress program" "sgbpf_tc_ingres" "$(in_node tc filter show dev pod-odd0 ingress)"
t_match "pod-odd0 keeps its TC egress program" "sgbpf_tc_egress" "$(in_node tc filter show dev pod-odd0 egress)"
t_eq "pod-odd0's ifaces entry points at the unassigned id" 1023 "$(iface_ep "$ODD_IFINDEX")"
cannot "removed: remote -> odd tcp/80 dropped (fail closed, not open)" "$NS_REMOTE" tcp 10.0.1.40 80
cannot "removed: remote -> odd ping dropped" "$NS_REMOTE" ping1 10.0.1.40
cannot "removed: odd -> remote ping dropped" "$ODD" ping1 10.0.0.50
sleep 1.5   # a reconcile pass (--reconcile-interval 1) must keep it
t_eq "after a reconcile: entry still 1023" 1023 "$(iface_ep "$ODD_IFINDEX")"
t_match "after a reconcile: still attached" "sgbpf_tc_ingres" "$(in_node tc filter show dev pod-odd0 ingress)"
cannot "after a reconcile: remote -> odd tcp/80 dropped" "$NS_REMOTE" tcp 10.0.1.40 80
stop_daemon TERM
from=$(log_lines)
start_daemon
sleep 1.5   # and a reconcile pass of the new process
t_match "restart: pod-odd0 (managed by the previous run) kept fail closed" \
	'event=fail_closed iface=pod-odd0 .*ep_id=1023' "$(log_since "$from")"
t_eq "restart: pod-odd0 not detached" "" \
	"$(log_since "$from" | grep -E 'event=(detached|stale_iface_removed).*(pod-odd0|ifindex '"$ODD_IFINDEX"' )')"
t_eq "restart: entry still 1023" 1023 "$(iface_ep "$ODD_IFINDEX")"
t_match "restart: still attached" "sgbpf_tc_ingres" "$(in_node tc filter show dev pod-odd0 ingress)"
cannot "restart: remote -> odd tcp/80 dropped" "$NS_REMOTE" tcp 10.0.1.40 80
from=$(log_lines)
ns_del_pod odd pod-odd0
if wait_log "$from" 'event=interface_gone iface=pod-odd0'; then
	t_pass "pod-odd0 gone: handled"
else
	t_fail "pod-odd0 gone: handled" "$(log_since "$from")"
fi
t_eq "pod-odd0's ifaces entry is gone with it" 0 "$(iface_entries "$ODD_IFINDEX")"

echo "== SIGTERM, pod deleted while sgbpfd is down, restart reconciles"
NEW_IFINDEX=$(in_node ip -o link show sgb-new0 | cut -d: -f1)
NEW_ID=$(ep_id_of e2e/new-0)
can "new-0 has conntrack state" "$NS_REMOTE" ping1 10.0.1.30
stop_daemon TERM
t_match "SIGTERM leaves programs attached" "sgbpf_tc_egress" "$(in_node tc filter show dev sgb-new0 egress)"
can "daemon stopped: new-0 still enforced (tcp/80 allowed)" "$NS_REMOTE" tcp 10.0.1.30 80
cannot "daemon stopped: new-0 still enforced (tcp/8080 denied)" "$NS_REMOTE" tcp 10.0.1.30 8080
ns_del_pod new sgb-new0
t_eq "stale ifaces entry while sgbpfd is down" 1 "$(iface_entries "$NEW_IFINDEX")"
from=$(log_lines)
start_daemon
if wait_log "$from" "event=stale_iface_removed msg=\"ifindex $NEW_IFINDEX "; then
	t_pass "restart reconciles the vanished interface"
else
	t_fail "restart reconciles the vanished interface" "$(log_since "$from")"
fi
t_eq "its ifaces entry is gone" 0 "$(iface_entries "$NEW_IFINDEX")"
t_eq "its conntrack state is gone" 0 "$(ct_count "$NEW_ID")"

echo "== XDP mode and back"
stop_daemon TERM
from=$(log_lines)
start_daemon --attach xdp
t_match "xdp: program on the interface" "prog/xdp" "$(in_node ip -d link show sgb-web0)"
t_eq "xdp: no TC ingress program (one RX verdict per packet)" "" \
	"$(in_node tc filter show dev sgb-web0 ingress | grep sgbpf)"
can "xdp: remote -> web tcp/99 allowed" "$NS_REMOTE" tcp 10.0.1.23 99
cannot "xdp: remote -> web tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80
can "xdp: remote -> web tcp/99 (v6) allowed" "$NS_REMOTE" tcp fd00:10::23 99
stop_daemon TERM
start_daemon --attach tc
t_eq "tc again: XDP link removed" "" "$(in_node ip -d link show sgb-web0 | grep prog/xdp)"
t_match "tc again: TC ingress program back" "sgbpf_tc_ingres" "$(in_node tc filter show dev sgb-web0 ingress)"
can "tc again: remote -> web tcp/99 allowed" "$NS_REMOTE" tcp 10.0.1.23 99
cannot "tc again: remote -> web tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80

echo "== endpoint records lost: no connection may change hands"
can "web tcp/99 flow (conntrack entry)" "$NS_REMOTE" tcp 10.0.1.23 99
N=$(ct_count "$WEB_ID")
if [ "$N" -gt 0 ] && [ "$N" -lt 999999 ]; then t_pass "web-0 owns conntrack entries ($N)"; else
	t_fail "web-0 owns conntrack entries" "ct_count=$N"; fi
stop_daemon TERM
rm -f "$PIN/maps/ep_records"
from=$(log_lines)
start_daemon
t_match "missing endpoint records detected" "event=records_lost" "$(log_since "$from")"
t_match "all conntrack state dropped at the first swap" "event=all_state_deleted" "$(log_since "$from")"
t_eq "no conntrack entry of web-0 left" 0 "$(ct_count "$WEB_ID")"
can "enforcement goes on: remote -> web tcp/99 allowed" "$NS_REMOTE" tcp 10.0.1.23 99
cannot "enforcement goes on: remote -> web tcp/80 denied" "$NS_REMOTE" tcp 10.0.1.23 80

echo "== logs"
t_eq "every log line is key=value with ts, level, event" 0 \
	"$(grep -cvE '^ts=[0-9T:.Z-]+ level=(debug|info|warn|error) event=[a-z_]+( |$)' "$LOG")"
stop_daemon TERM
t_done
