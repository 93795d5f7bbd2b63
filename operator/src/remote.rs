//! Sites in other clusters (multi-cluster): a Site may point at another cluster through
//! a kubeconfig Secret; the reserve environment of a class 1 product placed there is
//! created in that cluster too, with the same objects (R-PLC-02).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

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

/// The key of the kubeconfig in the Secret.
pub const KUBECONFIG_KEY: &str = "kubeconfig";

/// Clients of other clusters, by Secret, rebuilt when the Secret changes.
#[derive(Default)]
pub struct RemoteClusters {
    clients: Mutex<HashMap<(String, String), (String, Client)>>,
}

impl RemoteClusters {
    /// The client of the cluster whose kubeconfig is in Secret `r`.
    pub async fn client(&self, local: &Client, r: &NamespacedRef) -> Result<Client> {
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
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(key, (version, client.clone()));
        }
        Ok(client)
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
