# shellcheck shell=bash
# Running sgbpfd in an end-to-end suite (source after lib.sh and netns.sh).
# sgbpfd_suite NAME sets the run's own names and the cleanup; DPID holds the
# running daemon's pid, empty when none.
DPID=
BG_PIDS=()

# sgbpfd_suite NAME: SGBPFD, TRAFFIC, and per-run PIN (/sys/fs/bpf/sgbpf-NAME-$$),
# WORK (a fresh /tmp directory), POL (created), SOCK, LOG; an EXIT trap kills
# the daemon and BG_PIDS, removes the namespaces, pins and WORK, and after a
# failure shows the log's tail (and runs suite_on_failure if defined).
sgbpfd_suite() {
	SGBPFD="$T_ROOT/build/sgbpfd"
	TRAFFIC="$T_ROOT/tests/e2e/traffic.py"
	PIN="/sys/fs/bpf/sgbpf-$1-$$"
	WORK=$(mktemp -d "/tmp/sgbpf-$1.XXXXXX")
	POL="$WORK/policy"
	SOCK="$WORK/sgbpfd.sock"
	LOG="$WORK/sgbpfd.log"
	mkdir -p "$POL"
	: >"$LOG"
	trap sgbpfd_suite_cleanup EXIT
	trap 'exit 130' INT TERM
}

sgbpfd_suite_cleanup() {
	local p
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN"
	if [ "$T_FAIL" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- sgbpfd log (last 40 lines) ---"
		tail -n 40 "$LOG" | cut -c1-400
		declare -F suite_on_failure >/dev/null && suite_on_failure
	fi
	rm -rf "$WORK"
}

# suite_abort DESC [DETAIL]: fail DESC and end the suite (its setup failed).
suite_abort() {
	t_fail "$@"
	t_done
	exit 1
}

# daemon_pods: the daemon fixtures (tests/fixtures/e2e/daemon) in $POL and
# the namespaces they name: the node, a remote (10.0.0.50) and the pods web
# (sgb-web0, 10.0.1.23) and cli (sgb-cli0, 10.0.1.25); WEB and CLI name the
# pods' namespaces. Ends the suite when the namespaces can't be made.
daemon_pods() {
	mkdir -p "$POL"
	cp "$T_ROOT/tests/fixtures/e2e/daemon/groups.json" \
		"$T_ROOT/tests/fixtures/e2e/daemon/endpoints.json" "$POL/"
	: >"$LOG"
	{ ns_make_node && ns_make_remote 10.0.0.50 fd00:20::50 &&
		ns_make_pod web sgb-web0 10.0.1.23 fd00:10::23 &&
		ns_make_pod cli sgb-cli0 10.0.1.25 fd00:10::25; } || suite_abort "namespace setup"
	WEB=$(pod_ns web)
	CLI=$(pod_ns cli)
}

log_lines() { wc -l <"$LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$LOG"; }

# wait_log FROM_LINE REGEX [SECONDS]: REGEX shows up in the log after
# FROM_LINE. Fails early when the daemon exits.
wait_log() {
	local from=$1 re=$2 secs=${3:-5} i
	for ((i = 0; i < secs * 20; i++)); do
		log_since "$from" | grep -qE -- "$re" && return 0
		if [ -n "$DPID" ] && ! kill -0 "$DPID" 2>/dev/null; then
			log_since "$from" | grep -qE -- "$re"
			return
		fi
		sleep 0.05
	done
	return 1
}

# sgbpfd_start [FLAG...]: start sgbpfd in the node namespace (environment
# passed through) and wait until it runs. Fails when it exits first.
sgbpfd_start() {
	local from
	from=$(log_lines)
	nsenter --net="/run/netns/$NS_NODE" "$SGBPFD" --policy "$POL" --pin-dir "$PIN" \
		--socket "$SOCK" --iface-glob 'sgb-*' "$@" >>"$LOG" 2>&1 &
	DPID=$!
	wait_log "$from" "event=running" 15
}

# sgbpfd_stop SIGNAL: signal the daemon and reap it; its exit status in DRC.
sgbpfd_stop() {
	[ -n "$DPID" ] || return 0
	kill -"$1" "$DPID" 2>/dev/null
	sgbpfd_reap
}

# sgbpfd_reap: wait for the daemon to exit; its exit status in DRC.
sgbpfd_reap() {
	wait "$DPID" 2>/dev/null
	DRC=$?
	DPID=
}

# put_policy SRC NAME: replace $POL/NAME atomically, as editors do.
put_policy() {
	cp "$1" "$POL/.$2.tmp" && mv "$POL/.$2.tmp" "$POL/$2"
}

# applied_gen: generation of the last policy_applied line (0 when none).
applied_gen() {
	local g
	g=$(grep -E "event=policy_applied" "$LOG" | tail -n 1 | sed -E 's/.* generation=([0-9]+).*/\1/')
	echo "${g:-0}"
}

# traffic_in NS tcp|udp|ping1 ADDR [PORT [TIMEOUT]]: one flow from NS, exit 0
# when it got through and its reply came back, 1 when not.
traffic_in() {
	local ns=$1 kind=$2
	shift 2
	case $kind in
	tcp) in_ns "$ns" python3 "$T_ROOT/tests/e2e/traffic.py" tcp-try "$@" ;;
	udp) in_ns "$ns" python3 "$T_ROOT/tests/e2e/traffic.py" udp-try "$@" ;;
	ping1) in_ns "$ns" ping -c1 -W1 -q "$1" >/dev/null 2>&1 ;;
	esac
}
# can DESC NS KIND ADDR [PORT [TIMEOUT]]: the flow must pass; cannot: must not.
can() { local d=$1; shift; t_exit "$d" 0 traffic_in "$@"; }
cannot() { local d=$1; shift; t_exit "$d" 1 traffic_in "$@"; }
