#!/usr/bin/env bash
# Fuzzes every parser of outside input with cargo-fuzz (libFuzzer): each target in
# fuzz/fuzz_targets runs for FUZZ_SECONDS (default 20) from its committed corpus in
# fuzz/corpus/<target>; a crash or a failed property fails the script, and the input
# that caused it is left in fuzz/artifacts/<target>/ (reproduce: scripts/fuzz.sh
# <target> with FUZZ_REPRO=<file>).
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS each
#   scripts/fuzz.sh prom_response   # some targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh tariff_price
#
# cargo-fuzz needs nightly flags. The workspace's stable toolchain gets them through
# RUSTC_BOOTSTRAP=1, so a machine with stable only works; FUZZ_TOOLCHAIN=nightly uses
# `cargo +nightly` instead. cargo-fuzz is installed from crates.io into .cache/cargo-tools
# when missing. New inputs that libFuzzer finds stay in fuzz/target/corpus (not
# committed); fuzz/corpus stays the small, minimized seed set. FUZZ_CLEAN=1 removes the
# built targets afterwards (~2 GiB; scripts/test.sh sets it, as CI builds cold anyway)
# and keeps the logs and the found corpus.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repro=${FUZZ_REPRO:+$(realpath "$FUZZ_REPRO")}
cd "$repo/fuzz"
seconds=${FUZZ_SECONDS:-20}
sanitizer=${FUZZ_SANITIZER:-none}
tools="$repo/.cache/cargo-tools"
export PATH="$tools/bin:$PATH" CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz into $tools"
  cargo install cargo-fuzz --locked --root "$tools" --quiet
fi

# The workspace's versions, plus what only the fuzz targets use (libfuzzer-sys): seeded
# again whenever Cargo.lock changed since (as scripts/deny.sh), so fixed versions reach fuzz/.
[ Cargo.lock -nt "$repo/Cargo.lock" ] || cp "$repo/Cargo.lock" Cargo.lock

toolchain=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
  toolchain=("+$FUZZ_TOOLCHAIN")
else
  export RUSTC_BOOTSTRAP=1
fi

mapfile -t all < <(cargo "${toolchain[@]}" fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Debug assertions on: integer overflow panics, as in the tests. Sanitizer none: the
# code under test has no unsafe, and ASan would halve the executions per second.
flags=(--sanitizer "$sanitizer" --debug-assertions)
start=$SECONDS
mkdir -p target
if ! cargo "${toolchain[@]}" fuzz build "${flags[@]}" >target/fuzz-build.log 2>&1; then
  grep -vE "^ +(Compiling|Blocking|Updating|Locking|Adding|Download)" target/fuzz-build.log | tail -40
  echo "fuzz: build failed"
  exit 1
fi
printf 'fuzz: built in %ss\n' "$((SECONDS - start))"

# Run the built binaries: `cargo fuzz run` would rebuild per target when someone edits
# the workspace meanwhile.
host=$(rustc -vV | sed -n 's/^host: //p')
bin="target/$host/release"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t" "artifacts/$t"
  if [ -n "$repro" ]; then
    "$bin/$t" "$repro" || failed+=("$t")
    continue
  fi
  t0=$SECONDS
  # New inputs go to the first corpus dir (target/corpus/<t>, ignored by git); the
  # committed seeds are only read.
  if "$bin/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      "target/corpus/$t" "corpus/$t" >"target/fuzz-$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "target/fuzz-$t.log")
    printf 'fuzz %-18s ok: %s runs in %ss\n' "$t" "${runs:-?}" "$((SECONDS - t0))"
  else
    printf 'fuzz %-18s FAILED (%ss); log fuzz/target/fuzz-%s.log:\n' "$t" "$((SECONDS - t0))" "$t"
    grep -E "panicked|assert|SUMMARY|Test unit written" "target/fuzz-$t.log" | head -20 || tail -30 "target/fuzz-$t.log"
    failed+=("$t")
  fi
done
if [ -n "${FUZZ_CLEAN:-}" ]; then
  rm -rf "target/$host" target/release target/debug
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
if [ -n "$repro" ]; then echo "fuzz: $repro passes ${targets[*]}"; exit 0; fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
