//! Benchmarks P1-P4 (issue 8). Not part of CI: `scripts/bench.sh` runs them.
//!
//! Each benchmark measures the project's code and a *floor* (the same work done the
//! plainest way: a bare kube client, plain HTTP, a plain SQL aggregate) in the same
//! run on the same machine, and reports the ratio. See `docs/benchmarks.md`.

pub mod cluster;
pub mod fixtures;
pub mod p1;
pub mod p2;
pub mod p3;
pub mod p4;
pub mod sys;
pub mod table;
