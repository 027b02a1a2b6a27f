#!/usr/bin/env bash
# Load (issue 9): 100 endpoints x 1000 rules (bench/gen-policy), policy
# swaps at LOAD_RATE per second (default 10) for LOAD_SECONDS (default 20;
# `make stress`: 60), each a file of the watched directory rewritten and
# `sgbpf apply` (one swap per change), with
#  - new-flow probes through the live daemon's pinned programs
#    (tests/e2e/swap_probe.c, BPF_PROG_TEST_RUN): policies A and B whose mix
#    would admit a probe neither allows; no mixed verdict may pass, and each
#    verdict judged within one generation must be that policy's;
#  - two live TCP streams (IPv4, IPv6) from the remote to a pod throughout:
#    every byte in order, no reset, no retransmission;
#  - sgbpfd's RSS sampled every second: last within 5% of the first (after
#    warm-up), and the slotted maps' entry counts unchanged;
#  - conntrack GC every second throughout.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgld$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

sgbpfd_suite load
LOAD_SECONDS=${LOAD_SECONDS:-20}
LOAD_RATE=${LOAD_RATE:-10}

t_require_root_and_bins

PROBE="$WORK/swap_probe"
cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Iinclude -Iuser/lib -Ibuild tests/e2e/swap_probe.c \
	build/libsgbpf.a -lbpf -lelf -lz -o "$PROBE" || suite_abort "building tests/e2e/swap_probe.c"

echo "== policy: 100 endpoints x 1000 rules (bench/gen-policy) plus the swapped group"
"$T_ROOT/build/bench/gen-policy" --out "$POL" --endpoints 100 --rules 1000 >/dev/null
python3 - "$POL" "$WORK" <<'EOF'
import json, os, sys
pol, work = sys.argv[1], sys.argv[2]
sg = "sg-0abcdef00000000a9"
eps = json.load(open(pol + "/endpoints.json"))
for e in eps["endpoints"]:
    e["securityGroups"].append(sg)
json.dump(eps, open(pol + "/endpoints.json", "w"))
def group(perms):
    return {"SecurityGroups": [{"GroupId": sg, "GroupName": "swapped", "IpPermissions": perms,
                                "IpPermissionsEgress": []}]}
