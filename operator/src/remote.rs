//! Sites in other clusters (multi-cluster): a Site may point at another cluster through
//! a kubeconfig Secret; the reserve environment of a class 1 product placed there is
//! created in that cluster too, with the same objects (R-PLC-02).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use akp_crds::common::NamespacedRef;
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::apply::{Claimed, apply_owned_namespace, apply_unless_live, delete_owned_namespace};
use crate::error::{Error, Result};
use crate::product::build::{Child, EnvironmentPlan};
use crate::rules::ownership::Owner;
use crate::webhook::configuration::apply_configuration;
use crate::webhook::sites::{
    SiteClusters, site_mutating_configuration, site_validating_configuration,
};

/// The key of the kubeconfig in the Secret.
pub const KUBECONFIG_KEY: &str = "kubeconfig";

/// Where the API servers of other clusters reach this operator's webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteWebhooks {
    /// The base URL (`--remote-webhook-endpoint`); each site's hooks are under
    /// `/sites/<site>/`.
    pub base_url: String,
    /// The CA that signed the serving certificate (`caBundle`); `None` when the
    /// cluster's API server already trusts it.
    pub ca_pem: Option<String>,
}

/// Clients of other clusters, by Secret, rebuilt when the Secret changes.
#[derive(Default)]
pub struct RemoteClusters {
    clients: Mutex<HashMap<(String, String), (String, Client)>>,
    /// With it, each cluster gets the webhooks of its Site at first connection.
    webhooks: Option<RemoteWebhooks>,
}

impl RemoteClusters {
    /// Clusters whose API servers get this operator's webhooks at `webhooks`.
    pub fn with_webhooks(webhooks: Option<RemoteWebhooks>) -> Self {
        Self {
            clients: Mutex::default(),
            webhooks,
        }
    }

    /// The client of `site`'s cluster, whose kubeconfig is in Secret `r`. A new client
    /// first gets the admission rules into that cluster: the policies, and the
    /// webhooks when they are reachable from there.
    pub async fn client(&self, local: &Client, site: &str, r: &NamespacedRef) -> Result<Client> {
        let secret = Api::<Secret>::namespaced(local.clone(), &r.namespace)
            .get(&r.name)
            .await?;
        let version = secret.resource_version().unwrap_or_default();
        let key = (r.namespace.clone(), r.name.clone());
        if let Ok(cache) = self.clients.lock()
            && let Some((v, c)) = cache.get(&key)
            && *v == version
        {
            return Ok(c.clone());
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(KUBECONFIG_KEY))
            .ok_or(Error::MissingField(
                "the kubeconfig key of the site's cluster Secret",
            ))?;
        let text = String::from_utf8_lossy(&bytes.0);
        let kubeconfig = Kubeconfig::from_yaml(&text)
            .map_err(|e| Error::Remote(format!("{}/{}: {e}", r.namespace, r.name)))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Remote(format!("{}/{}: {e}", r.namespace, r.name)))?;
        let client = Client::try_from(config).map_err(Error::Kube)?;
        // The rules that need no outside data hold there as at home, before anything
        // of an environment is written (R-PLC-01, R-SEG-02..04).
        crate::admission_policy::apply(&client).await?;
        // The rules that need the Sites, the catalog and the nodes there (R-PLC-01,
        // R-SW-01) are this operator's webhooks, called back from that cluster.
        match &self.webhooks {
            Some(w) => {
                let ca = w.ca_pem.as_deref();
                apply_configuration(
                    &client,
                    &site_validating_configuration(&w.base_url, site, ca),
                )
                .await?;
                apply_configuration(&client, &site_mutating_configuration(&w.base_url, site, ca))
                    .await?;
            }
            None => tracing::warn!(
                site,
                "no --remote-webhook-endpoint: pods in this site's cluster meet the admission policies and Pod Security only, not the placement and catalog webhooks"
            ),
        }
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(key, (version, client.clone()));
        }
        Ok(client)
    }
}

/// The clusters of remote Sites for the webhook server: a Site is read at home, and
/// only one that names a cluster has one.
pub struct SiteClients {
    /// The home cluster, where the Sites are.
    pub home: Client,
    /// The shared clients.
    pub remotes: Arc<RemoteClusters>,
}

impl SiteClusters for SiteClients {
    fn client<'a>(
        &'a self,
        site: &'a str,
    ) -> futures::future::BoxFuture<'a, std::result::Result<Option<Client>, String>> {
        use futures::FutureExt;
        async move {
            let found = Api::<akp_crds::Site>::all(self.home.clone())
                .get_opt(site)
                .await
                .map_err(|e| e.to_string())?;
            let Some(cluster) = found.and_then(|s| s.spec.cluster) else {
                return Ok(None);
            };
            self.remotes
                .client(&self.home, site, &cluster.kubeconfig_secret_ref)
                .await
                .map(Some)
                .map_err(|e| e.to_string())
        }
        .boxed()
    }
}

/// Applies `desired` in a cluster without a cache: read, compare, write only when it
/// differs, so that a resync writes nothing there either.
async fn ensure<K>(api: &Api<K>, desired: &K) -> Result<bool>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let live = api.get_opt(&desired.name_any()).await?;
    apply_unless_live(api, live.as_ref(), desired).await
}

/// Creates or updates an environment in another cluster for `owner`, only if its
/// namespace there is the owner's (R-LC-08, as at home). Returns the writes made, or
/// who holds the namespace (then nothing was written).
pub async fn apply_environment(
    client: &Client,
    env: &EnvironmentPlan,
    owner: &Owner,
) -> Result<Claimed> {
    let ns = env.namespace.name_any();
    let namespaces = Api::<Namespace>::all(client.clone());
    let mut writes = match apply_owned_namespace(&namespaces, None, &env.namespace, owner).await? {
        Claimed::Applied(written) => written,
        taken @ Claimed::Taken(_) => return Ok(taken),
    };
    for child in &env.objects {
        let written = match child {
            Child::Quota(o) => {
                ensure(&Api::<ResourceQuota>::namespaced(client.clone(), &ns), o).await?
            }
            Child::Limits(o) => {
                ensure(&Api::<LimitRange>::namespaced(client.clone(), &ns), o).await?
            }
            Child::Binding(o) => {
                ensure(&Api::<RoleBinding>::namespaced(client.clone(), &ns), o).await?
            }
            Child::Policy(o) => {
                ensure(&Api::<NetworkPolicy>::namespaced(client.clone(), &ns), o).await?
            }
        };
        writes += usize::from(written);
    }
    Ok(Claimed::Applied(writes))
}

/// Removes an environment namespace from another cluster, if `owner` holds it there.
/// Returns whether a deletion was requested.
pub async fn delete_environment(client: &Client, namespace: &str, owner: &Owner) -> Result<bool> {
    let api = Api::<Namespace>::all(client.clone());
    match api.get_opt(namespace).await? {
        Some(live) if live.metadata.deletion_timestamp.is_none() => {
            delete_owned_namespace(&api, &live, owner).await
        }
        _ => Ok(false),
    }
}
