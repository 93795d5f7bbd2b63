//! The mutating webhook for Pods in environment namespaces (R-PLC-01, R-PLC-02).
//!
//! Every pod created in an environment gets a required node affinity to the nodes of
//! the sites its environment may use, attested in the home country
//! ([`node_affinity`]); the pod's own required terms are combined with each site's, so
//! they narrow the placement and never widen it. A class 1 production pod also gets a
//! topology spread constraint over the sites' topology key, so its replicas run on the
//! primary and the reserve site alike.
//!
//! The webhook only adds what keeps a pod in place; refusing is the validating
//! webhook's job ([`super::pod`]), so a pod it cannot place (no site fits, broken
//! namespace labels) goes through unchanged and is refused there, with the reason.
//! A lookup that fails refuses the pod (fail closed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use akp_crds::Site;
use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::Serialize;
use serde_json::Value;

use super::lookup::{ClusterLookup, Freshness, Lookup, LookupError};
use super::pod::confined;
use super::server::Reviewer;
use super::verdict::AUDIT_TARGET;
use crate::rules::admission::environment::{PlacementPolicy, environment, sites_for};
use crate::rules::placement::node_affinity;

/// The label a ReplicaSet gives its pods; the spread is per ReplicaSet, so a rollout's
/// old and new pods are not counted together.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// The topology key preferred when several would do.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// One operation of an RFC 6902 JSON patch. Only `add` is needed: on an object member
/// that exists it replaces it, and `/-` appends to an array.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOperation {
    /// Adds (or replaces) the value at `path`.
    Add {
        /// A JSON pointer.
        path: String,
        /// The value.
        value: Value,
    },
}

/// Why a pod could not be patched.
#[derive(Debug, thiserror::Error)]
pub enum MutateError {
    /// Reading the namespace or the sites failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The pod in the request is unreadable.
    #[error("cannot read the pod: {0}")]
    Object(#[source] serde_json::Error),
    /// The patch could not be encoded.
    #[error("cannot encode the patch: {0}")]
    Patch(#[source] serde_json::Error),
    /// The response could not carry the patch.
    #[error(transparent)]
    Respond(#[from] kube::core::admission::SerializePatchError),
}

/// The label key that tells `sites` apart: present in every site's node selector with
/// a different value in each (the zone when it does). `None` for fewer than two sites.
pub fn spread_key(sites: &[&Site]) -> Option<String> {
    let (first, rest) = sites.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let distinguishes = |key: &String| {
        let values: Option<Vec<&String>> = sites
            .iter()
            .map(|s| s.spec.node_selector.get(key))
            .collect();
        values.is_some_and(|mut v| {
            let all = v.len();
            v.sort();
            v.dedup();
            v.len() == all
        })
    };
    let keys: Vec<&String> = first
        .spec
        .node_selector
        .keys()
        .filter(|k| distinguishes(k))
        .collect();
    keys.iter()
        .find(|k| k.as_str() == ZONE_LABEL)
        .or(keys.first())
        .map(|k| (*k).clone())
}

/// What to add to `pod` so that it runs only on `allowed` sites in `home` and, when
/// `spread`, over all of them (pure). Empty when the pod is already placed so, which
/// keeps the webhook idempotent when the API server calls it again.
pub fn placement_patch(
    pod: &Pod,
    allowed: &[&Site],
    home: &str,
    spread: bool,
) -> Result<Vec<PatchOperation>, serde_json::Error> {
    let mut ops = Vec::new();
    let spec = pod.spec.clone().unwrap_or_default();
    let node_affinity_now = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref());
    let own = node_affinity_now.and_then(|n| {
        n.required_during_scheduling_ignored_during_execution
            .as_ref()
    });
    let already = own.is_some_and(|sel| {
        !sel.node_selector_terms.is_empty()
            && sel
                .node_selector_terms
                .iter()
                .all(|t| confined(t, allowed, home))
    });
    if !already {
        let required = serde_json::to_value(node_affinity(allowed, home, own))?;
        let (path, value) = match (&spec.affinity, node_affinity_now) {
            (None, _) => (
                "/spec/affinity",
                serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}),
            ),
            (Some(_), None) => (
                "/spec/affinity/nodeAffinity",
                serde_json::json!({"requiredDuringSchedulingIgnoredDuringExecution": required}),
            ),
            (Some(_), Some(_)) => (
                "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution",
                required,
            ),
        };
        ops.push(PatchOperation::Add {
            path: path.into(),
            value,
        });
    }
    if spread && let Some(constraint) = spread_constraint(pod, allowed) {
        let value = serde_json::to_value(constraint)?;
        ops.push(match &spec.topology_spread_constraints {
            None => PatchOperation::Add {
                path: "/spec/topologySpreadConstraints".into(),
                value: Value::Array(vec![value]),
            },
            Some(_) => PatchOperation::Add {
                path: "/spec/topologySpreadConstraints/-".into(),
                value,
            },
        });
    }
    Ok(ops)
}

