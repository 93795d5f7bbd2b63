//! What every reconcile shares: the client, the caches, the recorder, the metrics and
//! the clocks.

use std::sync::Arc;

use akp_crds::Agency;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use crate::clock::Clock;
use crate::rules::calendar::Calendar;
use crate::telemetry::Metrics;

/// Caches of what the operator reads: agencies, and every object it manages (selected
/// by the managed-by label), so that reconciles compare against them instead of
/// asking the API server.
#[derive(Clone)]
pub struct Stores {
    /// Agencies.
    pub agencies: Store<Agency>,
    /// Managed namespaces (agency and environment).
    pub namespaces: Store<Namespace>,
    /// Managed quotas.
    pub quotas: Store<ResourceQuota>,
    /// Managed limit ranges.
    pub limits: Store<LimitRange>,
    /// Managed role bindings.
    pub bindings: Store<RoleBinding>,
    /// Managed network policies.
    pub policies: Store<NetworkPolicy>,
    /// Sites.
    pub sites: Store<akp_crds::Site>,
    /// Nodes (R-PLC-01).
    pub nodes: Store<k8s_openapi::api::core::v1::Node>,
    /// Pods, for the placement audit (R-PLC-01).
    pub pods: Store<k8s_openapi::api::core::v1::Pod>,
    /// Tariffs: their free months of non-production are the status's (R-ENV-04).
    pub tariffs: Store<akp_crds::Tariff>,
    /// The software catalog: whether the products' software is still trusted
    /// (R-SW-02, R-SW-03).
    pub catalog: Store<akp_crds::SoftwareCatalogItem>,
}

/// The shared state of the controllers.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes events.
    pub recorder: Recorder,
    /// The operator's metrics.
    pub metrics: Metrics,
    /// The time source of the legal clocks.
    pub clock: Arc<dyn Clock>,
    /// The working-day calendar (R-ENV-03).
    pub calendar: Arc<Calendar>,
    /// The platform namespaces of contour segmentation (R-SEG-01..04).
    pub segmentation: Arc<crate::product::segmentation::Segmentation>,
    /// The caches.
    pub stores: Stores,
    /// Asks the product controller to look at a product again (a node it runs on
    /// changed country, found by the site controller).
    pub recheck: futures::channel::mpsc::UnboundedSender<
        kube::runtime::reflector::ObjectRef<akp_crds::PlatformSoftwareProduct>,
    >,
    /// Clients of the clusters of remote sites.
    pub remotes: Arc<crate::remote::RemoteClusters>,
    /// Whether the caches are filled; reconciles wait for it, so that an empty cache
    /// is never taken for "no agency".
    pub caches_ready: Arc<std::sync::atomic::AtomicBool>,
    /// Where audit records are stored (R-MON-02), with `--audit-db`; without it they
    /// only go to the tracing target.
    pub audit: Option<akp_audit::Sink>,
    /// The resourceVersions of the children the operator wrote, for a cache behind.
    pub own_writes: crate::apply::OwnWrites,
}

impl Context {
    /// Logs an audit record and stores it when the process has an audit database.
    /// Waits for room while the audit database is down (R-MON-02: nothing dropped).
    pub async fn audit(&self, record: akp_audit::Record) {
        akp_audit::emit(self.audit.as_ref(), record).await;
    }
}
