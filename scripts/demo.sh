#!/usr/bin/env bash
# The sgbpf demo: three pods and a remote VPC host as network namespaces, the
# sample policy from policies/demo, sgbpfd enforcing it on the pods' veths,
# real TCP/UDP/ICMP traffic that the security groups allow and deny, what
# sgbpf reports about it, a live policy change, and a clean-up.
# Run as root after `make` (`make demo` does both).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (BPF programs, network namespaces): run 'make demo' as root" >&2
	exit 2
fi
for bin in build/sgbpf build/sgbpfd; do
	[ -x "$bin" ] || { echo "demo: $bin missing: run 'make' first" >&2; exit 2; }
done

NS_PREFIX=sgbdemo
# shellcheck source=tests/e2e/netns.sh
. tests/e2e/netns.sh
TRAFFIC="python3 $ROOT/tests/e2e/traffic.py"
WORK=$(mktemp -d /tmp/sgbpf-demo.XXXXXX)
PIN=/sys/fs/bpf/sgbpf-demo
SOCK=$WORK/sgbpfd.sock
DAEMON_PID=

cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	ns_cleanup >/dev/null 2>&1
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT
# A previous demo killed half-way may have left its namespaces behind.
for ns in $(ip netns list | awk '{print $1}' | grep "^$NS_PREFIX-"); do ip netns del "$ns"; done
rm -rf "$PIN"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# try DESCRIPTION EXPECT(allow|deny) NS COMMAND...: run a traffic probe in NS.
try() {
	local desc=$1 expect=$2 ns=$3 got
	shift 3
	if in_ns "$ns" "$@" >/dev/null 2>&1; then got=allow; else got=deny; fi
	printf '  %-52s %-6s %s\n' "$desc" "$got" \
		"$([ "$got" = "$expect" ] && echo "(as the SGs say)" || echo "(UNEXPECTED: SGs say $expect)")"
	[ "$got" = "$expect" ] || DEMO_SURPRISES=$((DEMO_SURPRISES + 1))
}
DEMO_SURPRISES=0