/// R-PLC-02: spread the pod's replicas evenly over the sites (max skew 1, hard), the
/// replicas being the pods with its labels, per ReplicaSet. `None` when the sites have
/// no distinguishing label, the pod has no labels to find its replicas by, or it
/// spreads over that key already.
fn spread_constraint(pod: &Pod, allowed: &[&Site]) -> Option<TopologySpreadConstraint> {
    let key = spread_key(allowed)?;
    let spec = pod.spec.as_ref();
    if spec
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.topology_key == key))
    {
        return None;
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let hashed = labels.contains_key(POD_TEMPLATE_HASH);
    let selector: BTreeMap<String, String> = labels
        .into_iter()
        .filter(|(k, _)| k != POD_TEMPLATE_HASH)
        .collect();
    if selector.is_empty() {
        return None;
    }
    Some(TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key,
        when_unsatisfiable: "DoNotSchedule".into(),
        label_selector: Some(LabelSelector {
            match_labels: Some(selector),
            match_expressions: None,
        }),
        // The scheduler adds the pod's own value of these keys to the selector.
        match_label_keys: hashed.then(|| vec![POD_TEMPLATE_HASH.to_owned()]),
        ..TopologySpreadConstraint::default()
    })
}

/// The `/mutate` handler's logic: reads the namespace's labels and the Sites, then
/// answers with [`placement_patch`].
#[derive(Clone)]
pub struct PodPlacement {
    lookup: Arc<dyn Lookup>,
    policy: PlacementPolicy,
}

impl std::fmt::Debug for PodPlacement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodPlacement")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PodPlacement {
    /// Placement reading from the cluster, with the default policy (home country KZ).
    pub fn new(client: kube::Client) -> Self {
        Self::with_lookup(
            Arc::new(ClusterLookup::new(client)),
            PlacementPolicy::default(),
        )
    }

    /// Placement over any source of objects (tests) and any policy.
    pub fn with_lookup(lookup: Arc<dyn Lookup>, policy: PlacementPolicy) -> Self {
        Self { lookup, policy }
    }

    /// The same placement reading through `lookup`: a remote site's cluster
    /// ([`super::sites`]).
    #[must_use]
    pub fn reading(&self, lookup: Arc<dyn Lookup>) -> Self {
        Self::with_lookup(lookup, self.policy.clone())
    }

    /// Answers one request: Pod CREATEs in environment namespaces get a patch; anything
    /// else is allowed unchanged. Logs the decision on [`AUDIT_TARGET`] when `recorded`.
    async fn answer(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        recorded: bool,
    ) -> AdmissionResponse {
        let started = Instant::now();
        let response = AdmissionResponse::from(request);
        let is_pod_create = request.kind.group.is_empty()
            && request.kind.kind == "Pod"
            && request.sub_resource.is_none()
            && matches!(request.operation, Operation::Create);
        if !is_pod_create {
            return response;
        }
        let outcome = self.patch_for(request).await;
        let (response, patched, reasons) = match outcome {
            Ok(ops) if ops.is_empty() => (response, 0, String::new()),
            Ok(ops) => {
                let count = ops.len();
                let paths: Vec<String> = ops
                    .iter()
                    .map(|PatchOperation::Add { path, .. }| path.clone())
                    .collect();
                match encode(response.clone(), &ops) {
                    Ok(patched) => (patched, count, paths.join(", ")),
                    Err(e) => (fail(response, &e), 0, e.to_string()),
                }
            }
            Err(e) => (fail(response, &e), 0, e.to_string()),
        };
        if !recorded {
            return response;
        }
        tracing::info!(
            target: AUDIT_TARGET,
            uid = %request.uid,
            user = request.user_info.username.as_deref().unwrap_or(""),
            operation = ?request.operation,
            kind = %request.kind.kind,
            namespace = request.namespace.as_deref().unwrap_or(""),
            name = %request.name,
            dry_run = request.dry_run,
            allowed = response.allowed,
            patched,
            reasons = %reasons,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "admission mutation"
        );
        response
    }
}

impl Reviewer for PodPlacement {
    async fn judge(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        recorded: bool,
    ) -> AdmissionResponse {
        self.answer(request, recorded).await
    }
}

