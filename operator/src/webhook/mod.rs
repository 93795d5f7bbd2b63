//! Admission webhooks: the rules that need other objects than the one admitted.
//!
//! Rules one object can check by itself are CEL in the CRD schema; what needs the
//! Agencies, the software catalog, the Sites or the namespace's labels is checked here,
//! in the shape of linkerd2's policy controller: an HTTPS server ([`server`]) hands
//! each `AdmissionReview` to [`Validators`], which dispatches on the kind to a
//! [`Validate`] implementation ([`agency`] for Agencies, [`product`] for PlatformSoftwareProducts, [`pod`] for
//! Pods, [`pvc`] for PersistentVolumeClaims), or to [`PodPlacement`] ([`mutate`]) for
//! the placement patch. The checks themselves are pure functions over the objects, in
//! [`crate::rules::admission`]; each validator is thin: a [`Lookup`] fetches what
//! the check needs, then the check decides.
//!
//! - [`notice`]: the R-SW-02 events about software whose documents expire soon;
//! - [`tls`]: the serving certificate, swappable while serving (rotation without a
//!   restart);
//! - [`certs`]: the self-managed CA and serving certificate in a Secret, and the
//!   `caBundle` of the webhook configuration (skipped where cert-manager does it);
//! - [`configuration`]: the Validating- and MutatingWebhookConfiguration the operator
//!   registers;
//! - [`sites`]: the same hooks for the clusters of remote Sites;
//! - [`metrics`]: decision counts and latency.
//!
//! Every decision is logged at info on the target [`AUDIT_TARGET`] (R-MON-02).

pub mod admission;
pub mod agency;
pub mod certs;
pub mod configuration;
pub mod lookup;
pub mod metrics;
pub mod mutate;
pub mod notice;
pub mod pod;
pub mod product;
pub mod pvc;
pub mod server;
pub mod sites;
pub mod tls;
pub mod verdict;

pub use crate::rules::admission::environment::PlacementPolicy;
pub use admission::Validators;
pub use certs::{
    CertError, SelfManagedCerts, ServingCert, ensure_serving_cert, patch_ca_bundle,
    patch_mutating_ca_bundle,
};
pub use configuration::{
    CONFIGURATION_NAME, WebhookEndpoint, apply_configuration, mutating_webhook_configuration,
    validating_webhook_configuration,
};
pub use lookup::{ClusterLookup, Freshness, Lookup, LookupError};
pub use metrics::AdmissionMetrics;
pub use mutate::PodPlacement;
pub use server::{
    Caller, Limits, Reviewer, ServeError, WebhookServer, mutating_router, router, routes, serve,
};
pub use tls::{CertStore, ClientCa, TlsError};
pub use verdict::{
    AUDIT_TARGET, Admission, AuditedAct, Clock, ExpiringSoftware, Validate, Verdict, Violation,
};
