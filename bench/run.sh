#!/bin/sh
# Runs the datapath benchmark (`make bench` calls this after building).
# Needs root: the programs are loaded and run with BPF_PROG_TEST_RUN.
# Extra arguments go to datapath-bench (see --help); output is also kept in
# build/bench/datapath-bench.txt.
set -eu
cd "$(dirname "$0")/.."
bin=build/bench/datapath-bench
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: needs root (loads BPF programs and runs them with BPF_PROG_TEST_RUN); run: sudo make bench" >&2
	exit 2
fi
if [ ! -x "$bin" ]; then
	echo "bench/run.sh: $bin is missing; build it with: make $bin" >&2
	exit 2
fi
out=build/bench/datapath-bench.txt
"$bin" "$@" | tee "$out.tmp"
mv "$out.tmp" "$out"
echo "(saved in $out)"
