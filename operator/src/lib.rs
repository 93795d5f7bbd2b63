//! The AKP operator: agencies, products and their environments, stage gates and legal
//! clocks, and the admission webhooks that keep placement, segmentation and the
//! software catalog.
//!
//! Layout: `rules` is the `akp-rules` crate re-exported (pure, no client); `agency` and
//! `product` are controllers, the product one a pipeline validate → build → apply →
//! status; `webhook` serves admission; `telemetry` metrics and health; `leader` the
//! Lease election.

pub mod admission_policy;
pub mod agency;
pub mod apply;
pub mod clock;
pub mod context;
pub mod error;
#[cfg(test)]
use akp_rules::examples;
pub mod leader;
pub mod product;
pub mod rbac;
pub mod remote;
pub use akp_rules as rules;
pub mod run;
pub mod site;
pub mod telemetry;
pub mod webhook;
