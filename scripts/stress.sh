#!/usr/bin/env bash
# `make stress`: the long versions of the reliability suites (issue 9; the
# figures go into docs/reliability.md). Each suite's output is saved in
# build/stress/<suite>.log; build/stress/summary.txt has one line per suite
# (result, its "N passed, N failed" line, seconds). Several minutes.
# Exits non-zero when any suite fails.
#
#   STRESS_FLOWS      spoofed SYNs of the flood (default 4000000)
#   STRESS_SECONDS    seconds of 10 swaps/s under load (default 60)
#   STRESS_RANDOM     random-delay kills (default 40)
#   STRESS_FUZZ_RUNS  inputs per fuzz harness (default 1000000)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "stress: the suites load BPF programs and make network namespaces: run as root" >&2
	exit 1
fi
OUT=build/stress
mkdir -p "$OUT"
: >"$OUT/summary.txt"
failed=()

run() {
	local name=$1 t0=$SECONDS rc last
	shift
	echo "=== stress $name: $*"
	"$@" 2>&1 | tee "$OUT/$name.log"
	rc=${PIPESTATUS[0]}
	last=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$OUT/$name.log" | tail -n 1)
	if [ "$rc" -ne 0 ] || [ -z "$last" ] || ! grep -qE '(^|: )[1-9][0-9]* passed, 0 failed' <<<"$last"; then
		failed+=("$name")
		printf '%-10s FAILED  %-28s %5d s (exit %d)\n' "$name" "${last:-no result line}" \
			$((SECONDS - t0)) "$rc" >>"$OUT/summary.txt"
	else
		printf '%-10s ok      %-28s %5d s\n' "$name" "$last" $((SECONDS - t0)) >>"$OUT/summary.txt"
	fi
}

run pressure env SGBPF_PRESSURE_FLOWS="${STRESS_FLOWS:-4000000}" build/tests/test_bpf bpf-pressure
run faults env FAULT_TAKEOVER_STEP=1 FAULT_PROBE_EVERY=1 FAULT_FILL=5000 \
	FAULT_RANDOM="${STRESS_RANDOM:-40}" bash tests/e2e/test_faults.sh
run load env LOAD_SECONDS="${STRESS_SECONDS:-60}" bash tests/e2e/test_load.sh
run spoof bash tests/e2e/test_spoof.sh
run hostile build/tests/test_bpf bpf-hostile
run fuzz env FUZZ_RUNS="${STRESS_FUZZ_RUNS:-1000000}" ./tests/fuzz/run.sh quick

echo
echo "=== stress summary (logs in $OUT/)"
cat "$OUT/summary.txt"
[ ${#failed[@]} -eq 0 ] || { echo "FAILED: ${failed[*]}"; exit 1; }
