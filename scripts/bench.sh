#!/usr/bin/env bash
# Benchmarks P1-P4 (issue 8; not part of CI): builds the operator and the benchmarks in
# release mode, runs every benchmark against its floor in one run on this machine,
# prints the results table and writes it into docs/benchmarks.md.
#
#   scripts/bench.sh                        # the full suite (~25 min on 2 cores)
#   scripts/bench.sh --scale 0.1 --steady-secs 20 --repeats 1   # a quick check
#   scripts/bench.sh --only p3,p4           # some benchmarks
#
# Flags go to target/release/akp-bench (--help lists them). A run at another scale
# than 1 does not touch docs/benchmarks.md unless --out is given.
source "$(dirname "$0")/lib.sh"
cd "$repo"
export CARGO_TERM_COLOR=never

phase "system dependencies"
ensure_toolchains

phase "control-plane binaries (cold: ~10 min, cached: seconds)"
build_control_plane

phase "release build: akp-operator, akp-bench"
cargo build --release -q -p akp-operator -p akp-bench

phase "benchmarks"
args=("$@")
out=()
full=1
for a in "${args[@]}"; do
  case "$a" in --scale|--scale=*|--only|--only=*|--steady-secs|--steady-secs=*|--out|--out=*) full=0 ;; esac
done
[ "$full" = 1 ] && out=(--out "$repo/docs/benchmarks.md")
AKP_OPERATOR_BIN="$repo/target/release/akp-operator" "$repo/target/release/akp-bench" "${out[@]}" "${args[@]}"

finish
