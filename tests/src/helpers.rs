//! Small helpers for tests: per-test namespaces, kwok Nodes, waiting for conditions.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Namespace, Node};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::control_plane::KWOK_ANNOTATION;

/// Label put on every [`TestNamespace`], for bulk cleanup.
pub const TEST_NAMESPACE_LABEL: &str = "akp.test/temporary";

/// A namespace of one test, with a unique generated name (`<prefix>-xxxxx`).
///
/// Not deleted on drop: a drop cannot await, and the runtime that owns the client is
/// usually shutting down by then. Call [`TestNamespace::delete`], or
/// [`delete_test_namespaces`]; the shared control plane is thrown away with the test
/// process anyway.
#[derive(Clone)]
pub struct TestNamespace {
    name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates the namespace; `prefix` must be a valid DNS label prefix (lowercase
    /// alphanumerics and '-').
    pub async fn new(client: &Client, prefix: &str) -> Result<Self> {
        let name = create_test_namespace(client, prefix, BTreeMap::new()).await?;
        Ok(Self {
            name,
            client: client.clone(),
        })
    }

    /// Creates the Role `name` with `rules` and binds it to the `subject_kind` ("User"
    /// or "Group") `subject` with the RoleBinding `name`, so RBAC is exercised for real.
    pub async fn grant(
        &self,
        name: &str,
        subject_kind: &str,
        subject: &str,
        rules: Vec<PolicyRule>,
    ) -> Result<()> {
        let meta = ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        };
        let role = Role {
            metadata: meta.clone(),
            rules: Some(rules),
        };
        let binding = RoleBinding {
            metadata: meta,
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Role".into(),
                name: name.to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: subject_kind.to_owned(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                name: subject.to_owned(),
                ..Subject::default()
            }]),
        };
        self.api::<Role>()
            .create(&PostParams::default(), &role)
            .await
            .with_context(|| format!("creating Role {name}"))?;
        self.api::<RoleBinding>()
            .create(&PostParams::default(), &binding)
            .await
            .with_context(|| format!("creating RoleBinding {name}"))?;
        Ok(())
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An `Api` for namespaced resources in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Requests deletion (completing it needs the controller manager).
    pub async fn delete(self) -> Result<()> {
        Api::<Namespace>::all(self.client)
            .delete(&self.name, &DeleteParams::default())
            .await
            .with_context(|| format!("deleting namespace {}", self.name))?;
        Ok(())
    }
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TestNamespace").field(&self.name).finish()
    }
}

/// Creates a namespace `<prefix>-xxxxx` with `labels` and [`TEST_NAMESPACE_LABEL`]
/// (for bulk cleanup); returns its name. `prefix` must be a valid DNS label prefix.
pub async fn create_test_namespace(
    client: &Client,
    prefix: &str,
    mut labels: BTreeMap<String, String>,
) -> Result<String> {
    labels.insert(TEST_NAMESPACE_LABEL.to_owned(), "true".to_owned());
    let ns = Namespace {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", prefix.trim_end_matches('-'))),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let created = Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating a test namespace {prefix}-*"))?;
    created
        .metadata
        .name
        .context("the created namespace has no name")
}

/// Requests deletion of every namespace made by [`TestNamespace::new`] or
/// [`create_test_namespace`]; returns how many.
pub async fn delete_test_namespaces(client: &Client) -> Result<usize> {
    let api = Api::<Namespace>::all(client.clone());
    let list = api
        .list(&ListParams::default().labels(&format!("{TEST_NAMESPACE_LABEL}=true")))
        .await
        .context("listing test namespaces")?;
    let mut count = 0;
    for ns in list {
        if let Some(name) = ns.metadata.name {
            api.delete(&name, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting namespace {name}"))?;
            count += 1;
        }
    }
    Ok(count)
}

/// Creates kwok Nodes `(name, zone, country)`: a server building of a Site
/// (`topology.kubernetes.io/zone`) and the country it is attested in (R-PLC-01).
pub async fn create_site_nodes(client: &Client, nodes: &[(&str, &str, &str)]) -> Result<()> {
    let api = Api::<Node>::all(client.clone());
    for (name, zone, country) in nodes {
        let node = kwok_node(
            name,
            &[
                ("topology.kubernetes.io/zone", zone),
                (akp_crds::site::COUNTRY_LABEL, country),
            ],
        );
        api.create(&PostParams::default(), &node)
            .await
            .with_context(|| format!("creating node {name}"))?;
    }
    Ok(())
}

/// A Node for kwok to manage (annotated `kwok.x-k8s.io/node=fake`), with `labels`
/// plus `kubernetes.io/hostname` and `type=kwok`. Create it with an admin client;
/// kwok then makes it Ready and runs the Pods bound to it.
pub fn kwok_node(name: &str, labels: &[(&str, &str)]) -> Node {
    let mut all = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("type".to_string(), "kwok".to_string()),
    ]);
    all.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(all),
            annotations: Some(BTreeMap::from([(
                KWOK_ANNOTATION.to_string(),
                "fake".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

/// Waits up to `timeout` until object `name` satisfies `cond` (a closure
/// `Fn(Option<&K>) -> bool` or one of `kube::runtime::wait::conditions`). Returns the
/// object, `None` if it does not exist (for `is_deleted`).
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    cond: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
    <K as Resource>::DynamicType: Default,
{
    tokio::time::timeout(timeout, await_condition(api.clone(), name, cond))
        .await
        .with_context(|| {
            format!(
                "{} {name} did not reach the expected condition within {timeout:?}",
                K::kind(&Default::default())
            )
        })?
        .with_context(|| format!("watching {name}"))
}

/// Every object `api` lists (one namespace's, or all of them).
pub async fn list_all<K>(api: &Api<K>) -> Result<Vec<K>>
where
    K: Clone + Debug + DeserializeOwned,
{
    Ok(api.list(&ListParams::default()).await?.items)
}

/// The names of [`list_all`], in the API server's order (by name).
pub async fn names<K>(api: &Api<K>) -> Result<Vec<String>>
where
    K: Clone + Debug + DeserializeOwned + Resource,
{
    Ok(list_all(api)
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect())
}
