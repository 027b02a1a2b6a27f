#!/usr/bin/env bash
# Run the libFuzzer harnesses of tests/fuzz/ (built by `make fuzz-build`).
#   run.sh quick          FUZZ_RUNS inputs per harness (default 100000), seed
#                         FUZZ_SEED (default 1), from the seeds alone: the
#                         `make test` suite, the same inputs every run.
#   run.sh long SECONDS   SECONDS per harness, both harnesses in parallel,
#                         random seed, corpus kept in build/fuzz/corpus/.
# Each harness first replays the inputs that once broke it
# (tests/fixtures/fuzz-crashes/<harness>/), then fuzzes. A harness passes
# when both finish clean: no sanitizer report, leak, invariant abort,
# timeout or out-of-memory. A failing input is saved as
# build/fuzz/artifacts/<harness>-crash-<sha1> (reproduce: build/fuzz/<harness> FILE).
# Prints "fuzz: N passed, N failed" last (N = harnesses).
set -uo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-quick}
case $mode in
quick) budget=(-runs="${FUZZ_RUNS:-100000}" -seed="${FUZZ_SEED:-1}") ;;
long)
	secs=${2:-600}
	if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
		echo "fuzz: long needs a positive number of seconds, got '$secs'" >&2
		exit 2
	fi
	budget=(-max_total_time="$secs")
	;;
*)
	echo "usage: $0 quick | long SECONDS" >&2
	exit 2
	;;
esac

harnesses=(fuzz_document fuzz_policy_dir)
seeds_fuzz_document=(tests/fixtures/aws tests/fixtures/equiv tests/fixtures/bad policies/demo
		     tests/fixtures/fuzz-corpus/document)
seeds_fuzz_policy_dir=(tests/fixtures/fuzz-corpus/policy-dir)
common=(-dict=tests/fuzz/policy.dict -max_len=16384 -timeout=25 -rss_limit_mb=2048
	-print_final_stats=1)

out=build/fuzz
mkdir -p "$out/logs" "$out/artifacts"

# run_one HARNESS: replay its saved crashes, then fuzz. Exit status 0 = clean.
run_one() {
	local h=$1 bin=$out/$1 log=$out/logs/$1.log corpus seeds crashes=()
	local -n seeds_ref="seeds_$h"

	: >"$log"
	if [ ! -x "$bin" ]; then
		echo "$bin missing: run 'make fuzz-build'" >>"$log"
		return 1
	fi
	for f in tests/fixtures/fuzz-crashes/"$h"/*; do
		[ -f "$f" ] && crashes+=("$f")
	done
	if [ ${#crashes[@]} -gt 0 ] && ! "$bin" "${crashes[@]}" >>"$log" 2>&1; then
		echo "replaying tests/fixtures/fuzz-crashes/$h/ failed: a fixed bug is back" >>"$log"
		return 1
	fi
	if [ "$mode" = quick ]; then
		corpus=$out/work/$h       # fresh each time: the same inputs every run
		rm -rf "$corpus"
	else
		corpus=$out/corpus/$h     # grows across long runs
	fi
	mkdir -p "$corpus"
	seeds=("${seeds_ref[@]}")
	"$bin" "${budget[@]}" "${common[@]}" -artifact_prefix="$out/artifacts/$h-" \
		"$corpus" "${seeds[@]}" >>"$log" 2>&1
}

# summary HARNESS STATUS: one line per harness, the log's tail on failure.
summary() {
	local h=$1 rc=$2 log=$out/logs/$1.log execs cov
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'DONE +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 |
	      sed -E 's/DONE +//')
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		echo "fuzz $h: clean, ${execs} inputs ($cov)"
		return 0
	fi
	echo "fuzz $h: FAILED (exit $rc); last lines of $log:"
	tail -n 40 "$log" | sed 's/^/    /'
	return 1
}

pass=0 fail=0
declare -A status
if [ "$mode" = long ]; then
	declare -A pids
	for h in "${harnesses[@]}"; do
		echo "fuzz $h: fuzzing for $secs s (log: $out/logs/$h.log)"
		run_one "$h" &
		pids[$h]=$!
	done
	for h in "${harnesses[@]}"; do
		wait "${pids[$h]}"
		status[$h]=$?
	done
else
	for h in "${harnesses[@]}"; do
		run_one "$h"
		status[$h]=$?
	done
fi
for h in "${harnesses[@]}"; do
	if summary "$h" "${status[$h]}"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
