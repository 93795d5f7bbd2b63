//! Writes by server-side apply under one field manager, and only when the live object
//! differs from the desired one, so that a resync writes nothing (style.md point 6).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Result;
use crate::rules::ownership::{self, Claim, Holder, Owner};
use crate::rules::quantity::same_amount;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "akp-operator";

/// Whether every field of `desired` is in `live` with the same value. The API server
/// adds defaults and normalizes quantities ("1024Mi" may come back as "1Gi"), so extra
/// fields in `live` and equal amounts spelt differently do not count as a difference.
pub fn is_applied(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => is_applied(v, lv),
            None => {
                v.is_null()
                    || v.as_array().is_some_and(Vec::is_empty)
                    || v.as_object().is_some_and(|o| o.is_empty())
            }
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_applied(a, b))
        }
        (Value::String(a), Value::String(b)) => a == b || same_amount(a, b),
        (Value::Number(a), Value::String(b)) | (Value::String(b), Value::Number(a)) => {
            same_amount(&a.to_string(), b)
        }
        _ => desired == live,
    }
}

/// Applies `desired` unless the cached live object already matches it. Returns whether
/// a write was made.
pub async fn apply_if_changed<K>(api: &Api<K>, store: &Store<K>, desired: &K) -> Result<bool>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let name = desired.name_any();
    let mut key = ObjectRef::<K>::new(&name);
    if let Some(ns) = desired.namespace() {
        key = key.within(&ns);
    }
    apply_unless_live(api, store.get(&key).as_deref(), desired).await
}

/// Writes `status` to `object` by server-side apply, unless `current` (the object's
/// status as read) is it already.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    object: &K,
    current: Option<&S>,
    status: &S,
) -> std::result::Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// What a write of a child did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The cached object is what is desired: nothing written.
    Unchanged,
    /// Applied.
    Applied,
    /// Nothing written: the operator wrote exactly this itself moments ago and the
    /// cache has not caught up yet. Look again once it has ([`OwnWrites::TRUST`]).
    Pending,
}

/// The resourceVersions the operator's own writes of children returned, with a digest
/// of what was written. A write triggers the product again through its watch, and the
/// rerun often comes before the cache has the object (or has it at an older version):
/// compared with that cache, the child looked missing or different and was applied
/// once more (issue 18, P1). A remembered write stands for the live object while the
/// cache holds an older resourceVersion than it returned (etcd revisions, compared as
/// numbers; an unreadable one trusts the cache) or, for [`OwnWrites::TRUST`], none at
/// all; once the cache has caught up it is the truth again and the entry goes.
#[derive(Clone, Default)]
pub struct OwnWrites(Arc<Mutex<HashMap<String, OwnWrite>>>);

/// One remembered write: the resourceVersion it returned, a digest of what was
/// written, and when.
type OwnWrite = (u64, u64, std::time::Instant);

impl OwnWrites {
    /// How long a remembered write stands in for an object the cache does not have:
    /// a cache is normally a fraction of a second behind, and an object deleted meanwhile
    /// must not be taken as present for long.
    pub const TRUST: std::time::Duration = std::time::Duration::from_secs(5);

    fn key<K: Resource>(o: &K) -> String
    where
        K::DynamicType: Default,
    {
        let kind = K::kind(&K::DynamicType::default()).into_owned();
        format!(
            "{kind}/{}/{}",
            o.namespace().unwrap_or_default(),
            o.name_any()
        )
    }

    fn digest<K: Serialize>(desired: &K) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let bytes = serde_json::to_vec(desired).ok()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        Some(h.finish())
    }

    /// Whether the operator itself wrote `desired` at a version `live` (the cache's
    /// copy) has not reached.
    fn ahead_of<K>(&self, live: Option<&K>, desired: &K) -> bool
    where
        K: Resource + Serialize,
        K::DynamicType: Default,
    {
        let key = Self::key(desired);
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        let Some(&(version, digest, at)) = map.get(&key) else {
            return false;
        };
        let seen = live.map(|l| l.resource_version().and_then(|v| v.parse::<u64>().ok()));
        let ahead = match seen {
            Some(Some(seen)) => seen < version,
            Some(None) => false,
            None => at.elapsed() < Self::TRUST,
        };
        if !ahead {
            map.remove(&key);
        }
        ahead && Self::digest(desired) == Some(digest)
    }

    fn remember<K>(&self, written: &K, desired: &K)
    where
        K: Resource + Serialize,
        K::DynamicType: Default,
    {
        let version = written
            .resource_version()
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(version), Some(digest), Ok(mut map)) =
            (version, Self::digest(desired), self.0.lock())
        {
            map.insert(
                Self::key(desired),
                (version, digest, std::time::Instant::now()),
            );
        }
    }
}

