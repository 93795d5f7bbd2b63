//! The AKP billing daemon's I/O, in the order of its pipeline: [`metering`] of actually
//! consumed resources (R-BIL-01), the [`ledger`] (SQLite or PostgreSQL) and the monthly
//! [`report`] (reading, rendering, signing, delivery, the BillingReport controller),
//! and the agencies' [`statement`]s and cost metrics.
//! What is billed and how much is decided by the pure rules in `akp_rules::billing`.
//!
//! For each closed hour the [`metering::collector::Collector`] asks Prometheus one
//! query per resource kind per window ([`metering::meter::Meter`]), integrates the raw
//! samples exactly ([`metering::integrate`]), resolves namespaces to environments from
//! the operator's labels ([`metering::identity`]), and upserts one row per
//! (environment, resource, hour) into the [`ledger::Ledger`], in exact micro-units
//! ([`metering::quantity`]). Metric names, labels and PromQL live in
//! [`metering::config::MeteringConfig`]. See `docs/metering.md` and
//! `docs/metrics-contract.md`.

pub mod ledger;
pub mod metering;
pub mod metrics;
pub mod report;
pub mod statement;

pub use akp_rules::billing::period::{Calendar, Hour, Month, Window};
pub use akp_rules::billing::rows::LedgerRow;
/// The catalog as metering reads it lives with the rules, next to admission's.
pub use akp_rules::software as catalog;
pub use catalog::Catalog;
pub use ledger::{Ledger, LedgerError};
pub use metering::collector::{CollectError, Collector, CycleReport};
pub use metering::config::MeteringConfig;
pub use metering::meter::{Meter, Resource};
pub use metrics::Metrics;
