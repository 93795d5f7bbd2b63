//! The pure admission checks: what the operator's webhooks decide about an object,
//! given the objects they looked up (the namespace's labels, the Sites, the catalog,
//! the Agencies, the node). Each webhook in `akp_operator::webhook` is a thin
//! validator: it looks up, then calls the check of the same name here.
//!
//! - [`environment`]: which environment a namespace is, and the sites it may use;
//! - [`pod`]: placement (R-PLC-01, R-PLC-02) and trusted software of Pods;
//! - [`pvc`]: storage classes of PersistentVolumeClaims (R-PLC-01);
//! - [`product`]: PlatformSoftwareProducts (R-LC-*, R-ENV-01, R-SW-*), with
//! - [`roles`]: who may delete a record, appoint participants, change the legal regime
//!   and confirm resources (R-LC-07, R-LC-08, R-LC-10);
//! - [`agency`]: one namespace, one Agency (R-LC-08);
//! - [`verdict`]: what a check returns.

pub mod agency;
pub mod environment;
pub mod pod;
pub mod product;
pub mod pvc;
pub mod roles;
pub mod verdict;

pub use verdict::{AuditedAct, ExpiringSoftware, Verdict, Violation};
