#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (deny.toml): licences, bans and sources of the
# workspace and of fuzz/, then RustSec advisories, offline, against a local copy of the
# advisory database. cargo-deny is installed from crates.io into .cache/cargo-tools if
# missing. See docs/supply-chain.md.
#
# The advisory database is a git repository: cargo-deny wants it in
# .cache/advisory-dbs/advisory-db-3157b0e258782691 (its layout: the URL's name and a hash
# of it) and judges its staleness by the HEAD commit. The newest of these, by HEAD commit
# date, is put there:
#   - the copy already there,
#   - AKP_ADVISORY_DB=<a clone of rustsec/advisory-db, or a git bundle of it>,
#   - ../shared/rustsec/advisory-db.bundle (the workplace's snapshot, beside the clone),
#   - only when none of these exists: `cargo deny fetch db` from GitHub.
# An advisory that deny.toml does not ignore with a reason fails the script. With no
# database at all, advisories are NOT CHECKED: a failure in CI (CI=true) or with
# DENY_REQUIRE_ADVISORIES=1, a loud warning (exit 0) elsewhere.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
tools="$repo/.cache/cargo-tools"
export PATH="$tools/bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if ! cargo deny --version >/dev/null 2>&1; then
  echo "installing cargo-deny into $tools (a few minutes)"
  cargo install cargo-deny --locked --root "$tools" --quiet
fi

status=0
# fuzz/ has no committed lock file: it starts from the workspace's (as scripts/fuzz.sh),
# again whenever Cargo.lock changed since, so that a fixed version reaches fuzz/ too. The
# first cargo-deny run below resolves what only fuzz/ uses (libfuzzer-sys...) into it,
# before the advisory check reads it offline.
[ fuzz/Cargo.lock -nt Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock
check=(check --hide-inclusion-graph)
echo "cargo deny: licenses, bans, sources (workspace)"
cargo deny --locked --config deny.toml "${check[@]}" licenses bans sources || status=1
echo "cargo deny: licenses, bans, sources (fuzz/)"
cargo deny --manifest-path fuzz/Cargo.toml --config deny.toml "${check[@]}" \
  licenses bans sources || status=1

dbs="$repo/.cache/advisory-dbs"
db="$dbs/advisory-db-3157b0e258782691"
config="$repo/target/deny-advisories.toml"
mkdir -p "$dbs" "$repo/target"
# deny.toml with the database under .cache instead of ~/.cargo.
sed "/^\[advisories\]/a db-path = \"$dbs\"" deny.toml >"$config"
# Worktrees may share .cache: one script at a time replaces or reads the database.
exec 9>"$dbs/akp-deny.lock"
flock -w 300 9

# HEAD commit time (seconds) of a clone, 0 when there is none.
head_time() { git -C "$1" show -s --format=%ct HEAD 2>/dev/null || echo 0; }
# The commit a source (a clone or a bundle) would give.
source_head() {
  if [ -d "$1" ]; then git -C "$1" rev-parse -q --verify HEAD; else
    git bundle list-heads "$1" HEAD 2>/dev/null | cut -d' ' -f1; fi
}
sources=()
[ -n "${AKP_ADVISORY_DB:-}" ] && sources+=("$AKP_ADVISORY_DB")
sources+=("$(realpath -m "$repo/../shared/rustsec/advisory-db.bundle")")
for src in "${sources[@]}"; do
  if [ ! -e "$src" ]; then
    [ "$src" = "${AKP_ADVISORY_DB:-}" ] && echo "advisory database: AKP_ADVISORY_DB=$src does not exist"
    continue
  fi
  # Already there (the same commit or one after it): nothing to clone.
  head=$(source_head "$src" || true)
  if [ -n "$head" ] && git -C "$db" merge-base --is-ancestor "$head" HEAD 2>/dev/null; then
    continue
  fi
  incoming="$dbs/incoming.$$"
  rm -rf "$incoming"
  if ! git clone -q --no-hardlinks "$src" "$incoming"; then
    echo "advisory database: $src is neither a git clone nor a bundle; skipped"
    rm -rf "$incoming"
    continue
  fi
  if [ "$(head_time "$incoming")" -gt "$(head_time "$db")" ]; then
    # cargo-deny takes the later of the HEAD commit and .git/HEAD's mtime (a clone's
    # mtime is now): set it to the commit, so that the staleness it judges is the data's.
    touch -d "@$(head_time "$incoming")" "$incoming/.git/HEAD"
    rm -rf "$db.old"
    [ ! -e "$db" ] || mv "$db" "$db.old"
    mv "$incoming" "$db"
    rm -rf "$db.old"
    echo "advisory database: cloned from $src"
  else
    echo "advisory database: $src is not newer than the copy in .cache; kept the copy"
    rm -rf "$incoming"
  fi
done
if [ ! -d "$db/.git" ]; then
  echo "advisory database: none given; fetching from GitHub"
  timeout 120 cargo deny --locked --config "$config" fetch db || true
fi

if [ -d "$db/.git" ]; then
  date=$(git -C "$db" show -s --format=%cs HEAD)
  age=$((($(date +%s) - $(head_time "$db")) / 86400))
  max=$(sed -n 's/^maximum-db-staleness *= *"\(.*\)".*/\1/p' deny.toml)
  echo "advisory database of $date, $age days old (deny.toml accepts up to ${max:-P90D})"
  [ "$age" -le 90 ] || echo "  WARNING: the database is over 90 days old: bring a newer copy (docs/supply-chain.md)"
  echo "cargo deny: advisories (workspace)"
  cargo deny --offline --locked --config "$config" "${check[@]}" advisories || status=1
  echo "cargo deny: advisories (fuzz/)"
  cargo deny --offline --manifest-path fuzz/Cargo.toml --config "$config" "${check[@]}" \
    advisories || status=1
else
  echo "cargo deny: advisories NOT CHECKED: no RustSec advisory database: neither"
  echo "  ../shared/rustsec/advisory-db.bundle nor AKP_ADVISORY_DB=<git clone or bundle>, and"
  echo "  GitHub is unreachable"
  if [ "${CI:-}" = true ] || [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then
    echo "  FAILED: CI must check advisories"
    status=1
  fi
fi
exit "$status"
