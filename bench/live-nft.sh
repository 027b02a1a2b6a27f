#!/usr/bin/env bash
# Live mode: sgbpf against nftables+conntrack on real packets through veth
# pairs, with the same rules and the same packets, at several rule counts.
#
#   bench/live-nft.sh [--rules 10,100,1000] [--count N] [--rounds K]
#
# Three identical, separate setups, each a node namespace with a pod (veth
# sgb-b0, 10.250.0.2) and a remote (veth vpc0, 10.200.0.10, 10.206.0.10,
# 10.205.0.10, 10.203.0.10):
#   none   no filtering (the cost of the path itself)
#   sgbpf  `sgbpfd --once` attached the programs (TC, as the daemon does)
#   nft    bench/sg2nft.py's ruleset: ct state established,related accept,
#          one rule per SG rule in policy order, drop (see that file)
# Separate namespaces, because conntrack and nftables hooks are per
# namespace: the sgbpf and none paths pay nothing for the nft setup.
# The policy is gen-policy's (1 endpoint, R inbound rules). The load is
# live-udp (sendmmsg, 64-byte UDP) from the remote to the pod, 1024 flows:
#   allowed  from 10.200.0.10 to udp 5000-5063 (the 2nd rule of the chain:
#            nft's best case; UDP without replies stays "ct new" in nft,
#            so each packet walks the chain to it; in sgbpf each flow's
#            packets after the first hit its conntrack entry)
#   middle   from 10.206.0.10, allowed by rule R/2: what nft pays on
#            average for traffic spread evenly over the rules (its cost is
#            linear in the rule's position; sgbpf's does not depend on it)
#   last     from 10.205.0.10, allowed by the last rule of the chain (nft's
#            worst case for allowed traffic; same cost for sgbpf)
#   denied   from 10.203.0.10 (no rule: nft walks all R rules; sgbpf does
#            one trie lookup)
# Cost per packet = CPU time of the sender (pinned to CPU 1; this kernel has
# no IRQ time accounting, so the softirq work its sends trigger - veth,
# forwarding, filter, delivery into the pod - runs and is billed in its
# context) plus ksoftirqd/1's time, divided by packets sent. Setups are
# measured in turn, round after round, and each figure is the median over
# the rounds; ratios compare figures of the same run. After the rounds, one
# more sgbpf pass runs with kernel.bpf_stats_enabled=1 and reads the TC
# program's own run time from the kernel ("prog": the program alone,
# without the TC hook; the stats' clock reads slow that pass, so it is not
# one of the rounds). Needs root.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

RULES=10,100,1000
COUNT=400000
ROUNDS=3
while [ $# -gt 0 ]; do
	case $1 in
	--rules) RULES=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	-h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "live-nft.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "live-nft.sh: needs root (namespaces, BPF, nftables); run it as root" >&2
	exit 2
fi
for bin in build/sgbpfd build/bench/gen-policy build/bench/live-udp; do
	[ -x "$bin" ] || { echo "live-nft.sh: $bin missing: run 'make' first" >&2; exit 2; }
done
command -v nft >/dev/null || { echo "live-nft.sh: nft missing: apt-get install nftables" >&2; exit 2; }
command -v bpftool >/dev/null || { echo "live-nft.sh: bpftool missing: run 'make deps'" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "live-nft.sh: needs 2 CPUs (the sender is pinned to CPU 1)" >&2; exit 2; }

# shellcheck source=tests/e2e/netns.sh
. tests/e2e/netns.sh
WORK=$(mktemp -d /tmp/sgbpf-live.XXXXXX)
PIN=/sys/fs/bpf/sgbpf-live-$$
PREFIXES=()
RECV_PIDS=()

STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	local p
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	for p in "${RECV_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PREFIXES[@]}"; do NS_PREFIX=$p ns_cleanup >/dev/null 2>&1; done
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

