#!/bin/sh
# Runs the benchmarks (`make bench` calls this after building) and prints
# issue 7's tables; see bench/README.md for what each measures.
#   0    datapath-bench: synthetic frames, one flow at a time
#   1    sgbpf-bench on a generated traffic mix: established / new / denied
#   2    new-flow cost against rules (10..10000); established cost against
#        conntrack entries (1k, 100k, 1M)
#   3    live: sgbpf vs nftables+conntrack at 10, 100, 1000 rules
#   4    hot swap at 100 endpoints x 1000 rules: change -> enforcement, and
#        frames lost or leaked during the swaps (daemon-bench)
#   5    map memory per endpoint, per 1000 rules, per 100k flows
#
#   ./bench/run.sh [--full] [--no-live] [--no-datapath] [datapath-bench args]
# --full: more flows, batches and live rounds (about 3x longer).
# Other arguments go to datapath-bench (see its --help).
# Needs root. Output is also kept in build/bench/*.txt.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: needs root (loads BPF programs and runs them with BPF_PROG_TEST_RUN); run: sudo make bench" >&2
	exit 2
fi
for bin in datapath-bench sgbpf-bench gen-policy gen-traffic live-udp daemon-bench; do
	if [ ! -x "build/bench/$bin" ]; then
		echo "bench/run.sh: build/bench/$bin is missing; build it with: make build/bench/$bin" >&2
		exit 2
	fi
done

FULL=0 LIVE=1 DATAPATH=1
for a in "$@"; do
	case $a in
	--full) FULL=1 ;;
	--no-live) LIVE=0 ;;
	--no-datapath) DATAPATH=0 ;;
	esac
done
if [ "$FULL" = 1 ]; then
	FLOWS=10000 BATCHES=15 ROUNDS=9 COUNT=400000
else
	FLOWS=2000 BATCHES=9 ROUNDS=5 COUNT=200000
fi
# What is left goes to datapath-bench.
DP_ARGS=
for a in "$@"; do
	case $a in
	--full|--no-live|--no-datapath) ;;
	*) DP_ARGS="$DP_ARGS $a" ;;
	esac
done