/// [`apply_if_changed`] of `desired` in `namespace`, the children of an environment,
/// with the operator's own recent writes standing in for a cache not caught up yet.
pub async fn apply_in<K>(
    client: &kube::Client,
    namespace: &str,
    store: &Store<K>,
    own: &OwnWrites,
    desired: &K,
) -> Result<Written>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let key = ObjectRef::<K>::new(&desired.name_any()).within(namespace);
    let live = store.get(&key);
    if own.ahead_of(live.as_deref(), desired) {
        return Ok(Written::Pending);
    }
    if let Some(live) = live.as_deref()
        && is_current(live, desired)?
    {
        return Ok(Written::Unchanged);
    }
    let written = Api::<K>::namespaced(client.clone(), namespace)
        .patch(
            &desired.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(desired),
        )
        .await?;
    own.remember(&written, desired);
    Ok(Written::Applied)
}

/// Whether `live` is `desired` and not being deleted.
fn is_current<K: Resource + Serialize>(live: &K, desired: &K) -> Result<bool> {
    Ok(live.meta().deletion_timestamp.is_none()
        && is_applied(
            &serde_json::to_value(desired)?,
            &serde_json::to_value(live)?,
        ))
}

/// Applies `desired` unless `live` (however it was read) already matches it and is not
/// being deleted. Returns whether a write was made.
pub async fn apply_unless_live<K>(api: &Api<K>, live: Option<&K>, desired: &K) -> Result<bool>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    if let Some(live) = live
        && is_current(live, desired)?
    {
        return Ok(false);
    }
    api.patch(
        &desired.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await?;
    Ok(true)
}

/// The outcome of writing a namespace for its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// The namespace is the owner's; how many writes were made.
    Applied(usize),
    /// The namespace is someone else's: nothing was written.
    Taken(Holder),
}