impl PodPlacement {
    async fn patch_for(
        &self,
        request: &AdmissionRequest<DynamicObject>,
    ) -> Result<Vec<PatchOperation>, MutateError> {
        let Some(object) = &request.object else {
            return Ok(Vec::new());
        };
        let pod: Pod = serde_json::to_value(object)
            .and_then(serde_json::from_value)
            .map_err(MutateError::Object)?;
        let namespace = request.namespace.as_deref().unwrap_or_default();
        let Some(labels) = self.lookup.namespace_labels(namespace).await? else {
            return Ok(Vec::new());
        };
        // Not an environment, or one with broken labels: the validating webhook
        // refuses the latter with the reason.
        let Ok(Some(env)) = environment(namespace, &labels) else {
            return Ok(Vec::new());
        };
        let sites = self.lookup.sites(Freshness::Cached).await?;
        let home = self.policy.home_country.as_str();
        let Ok(allowed) = sites_for(&sites, &env, home) else {
            return Ok(Vec::new());
        };
        placement_patch(&pod, &allowed, home, env.spans_reserve()).map_err(MutateError::Patch)
    }
}

fn encode(
    response: AdmissionResponse,
    ops: &[PatchOperation],
) -> Result<AdmissionResponse, MutateError> {
    // The patch type is kube's re-use of the json-patch crate; its wire form is ours.
    let patch = serde_json::to_value(ops)
        .and_then(serde_json::from_value)
        .map_err(MutateError::Patch)?;
    Ok(response.with_patch(patch)?)
}