B=build/bench
W=$(mktemp -d /tmp/sgbpf-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

save() { # NAME: tee stdin into build/bench/NAME.txt
	tee "$B/$1.txt.tmp"
	mv "$B/$1.txt.tmp" "$B/$1.txt"
}

# replay POLICY PCAP [ARGS]: the class lines of sgbpf-bench as
# "class legs sgbpf_ns parse_ns ratio mpps".
replay() {
	pol=$1 pcap=$2
	shift 2
	"$B/sgbpf-bench" --policy "$pol" "$pcap" --batches "$BATCHES" "$@" >"$W/out" ||
		{ cat "$W/out" >&2; echo "bench/run.sh: sgbpf-bench failed on $pcap" >&2; exit 1; }
	awk '$3 == "|" && $1 != "class" { print $1, $2, $4, $5, $6, $7 }' "$W/out"
}
col() { awk -v c="$1" -v k="$2" '$1 == c { print $k }'; }

if [ "$DATAPATH" = 1 ]; then
	# shellcheck disable=SC2086
	"$B/datapath-bench" $DP_ARGS | save datapath-bench
	echo
fi

{
echo "== Table 1: replayed traffic mix, sgbpf vs parse-only (same run, same packets)"
"$B/gen-policy" --out "$W/p1" --endpoints 10 --rules 100
"$B/gen-traffic" --policy "$W/p1" --out "$W/t1.pcap" --flows "$FLOWS" --deny 0.1 --vlan 7 2>/dev/null
"$B/sgbpf-bench" --policy "$W/p1" "$W/t1.pcap" --batches "$BATCHES"
echo "command: gen-policy --endpoints 10 --rules 100; gen-traffic --flows $FLOWS --deny 0.1 --vlan 7;"
echo "         sgbpf-bench --batches $BATCHES"
echo
echo "== Table 1, XDP: the same capture, inbound legs through the XDP program"
"$B/sgbpf-bench" --policy "$W/p1" "$W/t1.pcap" --batches "$BATCHES" --hook xdp
echo "command: sgbpf-bench --batches $BATCHES --hook xdp (same policy and capture)"
} | save replay-table1
echo

{
echo "== Table 1b: established flows by family and protocol, hot (same policy as table 1)"
printf '%-10s | %8s %9s %6s\n' flows "hot ns" "parse ns" "hot x"
for cls in "ipv4-tcp:--v6 0 --udp 0 --icmp 0" "ipv4-udp:--v6 0 --udp 1 --icmp 0" \
	"ipv4-icmp:--v6 0 --udp 0 --icmp 1" "ipv6-tcp:--v6 1 --udp 0 --icmp 0" \
	"ipv6-udp:--v6 1 --udp 1 --icmp 0"; do
	name=${cls%%:*}
	# shellcheck disable=SC2086
	"$B/gen-traffic" --policy "$W/p1" --out "$W/t1-$name.pcap" --flows 1000 --deny 0 \
		${cls#*:} --vlan 7 2>/dev/null
	replay "$W/p1" "$W/t1-$name.pcap" >"$W/c"
	awk -v n="$name" '$1 == "est-hot" { printf "%-10s | %8.1f %9.1f %6.2f\n", n, $3, $4, $5 }' "$W/c"
done
echo "command: gen-traffic --flows 1000 --deny 0 --v6 0|1 --udp 0|1 --icmp 0|1 --vlan 7;"
echo "         sgbpf-bench --batches $BATCHES (est-hot line)"
} | save replay-table1b
echo

{
echo "== Table 2a: new-flow cost against rules per endpoint (10 endpoints, same packets)"
printf '%7s | %9s %6s %9s %6s | %9s %9s %6s | %8s %6s\n' rules "new ns" "vs 10" "deny ns" "vs 10" \
	"est ns" "parse ns" "est x" "hot ns" "hot x"
n0='' d0=''
for r in 10 100 1000 10000; do
	"$B/gen-policy" --out "$W/p2-$r" --endpoints 10 --rules "$r"
	# Same endpoints and seed: the same capture for every R.
	[ -f "$W/t2.pcap" ] || "$B/gen-traffic" --policy "$W/p2-$r" --out "$W/t2.pcap" \
		--flows "$FLOWS" --deny 0.3 2>/dev/null
	replay "$W/p2-$r" "$W/t2.pcap" >"$W/c"
	n=$(col new-flow 3 <"$W/c") d=$(col denied 3 <"$W/c") e=$(col established 3 <"$W/c")
	ep=$(col established 4 <"$W/c") ex=$(col established 5 <"$W/c")
	h=$(col est-hot 3 <"$W/c") hx=$(col est-hot 5 <"$W/c")
	n0=${n0:-$n} d0=${d0:-$d}
	awk -v r="$r" -v n="$n" -v d="$d" -v e="$e" -v ep="$ep" -v ex="$ex" -v n0="$n0" -v d0="$d0" \
		-v h="$h" -v hx="$hx" \
		'BEGIN { printf "%7d | %9.1f %6.2f %9.1f %6.2f | %9.1f %9.1f %6.2f | %8.1f %6.2f\n",
		         r, n, n / n0, d, d / d0, e, ep, ex, h, hx }'
done
echo "command: gen-policy --endpoints 10 --rules R; gen-traffic --flows $FLOWS --deny 0.3;"
echo "         sgbpf-bench --batches $BATCHES"
echo
echo "== Table 2b: established cost against conntrack entries (1 endpoint, 100 rules)"
"$B/gen-policy" --out "$W/p3" --endpoints 1 --rules 100
"$B/gen-traffic" --policy "$W/p3" --out "$W/t3.pcap" --flows 500 --deny 0 --udp 0 --icmp 0 \
	--v6 0 --data 16 2>/dev/null
printf '%9s | %9s %9s %6s %7s | %8s %6s\n' "ct fill" "est ns" "parse ns" "est x" "vs 0" \
	"hot ns" "hot x"
e0=''
for fill in 0 1000 100000 1000000; do
	replay "$W/p3" "$W/t3.pcap" --ct-fill "$fill" >"$W/c"
	e=$(col established 3 <"$W/c") ep=$(col established 4 <"$W/c") ex=$(col established 5 <"$W/c")
	h=$(col est-hot 3 <"$W/c") hx=$(col est-hot 5 <"$W/c")
	e0=${e0:-$e}
	awk -v f="$fill" -v e="$e" -v ep="$ep" -v ex="$ex" -v e0="$e0" -v h="$h" -v hx="$hx" \
		'BEGIN { printf "%9d | %9.1f %9.1f %6.2f %7.2f | %8.1f %6.2f\n", f, e, ep, ex, e / e0, h, hx }'
done
echo "command: gen-policy --endpoints 1 --rules 100; gen-traffic --flows 500 --deny 0 --udp 0"
echo "         --icmp 0 --v6 0 --data 16; sgbpf-bench --batches $BATCHES --ct-fill N"
} | save replay-table2
echo

if [ "$LIVE" = 1 ]; then
	{
	echo "== Table 3: live, sgbpf vs nftables+conntrack"
	bash bench/live-nft.sh --rules 10,100,1000 --count "$COUNT" --rounds "$ROUNDS"
	echo "command: bench/live-nft.sh --rules 10,100,1000 --count $COUNT --rounds $ROUNDS"
	} | save live-table3
	echo
fi

{
echo "== Table 4: hot swap, 100 endpoints x 1000 rules (real sgbpfd)"
"$B/daemon-bench" -e 100 -r 1000 -n "$( [ "$FULL" = 1 ] && echo 15 || echo 7 )"
echo "command: build/bench/daemon-bench -e 100 -r 1000"
} | save swap-table4
echo

{
echo "== Table 5: map memory (memlock from /proc/PID/fdinfo, KiB)"
mem() { # E R FILL: total memlock KiB, and the LPM tries' share
	"$B/gen-policy" --out "$W/m" --endpoints "$1" --rules "$2"
	"$B/gen-traffic" --policy "$W/m" --out "$W/m.pcap" --flows 20 2>/dev/null
	"$B/sgbpf-bench" --policy "$W/m" "$W/m.pcap" --batches 1 --ct-fill "$3" --maps >"$W/out" ||
		{ cat "$W/out" >&2; exit 1; }
	awk '$1 == "total" { t = $2 } $1 == "rule_trie" || $1 == "port_trie" { p += $3 }
	     $1 == "ct4t_est" { c = $3 } END { print t, p, c }' "$W/out"
}
base=$(mem 1 10 0) eps=$(mem 100 10 0) rules=$(mem 1 1010 0) flows=$(mem 1 10 100000)
echo "$base $eps $rules $flows" | awk '{
	printf "%-38s %12.1f\n", "all maps, 1 endpoint, 10 rules", $1
	printf "%-38s %12.1f\n", "per endpoint (100 vs 1 endpoint)", ($4 - $1) / 99
	printf "%-38s %12.1f\n", "per 1000 rules (1010 vs 10 rules)", $7 - $1
	printf "%-38s %12.1f\n", "  of which rule/port tries", $8 - $2
	printf "%-38s %12.1f\n", "per 100k conntrack entries (ct4t_est)", $12 - $3 }'
echo "command: sgbpf-bench --maps on gen-policy --endpoints E --rules R (--ct-fill 100000)"
} | save memory-table5
