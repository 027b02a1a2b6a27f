#!/usr/bin/env bash
# The issue 7 harness (bench/) runs correctly: gen-policy and gen-traffic
# write what sgbpf-bench can replay, and sgbpf-bench replays it statefully
# through the real programs with both hooks. Nothing here is timed: the
# checks are on verdicts, counts and exit codes (sgbpf-bench exits 1 when a
# leg gets another verdict in a timed batch or the hot pass than in its
# classification pass, i.e. when the replay is not stateful).
set -uo pipefail
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

B="$T_ROOT/build/bench"
for bin in gen-policy gen-traffic sgbpf-bench; do
	if [ "$(id -u)" -ne 0 ] || [ ! -x "$B/$bin" ]; then
		t_fail "prerequisites" "needs root and $B/$bin (make all)"
		t_done
		exit 1
	fi
done
W=$(mktemp -d /tmp/sgbpf-test-harness.XXXXXX)
trap 'rm -rf "$W"' EXIT

FLOWS=120
# verdict N OUTPUT: the count of verdict N (e.g. allow/rule) sgbpf-bench printed, or 0.
verdict() {
	sed -nE "s|^verdicts by reason:.* $1 ([0-9]+).*|\1|p" <<<"$2" | grep . || echo 0
}
# legs OUTPUT: the legs sgbpf-bench replayed.
legs() {
	sed -nE 's/^sgbpf-bench: .* ([0-9]+) legs .*/\1/p' <<<"$1"
}

echo "== generators"
t_exit "gen-policy: 3 endpoints x 20 rules" 0 "$B/gen-policy" --out "$W/p" --endpoints 3 --rules 20
t_eq "gen-policy wrote groups, endpoints and the prefix list" "endpoints.json groups.json prefix-list.json" \
	"$(cd "$W/p" && ls | sort | tr '\n' ' ' | sed 's/ $//')"
t_exit "gen-traffic: $FLOWS flows, 20% denied, 802.1Q-tagged" 0 "$B/gen-traffic" --policy "$W/p" \
	--out "$W/t.pcap" --flows "$FLOWS" --deny 0.2 --vlan 7
t_match "gen-traffic says what it wrote" "gen-traffic: $FLOWS flows, [0-9]+ packets" "$T_ERR$T_OUT"
t_exit "gen-traffic: IPv6 UDP streams only" 0 "$B/gen-traffic" --policy "$W/p" \
	--out "$W/t6.pcap" --flows 40 --deny 0 --v6 1 --udp 1 --icmp 0
t_exit "gen-traffic refuses a missing policy" 1 "$B/gen-traffic" --policy "$W/nowhere" \
	--out "$W/x.pcap" --flows 1
t_match "... saying what to do" "write one with gen-policy" "$T_ERR"

echo "== sgbpf-bench, TC"
t_exit "replay through TC: stateful (every verdict as classified)" 0 \
	"$B/sgbpf-bench" --policy "$W/p" "$W/t.pcap" --batches 2
TC=$T_OUT
rule=$(verdict allow/rule "$TC") norule=$(verdict drop/no-rule "$TC") tracked=$(verdict allow/tracked "$TC")
# Every flow opens with one packet judged by the rules; a denied flow's
# opening packet is sent twice, and nothing else of it.
t_eq "every flow opened once: allowed flows + denied flows = $FLOWS" "$FLOWS" \
	"$((rule + norule / 2))"
t_eq "some flows denied, some allowed" yes "$([ "$norule" -gt 0 ] && [ "$rule" -gt 0 ] && echo yes)"
t_eq "every other leg is tracked traffic" "$(legs "$TC")" "$((rule + norule + tracked))"
t_match "established, new-flow, denied and hot lines" \
	"established .*new-flow .*denied .*est-hot " "$(tr '\n' ' ' <<<"$TC")"

echo "== sgbpf-bench, XDP"
t_exit "replay with --hook xdp: stateful" 0 "$B/sgbpf-bench" --policy "$W/p" "$W/t.pcap" \
	--batches 2 --hook xdp
XDP=$T_OUT
t_eq "XDP judges the same packets the same way as TC" \
	"$rule $norule $tracked" \
	"$(verdict allow/rule "$XDP") $(verdict drop/no-rule "$XDP") $(verdict allow/tracked "$XDP")"
in_legs=$(sed -nE 's/^hook xdp: ([0-9]+) inbound legs.* ([0-9]+) outbound.*/\1/p' <<<"$XDP")
out_legs=$(sed -nE 's/^hook xdp: ([0-9]+) inbound legs.* ([0-9]+) outbound.*/\2/p' <<<"$XDP")
t_match "inbound legs went through the XDP program" "^[1-9][0-9]*$" "$in_legs"
t_eq "inbound + outbound legs = all legs" "$(legs "$XDP")" "$((in_legs + out_legs))"
t_match "hot figures by hook" "est-hot xdp .*est-hot tc " "$(tr '\n' ' ' <<<"$XDP")"
t_eq "its veth pair stayed in its own namespace" "" "$(ip -o link show 2>/dev/null | grep -E 'sgbx[01]')"
t_exit "an unknown hook is refused" 2 "$B/sgbpf-bench" --policy "$W/p" "$W/t.pcap" --hook afxdp
t_match "... saying which hooks there are" "--hook takes tc or xdp" "$T_ERR"

echo "== sgbpf-bench, IPv6 UDP streams and a filled conntrack"
t_exit "IPv6 UDP replay: stateful, both hooks" 0 bash -c \
	"'$B/sgbpf-bench' --policy '$W/p' '$W/t6.pcap' --batches 1 &&
	 '$B/sgbpf-bench' --policy '$W/p' '$W/t6.pcap' --batches 1 --hook xdp"
t_match "IPv6 UDP: replies tracked" "allow/tracked [1-9]" "$T_OUT"
t_exit "replay over 20000 idle conntrack entries" 0 "$B/sgbpf-bench" --policy "$W/p" \
	"$W/t.pcap" --batches 1 --ct-fill 20000
t_eq "the same verdicts over a filled table" "$rule $norule $tracked" \
	"$(verdict allow/rule "$T_OUT") $(verdict drop/no-rule "$T_OUT") $(verdict allow/tracked "$T_OUT")"

t_done
