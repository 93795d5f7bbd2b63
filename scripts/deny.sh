#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (deny.toml): licences, bans and sources of the
# workspace and of fuzz/, then RustSec advisories against a local copy of the advisory
# database. cargo-deny is installed from crates.io into .cache/cargo-tools if missing.
#
# The advisory database is a git repository (cargo-deny reads its HEAD commit's date to
# judge staleness). It is looked for, in order:
#   1. .cache/advisory-dbs/advisory-db-3157b0e258782691 (cargo-deny's own layout),
#   2. AKP_ADVISORY_DB=<a git clone of rustsec/advisory-db>, copied into place,
#   3. `cargo deny fetch db` from GitHub (fails fast where GitHub is unreachable).
# If none works, advisories are reported as NOT CHECKED (loudly; exit 0) unless
# DENY_REQUIRE_ADVISORIES=1, which makes that a failure. See docs/supply-chain.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
tools="$repo/.cache/cargo-tools"
export PATH="$tools/bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if ! cargo deny --version >/dev/null 2>&1; then
  echo "installing cargo-deny into $tools"
  cargo install cargo-deny --locked --root "$tools" --quiet
fi

status=0
# fuzz/ has no committed lock file: it starts from the workspace's (as scripts/fuzz.sh).
[ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock
check=(check --hide-inclusion-graph)
echo "cargo deny: licenses, bans, sources (workspace)"
cargo deny --locked --config deny.toml "${check[@]}" licenses bans sources || status=1
echo "cargo deny: licenses, bans, sources (fuzz/)"
cargo deny --manifest-path fuzz/Cargo.toml --config deny.toml "${check[@]}" \
  licenses bans sources || status=1

# The directory name is cargo-deny's: the db URL's name and a hash of the URL.
dbs="$repo/.cache/advisory-dbs"
db="$dbs/advisory-db-3157b0e258782691"
config="$repo/target/deny-advisories.toml"
mkdir -p "$dbs" "$repo/target"
# deny.toml with the database under .cache instead of ~/.cargo.
sed "/^\[advisories\]/a db-path = \"$dbs\"" deny.toml >"$config"
if [ ! -d "$db/.git" ] && [ -n "${AKP_ADVISORY_DB:-}" ]; then
  echo "advisory database: copying $AKP_ADVISORY_DB"
  git clone -q --no-hardlinks "$AKP_ADVISORY_DB" "$db"
fi
if [ ! -d "$db/.git" ]; then
  echo "advisory database: fetching from GitHub"
  timeout 300 cargo deny --locked --config "$config" fetch db || true
fi
if [ -d "$db/.git" ]; then
  echo "cargo deny: advisories (database of $(git -C "$db" show -s --format=%cs HEAD))"
  cargo deny --offline --locked --config "$config" "${check[@]}" advisories || status=1
  cargo deny --offline --manifest-path fuzz/Cargo.toml --config "$config" "${check[@]}" \
    advisories || status=1
else
  echo "cargo deny: advisories NOT CHECKED: no RustSec advisory database (GitHub is"
  echo "  unreachable from this machine); give one with AKP_ADVISORY_DB=<git clone>"
  [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ] && status=1
fi
exit "$status"