/// R-LC-08: applies `desired` as the namespace of `owner`, only if it is the owner's
/// (its UID on it), free (then created, which fails if the name was taken meanwhile,
/// where an apply would take it over), or made for exactly this owner before UIDs
/// (adopted). `cached` is the operator's cache, which holds only managed namespaces:
/// without it the server is asked. The write carries the resourceVersion that was
/// checked, so a namespace changed since is not overwritten.
pub async fn apply_owned_namespace(
    api: &Api<Namespace>,
    cached: Option<Namespace>,
    desired: &Namespace,
    owner: &Owner,
) -> Result<Claimed> {
    let name = desired.name_any();
    let live = match cached {
        Some(ns) => Some(ns),
        None => api.get_opt(&name).await?,
    };
    let live = match ownership::claim(live.as_ref().map(|n| &n.metadata), owner) {
        Claim::Taken(holder) => return Ok(Claimed::Taken(holder)),
        Claim::Ours | Claim::Adopt => live,
        Claim::Free => {
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PostParams::default()
            };
            match api.create(&params, &owner.claim_object(&name)).await {
                Ok(created) => Some(created),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let now = api.get(&name).await?;
                    if let Claim::Taken(holder) = ownership::claim(Some(&now.metadata), owner) {
                        return Ok(Claimed::Taken(holder));
                    }
                    Some(now)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let mut stamped = owner.stamp(desired);
    stamped.metadata.resource_version = live.as_ref().and_then(|l| l.resource_version());
    Ok(Claimed::Applied(usize::from(
        apply_unless_live(api, live.as_ref(), &stamped).await?,
    )))
}

/// R-LC-08: deletes the namespace `live` only if `owner` holds it, and only the very
/// object that was checked (its UID and resourceVersion as preconditions). Returns
/// whether a deletion was requested.
pub async fn delete_owned_namespace(
    api: &Api<Namespace>,
    live: &Namespace,
    owner: &Owner,
) -> Result<bool> {
    if !ownership::holds(&live.metadata, owner) {
        return Ok(false);
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: live.metadata.uid.clone(),
            resource_version: live.metadata.resource_version.clone(),
        }),
        ..DeleteParams::background()
    };
    match api.delete(&live.name_any(), &params).await {
        Ok(_) => Ok(true),
        // Gone, or changed since it was checked: the next reconcile looks again.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Applies the ClusterRoles of the project roles (R-LC-08), unless they are in place:
/// a restart writes nothing. In place means the same rules: the chart may ship them
/// (`operator.rbac.manageClusterRoles: false`) with Helm's labels, and the operator,
/// then allowed only to read them, must not try to rewrite their metadata.
pub async fn apply_cluster_roles(client: &kube::Client) -> anyhow::Result<()> {
    let api = Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(client.clone());
    for role in crate::rbac::cluster_roles() {
        let name = role.name_any();
        let grants = |r: &k8s_openapi::api::rbac::v1::ClusterRole| serde_json::json!({"rules": r.rules, "aggregationRule": r.aggregation_rule});
        if let Some(live) = api.get_opt(&name).await?
            && is_applied(&grants(&role), &grants(&live))
        {
            continue;
        }
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&role),
        )
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) if status.code == 403 => anyhow::anyhow!(
                "the ClusterRole {name} is missing or its rules differ from the operator's (R-LC-08), and the operator may not write it ({}): install the chart's version of the role (operator.rbac.manageClusterRoles: false ships them) or set operator.rbac.manageClusterRoles: true",
                status.message
            ),
            e => e.into(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_normalized_quantities_are_not_differences() {
        let desired = json!({"spec": {"hard": {"requests.memory": "1024Mi", "requests.cpu": "4"}}, "metadata": {"labels": {"a": "1"}}});
        let live = json!({"spec": {"hard": {"requests.memory": "1Gi", "requests.cpu": "4"}}, "metadata": {"labels": {"a": "1", "b": "2"}, "uid": "x"}});
        assert!(is_applied(&desired, &live));
    }

    /// Issue 18, P1: the operator's own write stands in for a cache that is behind
    /// it, until the cache catches up.
    #[test]
    fn an_own_write_stands_for_a_cache_behind_it_until_the_cache_catches_up() {
        use k8s_openapi::api::core::v1::ResourceQuota;
        let quota = |version: Option<&str>, pods: &str| {
            let mut q: ResourceQuota = serde_json::from_value(json!({
                "metadata": {"name": "akp-requested", "namespace": "env"},
                "spec": {"hard": {"pods": pods}},
            }))
            .expect("quota");
            q.metadata.resource_version = version.map(str::to_owned);
            q
        };
        let desired = quota(None, "10");
        let own = OwnWrites::default();
        assert!(!own.ahead_of(None, &desired), "nothing written yet");
        own.remember(&quota(Some("100"), "10"), &desired);
        assert!(own.ahead_of(None, &desired), "not in the cache yet");
        assert!(own.ahead_of(Some(&quota(Some("99"), "9")), &desired));
        assert!(
            !own.ahead_of(Some(&quota(Some("99"), "9")), &quota(None, "11")),
            "something else is desired now"
        );
        assert!(!own.ahead_of(Some(&quota(Some("100"), "10")), &desired));
        assert!(
            !own.ahead_of(None, &desired),
            "forgotten once the cache caught up: a deletion since counts"
        );
        own.remember(&quota(Some("200"), "10"), &desired);
        assert!(
            !own.ahead_of(Some(&quota(Some("not-a-number"), "9")), &desired),
            "an unreadable version trusts the cache"
        );
    }

    #[test]
    fn a_changed_or_missing_value_is_a_difference() {
        let desired = json!({"spec": {"hard": {"requests.cpu": "8"}}});
        assert!(!is_applied(
            &desired,
            &json!({"spec": {"hard": {"requests.cpu": "4"}}})
        ));
        assert!(!is_applied(&desired, &json!({"spec": {}})));
        let subjects = json!({"subjects": [{"kind": "User", "name": "a"}]});
        assert!(!is_applied(
            &subjects,
            &json!({"subjects": [{"kind": "User", "name": "b"}]})
        ));
        assert!(!is_applied(&subjects, &json!({"subjects": []})));
    }
}
