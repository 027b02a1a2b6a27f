#!/usr/bin/env bash
# sgbpfd --metrics end to end: sgbpfd in a node namespace (tests/e2e/netns.sh),
# scraped with curl. Covers: without --metrics nothing listens (ss), the
# `metrics` key of --config, /healthz 503 with no policy in force and 200
# with one, every metric family in the exposition, counters moving by the
# exact amounts real allowed and denied traffic makes them move, conntrack
# entries and capacity per table and family equal to the pinned maps'
# (bpftool), generation, swaps and rejected policies, 404/405/HEAD,
# malformed, oversized and binary requests,
# idle clients holding every slot (closed, the daemon keeps serving), and
# ":port" listening on IPv6 and IPv4 after a restart that keeps the counters.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgbmet$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

SGBPFD="$T_ROOT/build/sgbpfd"
TRAFFIC="$T_ROOT/tests/e2e/traffic.py"
FIX="$T_ROOT/tests/fixtures/e2e"
PIN="/sys/fs/bpf/sgbpf-metrics-$$"
PIN2="/sys/fs/bpf/sgbpf-metrics-bad-$$"
SOCK="/run/sgbpf-metrics-$$.sock"
WORK=$(mktemp -d /tmp/sgbpf-metrics-e2e.XXXXXX)
POL="$WORK/policy"
LOG="$WORK/sgbpfd.log"
PORT=9464
URL="http://127.0.0.1:$PORT"
BG_PIDS=()

cleanup() {
	local p
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN" "$PIN2" "$SOCK"
	if [ "$T_FAIL" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- sgbpfd log (last 40 lines) ---"
		tail -n 40 "$LOG"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_require_root_and_bins

# http PATH [CURL ARGS...]: body in $WORK/body, headers in $WORK/head; prints the status.
http() {
	local path=$1
	shift
	in_node curl -s --max-time 15 -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' "$@" \
		"$URL$path"
}

# scrape FILE: GET /metrics into FILE.
scrape() {
	[ "$(http /metrics)" = 200 ] && cp "$WORK/body" "$1"
}

# val FILE SERIES: the value of one series ("name{labels}" as rendered), or "missing".
val() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF; found = 1 } END { if (!found) print "missing" }' "$1"
}

# delta DESC FILE0 FILE1 SERIES WANT: the series grew by exactly WANT.
delta() {
	local a b
	a=$(val "$2" "$4")
	b=$(val "$3" "$4")
	if [ "$a" = missing ] || [ "$b" = missing ]; then
		t_fail "$1" "series $4 missing (before: $a, after: $b)"
	else
		t_eq "$1" "$5" "$((b - a))"
	fi
}

