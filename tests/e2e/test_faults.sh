#!/usr/bin/env bash
# Faults (issue 9): sgbpfd killed at every point of a policy swap, and at
# random moments of one, never leaves a half-applied policy; a deleted,
# replaced or broken policy directory keeps the last good policy; a policy
# too big for the maps is refused before anything changes; privilege: pins
# readable only by root, the CLI refuses an unprivileged user, nothing
# listens on the network. (A pinned layout-version mismatch is refused in
# tests/e2e/test_daemon.sh.)
#
# Kills land deterministically through the fault hook (loader.h):
# SGBPF_FAULT_KILL=S:N SIGKILLs sgbpfd at point N of its S-th swap, for N
# over every point (parsed, compiled, endpoint records written, then every
# map write of sgbpf_apply up to the flip and the grace period), on both swap
# paths: the first swap after a restart (slot content unknown: purged and
# written in full) and an incremental one (merged against the slot's record).
# S:1:+USEC arms a SIGKILL USEC after the first point instead (random USEC).
# After each kill, with the daemon dead and the programs still attached:
# the active slot holds exactly the old or exactly the new policy
# (tests/e2e/pinned.py compares every entry of every slotted table, the slot
# config and the endpoint records), the new one exactly when the kill came
# at or after the flip, and real packets get that policy's verdicts; after a
# restart the new policy is in force.
#
# Environment (defaults for make test; scripts/stress.sh asks for more):
# FAULT_TAKEOVER_STEP (kill at every Nth point of the takeover swap, always
# at the purge, the flip and the grace period; default 4; the incremental
# swap is killed at each of its points), FAULT_RANDOM (random-delay kills,
# default 3), FAULT_FILL (filler rules per policy, default 1500),
# FAULT_PROBE_EVERY (packet probes every Nth kill, default 2), FAULT_SEED.
set -u
cd "$(dirname "$0")/../.."
NS_PREFIX="sgflt$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh
source tests/e2e/sgbpfd.sh

sgbpfd_suite faults
FIX="$T_ROOT/tests/fixtures/e2e"
FLOG="$WORK/fault.log"
FAULT_RANDOM=${FAULT_RANDOM:-3}
FAULT_FILL=${FAULT_FILL:-1500}
FAULT_PROBE_EVERY=${FAULT_PROBE_EVERY:-2}
FAULT_TAKEOVER_STEP=${FAULT_TAKEOVER_STEP:-4}
FAULT_SEED=${FAULT_SEED:-$$}
KILLS=0
declare -A SIG
suite_on_failure() { echo "--- fault log ---"; tail -n 10 "$FLOG" 2>/dev/null; }

t_require_root_and_bins

