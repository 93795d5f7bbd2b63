//! Benchmarks P1-P4 (issue 8). Not part of CI: `scripts/bench.sh` runs them.
