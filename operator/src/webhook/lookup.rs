//! What the validators read besides the admitted object: the Agencies and the
//! software catalog. A trait, so the validators run on fixtures in unit tests.

use std::time::Duration;

use akp_crds::{Agency, SoftwareCatalogItem};
use futures::FutureExt;
use futures::future::BoxFuture;
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
}

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
}

/// Reads from the API server on every admission (no watch of its own): catalog items
/// by a consistent GET, Agencies as fresh as asked.
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
        async move {
            let api = Api::<Agency>::all(self.client.clone());
            let params = match freshness {
                Freshness::Cached => ListParams::default().match_any(),
                Freshness::Latest => ListParams::default(),
            };
            let list = self.bounded("the Agencies", api.list(&params)).await?;
            Ok(list.items)
        }
        .boxed()
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
}