# Policies A and B: web-0 allows tcp/80-89 (A) or tcp/8080 (B) from the
# remote; cli-0 carries FAULT_FILL filler rules whose ports differ between A
# and B, so a swap rewrites thousands of entries in every slotted table.
mkdir -p "$WORK/A" "$WORK/B"
python3 - "$FIX/daemon" "$WORK" "$FAULT_FILL" <<'EOF'
import json, sys
fix, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
groups = json.load(open(fix + "/groups.json"))
for name, base in (("a", 20000), ("b", 30000)):
    perms = [{"IpProtocol": "tcp", "FromPort": base + i % 5000, "ToPort": base + i % 5000,
              "IpRanges": [{"CidrIp": "10.%d.%d.0/24" % (100 + i // 250, i % 250)}]}
             for i in range(n)]
    groups["SecurityGroups"].append({"GroupId": "sg-0f111%s00000000a" % name,
                                     "GroupName": "fill-" + name, "IpPermissions": perms,
                                     "IpPermissionsEgress": []})
eps = json.load(open(fix + "/endpoints.json"))
for name, web in (("A", "sg-0e2eweb00000000a"), ("B", "sg-0e2eweb80800000a")):
    json.dump(groups, open("%s/%s/groups.json" % (work, name), "w"))
    for e in eps["endpoints"]:
        e["securityGroups"] = {"e2e/web-0": [web]}.get(
            e["name"], ["sg-0e2ecli00000000a", "sg-0f111%s00000000a" % name.lower()])
    json.dump(eps, open("%s/%s/endpoints.json" % (work, name), "w"), indent=1)
EOF
cp "$WORK/A/groups.json" "$POL/"

echo "== setup: namespaces $NS_PREFIX-*, pin dir $PIN, $FAULT_FILL filler rules"
{ ns_make_node && ns_make_remote 10.0.0.50 fd00:20::50 &&
	ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23; } || suite_abort "namespace setup"
WEB=$(pod_ns web)
bg "$WEB" python3 "$TRAFFIC" tcp-serve 80 8080

# use_policy A|B: make the directory say A or B (one atomic rename).
use_policy() { put_policy "$WORK/$1/endpoints.json" endpoints.json; }
other() { [ "$1" = A ] && echo B || echo A; }

slot_json() { python3 "$T_ROOT/tests/e2e/pinned.py" slot "$PIN"; }
# read_slot: SLOT_SIG, SLOT_GEN, SLOT_OK (1 when the slot config and every
# endpoint record of the active slot carry the generation in force) and
# SLOT_POL (A, B, or mixed:SIG) for what the active slot holds.
read_slot() {
	read -r SLOT_SIG SLOT_GEN SLOT_OK < <(python3 "$T_ROOT/tests/e2e/pinned.py" sig "$PIN")
	if [ "$SLOT_SIG" = "${SIG[A]:-}" ]; then SLOT_POL=A
	elif [ "$SLOT_SIG" = "${SIG[B]:-}" ]; then SLOT_POL=B
	else SLOT_POL="mixed:$SLOT_SIG"; fi
}

# probes WANT DESC: real packets get WANT's verdicts.
probes() {
	local want=$1 d=$2 yes=80 no=8080
	[ "$want" = B ] && yes=8080 no=80
	can "$d: remote -> web tcp/$yes passes (policy $want)" "$NS_REMOTE" tcp 10.0.1.23 "$yes" 1
	cannot "$d: remote -> web tcp/$no dropped (policy $want)" "$NS_REMOTE" tcp 10.0.1.23 "$no" 0.3
}

# in_force WANT DESC [PROBE]: the active slot holds WANT exactly, its config
# and records carry the generation in force, and (PROBE=1) packets agree.
in_force() {
	read_slot
	t_eq "$2: active slot holds policy $1 exactly" "$1" "$SLOT_POL"
	t_eq "$2: slot config and endpoint records carry the generation in force" 1 "$SLOT_OK"
	[ "${3:-1}" = 1 ] && probes "$1" "$2"
}

echo "== reference: each policy applied cleanly"
use_policy B
sgbpfd_start || suite_abort "sgbpfd starts" "$(tail -n 20 "$LOG")"
read_slot
SIG[B]=$SLOT_SIG
from=$(log_lines)
use_policy A
wait_log "$from" "event=policy_applied" 10
read_slot
SIG[A]=$SLOT_SIG
if [ -n "${SIG[A]}" ] && [ "${SIG[A]}" != "${SIG[B]}" ]; then
	t_pass "policies A and B give distinct slot contents (${SIG[A]}, ${SIG[B]})"
else
	t_fail "policies A and B give distinct slot contents" "A=${SIG[A]} B=${SIG[B]}"
fi
in_force A "clean swap to A"
echo "   slot entries of A: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])' \
	< <(slot_json))"
sgbpfd_stop TERM
IN_FORCE=A

# fault_round PATH SPEC DESC: one daemon life killed by SGBPF_FAULT_KILL=SPEC.
#  takeover:    the dir says NEW when the daemon starts; swap 1 (slot
#               content unknown: purged, written in full) is killed.
#  incremental: swap 1 re-applies OLD from the dir, swap 2 applies NEW,
#               swap 3 (OLD again, merged against the record of swap 1) is
#               killed, so there NEW is the policy swap 3 brings.
# Sets ROUND_DIED (1 when the kill came) and ROUND_POINT (the point's name,
# empty for a delayed kill).
fault_round() {
	local path=$1 spec=$2 d=$3 old new from g0 want probe=0
	ROUND_DIED=0
	ROUND_POINT=
	if [ "$path" = takeover ]; then
		old=$IN_FORCE new=$(other "$IN_FORCE")
		use_policy "$new"
	else
		old=$(other "$IN_FORCE") new=$IN_FORCE
	fi
	read_slot
	g0=$SLOT_GEN
	from=$(log_lines)
	: >"$FLOG"
	SGBPF_FAULT_KILL="$spec" SGBPF_FAULT_LOG="$FLOG" sgbpfd_start 2>/dev/null
	if [ "$path" = incremental ] && [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		use_policy "$old"
		wait_log "$from" "event=policy_applied generation=$((g0 + 2)) " 10
		g0=$((g0 + 2))
		use_policy "$new"
	fi
	# The kill, or the swap completing when the point is past the last one.
	# (stderr: bash's "Killed" notice of the job.)
	{
		for _ in $(seq 200); do
			kill -0 "$DPID" 2>/dev/null || break
			log_since "$from" | grep -qE "event=policy_applied generation=$((g0 + 1)) " && break
			sleep 0.05
		done
		if kill -0 "$DPID" 2>/dev/null; then
			sgbpfd_stop TERM
			IN_FORCE=$new
			return
		fi
		sgbpfd_reap
	} 2>/dev/null
	ROUND_DIED=1
	KILLS=$((KILLS + 1))
	ROUND_POINT=$(sed -nE 's/.*SIGKILL now, .*\((.*)\)$/\1/p' "$FLOG" | tail -n 1)
	[ "$DRC" = 137 ] || t_fail "$d: sgbpfd died of SIGKILL" "exit status $DRC"

	read_slot
	case $SLOT_POL in
	"$old") want=$old; [ "$SLOT_GEN" = "$g0" ] || want="$old at generation $g0" ;;
	"$new") want=$new; [ "$SLOT_GEN" = "$((g0 + 1))" ] || want="$new at generation $((g0 + 1))" ;;
	*) want=$old ;;
	esac
	case $ROUND_POINT in
	"flipped state.active_slot" | "rcu grace period") want=$new ;;
	"") ;;   # a delayed kill may land before or after the flip
	*) want=$old ;;
	esac
	t_eq "$d (${ROUND_POINT:-delayed}): after the kill, wholly $want is in force" "$want" "$SLOT_POL"
	t_eq "$d: slot config and records carry the generation in force ($SLOT_GEN)" 1 "$SLOT_OK"
	[ $((KILLS % FAULT_PROBE_EVERY)) = 0 ] && probe=1
	[ "$probe" = 1 ] && probes "$SLOT_POL" "$d, daemon dead"
	from=$(log_lines)
	if sgbpfd_start; then
		in_force "$new" "$d, after restart" "$probe"
	else
		t_fail "$d: sgbpfd restarts after the kill" "$(log_since "$from" | tail -n 5)"
	fi
	sgbpfd_stop TERM
	IN_FORCE=$new
}

