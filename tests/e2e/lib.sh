# shellcheck shell=bash
# Tiny assertion library for the end-to-end suites. Source it, call t_* per
# check, and finish with t_done (prints "N passed, N failed", sets the exit code).
T_PASS=0
T_FAIL=0
T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SGBPF="$T_ROOT/build/sgbpf"

t_pass() { T_PASS=$((T_PASS + 1)); echo "  ok   $1"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL $1"; [ -n "${2:-}" ] && printf '       %s\n' "$2"; }

# t_exit DESC WANT_RC CMD...: run CMD, check its exit status; output in $T_OUT / $T_ERR.
t_exit() {
	local desc=$1 want=$2 rc errf
	shift 2
	errf=$(mktemp)
	T_OUT=$("$@" 2>"$errf")
	rc=$?
	T_ERR=$(cat "$errf"); rm -f "$errf"
	if [ "$rc" -eq "$want" ]; then
		t_pass "$desc"
	else
		t_fail "$desc" "exit $rc, wanted $want: $* | stdout: ${T_OUT:0:400} | stderr: ${T_ERR:0:400}"
	fi
}

# t_match DESC REGEX TEXT: TEXT matches the extended regex.
t_match() {
	if grep -qE -- "$2" <<<"$3"; then t_pass "$1"; else t_fail "$1" "no match for /$2/ in: ${3:0:600}"; fi
}

# t_eq DESC WANT GOT
t_eq() {
	if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1" "wanted '$2', got '$3'"; fi
}

# Stop the suite (as one failure) unless it runs as root with the binaries built.
t_require_root_and_bins() {
	if [ "$(id -u)" -ne 0 ] || [ ! -x "$SGBPFD" ] || [ ! -x "$SGBPF" ]; then
		t_fail "prerequisites" "needs root and build/sgbpfd + build/sgbpf (make all)"
		t_done
		exit 1
	fi
}

t_done() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}