# use SETUP: point the netns.sh globals at that setup's namespaces.
use() {
	NS_PREFIX="sgbl$$$1"
	NS_NODE="${NS_PREFIX}-node" # used by netns.sh
	NS_REMOTE="${NS_PREFIX}-remote"
	POD="${NS_PREFIX}-pod"
}

make_setup() {
	use "$1"
	PREFIXES+=("$NS_PREFIX")
	ns_make_node || return 1
	ns_make_pod pod sgb-b0 10.250.0.2 fd00:250::2 || return 1
	ns_make_remote 10.200.0.10 fd00:200::10 || return 1
	for a in 10.203.0.10 10.205.0.10 10.206.0.10; do
		in_ns "$NS_REMOTE" ip addr add $a/32 dev eth0
		in_node ip route replace $a/32 dev vpc0
	done
	# Sockets on the ports the load targets, never read: the datagrams
	# are queued or dropped at the socket, without ICMP errors.
	in_ns "$POD" python3 -c '
import socket, time
s = []
for p in range(5000, 5064):
    x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    x.bind(("10.250.0.2", p)); s.append(x)
time.sleep(1e6)' &
	RECV_PIDS+=($!)
}

# /proc/net/dev, not /sys: nsenter keeps the host's /sys mount.
rx_packets() { in_ns "$POD" awk -F'[: ]+' '$2 == "eth0" { print $4 }' /proc/net/dev; }

ksoftirqd_ticks() {
	local pid
	pid=$(ps -eo pid=,comm= | awk '$2 == "ksoftirqd/1" { print $1 }')
	awk '{ print $14 + $15 }' "/proc/$pid/stat"
}

# measure SETUP SRC: prints "ns_per_packet delivered"
measure() {
	local src=$2 out k0 k1 r0 r1 sent cpu hz
	use "$1"
	hz=$(getconf CLK_TCK)
	r0=$(rx_packets)
	k0=$(ksoftirqd_ticks)
	out=$(in_ns "$NS_REMOTE" taskset -c 1 build/bench/live-udp --src "$src" --dst 10.250.0.2 \
		--count "$COUNT" --socks 16 --ndports 64) || return 1
	k1=$(ksoftirqd_ticks)
	r1=$(rx_packets)
	sent=$(echo "$out" | awk '{ print $2 }')
	cpu=$(echo "$out" | awk '{ print $4 }')
	awk -v c="$cpu" -v k=$((k1 - k0)) -v hz="$hz" -v n="$sent" -v d=$((r1 - r0)) \
		'BEGIN { printf "%.1f %d\n", (c + k * 1e9 / hz) / n, d }'
}

# prog_ns SRC: the sgbpf setup's pod-bound TC program (the host veth's
# egress), alone: kernel run time / runs over one load with bpf_stats on.
prog_ns() {
	local src=$1 prog=$PIN/progs/sgbpf_tc_egress c0 t0 c1 t1
	use sgbpf
	read -r c0 t0 < <(prog_stats "$prog") || return 1
	sysctl -qw kernel.bpf_stats_enabled=1
	in_ns "$NS_REMOTE" taskset -c 1 build/bench/live-udp --src "$src" --dst 10.250.0.2 \
		--count "$COUNT" --socks 16 --ndports 64 >/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	read -r c1 t1 < <(prog_stats "$prog") || return 1
	[ $((c1 - c0)) -gt 0 ] || { echo "live-nft.sh: $prog did not run" >&2; return 1; }
	awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f\n", t / c }'
}

