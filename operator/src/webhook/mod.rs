//! Admission webhooks: the rules that need other objects than the one admitted.
//!
//! Rules one object can check by itself are CEL in the CRD schema; what needs the
//! Agencies or the software catalog is checked here, in the shape of linkerd2's
//! policy controller: an HTTPS server ([`server`]) hands each `AdmissionReview` to
//! [`Validators`], which dispatches on the kind to a [`Validate`] implementation
//! ([`product`] for PlatformSoftwareProducts). The checks themselves are pure
//! functions over the objects; a thin [`Lookup`] fetches what they need.
//!
//! - [`tls`]: the serving certificate, swappable while serving (rotation without a
//!   restart);
//! - [`certs`]: the self-managed CA and serving certificate in a Secret, and the
//!   `caBundle` of the webhook configuration (skipped where cert-manager does it);
//! - [`configuration`]: the `ValidatingWebhookConfiguration` the operator registers;
//! - [`metrics`]: decision counts and latency.
//!
//! Every decision is logged at info on the target [`AUDIT_TARGET`] (R-MON-02).

pub mod admission;
pub mod certs;
pub mod configuration;
pub mod lookup;
pub mod metrics;
pub mod product;
pub mod server;
pub mod tls;

pub use admission::{AUDIT_TARGET, Admission, Clock, Validate, Validators, Verdict, Violation};
pub use certs::{CertError, SelfManagedCerts, ServingCert, ensure_serving_cert, patch_ca_bundle};
pub use configuration::{
    CONFIGURATION_NAME, WebhookEndpoint, apply_configuration, validating_webhook_configuration,
};
pub use lookup::{ClusterLookup, Freshness, Lookup, LookupError};
pub use metrics::AdmissionMetrics;
pub use server::{ServeError, WebhookServer, router, serve};
pub use tls::{CertStore, TlsError};