say "The sample policy (policies/demo): describe-security-groups, rules, prefix lists, endpoints"
cp policies/demo/*.json "$WORK/" && mkdir -p "$WORK/policy" && mv "$WORK"/*.json "$WORK/policy/"
run build/sgbpf validate "$WORK/policy"
run build/sgbpf rules "$WORK/policy" --endpoint default/web-0

say "Namespaces: node, pods web-0 / db-0 / client-0 on veths, a remote VPC host"
ns_make_node
# The node's own addresses (endpoints.json node.ipv4/ipv6): kubelet probes
# come from them, and sgbpfd steers the probe replies to their interface.
in_node ip addr add 10.0.1.10/32 dev lo
in_node ip addr add fd00:10::10/128 dev lo
ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23
ns_make_pod db sgb-db0 10.0.1.24 fd00:10::24
ns_make_pod cli sgb-cli0 10.0.1.25 fd00:10::25
ns_make_remote 10.0.2.50 fd00:20::50
WEB=$(pod_ns web) DB=$(pod_ns db) CLI=$(pod_ns cli)
for ns in "$WEB" "$DB" "$CLI" "$NS_REMOTE"; do
	in_ns "$ns" $TRAFFIC tcp-serve 22 80 5432 >/dev/null 2>&1 &
	in_ns "$ns" python3 tests/e2e/probe.py serve 8080 >/dev/null 2>&1 &
	in_ns "$ns" $TRAFFIC udp-serve 53 >/dev/null 2>&1 &
done
sleep 0.5
echo "  servers listen on tcp 22, 80, 5432, 8080 (an HTTP health endpoint) and udp 53 everywhere"

say "Without sgbpf everything gets through"
if in_ns "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.23 22 1 >/dev/null 2>&1; then
	printf '  %-52s %s\n' "remote -> web-0 tcp/22" "allow  (nothing enforces the SGs yet)"
else
	echo "demo: the namespaces don't pass traffic even without sgbpf; see 'ip netns'" >&2
	exit 2
fi

say "Start sgbpfd in the node namespace (pins under $PIN)"
in_node build/sgbpfd --policy "$WORK/policy" --pin-dir "$PIN" --socket "$SOCK" \
	--iface-prefix sgb- --reconcile-interval 5 >"$WORK/sgbpfd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do
	grep -q 'event=attached.*sgb-cli0\|event=attach.*sgb-cli0' "$WORK/sgbpfd.log" 2>/dev/null && break
	sleep 0.1
done
sleep 0.3
sed 's/^/  log: /' "$WORK/sgbpfd.log" | head -20

say "Traffic judged by the security groups"
try "remote 10.0.2.50 -> web-0 tcp/80 (from 10.0.0.0/16)" allow "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.23 80 1
try "remote fd00:20::50 -> web-0 tcp/80 (from fd00::/8)" allow "$NS_REMOTE" $TRAFFIC tcp-try fd00:10::23 80 1
try "remote -> web-0 tcp/22 (no rule)" deny "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.23 22 1
try "remote -> web-0 ping (icmp echo from the VPC)" allow "$NS_REMOTE" ping -c1 -W1 10.0.1.23
try "remote -> web-0 ping6 (icmpv6 echo)" allow "$NS_REMOTE" ping -6 -c1 -W1 fd00:10::23
try "web-0 -> db-0 tcp/5432 (db allows sg-web)" allow "$WEB" $TRAFFIC tcp-try 10.0.1.24 5432 1
try "remote -> db-0 tcp/5432 (not in sg-web)" deny "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.24 5432 1
try "db-0 -> remote tcp/80 (db has no outbound rule)" deny "$DB" $TRAFFIC tcp-try 10.0.2.50 80 1
try "client-0 -> remote tcp/80 (outbound to anywhere)" allow "$CLI" $TRAFFIC tcp-try 10.0.2.50 80 1
try "client-0 -> remote udp/53" allow "$CLI" $TRAFFIC udp-try 10.0.2.50 53 1
try "remote -> client-0 tcp/80 (no inbound rule)" deny "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.25 80 1

say "Kubelet probes: the node's address to web-0's probe port (probePorts: [8080])"
echo "  web-0's SG opens tcp/8080 to sg-node (the node's addresses); replies are steered"
echo "  to the node's stack, so probes would work with tcp_early_demux=1 (docs/probes.md)"
try "node 10.0.1.10 -> web-0 tcp/8080, 20 probes" allow "$NS_NODE" python3 tests/e2e/probe.py run 10.0.1.23 8080 20 --src 10.0.1.10
try "node fd00:10::10 -> web-0 tcp/8080, 20 probes" allow "$NS_NODE" python3 tests/e2e/probe.py run fd00:10::23 8080 20 --src fd00:10::10
try "node 10.0.1.10 -> db-0 tcp/8080 (not a probe port, no rule)" deny "$NS_NODE" $TRAFFIC tcp-try 10.0.1.24 8080 1

say "Why? The same programs answer offline"
run build/sgbpf check --policy "$WORK/policy" --endpoint default/web-0 --in --proto tcp --remote 10.0.2.50 --port 22
run build/sgbpf check --policy "$WORK/policy" --endpoint default/db-0 --in --proto tcp --remote 10.0.1.23 --port 5432

say "Hot swap: open tcp/22 on web-0 to the VPC, without a restart"
python3 - "$WORK/policy/groups.json" <<'EOF'
import json, sys
path = sys.argv[1]
doc = json.load(open(path))
web = next(g for g in doc["SecurityGroups"] if g["GroupId"] == "sg-0web00000000000a")
web["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                             "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "ssh (demo)"}]})
json.dump(doc, open(path + ".tmp", "w"), indent=2)
EOF
mv "$WORK/policy/groups.json.tmp" "$WORK/policy/groups.json"
run build/sgbpf apply "$WORK/policy" --socket "$SOCK"
try "remote -> web-0 tcp/22 (new rule)" allow "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.23 22 1

say "A broken policy file changes nothing"
echo '{ "SecurityGroups": [ { "GroupId": "sg-0web00000000000a", } ] }' >"$WORK/policy/zz-broken.json"
run build/sgbpf apply "$WORK/policy" --socket "$SOCK"
try "remote -> web-0 tcp/80 still allowed" allow "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.23 80 1
rm -f "$WORK/policy/zz-broken.json"

say "Inspecting the live node: sgbpf monitor, status, stats, ct list"
echo "  (the CLI runs where sgbpfd runs, in the node namespace; it only reads the pinned maps)"
printf '$ sgbpf monitor --drops-only --count 3   # while remote probes client-0 tcp/80 (denied)\n'
in_node build/sgbpf monitor --pin-dir "$PIN" --socket "$SOCK" --drops-only --count 3 \
	--duration 10 >"$WORK/monitor.out" 2>&1 &
MON_PID=$!
sleep 0.3
for _ in 1 2 3; do in_ns "$NS_REMOTE" $TRAFFIC tcp-try 10.0.1.25 80 1 >/dev/null 2>&1; done
wait "$MON_PID"
sed 's/^/  /' "$WORK/monitor.out"
run in_node build/sgbpf status --pin-dir "$PIN" --socket "$SOCK" --interval 1
run in_node build/sgbpf stats --pin-dir "$PIN" --socket "$SOCK"
run in_node build/sgbpf ct list --pin-dir "$PIN" --socket "$SOCK"

say "What sgbpfd logged"
sed 's/^/  log: /' "$WORK/sgbpfd.log" | tail -n 12

say "Done: cleaning up namespaces, daemon and pins"
if [ "$DEMO_SURPRISES" -ne 0 ]; then
	echo "demo: $DEMO_SURPRISES flows did not go as the security groups say" >&2
	exit 1
fi
