#!/usr/bin/env bash
# Regenerate tests/fixtures/fuzz-corpus/policy-dir/: each fixture policy
# directory as one fuzz_policy_dir input, its *.json files in name order
# joined with NUL bytes (the harness's document separator).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=tests/fixtures/fuzz-corpus/policy-dir
mkdir -p "$out"
for dir in policies/demo tests/fixtures/equiv/* tests/fixtures/bad/*/ \
	   tests/fixtures/fuzz-corpus/document; do
	dir=${dir%/}
	files=("$dir"/*.json)
	if [ ${#files[@]} -gt 6 ]; then
		echo "make-seeds: $dir has ${#files[@]} documents; the harness takes 6" >&2
		exit 1
	fi
	name=$(tr / - <<<"${dir#tests/fixtures/}")
	: >"$out/$name"
	for i in "${!files[@]}"; do
		[ "$i" -gt 0 ] && printf '\0' >>"$out/$name"
		cat "${files[$i]}" >>"$out/$name"
	done
	echo "  SEED    $out/$name (${#files[@]} documents)"
done
