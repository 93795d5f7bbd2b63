//! What the admission rules read besides the admitted object: the Agencies, the
//! software catalog, the Sites, and the labels of Namespaces and Nodes. A trait, so
//! the rules run on fixtures in unit tests.

use std::time::Duration;

use akp_crds::{Agency, Site, SoftwareCatalogItem};
use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::Client;
use kube::api::{Api, ListParams};

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The API server answered with an error or could not be reached.
    #[error("reading {what} failed: {source}")]
    Kube {
        /// What was read.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer in time; the webhook must answer within its
    /// `timeoutSeconds`, so it gives up first and says why.
    #[error("reading {what} took longer than {timeout:?}")]
    Timeout {
        /// What was read.
        what: String,
        /// The limit.
        timeout: Duration,
    },
    /// This source cannot read it (a fixture without it); the request is refused.
    #[error("{0} cannot be read here")]
    Unsupported(&'static str),
}

pub use crate::rules::admission::environment::Labels;

/// How fresh a list must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// From the API server's watch cache: fast, may miss the last moments' changes.
    Cached,
    /// The latest state. Since Kubernetes 1.31 the API server serves it from the
    /// watch cache once that has caught up with etcd, which under concurrent writes
    /// costs tens of milliseconds.
    Latest,
}

/// The objects the admission rules consult.
pub trait Lookup: Send + Sync {
    /// Every Agency, as fresh as asked.
    fn agencies(&self, freshness: Freshness) -> BoxFuture<'_, Result<Vec<Agency>, LookupError>>;

    /// The catalog items of these names that exist (absent names are simply missing
    /// from the result).
    fn catalog_items<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SoftwareCatalogItem>, LookupError>>;

    /// The whole software catalog, as fresh as asked: an image is matched against
    /// every entry (R-SW-01). Sources without it refuse, failing closed.
    fn catalog(
        &self,
        _freshness: Freshness,
    ) -> BoxFuture<'_, Result<Vec<SoftwareCatalogItem>, LookupError>> {
        async { Err(LookupError::Unsupported("the software catalog")) }.boxed()
    }

    /// Every Site, as fresh as asked (R-PLC-01).
    fn sites(&self, _freshness: Freshness) -> BoxFuture<'_, Result<Vec<Site>, LookupError>> {
        async { Err(LookupError::Unsupported("the Sites")) }.boxed()
    }

    /// The labels of Namespace `name`, `None` if it does not exist; always the latest
    /// state, as a namespace is labelled just before its first pods arrive.
    fn namespace_labels<'a>(
        &'a self,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        async { Err(LookupError::Unsupported("Namespaces")) }.boxed()
    }

    /// The labels of Node `name`, `None` if it does not exist; the latest state, as a
    /// relabelled node must not keep its old country.
    fn node_labels<'a>(
        &'a self,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        async { Err(LookupError::Unsupported("Nodes")) }.boxed()
    }
}

/// List parameters for `freshness`.
fn list_params(freshness: Freshness) -> ListParams {
    match freshness {
        Freshness::Cached => ListParams::default().match_any(),
        Freshness::Latest => ListParams::default(),
    }
}

/// Reads from the API server on every admission (no watch of its own): catalog items
/// by name with a consistent GET, lists as fresh as asked, and the labels of
/// Namespaces and Nodes with a consistent GET of their metadata only.
#[derive(Clone)]
pub struct ClusterLookup {
    client: Client,
    timeout: Duration,
}

impl std::fmt::Debug for ClusterLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLookup")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Below the webhook's 5 s `timeoutSeconds`, so the user gets our message, not the
/// API server's timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

impl ClusterLookup {
    /// Reads with `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    async fn catalog_item(&self, name: &str) -> Result<Option<SoftwareCatalogItem>, LookupError> {
        let api = Api::<SoftwareCatalogItem>::all(self.client.clone());
        self.bounded(&format!("SoftwareCatalogItem {name}"), api.get_opt(name))
            .await
    }

    /// Every `K`, as fresh as asked.
    async fn list<K>(&self, what: &str, freshness: Freshness) -> Result<Vec<K>, LookupError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let api = Api::<K>::all(self.client.clone());
        Ok(self
            .bounded(what, api.list(&list_params(freshness)))
            .await?
            .items)
    }

    /// The labels of the cluster-scoped `K` called `name`, from its metadata only.
    async fn labels<K>(&self, name: &str) -> Result<Option<Labels>, LookupError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let api = Api::<K>::all(self.client.clone());
        let what = format!("{} {name}", K::kind(&()));
        let meta = self.bounded(&what, api.get_metadata_opt(name)).await?;
        Ok(meta.map(|m| m.metadata.labels.unwrap_or_default()))
    }

    async fn bounded<T>(
        &self,
        what: &str,
        read: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LookupError> {
        match tokio::time::timeout(self.timeout, read).await {
            Ok(result) => result.map_err(|source| LookupError::Kube {
                what: what.to_owned(),
                source,
            }),
            Err(_) => Err(LookupError::Timeout {
                what: what.to_owned(),
                timeout: self.timeout,
            }),
        }
    }
}

impl Lookup for ClusterLookup {
    fn agencies(&self, freshness: Freshness) -> BoxFuture<'_, Result<Vec<Agency>, LookupError>> {
        self.list::<Agency>("the Agencies", freshness).boxed()
    }

    fn catalog_items<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SoftwareCatalogItem>, LookupError>> {
        async move {
            // A product names a few items; reading those beats listing the catalog.
            let found =
                futures::future::try_join_all(names.iter().map(|name| self.catalog_item(name)))
                    .await?;
            Ok(found.into_iter().flatten().collect())
        }
        .boxed()
    }

    fn catalog(
        &self,
        freshness: Freshness,
    ) -> BoxFuture<'_, Result<Vec<SoftwareCatalogItem>, LookupError>> {
        self.list::<SoftwareCatalogItem>("the software catalog", freshness)
            .boxed()
    }

    fn sites(&self, freshness: Freshness) -> BoxFuture<'_, Result<Vec<Site>, LookupError>> {
        self.list::<Site>("the Sites", freshness).boxed()
    }

    fn namespace_labels<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        self.labels::<Namespace>(name).boxed()
    }

    fn node_labels<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Labels>, LookupError>> {
        self.labels::<Node>(name).boxed()
    }
}
