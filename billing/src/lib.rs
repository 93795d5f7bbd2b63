//! The AKP billing daemon: metering of actually consumed resources (R-BIL-01).
//!
//! For each closed hour the [`collector::Collector`] asks Prometheus one query per
//! resource kind per window ([`meter::Meter`]), integrates the raw samples exactly
//! ([`integrate`]), resolves namespaces to environments from the operator's labels
//! ([`identity`]), and upserts one row per (environment, resource, hour) into the
//! [`ledger::Ledger`] (SQLite or PostgreSQL), in exact micro-units ([`quantity`]).
//! Metric names, labels and PromQL live in [`config::MeteringConfig`]. See
//! `docs/metering.md` and `docs/metrics-contract.md`.

pub mod collector;
pub mod config;
pub mod delivery;
pub mod development;
pub mod estimate;
pub mod identity;
pub mod integrate;
pub mod ledger;
pub mod meter;
pub mod metrics;
pub mod period;
pub mod prom;
pub mod quantity;
pub mod rating;
pub mod report;
pub mod reports;
pub mod sign;

/// The catalog as metering reads it lives with the rules, next to admission's.
pub use akp_rules::software as catalog;
pub use catalog::Catalog;
pub use collector::{CollectError, Collector, CycleReport};
pub use config::MeteringConfig;
pub use ledger::{Ledger, LedgerError, LedgerRow};
pub use meter::{Meter, Resource};
pub use metrics::Metrics;
pub use period::{Calendar, Hour, Month, Window};