# prog_stats PINNED_PROG: "run_cnt run_time_ns" (0 0 before stats ever ran)
prog_stats() {
	bpftool -j prog show pinned "$1" |
		python3 -c 'import json, sys; p = json.load(sys.stdin); print(p.get("run_cnt", 0), p.get("run_time_ns", 0))'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for s in none sgbpf nft; do
	make_setup "$s" || { echo "live-nft.sh: setting up namespaces for '$s' failed" >&2; exit 1; }
done
sleep 0.5

echo "live-nft: UDP 64 B, 1024 flows, $COUNT packets per measurement, median of $ROUNDS rounds;"
echo "ns = CPU per packet sent (sender + ksoftirqd on CPU 1); overhead = setup - none"
printf '%6s %8s | %8s %8s %8s | %9s %9s | %9s %5s %9s %7s | %7s\n' rules traffic "none" sgbpf nft \
	"sgbpf rx" "nft rx" "sgbpf ovh" prog "nft ovh" "ovh x" "total x"
IFS=, read -ra RS <<<"$RULES"
for R in "${RS[@]}"; do
	pol="$WORK/policy-$R"
	build/bench/gen-policy --out "$pol" --endpoints 1 --rules "$R" || exit 1
	use sgbpf
	if ! in_node build/sgbpfd --once --policy "$pol" --pin-dir "$PIN" --iface-prefix sgb- \
		--socket '' --log-level warn >"$WORK/sgbpfd-$R.log" 2>&1; then
		echo "live-nft.sh: sgbpfd --once failed for R=$R:" >&2
		cat "$WORK/sgbpfd-$R.log" >&2
		exit 1
	fi
	use nft
	python3 bench/sg2nft.py "$pol" >"$WORK/ruleset-$R.nft" || exit 1
	in_node nft delete table inet sgbench 2>/dev/null
	if ! in_node nft -f "$WORK/ruleset-$R.nft"; then
		echo "live-nft.sh: loading the nftables ruleset for R=$R failed" >&2
		exit 1
	fi
	for traffic in allowed middle last denied; do
		case $traffic in
		allowed) src=10.200.0.10 ;;
		middle) src=10.206.0.10 ;;
		last) src=10.205.0.10 ;;
		denied) src=10.203.0.10 ;;
		esac
		: >"$WORK/m"
		for _ in $(seq "$ROUNDS"); do
			for s in none sgbpf nft; do
				m=$(measure "$s" "$src") || { echo "live-nft.sh: live-udp failed in $s" >&2; exit 1; }
				echo "$s $m" >>"$WORK/m"
			done
		done
		n=$(awk '$1 == "none" { print $2 }' "$WORK/m" | median)
		g=$(awk '$1 == "sgbpf" { print $2 }' "$WORK/m" | median)
		f=$(awk '$1 == "nft" { print $2 }' "$WORK/m" | median)
		gr=$(awk '$1 == "sgbpf" { print $3 }' "$WORK/m" | median)
		fr=$(awk '$1 == "nft" { print $3 }' "$WORK/m" | median)
		p=$(prog_ns "$src") || { echo "live-nft.sh: reading sgbpf's program stats failed" >&2; exit 1; }
		awk -v R="$R" -v t="$traffic" -v n="$n" -v g="$g" -v f="$f" -v gr="$gr" -v fr="$fr" -v p="$p" \
			'BEGIN { go = g - n; fo = f - n;
			         printf "%6d %8s | %8.0f %8.0f %8.0f | %9d %9d | %9.0f %5.0f %9.0f %7s | %7.2f\n",
			         R, t, n, g, f, gr, fr, go, p, fo,
			         (t != "denied" && go > 0 ? sprintf("%.1f", fo / go) : "-"), f / g }'
	done
done
echo "rx: packets that reached the pod in one measurement (allowed: all, denied: 0)."
echo "allowed: the matching rule is 2nd in nft's chain; middle: rule R/2 (the average"
echo "position of traffic spread evenly over the rules); last: the last rule."
echo "prog: sgbpf's TC program alone per packet (kernel bpf_stats, a separate pass)."
echo "ovh x = nft overhead / sgbpf overhead (allowed only: for denied traffic the"
echo "unfiltered path delivers the packet, so it is no baseline); total x = nft / sgbpf."
