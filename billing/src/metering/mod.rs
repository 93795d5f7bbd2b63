//! Metering (R-BIL-01): the Prometheus client, the queries and their configuration,
//! the exact integration of samples, the namespaces' identities and the collector that
//! writes closed hours into the ledger.

pub mod collector;
pub mod config;
pub mod identity;
pub mod integrate;
pub mod meter;
pub mod prom;
pub mod quantity;