# map_count MAP: entries in a pinned map, as bpftool sees them.
map_count() {
	bpftool -j map dump pinned "$PIN/maps/$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

# map_max MAP: max_entries of a pinned map.
map_max() {
	bpftool -j map show pinned "$PIN/maps/$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["max_entries"])'
}

# raw PY_BYTES [body]: send these bytes on one connection, print the status
# line of the answer (with "body": and "|" the length of what follows the head).
raw() {
	in_node python3 - "$PORT" "$1" "${2:-}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(eval(sys.argv[2]))
except OSError:
    pass  # the server may answer and close before reading everything
buf = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        buf += c
except OSError:
    pass
line = buf.split(b"\r\n")[0].decode(errors="replace")
if sys.argv[3] == "body":
    line += "|%d" % len(buf.partition(b"\r\n\r\n")[2])
print(line)
EOF
}

FAMILIES="sgbpf_build_info sgbpf_policy_generation sgbpf_policy_swaps_total
sgbpf_policy_swap_failures_total sgbpf_last_swap_duration_seconds sgbpf_attached_interfaces
sgbpf_attach_errors_total sgbpf_drops_total sgbpf_allows_total sgbpf_endpoint_packets_total
sgbpf_endpoint_bytes_total sgbpf_node_drops_total sgbpf_node_allows_total
sgbpf_unknown_iface_packets_total sgbpf_conntrack_entries sgbpf_conntrack_count_age_seconds
sgbpf_conntrack_capacity sgbpf_conntrack_map_entries sgbpf_conntrack_map_capacity
sgbpf_conntrack_est_full_total sgbpf_conntrack_created_total sgbpf_conntrack_gc_deleted_total"

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN"
daemon_pods
bg "$WEB" python3 "$TRAFFIC" udp-serve 5353 5354

echo "== without --metrics nothing listens"
sgbpfd_start || t_fail "sgbpfd starts"
t_eq "no TCP or UDP socket listens in the node namespace" "" "$(in_node ss -Hltnu)"
sgbpfd_stop TERM

echo "== /healthz without a policy in force"
mkdir -p "$WORK/bad"
cp "$POL"/*.json "$FIX/bad-port.json" "$WORK/bad/"
PIN=$PIN2 POL=$WORK/bad sgbpfd_start --metrics "127.0.0.1:$PORT" ||
	t_fail "sgbpfd starts on a refused policy"
t_eq "/healthz is 503 with no policy in force" 503 "$(http /healthz)"
t_match "/healthz says why" "^unhealthy: no policy in force" "$(cat "$WORK/body")"
scrape "$WORK/m-bad" || t_fail "scrape with no policy"
t_eq "generation 0" 0 "$(val "$WORK/m-bad" sgbpf_policy_generation)"
t_eq "the refused policy is counted" 1 "$(val "$WORK/m-bad" 'sgbpf_policy_swap_failures_total{reason="rejected"}')"
sgbpfd_stop TERM
rm -rf "$PIN2"

echo "== --config metrics = ADDR"
printf 'metrics = 127.0.0.1:%s\n' "$PORT" >"$WORK/sgbpfd.conf"
sgbpfd_start --config "$WORK/sgbpfd.conf" || t_fail "sgbpfd starts with --config"
wait_log 0 "event=metrics_listening" 5 || t_fail "metrics_listening logged"
t_eq "only the metrics address listens" "127.0.0.1:$PORT" \
	"$(in_node ss -Hltnu | awk '{print $5}' | tr '\n' ' ' | sed 's/ $//')"
for _ in $(seq 50); do # wait until both pod interfaces are enforced
	[ "$(grep -c 'event=enforced' "$LOG")" -ge 2 ] && break
	sleep 0.1
done
# Each start applies the directory anew: a new generation (the log says which).
GEN=$(applied_gen)
t_eq "/healthz is 200 with the policy in force" 200 "$(http /healthz)"
t_match "/healthz names the generation" "^ok: policy generation $GEN in force, 2 endpoints, 2 interfaces" \
	"$(cat "$WORK/body")"

echo "== exposition"
scrape "$WORK/m0" || t_fail "scrape /metrics"
t_match "Content-Type is the Prometheus text format" \
	'^Content-Type: text/plain; version=0\.0\.4' "$(tr -d '\r' <"$WORK/head")"
missing=
for f in $FAMILIES; do
	grep -q "^# TYPE $f " "$WORK/m0" && grep -q "^# HELP $f " "$WORK/m0" || missing+=" $f"
done
t_eq "every metric family has HELP and TYPE" "" "$missing"
t_eq "every drop reason per endpoint (2 endpoints + unassigned)" 39 \
	"$(grep -c '^sgbpf_drops_total{' "$WORK/m0")"
t_eq "attached interfaces" 2 "$(val "$WORK/m0" sgbpf_attached_interfaces)"
# Capacity per table and family: each family's flows fill only its own
# maps (est: ct4_est and ct4t_est for TCP; ct_est, ct6t_est for TCP and
# ct6u_est for UDP).
CT_TF="est:ipv4:ct4_est+ct4t_est est:ipv6:ct_est+ct6t_est+ct6u_est new:ipv4:ct4_new new:ipv6:ct_new"
# maps_sum FN MAPS: FN (map_max or map_count) summed over the +-joined MAPS.
maps_sum() {
	local m n=0
	for m in ${2//+/ }; do
		n=$((n + $("$1" "$m")))
	done
	echo "$n"
}
for tf in $CT_TF; do
	IFS=: read -r tab fam map <<<"$tf"
	t_eq "$tab $fam capacity = max_entries of the pinned $map" "$(maps_sum map_max "$map")" \
		"$(val "$WORK/m0" "sgbpf_conntrack_capacity{table=\"$tab\",family=\"$fam\"}")"
done
t_eq "no family-less capacity series" 4 "$(grep -c '^sgbpf_conntrack_capacity{' "$WORK/m0")"
t_eq "generation as logged" "$GEN" "$(val "$WORK/m0" sgbpf_policy_generation)"
t_eq "one swap by this process" 1 "$(val "$WORK/m0" sgbpf_policy_swaps_total)"

echo "== counters follow traffic"
# remote -> web: 3 pings allowed (1 new flow by rule, 2 requests + 3 replies
# tracked), one UDP datagram to 5353 allowed (rule) and answered (tracked),
# one to 5354 dropped (no rule). remote -> cli: 3 pings dropped (no rule).
t_exit "remote -> web ping x3 passes" 0 in_ns "$NS_REMOTE" ping -c3 -i0.2 -W1 -q 10.0.1.23
t_exit "remote -> web udp 5353 passes" 0 in_ns "$NS_REMOTE" python3 "$TRAFFIC" udp-try 10.0.1.23 5353
t_exit "remote -> web udp 5354 is dropped" 1 in_ns "$NS_REMOTE" python3 "$TRAFFIC" udp-try 10.0.1.23 5354
t_exit "remote -> cli ping x3 is dropped" 1 in_ns "$NS_REMOTE" ping -c3 -i0.2 -W1 -q 10.0.1.25
sleep 1.2 # older than the conntrack count's max age: the scrape counts anew
scrape "$WORK/m1" || t_fail "scrape after traffic"
delta "web: allowed by rule +2" "$WORK/m0" "$WORK/m1" \
	'sgbpf_allows_total{endpoint="e2e/web-0",reason="rule"}' 2
delta "web: allowed as tracked +6" "$WORK/m0" "$WORK/m1" \
	'sgbpf_allows_total{endpoint="e2e/web-0",reason="tracked"}' 6
delta "web: dropped, no rule +1" "$WORK/m0" "$WORK/m1" \
	'sgbpf_drops_total{endpoint="e2e/web-0",reason="no-rule"}' 1
delta "cli: dropped, no rule +3" "$WORK/m0" "$WORK/m1" \
	'sgbpf_drops_total{endpoint="e2e/cli-0",reason="no-rule"}' 3
delta "cli: inbound drops +3" "$WORK/m0" "$WORK/m1" \
	'sgbpf_endpoint_packets_total{endpoint="e2e/cli-0",direction="in",verdict="drop"}' 3
delta "cli: no reply went out" "$WORK/m0" "$WORK/m1" \
	'sgbpf_allows_total{endpoint="e2e/cli-0",reason="tracked"}' 0
delta "node: dropped, no rule +4" "$WORK/m0" "$WORK/m1" 'sgbpf_node_drops_total{reason="no-rule"}' 4
t_exit "the count is fresh (under a second old)" 0 awk -v a="$(val "$WORK/m1" sgbpf_conntrack_count_age_seconds)" \
	'BEGIN { exit !(a != "missing" && a + 0 < 1) }'
# An IPv6 flow too, so both families have entries, then per table and family
# the count equals the pinned map's.
t_exit "remote -> web udp 5353 over IPv6 passes" 0 in_ns "$NS_REMOTE" python3 "$TRAFFIC" udp-try fd00:10::23 5353
sleep 1.2
scrape "$WORK/m2" || t_fail "scrape after the IPv6 flow"
declare -A pinned
for tf in $CT_TF; do
	IFS=: read -r tab fam map <<<"$tf"
	n=$(maps_sum map_count "$map")
	pinned[$tab.$fam]=$n
	t_eq "conntrack $tab $fam entries = the pinned $map's" "$n" \
		"$(val "$WORK/m2" "sgbpf_conntrack_entries{table=\"$tab\",family=\"$fam\"}")"
done
# Per map: each conntrack map's own count and capacity (a family's est
# table is several maps, each of which fills on its own).
CT_MAPS_ALL="ct4_new ct4_est ct4t_est ct_new ct_est ct6t_est ct6u_est"
for m in $CT_MAPS_ALL; do
	t_eq "map $m: entries = the pinned map's" "$(map_count "$m")" \
		"$(val "$WORK/m2" "sgbpf_conntrack_map_entries{map=\"$m\"}")"
	t_eq "map $m: capacity = its max_entries" "$(map_max "$m")" \
		"$(val "$WORK/m2" "sgbpf_conntrack_map_capacity{map=\"$m\"}")"
done
t_eq "one map series per conntrack map" 7 "$(grep -c '^sgbpf_conntrack_map_capacity{' "$WORK/m2")"
t_match "the IPv6 UDP stream is counted in ct6u_est" '^[1-9][0-9]*$' \
	"$(val "$WORK/m2" 'sgbpf_conntrack_map_entries{map="ct6u_est"}')"
t_match "the IPv4 ping and UDP flows are confirmed" '^([2-9]|[0-9]{2,})$' "${pinned[est.ipv4]}"
t_match "the IPv6 UDP flow is confirmed" '^[1-9][0-9]*$' "${pinned[est.ipv6]}"

echo "== policy swaps"
from=$(log_lines)
python3 - "$POL/endpoints.json" <<'EOF'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
for e in d["endpoints"]:
    if e["name"] == "e2e/web-0":
        e["securityGroups"].append("sg-0e2eweb99000000a")
json.dump(d, open(p + ".tmp", "w"))
os.rename(p + ".tmp", p)
EOF
wait_log "$from" "event=policy_applied generation=$((GEN + 1))" 5 || t_fail "generation $((GEN + 1)) applied"
scrape "$WORK/m2" || t_fail "scrape after a swap"
t_eq "generation +1" "$((GEN + 1))" "$(val "$WORK/m2" sgbpf_policy_generation)"
t_eq "two swaps" 2 "$(val "$WORK/m2" sgbpf_policy_swaps_total)"
t_match "last swap duration is positive" '^(0\.[0-9]*[1-9]|[1-9])' \
	"$(val "$WORK/m2" sgbpf_last_swap_duration_seconds)"
from=$(log_lines)
put_policy "$FIX/bad-port.json" bad-port.json
wait_log "$from" "event=policy_rejected" 5 || t_fail "bad policy rejected"
scrape "$WORK/m3" || t_fail "scrape after a rejected policy"
delta "rejected policy counted" "$WORK/m2" "$WORK/m3" 'sgbpf_policy_swap_failures_total{reason="rejected"}' 1
t_eq "generation stays" "$((GEN + 1))" "$(val "$WORK/m3" sgbpf_policy_generation)"
t_eq "/healthz stays 200 (the policy in force stays)" 200 "$(http /healthz)"
rm -f "$POL/bad-port.json"

echo "== HTTP"
t_eq "unknown path: 404" 404 "$(http /nope)"
t_eq "HEAD /metrics: 200 with no body" "HTTP/1.1 200 OK|0" \
	"$(raw 'b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"' body)"
t_eq "POST: 405" 405 "$(http /metrics -X POST -d x)"
t_eq "malformed request: 400" "HTTP/1.1 400 Bad Request" "$(raw 'b"GARBAGE\r\n\r\n"')"
t_eq "oversized request: 431" "HTTP/1.1 431 Request Header Fields Too Large" \
	"$(raw 'b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"')"
t_eq "binary junk: 400" "HTTP/1.1 400 Bad Request" "$(raw 'bytes(range(1, 256)) * 4 + b"\n\n"')"
ok=0
pids=()
for i in 1 2 3 4; do
	in_node curl -s --max-time 15 -o /dev/null -w '%{http_code}\n' "$URL/metrics" >"$WORK/par$i" &
	pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4; do [ "$(cat "$WORK/par$i")" = 200 ] && ok=$((ok + 1)); done
t_eq "4 concurrent scrapes answered" 4 "$ok"
# Idle clients take every slot; the server closes them and serves the next.
in_node python3 - "$PORT" >"$WORK/idle" <<'EOF' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(8)]
t0 = time.monotonic()
closed = 0
for s in socks:
    s.settimeout(max(0.1, 12 - (time.monotonic() - t0)))
    try:
        closed += s.recv(1) == b""
    except OSError:
        pass
print(closed)
EOF
idle_pid=$!
sleep 0.5
t0=$(date +%s%N)
t_eq "a scrape gets through while 8 idle clients hold every slot" 200 "$(http /healthz)"
wait "$idle_pid"
t_eq "the server closed all 8 idle clients" 8 "$(cat "$WORK/idle")"
t_match "... after its 5 s idle timeout, not at once" '^[4-9]|^1[0-4]$' \
	"$((($(date +%s%N) - t0) / 1000000000))"
t_exit "sgbpfd survived it all" 0 kill -0 "$DPID"
t_eq "/healthz still 200" 200 "$(http /healthz)"

echo "== :port listens on IPv6 and IPv4; counters survive a restart"
sgbpfd_stop TERM
sgbpfd_start --metrics ":$PORT" || t_fail "sgbpfd restarts"
t_eq "[::1] answers" 200 "$(in_node curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/healthz")"
t_eq "127.0.0.1 answers" 200 "$(http /healthz)"
scrape "$WORK/m4" || t_fail "scrape after the restart"
delta "cli drops kept across the restart" "$WORK/m1" "$WORK/m4" \
	'sgbpf_drops_total{endpoint="e2e/cli-0",reason="no-rule"}' 0
sgbpfd_stop TERM

t_done
