#!/usr/bin/env bash
# Run every sgbpf test suite: unit (CUnit), BPF (CUnit + BPF_PROG_TEST_RUN),
# a fixed number of fuzz inputs through the JSON front end (tests/fuzz/run.sh
# quick), the deploy kit (tests/deploy), the bench harness (tests/bench:
# verdicts and counts, nothing timed) and end-to-end (tests/e2e/*.sh).
# Each suite prints "N passed, N failed" last.
# Exits non-zero when any suite fails, skips, is missing, or runs no test.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "run-tests: the BPF and end-to-end suites load BPF programs and make network" >&2
	echo "run-tests: namespaces: run as root (sudo make test)" >&2
	exit 1
fi

total_pass=0 total_fail=0 bad_suites=()
logdir=build/test-logs
mkdir -p "$logdir"

run_suite() {
	local name=$1; shift
	local log="$logdir/$name.log" rc last p f
	echo "=== suite $name: $*"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	last=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$last" ]; then
		echo "=== suite $name: no 'N passed, N failed' line (exit $rc): counted as failed"
		bad_suites+=("$name"); total_fail=$((total_fail + 1)); return
	fi
	p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$last")
	f=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$last")
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	if grep -qiE '[1-9][0-9]* skipped' <<<"$last"; then
		echo "=== suite $name: skipped tests count as failures"; bad_suites+=("$name")
		total_fail=$((total_fail + 1))
	elif [ "$rc" -ne 0 ] || [ "$f" -ne 0 ] || [ "$p" -eq 0 ]; then
		echo "=== suite $name: FAILED (exit $rc, $p passed, $f failed)"; bad_suites+=("$name")
		[ "$f" -eq 0 ] && total_fail=$((total_fail + 1))
	fi
}

for bin in build/tests/test_user build/tests/test_bpf; do
	if [ ! -x "$bin" ]; then
		echo "=== $bin missing: build failed?"; bad_suites+=("$bin"); total_fail=$((total_fail + 1))
		continue
	fi
	run_suite "$(basename "$bin")" "$bin"
done
run_suite fuzz ./tests/fuzz/run.sh quick
run_suite deploy bash tests/deploy/test_deploy.sh
run_suite bench bash tests/bench/test_harness.sh
for t in tests/e2e/test_*.sh; do
	[ -e "$t" ] || continue
	run_suite "e2e-$(basename "$t" .sh)" bash "$t"
done

echo
if [ ${#bad_suites[@]} -gt 0 ]; then
	echo "FAILED suites: ${bad_suites[*]}"
fi
echo "all suites: $total_pass passed, $total_fail failed"
[ ${#bad_suites[@]} -eq 0 ] && [ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