fn fail(response: AdmissionResponse, error: &MutateError) -> AdmissionResponse {
    let mut failed = response.deny(format!(
        "the placement rules could not be applied: {error}; try again, and tell the platform operator if it persists"
    ));
    failed.result.code = 500;
    failed.result.reason = "InternalError".into();
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_crds::site::COUNTRY_LABEL;
    use futures::FutureExt;
    use futures::future::BoxFuture;
    use kube::ResourceExt;
    use serde_json::json;

    fn sites() -> Vec<Site> {
        crate::examples::load("sites.yaml")
    }

    fn named<'a>(all: &'a [Site], names: &[&str]) -> Vec<&'a Site> {
        all.iter()
            .filter(|s| names.contains(&s.name_any().as_str()))
            .collect()
    }

    fn pod(spec: Value, labels: Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "web-", "labels": labels},
            "spec": spec
        }))
        .expect("pod")
    }

    fn containers() -> Value {
        json!([{"name": "c", "image": "registry.akp.kz/platform/debian:12"}])
    }

    /// Applies `ops` the way the API server does, for the cases used here.
    fn apply(pod: &Pod, ops: &[PatchOperation]) -> Pod {
        let mut doc = serde_json::to_value(pod).expect("json");
        for PatchOperation::Add { path, value } in ops {
            let (parent, last) = path.rsplit_once('/').expect("a path");
            let target = doc.pointer_mut(parent).expect("parent exists");
            match (target, last) {
                (Value::Array(items), "-") => items.push(value.clone()),
                (Value::Object(map), key) => {
                    map.insert(key.to_owned(), value.clone());
                }
                _ => panic!("unsupported {path}"),
            }
        }
        serde_json::from_value(doc).expect("pod")
    }

    #[test]
    fn r_plc_01_a_pod_gets_the_sites_affinity_and_a_second_pass_changes_nothing() {
        let all = sites();
        let astana = named(&all, &["astana-1"]);
        let bare = pod(json!({"containers": containers()}), json!({"app": "web"}));
        let ops = placement_patch(&bare, &astana, "KZ", false).expect("patch");
        assert_eq!(
            ops,
            [PatchOperation::Add {
                path: "/spec/affinity".into(),
                value: json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["astana-1"]},
                        {"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}
                    ]}]
                }}})
            }]
        );
        let placed = apply(&bare, &ops);
        assert!(
            placement_patch(&placed, &astana, "KZ", false)
                .expect("patch")
                .is_empty()
        );
    }

    #[test]
    fn r_plc_01_own_terms_are_narrowed_never_widened() {
        let all = sites();
        let astana = named(&all, &["astana-1"]);
        let asking = pod(
            json!({
                "containers": containers(),
                "affinity": {
                    "podAntiAffinity": {},
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["frankfurt-1"]}]},
                        {"matchExpressions": [{"key": "disktype", "operator": "In", "values": ["ssd"]}]}
                    ]}}
                }
            }),
            json!({}),
        );
        let ops = placement_patch(&asking, &astana, "KZ", false).expect("patch");
        let [PatchOperation::Add { path, value }] = ops.as_slice() else {
            panic!("one operation: {ops:?}");
        };
        assert_eq!(
            path,
            "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
        );
        let terms = value["nodeSelectorTerms"].as_array().expect("terms");
        assert_eq!(terms.len(), 2);
        for term in terms {
            let exprs = term["matchExpressions"].as_array().expect("exprs");
            assert!(
                exprs.contains(&json!({"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}))
            );
            assert!(exprs.contains(&json!({"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["astana-1"]})));
        }
        // Affinity present without nodeAffinity: that member is added.
        let pod_affinity_only = pod(
            json!({"containers": containers(), "affinity": {"podAntiAffinity": {}}}),
            json!({}),
        );
        let ops = placement_patch(&pod_affinity_only, &astana, "KZ", false).expect("patch");
        assert!(
            matches!(&ops[..], [PatchOperation::Add { path, .. }] if path == "/spec/affinity/nodeAffinity")
        );
    }

    #[test]
    fn r_plc_02_class_1_production_spreads_over_primary_and_reserve() {
        let all = sites();
        let both = named(&all, &["astana-1", "almaty-1"]);
        assert_eq!(
            spread_key(&both).as_deref(),
            Some("topology.kubernetes.io/zone")
        );
        assert_eq!(spread_key(&named(&all, &["astana-1"])), None);
        let replica = pod(
            json!({"containers": containers()}),
            json!({"app": "web", "pod-template-hash": "5d4f8c7b9"}),
        );
        let ops = placement_patch(&replica, &both, "KZ", true).expect("patch");
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(
            ops[1],
            PatchOperation::Add {
                path: "/spec/topologySpreadConstraints".into(),
                value: json!([{
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "web"}},
                    "matchLabelKeys": ["pod-template-hash"]
                }])
            }
        );
        let placed = apply(&replica, &ops);
        let terms = placed
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|r| r.node_selector_terms.len());
        assert_eq!(terms, Some(2), "one term per site");
        assert!(
            placement_patch(&placed, &both, "KZ", true)
                .expect("patch")
                .is_empty()
        );

        // A pod with its own constraints gets ours appended.
        let own = pod(
            json!({"containers": containers(), "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}
            ]}),
            json!({"app": "web"}),
        );
        let ops = placement_patch(&own, &both, "KZ", true).expect("patch");
        assert!(matches!(&ops[1], PatchOperation::Add { path, value }
            if path == "/spec/topologySpreadConstraints/-" && value.get("matchLabelKeys").is_none()));
    }

    /// Namespaces and sites from fixtures.
    struct Fixture {
        labels: Option<BTreeMap<String, String>>,
    }

    impl Lookup for Fixture {
        fn agencies(
            &self,
            _: Freshness,
        ) -> BoxFuture<'_, Result<Vec<akp_crds::Agency>, LookupError>> {
            async { Ok(Vec::new()) }.boxed()
        }
        fn catalog_items<'a>(
            &'a self,
            _: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<akp_crds::SoftwareCatalogItem>, LookupError>> {
            async { Ok(Vec::new()) }.boxed()
        }
        fn sites(&self, _: Freshness) -> BoxFuture<'_, Result<Vec<Site>, LookupError>> {
            async { Ok(sites()) }.boxed()
        }
        fn namespace_labels<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<BTreeMap<String, String>>, LookupError>> {
            let labels = self.labels.clone();
            async move { Ok(labels) }.boxed()
        }
    }

    fn request(pod: &Pod) -> AdmissionRequest<DynamicObject> {
        let review: kube::core::admission::AdmissionReview<DynamicObject> =
            serde_json::from_value(json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {
                    "uid": "u-1",
                    "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "name": "", "namespace": "mon-e-license-development", "operation": "CREATE",
                    "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                    "object": pod, "oldObject": null, "dryRun": false
                }
            }))
            .expect("review");
        review.try_into().expect("request")
    }

    #[tokio::test]
    async fn r_plc_01_the_webhook_answers_with_a_json_patch_only_in_environments() {
        let environment: BTreeMap<String, String> = [
            ("akp.egov.kz/environment", "development"),
            ("akp.egov.kz/contour", "internal"),
            ("akp.egov.kz/class", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let placement = PodPlacement::with_lookup(
            Arc::new(Fixture {
                labels: Some(environment),
            }),
            PlacementPolicy::default(),
        );
        let bare = pod(json!({"containers": containers()}), json!({"app": "web"}));
        let response = placement.review(&request(&bare)).await;
        assert!(response.allowed);
        let patch: Value =
            serde_json::from_slice(response.patch.as_deref().expect("a patch")).expect("json");
        assert_eq!(patch[0]["op"], "add");
        assert_eq!(patch[0]["path"], "/spec/affinity");
        let body = serde_json::to_value(response.into_review()).expect("json");
        assert_eq!(body["response"]["patchType"], "JSONPatch");

        let system = PodPlacement::with_lookup(
            Arc::new(Fixture {
                labels: Some(BTreeMap::new()),
            }),
            PlacementPolicy::default(),
        );
        let response = system.review(&request(&bare)).await;
        assert!(response.allowed);
        assert!(
            response.patch.is_none(),
            "a system namespace is not touched"
        );
    }
}