# run_path PATH SWAP LAST N...: a round per point N until one is past the
# swap's last point (the swap then completes); LAST=1: that must be the last
# N given. Sets POINTS (the names of the points killed at).
run_path() {
	local path=$1 swap=$2 last=$3 n
	shift 3
	POINTS=()
	for n in "$@"; do
		fault_round "$path" "$swap:$n" "$path kill at point $n"
		[ "$ROUND_DIED" = 1 ] || break
		POINTS+=("$ROUND_POINT")
	done
	if [ "$ROUND_DIED" = 0 ] && [ "${#POINTS[@]}" -gt 0 ] &&
		{ [ "$last" = 0 ] || [ "$n" = "${*: -1}" ]; }; then
		t_pass "$path: killed at ${#POINTS[@]} points, then past the last one a clean swap"
	else
		t_fail "$path: killed at the points asked, then a clean swap" \
			"stopped at point $n of $*; killed at: ${POINTS[*]}"
	fi
}

echo "== kill -9 at every point of an incremental swap"
run_path incremental 3 0 $(seq 1 60)
NI=${#POINTS[@]}
t_match "incremental: the points span parse, compile, records, every map write, flip, grace" \
	'^policy parsed policy compiled wrote ep_records apply: nothing written yet .*wrote port_trie.*wrote slot_config zeroed rule_stats flipped state.active_slot rcu grace period$' \
	"${POINTS[*]}"
printf '   %s\n' "${POINTS[@]}" | nl -ba | sed 's/^/  /'

# The takeover swap has one more point (the purge of the unknown slot).
# FAULT_TAKEOVER_STEP=1 kills at each of them; a larger step at every
# step-th one, and always at the flip and the grace period.
echo "== kill -9 at points of the first swap after a restart (step $FAULT_TAKEOVER_STEP)"
PURGE=$(printf '%s\n' "${POINTS[@]}" | grep -n '^apply: nothing written yet$' | cut -d: -f1)
PURGE=$((${PURGE:-0} + 1))
TP=$( (seq 1 "$FAULT_TAKEOVER_STEP" $((NI + 1)); printf '%s\n' "$PURGE" $((NI)) $((NI + 1))) |
	sort -nu | xargs)
run_path takeover 1 1 $TP $((NI + 2))
t_match "takeover: killed right after the purge of the unknown slot, and at the flip" \
	"inactive slot purged.*flipped state.active_slot rcu grace period$" "${POINTS[*]}"

echo "== kill -9 at random moments of a swap (FAULT_SEED=$FAULT_SEED)"
RANDOM=$FAULT_SEED
for i in $(seq 1 "$FAULT_RANDOM"); do
	us=$(( (RANDOM * 32768 + RANDOM) % 40000 ))
	fault_round incremental "3:1:+$us" "random kill $i at +${us}us"
	[ "$ROUND_DIED" = 1 ] || t_pass "random kill $i at +${us}us came after the swap: nothing to check"
done
echo "   kills survived: $KILLS"

echo "== policy directory removed, replaced by a file, broken"
use_policy "$IN_FORCE"
sgbpfd_start --reconcile-interval 1
G=$(applied_gen)
from=$(log_lines)
mv "$POL" "$WORK/policy.saved"
if wait_log "$from" 'event=watch_lost .*the policy in force stays'; then
	t_pass "directory removed: logged, the policy in force stays"
else
	t_fail "directory removed: logged" "$(log_since "$from")"
fi
t_exit "directory removed: sgbpf apply refuses (exit 2)" 2 "$SGBPF" apply --socket "$SOCK"
t_match "directory removed: sgbpf apply says why" "cannot read policy directory $POL" "$T_ERR$T_OUT"
t_eq "directory removed: generation unchanged" "$G" "$(applied_gen)"
in_force "$IN_FORCE" "directory removed"
echo "not a directory" >"$POL"
from=$(log_lines)
t_exit "replaced by a file: sgbpf apply refuses (exit 2)" 2 "$SGBPF" apply --socket "$SOCK"
t_match "replaced by a file: logged with the reason" \
	"event=policy_error .*msg=\"cannot read policy directory $POL: Not a directory\"" "$(log_since "$from")"
sleep 1.2   # a reconcile pass must not lose the policy either
in_force "$IN_FORCE" "replaced by a file"
rm -f "$POL"
mv "$WORK/policy.saved" "$POL"
echo '{"SecurityGroups": [ {"GroupId": "sg-0bad", }]}' >"$POL/broken.json"
from=$(log_lines)
t_exit "a file with a JSON error: sgbpf apply refuses (exit 1)" 1 "$SGBPF" apply --socket "$SOCK"
t_match "the refusal names the file" "broken.json" "$T_ERR"
t_match "logged: policy_rejected, the policy in force stays" \
	'event=policy_rejected .*msg="the policy in force stays in force"' "$(log_since "$from")"
in_force "$IN_FORCE" "JSON error"
rm -f "$POL/broken.json"
t_exit "directory back: sgbpf apply exits 0" 0 "$SGBPF" apply --socket "$SOCK"

echo "== a policy too big for the maps is refused before anything changes"
G=$(applied_gen)
BEFORE=$(slot_json)
HUGE="$WORK/huge"
"$T_ROOT/build/bench/gen-policy" --out "$HUGE" --endpoints 600 --rules 1000 >/dev/null
t_exit "sgbpf apply of 600 endpoints x 1000 rules refuses (exit 1)" 1 "$SGBPF" apply "$HUGE" \
	--socket "$SOCK"
t_match "the refusal names the full map and its capacity" \
	'rule_trie: the policy needs [0-9]+ entries but a policy slot holds at most 524288' "$T_ERR$T_OUT"
t_eq "generation unchanged" "$G" "$(applied_gen)"
t_eq "active slot, slot config and records unchanged" "$BEFORE" "$(slot_json)"
probes "$IN_FORCE" "huge policy refused"

echo "== privilege"
t_eq "pin directory is mode 700, root's" "700 root" "$(stat -c '%a %U' "$PIN")"
t_eq "pin subdirectories are mode 700" "700 700 700" \
	"$(stat -c '%a' "$PIN/maps" "$PIN/progs" "$PIN/links" | xargs)"
t_eq "every pinned map and program is mode 600, root's" "" \
	"$(find "$PIN" -mindepth 2 \( ! -perm 600 -o ! -user root \) -printf '%m %u %p\n')"
t_exit "pins exist" 0 test -e "$PIN/maps/state" -a -e "$PIN/progs/sgbpf_tc_ingress"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
t_exit "nobody: cannot open a pinned map (bpftool)" 255 "${NOBODY[@]}" bpftool map dump \
	pinned "$PIN/maps/state"
for verb in "status" "endpoints" "stats" "ct list"; do
	# shellcheck disable=SC2086
	t_exit "nobody: sgbpf $verb refuses (exit 2)" 2 "${NOBODY[@]}" "$SGBPF" $verb --pin-dir "$PIN"
	t_match "nobody: sgbpf $verb says it needs root" "needs root" "$T_ERR"
done
t_exit "nobody: sgbpf apply refuses (exit 2)" 2 "${NOBODY[@]}" "$SGBPF" apply --socket "$SOCK"
t_match "nobody: sgbpf apply says it may not use the control socket" \
	"$SOCK.*(Permission denied|root)" "$T_ERR"
t_eq "control socket is mode 600, root's" "600 root" "$(stat -c '%a %U' "$SOCK")"
LISTEN=$(in_node ss -Htlunp)
t_eq "nothing listens on TCP or UDP in the daemon's namespace" "" "$LISTEN"
t_match "the control socket is its only listener" "$SOCK .*sgbpfd" "$(in_node ss -Hxlp)"
t_eq "sgbpfd holds no TCP or UDP socket at all" "" "$(in_node ss -Htuanp | grep "pid=$DPID,")"
sgbpfd_stop TERM

echo "   kills survived: $KILLS (plus the checks above)"
t_done
