#!/usr/bin/env bash
# Runs every check and test on a bare machine of this kind: installs what is missing,
# builds the control plane from Go modules (cached in .cache/bin), then formatting,
# lints, the CRD drift check and all tests against real servers.
source "$(dirname "$0")/lib.sh"
cd "$repo"
# Incremental state would only grow the target dir: every build here is a full one.
export CARGO_TERM_COLOR=never RUST_BACKTRACE=1 CARGO_INCREMENTAL=0

phase "system dependencies"
ensure_toolchains
# A cold run needs about 8 GiB here (README); say so first rather than fail mid-build.
[ "$(disk_free_mib)" -ge $((8 * 1024)) ] ||
  echo "WARNING: $(disk_free) free where the build goes; a cold run needs about 8 GiB"

phase "control-plane binaries (cold: ~10 min, cached: seconds)"
build_control_plane

phase "cargo fmt --check"
cargo fmt --all --check

phase "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

phase "supply chain: cargo deny (licences, bans, sources; advisories offline from the RustSec snapshot)"
scripts/deny.sh

phase "fuzzing: cargo fuzz, every parser of outside input (cold build ~10 min, warm ~2 min)"
FUZZ_SECONDS="${FUZZ_SECONDS:-15}" FUZZ_CLEAN="${FUZZ_CLEAN-1}" scripts/fuzz.sh

phase "build the binaries the tests run (akp-operator, akp-billing, akp-audit, kubectl-pbo)"
cargo build --workspace --bins

phase "CRD drift check"
# The binary of the build above: `cargo run -p akp-crds` would compile the dependencies
# again with that one package's features.
target/debug/crdgen --check

phase "chart README drift check (helm-docs values table)"
scripts/chart-docs.sh --check

phase "links: every relative link resolves inside the repository"
scripts/check-links.sh

phase "cargo test (real etcd, kube-apiserver, scheduler, controller manager, kwok)"
out="$repo/target/test-output.txt"; mkdir -p "$repo/target"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e

phase "no process left behind"
# The shared control planes die with their test binaries (PDEATHSIG); give them a moment.
for _ in $(seq 20); do pgrep -f "$repo/.cache/bin/" >/dev/null || break; sleep 0.5; done
left=$(pgrep -af "$repo/.cache/bin/" || true)
if [ -n "$left" ]; then echo "processes left running:"; echo "$left"; status=1; else echo "none"; fi

finish
# One closing line for CI: the sum of cargo's per-binary results.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$out"
exit "$status"
