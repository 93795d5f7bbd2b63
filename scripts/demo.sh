#!/usr/bin/env bash
# The demo: builds what is missing, then runs the story on a local control plane.
# Pass --keep to leave the cluster running for kubectl (Ctrl-C stops it).
source "$(dirname "$0")/lib.sh"
cd "$repo"
phase "system dependencies"
ensure_toolchains
phase "control-plane binaries (cold: ~10 min, cached: seconds)"
build_control_plane
phase "build"
# cargo prints what it compiles (a cold build takes minutes on 2 cores).
# --workspace: the same dependency features as scripts/test.sh, so the two share one build.
cargo build --workspace --bin akp-demo --bin akp-operator --bin kubectl-pbo
phase "demo"
"$repo/target/debug/akp-demo" "$@"
finish
