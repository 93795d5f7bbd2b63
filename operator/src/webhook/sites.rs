//! Admission in the clusters of remote Sites (R-PLC-01, R-SW-01, R-PLC-02): the API
//! server of a reserve cluster calls `/sites/<site>/validate` and `/sites/<site>/mutate`
//! of this server, and the same rules judge its pods and claims, with the Agencies, the
//! catalog and the Sites read at home and the Namespaces and Nodes read in that cluster.
//!
//! The operator registers those configurations there when it first connects
//! ([`crate::remote`]); [`site_validating_configuration`] and
//! [`site_mutating_configuration`] are what it registers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};
use futures::future::BoxFuture;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use kube::Client;
use kube::core::admission::AdmissionResponse;

use super::admission::Validators;
use super::configuration::{
    WebhookEndpoint, mutating_webhook_configuration, validating_webhook_configuration,
};
use super::lookup::{ClusterLookup, Freshness, Labels, Lookup, LookupError};
use super::mutate::PodPlacement;
use super::server::{Caller, Limits, review_body};
use akp_crds::{Agency, Site, SoftwareCatalogItem};

/// The base URL of `site`'s hooks under `base` (the address other clusters' API servers
/// reach this server at): the hooks' own paths follow it.
pub fn site_endpoint(base: &str, site: &str) -> WebhookEndpoint {
    WebhookEndpoint::Url(format!("{}/sites/{site}", base.trim_end_matches('/')))
}

/// The validating configuration of a remote site's cluster: only the hooks of
/// environment namespaces (Pods and claims); products and Agencies live at home.
pub fn site_validating_configuration(
    base: &str,
    site: &str,
    ca_pem: Option<&str>,
) -> ValidatingWebhookConfiguration {
    let mut config = validating_webhook_configuration(&site_endpoint(base, site), ca_pem);
    if let Some(hooks) = config.webhooks.as_mut() {
        hooks.retain(|h| h.namespace_selector.is_some());
    }
    config
}

/// The mutating configuration (Pod placement) of a remote site's cluster.
pub fn site_mutating_configuration(
    base: &str,
    site: &str,
    ca_pem: Option<&str>,
) -> MutatingWebhookConfiguration {
    mutating_webhook_configuration(&site_endpoint(base, site), ca_pem)
}

/// The clients of the clusters of remote Sites, by Site name: `Ok(None)` when there is
/// no such Site or it runs in this cluster (then nothing is judged: the path was not
/// ours to call).
pub trait SiteClusters: Send + Sync {
    /// The client of `site`'s cluster.
    fn client<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Result<Option<Client>, String>>;
}

/// The objects a remote cluster's admission reads: the platform's records from home,
/// the environment's Namespace and the pod's Node from the cluster that asked.
struct SiteLookup {
    home: Arc<dyn Lookup>,
    cluster: ClusterLookup,
}

impl Lookup for SiteLookup {
    fn agencies(&self, freshness: Freshness) -> BoxFuture<'_, Result<Vec<Agency>, LookupError>> {
        self.home.agencies(freshness)
    }

    fn catalog_items<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SoftwareCatalogItem>, LookupError>> {
        self.home.catalog_items(names)
    }

    fn catalog(
        &self,
        freshness: Freshness,
    ) -> BoxFuture<'_, Result<Vec<SoftwareCatalogItem>, LookupError>> {
        self.home.catalog(freshness)
    }

    fn sites(&self, freshness: Freshness) -> BoxFuture<'_, Result<Vec<Site>, LookupError>> {
        self.home.sites(freshness)
    }

    fn namespace_labels<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        self.cluster.namespace_labels(name)
    }

    fn node_labels<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        self.cluster.node_labels(name)
    }
}

/// The state of the remote sites' routes: the home validators and placement, which
/// are copied onto each site's lookup.
pub struct SiteAdmission {
    home: Arc<dyn Lookup>,
    clusters: Arc<dyn SiteClusters>,
    validators: Validators,
    placement: PodPlacement,
}

impl SiteAdmission {
    /// Judges remote sites' requests like `validators` and `placement` judge home
    /// ones, reading the platform's records with `home` and each site's cluster
    /// through `clusters`.
    pub fn new(
        home: Arc<dyn Lookup>,
        clusters: Arc<dyn SiteClusters>,
        validators: Validators,
        placement: PodPlacement,
    ) -> Self {
        Self {
            home,
            clusters,
            validators,
            placement,
        }
    }

    async fn lookup(&self, site: &str) -> Result<Arc<dyn Lookup>, Box<Response>> {
        match self.clusters.client(site).await {
            Ok(Some(client)) => Ok(Arc::new(SiteLookup {
                home: self.home.clone(),
                cluster: ClusterLookup::new(client),
            })),
            Ok(None) => Err(Box::new(
                (
                    StatusCode::NOT_FOUND,
                    format!("no Site {site:?} in another cluster"),
                )
                    .into_response(),
            )),
            // Answered as a refusal, so the API server fails closed with our reason.
            Err(e) => Err(Box::new(
                Json(
                    AdmissionResponse::invalid(format!(
                        "the cluster of Site {site} cannot be read, so the placement and catalog rules cannot be checked (R-PLC-01, R-SW-01): {e}"
                    ))
                    .into_review(),
                )
                .into_response(),
            )),
        }
    }
}

/// The routes of the remote sites: `/sites/<site>/validate` and `/sites/<site>/mutate`.
pub fn site_routes(admission: SiteAdmission) -> Router {
    Router::new()
        // One route: both hooks look the site up the same way.
        .route("/sites/{site}/{hook}", post(review_at))
        .layer(DefaultBodyLimit::max(Limits::default().max_body_bytes))
        .with_state(Arc::new(admission))
}

/// Judges a remote site's review as the home hooks would, on that site's lookup.
/// `/sites/<site>/validate` or `/sites/<site>/mutate`.
async fn review_at(
    State(admission): State<Arc<SiteAdmission>>,
    Path((site, hook)): Path<(String, String)>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Response {
    let validating = match hook.as_str() {
        "validate" => true,
        "mutate" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let lookup = match admission.lookup(&site).await {
        Ok(lookup) => lookup,
        Err(response) => return *response,
    };
    if validating {
        review_body(&admission.validators.reading(lookup), caller, &body).await
    } else {
        review_body(&admission.placement.reading(lookup), caller, &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::configuration::{CLAIMS_VALIDATING_HOOK, PODS_VALIDATING_HOOK};

    #[test]
    fn r_plc_01_a_remote_site_gets_the_pod_and_claim_hooks_at_its_own_path() {
        let config = site_validating_configuration("https://akp.example:8443/", "almaty-2", None);
        let hooks = config.webhooks.unwrap_or_default();
        let names: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, [PODS_VALIDATING_HOOK, CLAIMS_VALIDATING_HOOK]);
        for hook in &hooks {
            assert_eq!(
                hook.client_config.url.as_deref(),
                Some("https://akp.example:8443/sites/almaty-2/validate")
            );
            assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
        }
        let mutating = site_mutating_configuration("https://akp.example:8443", "almaty-2", None);
        let urls: Vec<Option<String>> = mutating
            .webhooks
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.client_config.url)
            .collect();
        assert_eq!(
            urls,
            [Some(
                "https://akp.example:8443/sites/almaty-2/mutate".into()
            )]
        );
    }
}