def perm(proto, port, cidr):
    return {"IpProtocol": proto, "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
json.dump(group([perm("tcp", 7001, "10.210.0.0/16")]), open(work + "/swap-A.json", "w"))
json.dump(group([perm("tcp", 7002, "10.211.0.0/16"), perm("udp", 7002, "10.211.0.0/16")]),
          open(work + "/swap-B.json", "w"))
EOF
cp "$WORK/swap-A.json" "$POL/swap.json"

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
{ ns_make_node && ns_make_remote 10.200.0.50 fd00:200::50 &&
	ns_make_pod b0 sgb-b0 10.250.0.2 fd00:250::2; } || suite_abort "namespace setup"
POD=$(pod_ns b0)
sgbpfd_start --gc-interval 1 || suite_abort "sgbpfd starts" "$(tail -n 20 "$LOG")"
t_match "100 endpoints in force, pod-0 enforced" 'event=enforced iface=sgb-b0 .*endpoint=bench/pod-0' \
	"$(cat "$LOG")"
rules_of_last() { grep -E "event=policy_applied" "$LOG" | tail -n 1 | sed -E 's/.* rules=([0-9]+).*/\1/'; }
RULES_A=$(rules_of_last)
from=$(log_lines)
put_policy "$WORK/swap-B.json" swap.json
wait_log "$from" "event=policy_applied" 10
RULES_B=$(rules_of_last)
from=$(log_lines)
put_policy "$WORK/swap-A.json" swap.json
wait_log "$from" "event=policy_applied" 10
t_match "policies A and B differ in rule count ($RULES_A, $RULES_B)" '^[0-9]+ [0-9]+$' \
	"$([ "$RULES_A" != "$RULES_B" ] && echo "$RULES_A $RULES_B")"
IFINDEX=$(in_node ip -o link show sgb-b0 | cut -d: -f1)
COUNTS0=$(python3 tests/e2e/pinned.py counts "$PIN")

echo "== streams, probes and $LOAD_RATE swaps/s for $LOAD_SECONDS s"
bg "$POD" python3 "$TRAFFIC" stream-recv 1500 "$WORK/s4.json"
bg "$POD" python3 "$TRAFFIC" stream-recv 1501 "$WORK/s6.json"
sleep 0.3
nsenter --net="/run/netns/$NS_REMOTE" python3 "$TRAFFIC" stream-send 10.250.0.2 1500 "$WORK/stop" \
	>"$WORK/send4.out" 2>&1 &
SEND4=$!
nsenter --net="/run/netns/$NS_REMOTE" python3 "$TRAFFIC" stream-send fd00:250::2 1501 "$WORK/stop" \
	>"$WORK/send6.out" 2>&1 &
SEND6=$!
BG_PIDS+=("$SEND4" "$SEND6")
for _ in $(seq 60); do
	grep -q connected "$WORK/s4.json" 2>/dev/null && grep -q connected "$WORK/s6.json" 2>/dev/null &&
		break
	sleep 0.05
done
t_match "both streams connected" "connected" "$(cat "$WORK/s4.json" "$WORK/s6.json" 2>/dev/null | tr -d '\n')"

in_node "$PROBE" "$PIN" "$IFINDEX" 10.250.0.2 "$LOAD_SECONDS" "$RULES_A" "$RULES_B" \
	>"$WORK/probe.out" 2>&1 &
PROBE_PID=$!
BG_PIDS+=("$PROBE_PID")
(
	while :; do
		awk '/^VmRSS/ {print $2}' "/proc/$DPID/status" 2>/dev/null || exit 0
		sleep 1
	done
) >"$WORK/rss.txt" &
SAMPLER=$!

from=$(log_lines)
G0=$(applied_gen)
N=$((LOAD_SECONDS * LOAD_RATE))
period_us=$((1000000 / LOAD_RATE))
start_us=${EPOCHREALTIME/./}
APPLY_FAIL=0
for ((i = 1; i <= N; i++)); do
	if ((i & 1)); then put_policy "$WORK/swap-B.json" swap.json; else
		put_policy "$WORK/swap-A.json" swap.json; fi
	# Synchronous: one swap per change (the inotify reload that follows
	# finds the directory unchanged).
	"$SGBPF" apply --socket "$SOCK" >/dev/null 2>>"$WORK/apply.err" || APPLY_FAIL=$((APPLY_FAIL + 1))
	left=$((start_us + i * period_us - ${EPOCHREALTIME/./}))
	((left > 0)) && sleep "$(printf '0.%06d' "$left")"
done
wall_us=$((${EPOCHREALTIME/./} - start_us))
wait_log "$from" "event=policy_applied generation=[0-9]+ " 5 >/dev/null
sleep 1   # the last change settles
SWAPS=$(($(applied_gen) - G0))

wait "$PROBE_PID"
PRC=$?
{ kill "$SAMPLER"; wait "$SAMPLER"; } 2>/dev/null
touch "$WORK/stop"
wait "$SEND4"
RC4=$?
wait "$SEND6"
RC6=$?
for _ in $(seq 60); do
	grep -q done "$WORK/s4.json" 2>/dev/null && grep -q done "$WORK/s6.json" 2>/dev/null && break
	sleep 0.05
done

echo "== results"
echo "   changes written: $N in $((wall_us / 1000)) ms; swaps applied: $SWAPS"
echo "   probe: $(cat "$WORK/probe.out")"
t_exit "probes: no mixed verdict, every judged verdict that of the policy in force" 0 \
	test "$PRC" = 0
t_match "probes: no mix passed and none judged wrong" 'mixed_pass=0 wrong=0 ' "$(cat "$WORK/probe.out")"
t_eq "every sgbpf apply succeeded" 0 "$APPLY_FAIL"
# (An inotify reload may slip in before an apply, which then swaps again.)
t_exit "every change became a swap ($SWAPS swaps for $N changes)" 0 test "$SWAPS" -ge "$N"
t_exit "the changes kept to $LOAD_RATE per second (wall time within 5%)" 0 \
	test $((wall_us / 1000)) -le $((LOAD_SECONDS * 1050))
t_eq "no swap failed or was refused" "" \
	"$(log_since "$from" | grep -E 'event=(policy_apply_failed|policy_rejected|policy_error)')"
T=$(log_since "$from" | sed -nE 's/.*event=policy_applied .* total_ms=([0-9.]+).*/\1/p' | sort -n)
echo "   swap total_ms (parse+compile+swap): median $(sed -n "$(( ($(wc -l <<<"$T") + 1) / 2 ))p" <<<"$T"), max $(tail -n 1 <<<"$T")"
for f in 4 6; do
	S=$(cat "$WORK/send$f.out")
	V=$(cat "$WORK/s$f.json" 2>/dev/null)
	echo "   IPv$f stream: $S; receiver: $V"
	t_eq "IPv$f stream: sender finished without error" 0 "$([ "$f" = 4 ] && echo "$RC4" || echo "$RC6")"
	t_match "IPv$f stream: every sequence number arrived in order, no reset" '"ok": true' "$V"
	t_match "IPv$f stream: receiver count equals sender count" \
		"\"count\": $(sed -nE 's/.*sent=([0-9]+).*/\1/p' <<<"$S")," "$V"
	t_match "IPv$f stream: no retransmission" 'retrans=0$' "$S"
done
# A sample taken mid-swap holds the transient parse/compile peak (handed
# back after each swap): compare the floors, the least of the first and of
# the last five samples.
RSS=$(xargs <"$WORK/rss.txt")
read -r -a R <<<"$RSS"
echo "   sgbpfd VmRSS kB per second: $RSS"
if [ "${#R[@]}" -ge $((LOAD_SECONDS - 2)) ] && [ "${#R[@]}" -ge 10 ]; then
	FIRST=$(printf '%s\n' "${R[@]:0:5}" | sort -n | head -n 1)
	LAST=$(printf '%s\n' "${R[@]: -5}" | sort -n | head -n 1)
	PEAK=$(printf '%s\n' "${R[@]}" | sort -n | tail -n 1)
	if [ $((LAST * 100)) -le $((FIRST * 105)) ] && [ $((LAST * 100)) -ge $((FIRST * 95)) ]; then
		t_pass "memory flat: RSS floor ${FIRST} kB at the start, ${LAST} kB at the end (within 5%; peak ${PEAK} kB)"
	else
		t_fail "memory flat: RSS floor within 5%" "start ${FIRST} kB, end ${LAST} kB, peak ${PEAK} kB"
	fi
else
	t_fail "RSS sampled every second" "$RSS"
fi
COUNTS1=$(python3 tests/e2e/pinned.py counts "$PIN")
echo "   map entries before: $COUNTS0"
echo "   map entries after:  $COUNTS1"
t_exit "slotted maps hold as many entries as before (both slots: A and B)" 0 python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for m in ("ep_config", "ep_addrs", "node_addrs", "rule_trie", "port_trie", "exempt"):
    assert sum(a[m]) == sum(b[m]), (m, a[m], b[m])
est = lambda c: sum(c[m] for m in ("ct4_est", "ct4t_est", "ct_est", "ct6t_est", "ct6u_est"))
assert est(b) <= est(a) + 4, ("confirmed flows grew", est(a), est(b))
' "$COUNTS0" "$COUNTS1"
sgbpfd_stop TERM
t_done
