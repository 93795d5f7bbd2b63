//! The admission rules that need nothing but the request itself, run by each cluster's
//! own API server as ValidatingAdmissionPolicies and a MutatingAdmissionPolicy (CEL):
//! nothing to reach and nothing to knock over, and the same in a remote cluster as at
//! home (the operator applies them wherever it places environments). What needs the
//! catalog, the sites or the nodes stays with the webhook ([`crate::webhook`]).
//!
//! Every namespace an agency can write to carries the operator's `akp.egov.kz/agency`
//! label (its own namespace and its products' environments), and no tenant can change a
//! namespace's labels, so that label is the policies' scope:
//! - [`AGENCY_NAMESPACE`]: the agency's own namespace holds its records, not workloads
//!   (R-LC-08); nothing of placement or the catalog applies there.
//! - [`POD_ISOLATION`] and its template twins: no host namespaces, privileged
//!   containers, host ports or hostPath, and only volume types that stay on the
//!   platform's storage (R-PLC-01, R-SEG-02..04). Environments also enforce the Pod
//!   Security Standard `restricted` through the built-in Pod Security Admission
//!   ([`crate::rules::naming::labels::POD_SECURITY_ENFORCE`]), which judges pods before
//!   these policies; the policies name the rule, and judge the pod templates of
//!   Deployments, Jobs and the rest, which Pod Security Admission only warns about.
//! - [`SERVICE_EXPOSURE`]: no `externalIPs`; NodePort and LoadBalancer only in the
//!   external contour of an Internet-facing product (R-SEG-02, R-SEG-03).
//! - [`SECURITY_DEFAULTS`] (mutating): what `restricted` requires and a pod leaves
//!   unsaid is filled in, never overridden.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingAdmissionPolicy, MutatingAdmissionPolicyBinding, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use crate::apply::apply_unless_live;
use crate::rules::naming::labels;

/// Refuses workloads in an agency's own namespace.
pub const AGENCY_NAMESPACE: &str = "akp-agency-namespace-holds-records";
/// Host access and volume types of Pods.
pub const POD_ISOLATION: &str = "akp-pod-isolation";
/// The same for the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
/// Jobs and ReplicationControllers.
pub const TEMPLATE_ISOLATION: &str = "akp-pod-template-isolation";
/// The same for the pod templates of CronJobs.
pub const CRONJOB_ISOLATION: &str = "akp-cronjob-template-isolation";
/// How Services may be exposed.
pub const SERVICE_EXPOSURE: &str = "akp-service-exposure";
/// The mutating policy that fills in the `restricted` defaults of Pods.
pub const SECURITY_DEFAULTS: &str = "akp-pod-security-defaults";

/// The volume types that stay on the platform: the pod's own or the API server's
/// data, claims of the environment's storage classes (judged by the claim webhook),
/// and CSI drivers and image volumes, which the pod webhook judges against the
/// allowed drivers and the catalog. Anything else (nfs, iscsi, cephfs, glusterfs, rbd,
/// fc, flexVolume, gitRepo, cloud disks, and any type added later) reaches storage or
/// a network that neither placement nor the NetworkPolicies see.
pub const ALLOWED_VOLUME_TYPES: &[&str] = &[
    "configMap",
    "secret",
    "downwardAPI",
    "emptyDir",
    "projected",
    "persistentVolumeClaim",
    "ephemeral",
    "csi",
    "image",
];

/// Where a kind keeps its pod spec.
struct Shape {
    policy: &'static str,
    /// The CEL path of the pod spec.
    spec: &'static str,
    /// The same as the field path users write.
    field: &'static str,
    rules: Value,
}

fn shapes() -> Vec<Shape> {
    let ops = json!(["CREATE", "UPDATE"]);
    vec![
        Shape {
            policy: POD_ISOLATION,
            spec: "object.spec",
            field: "spec",
            // A pod's spec is fixed once created but for its ephemeral containers,
            // which arrive through their own subresource.
            rules: json!([
                {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]},
                {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/ephemeralcontainers"], "operations": ["UPDATE"]},
            ]),
        },
        Shape {
            policy: TEMPLATE_ISOLATION,
            spec: "object.spec.template.spec",
            field: "spec.template.spec",
            rules: json!([
                {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "operations": ops},
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"], "operations": ops},
                {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["replicationcontrollers"], "operations": ops},
            ]),
        },
        Shape {
            policy: CRONJOB_ISOLATION,
            spec: "object.spec.jobTemplate.spec.template.spec",
            field: "spec.jobTemplate.spec.template.spec",
            rules: json!([
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["cronjobs"], "operations": ops},
            ]),
        },
    ]
}

/// Namespaces an agency can write to: its own and its products' environments.
fn tenant_namespaces() -> Value {
    json!({"matchExpressions": [{"key": labels::AGENCY, "operator": "Exists"}]})
}

/// A CEL string literal (single-quoted; the messages contain double quotes).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `'"a", "b"'` of the names of the items of `list` (a CEL list) that satisfy `cond`.
fn names_where(list: &str, var: &str, cond: &str) -> String {
    format!("{list}.filter({var}, {cond}).map({var}, '\"' + {var}.name + '\"').join(', ')")
}

/// A validation whose refusal is `message`, a CEL expression that names the values.
fn validation(expression: String, message: String) -> Value {
    json!({"expression": expression, "messageExpression": message, "reason": "Forbidden"})
}

/// No item of `list` (a CEL list, items named `var`) satisfies `cond`; the refusal names
/// those that do between `before` and `after`.
fn none_of(list: &str, var: &str, cond: &str, before: &str, after: &str) -> Value {
    validation(
        format!("!{list}.exists({var}, {cond})"),
        format!(
            "{} + {} + {}",
            lit(before),
            names_where(list, var, cond),
            lit(after)
        ),
    )
}

/// The validations of a pod spec at `shape`.
fn isolation_validations(shape: &Shape) -> Vec<Value> {
    let f = shape.field;
    let host = |key: &str, why: &str, rule: &str| {
        validation(
            format!("!has(variables.spec.{key}) || !variables.spec.{key}"),
            lit(&format!(
                "{f}.{key}: true is refused: {why} ({rule}); remove {key} (environments enforce the Pod Security Standard \"restricted\")"
            )),
        )
    };
    let privileged = "has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged";
    let host_port = "has(c.ports) && c.ports.exists(p, has(p.hostPort) && p.hostPort != 0)";
    let allowed: Vec<String> = ALLOWED_VOLUME_TYPES.iter().map(|t| lit(t)).collect();
    let allowed = format!("['name', {}]", allowed.join(", "));
    // hostPath has a refusal of its own, so it is not named twice.
    let unknown_volume = format!("!v.all(k, k in {allowed} || k == 'hostPath')");
    vec![
        host(
            "hostNetwork",
            "a pod on the node's network is outside every NetworkPolicy of its environment and contour, and reaches the internal contour and other products directly",
            "R-SEG-02, R-SEG-03, R-SEG-04",
        ),
        host(
            "hostPID",
            "it shows the pod every process of the node, those of other products and environments too",
            "R-SEG-04",
        ),
        host(
            "hostIPC",
            "it shares the node's inter-process communication with other products and environments",
            "R-SEG-04",
        ),
        none_of(
            "variables.containers",
            "c",
            privileged,
            &format!("{f}: containers "),
            ": securityContext.privileged: true is refused: a privileged container owns the node, its network and the other products on it (R-SEG-04, R-PLC-01); remove privileged (environments enforce the Pod Security Standard \"restricted\")",
        ),
        none_of(
            "variables.containers",
            "c",
            host_port,
            &format!("{f}: containers "),
            ": ports[].hostPort is refused: it opens a port on the node, around the Services and NetworkPolicies of the environment (R-SEG-02, R-SEG-03); remove hostPort and expose the pod through a Service",
        ),
        none_of(
            "variables.volumes",
            "v",
            "has(v.hostPath)",
            &format!("{f}.volumes "),
            ": hostPath is refused: it mounts the node's own files, and those of other products and environments (R-SEG-04, R-PLC-01); use an emptyDir, a configMap or secret, or a persistentVolumeClaim of a storage class of the environment's sites",
        ),
        validation(
            format!("variables.volumes.all(v, !({unknown_volume}))"),
            format!(
                "{} + variables.volumes.filter(v, {unknown_volume}).map(v, '\"' + v.name + '\" (' + v.filter(k, !(k in {allowed})).join(', ') + ')').join(', ') + {}",
                lit(&format!("{f}.volumes ")),
                lit(&format!(
                    ": this volume type is refused: it reaches storage or a network outside the platform's sites in Kazakhstan, where neither placement nor the NetworkPolicies apply (R-PLC-01, R-SEG-03); use a persistentVolumeClaim of a storage class of the environment's sites, or one of {}",
                    ALLOWED_VOLUME_TYPES.join(", ")
                ))
            ),
        ),
    ]
}

fn isolation_policy(shape: &Shape) -> Value {
    let s = shape.spec;
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(shape.policy),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": shape.rules,
                "namespaceSelector": tenant_namespaces(),
            },
            "variables": [
                {"name": "spec", "expression": s},
                {"name": "containers", "expression": "variables.spec.containers + (has(variables.spec.initContainers) ? variables.spec.initContainers : []) + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])"},
                {"name": "volumes", "expression": "has(variables.spec.volumes) ? variables.spec.volumes : []"},
            ],
            "validations": isolation_validations(shape),
        }
    })
}

fn agency_namespace_policy() -> Value {
    let ops = json!(["CREATE", "UPDATE"]);
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(AGENCY_NAMESPACE),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "replicationcontrollers", "services"], "operations": ops},
                    {"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "operations": ops},
                    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"], "operations": ops},
                ],
                "namespaceSelector": {"matchExpressions": [
                    {"key": labels::AGENCY, "operator": "Exists"},
                    {"key": labels::ENVIRONMENT, "operator": "DoesNotExist"},
                ]},
            },
            "validations": [validation(
                "false".to_owned(),
                format!(
                    "{} + namespaceObject.metadata.name + {} + object.kind + {}",
                    lit("namespace "),
                    lit(" is the agency's own namespace: it holds the agency's records (its PlatformSoftwareProducts), not workloads, and no rule of placement, trusted software or segmentation applies there (R-LC-08, R-PLC-01); create the "),
                    lit(" in an environment namespace of a product, <agency>-<product>-<environment> (kubectl get ns -l akp.egov.kz/environment)"),
                ),
            )],
        }
    })
}

fn service_policy() -> Value {
    let label = |key: &str| {
        format!(
            "has(namespaceObject.metadata.labels) && {k} in namespaceObject.metadata.labels ? namespaceObject.metadata.labels[{k}] : ''",
            k = lit(key)
        )
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": metadata(SERVICE_EXPOSURE),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["services"], "operations": ["CREATE", "UPDATE"]},
                ],
                "namespaceSelector": tenant_namespaces(),
            },
            "variables": [
                {"name": "contour", "expression": label(labels::CONTOUR)},
                {"name": "internetFacing", "expression": label(labels::INTERNET_FACING)},
            ],
            "validations": [
                validation(
                    "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0".to_owned(),
                    format!(
                        "{} + object.spec.externalIPs.join(', ') + {}",
                        lit("spec.externalIPs \""),
                        lit("\" is refused: external IPs take the traffic of any address to the Service, around the contour's ingress and the e-government gateway (R-SEG-02, R-SEG-03; CVE-2020-8554); remove externalIPs (an Internet-facing product in the external contour uses type: LoadBalancer)"),
                    ),
                ),
                validation(
                    "!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer']) || (variables.contour == 'external' && variables.internetFacing == 'true')".to_owned(),
                    format!(
                        "{} + object.spec.type + {} + namespaceObject.metadata.name + {} + (variables.contour == '' ? 'no contour' : 'contour ' + variables.contour) + (variables.internetFacing == 'true' ? ', Internet-facing' : ', not Internet-facing') + {}",
                        lit("spec.type \""),
                        lit("\" is refused: it opens the Service on every node or to the outside, which only the dedicated segment of the external contour may (R-SEG-02, R-SEG-03), and namespace "),
                        lit(" is in "),
                        lit("; use type: ClusterIP, or make the product internetFacing: true in contour: external"),
                    ),
                ),
            ],
        }
    })
}

/// One mutation that sets `value` at `path` of each item of the container list `list`
/// that leaves it unset (`unset` is a CEL condition over `c`).
fn container_default(list: &str, unset: &str, value: &str) -> Value {
    let items = format!("object.spec.{list}");
    json!({
        "patchType": "ApplyConfiguration",
        "applyConfiguration": {"expression": format!(
            "has({items}) && {items}.exists(c, {unset}) ? Object{{spec: Object.spec{{{list}: {items}.filter(c, {unset}).map(c, Object.spec.{list}{{name: c.name, securityContext: Object.spec.{list}.securityContext{{{value}}}}})}}}} : Object{{}}"
        )},
    })
}

/// `capabilities.drop: [ALL]` for each container of `list` that drops nothing. A JSON
/// patch, as `drop` is an atomic list that an apply configuration may not set; it runs
/// after [`container_default`] gave every container a `securityContext`.
fn drop_all_capabilities(list: &str) -> Value {
    let items = format!("object.spec.{list}");
    let at =
        format!("'/spec/{list}/' + string({items}.indexOf(c)) + '/securityContext/capabilities'");
    json!({
        "patchType": "JSONPatch",
        "jsonPatch": {"expression": format!(
            "!has({items}) ? [] : \
             {items}.filter(c, !has(c.securityContext.capabilities)).map(c, JSONPatch{{op: 'add', path: {at}, value: {{'drop': ['ALL']}}}}) + \
             {items}.filter(c, has(c.securityContext.capabilities) && !has(c.securityContext.capabilities.drop)).map(c, JSONPatch{{op: 'add', path: {at} + '/drop', value: ['ALL']}})"
        )},
    })
}

fn security_defaults_policy() -> Value {
    let pod_default = |field: &str, value: &str| {
        json!({
            "patchType": "ApplyConfiguration",
            "applyConfiguration": {"expression": format!(
                "has(object.spec.securityContext) && has(object.spec.securityContext.{field}) ? Object{{}} : Object{{spec: Object.spec{{securityContext: Object.spec.securityContext{{{value}}}}}}}"
            )},
        })
    };
    let mut mutations = vec![
        pod_default(
            "seccompProfile",
            "seccompProfile: Object.spec.securityContext.seccompProfile{type: \"RuntimeDefault\"}",
        ),
        pod_default("runAsNonRoot", "runAsNonRoot: true"),
    ];
    for list in ["containers", "initContainers"] {
        mutations.push(container_default(
            list,
            // Not on a privileged container, which the API server would refuse as
            // invalid instead of Pod Security Admission naming what is wrong.
            "!has(c.securityContext) || !has(c.securityContext.allowPrivilegeEscalation) && !(has(c.securityContext.privileged) && c.securityContext.privileged)",
            "allowPrivilegeEscalation: false",
        ));
        mutations.push(drop_all_capabilities(list));
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": metadata(SECURITY_DEFAULTS),
        "spec": {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "IfNeeded",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]},
                ],
                "namespaceSelector": tenant_namespaces(),
            },
            "mutations": mutations,
        }
    })
}

fn metadata(name: &str) -> Value {
    json!({"name": name, "labels": {labels::MANAGED_BY: labels::OPERATOR}})
}

fn binding(kind: &str, policy: &str) -> Value {
    let mut spec = json!({"policyName": policy});
    if kind == "ValidatingAdmissionPolicyBinding" {
        spec["validationActions"] = json!(["Deny"]);
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": metadata(policy),
        "spec": spec,
    })
}

/// Every policy and binding the operator applies in each cluster it places
/// environments in, and the chart ships (`charts/akp/files/admission-policies.yaml`).
#[derive(Clone, Debug)]
pub struct Policies {
    /// The validating policies.
    pub validating: Vec<ValidatingAdmissionPolicy>,
    /// Their bindings, one each, with the same name.
    pub validating_bindings: Vec<ValidatingAdmissionPolicyBinding>,
    /// The mutating policies.
    pub mutating: Vec<MutatingAdmissionPolicy>,
    /// Their bindings.
    pub mutating_bindings: Vec<MutatingAdmissionPolicyBinding>,
}

/// The policies as JSON documents, in the order they are applied (a policy before
/// its binding).
pub fn documents() -> Vec<Value> {
    let mut validating = vec![agency_namespace_policy()];
    validating.extend(shapes().iter().map(isolation_policy));
    validating.push(service_policy());
    let mut docs = Vec::new();
    for p in &validating {
        let name = p["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        docs.push(p.clone());
        docs.push(binding("ValidatingAdmissionPolicyBinding", &name));
    }
    docs.push(security_defaults_policy());
    docs.push(binding("MutatingAdmissionPolicyBinding", SECURITY_DEFAULTS));
    docs
}

/// The policies, typed.
pub fn policies() -> Result<Policies, serde_json::Error> {
    let mut out = Policies {
        validating: Vec::new(),
        validating_bindings: Vec::new(),
        mutating: Vec::new(),
        mutating_bindings: Vec::new(),
    };
    for doc in documents() {
        match doc["kind"].as_str() {
            Some("ValidatingAdmissionPolicy") => out.validating.push(serde_json::from_value(doc)?),
            Some("ValidatingAdmissionPolicyBinding") => {
                out.validating_bindings.push(serde_json::from_value(doc)?)
            }
            Some("MutatingAdmissionPolicy") => out.mutating.push(serde_json::from_value(doc)?),
            _ => out.mutating_bindings.push(serde_json::from_value(doc)?),
        }
    }
    Ok(out)
}

/// Applies every policy and binding that is not in place in the cluster of `client`
/// (a restart writes nothing). Returns the writes made.
pub async fn apply(client: &Client) -> crate::error::Result<usize> {
    let p = policies()?;
    let mut writes = 0;
    writes += ensure_all(&Api::all(client.clone()), &p.validating).await?;
    writes += ensure_all(&Api::all(client.clone()), &p.validating_bindings).await?;
    writes += ensure_all(&Api::all(client.clone()), &p.mutating).await?;
    writes += ensure_all(&Api::all(client.clone()), &p.mutating_bindings).await?;
    Ok(writes)
}

async fn ensure_all<K>(api: &Api<K>, desired: &[K]) -> crate::error::Result<usize>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let mut writes = 0;
    for d in desired {
        let live = api.get_opt(&d.name_any()).await?;
        writes += usize::from(apply_unless_live(api, live.as_ref(), d).await?);
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chart ships the same documents; `AKP_BLESS=1` rewrites its copy.
    #[test]
    fn the_chart_ships_the_policies_the_operator_applies() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../charts/akp/files/admission-policies.yaml");
        let mut text = String::from(
            "# Generated from operator/src/admission_policy.rs: AKP_BLESS=1 cargo test -p akp-operator admission_policy\n",
        );
        for doc in documents() {
            text.push_str("---\n");
            text.push_str(&serde_saphyr::to_string(&doc).expect("serializes"));
        }
        if std::env::var_os("AKP_BLESS").is_some() {
            std::fs::write(&path, &text).expect("writes the chart's copy");
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == text,
            "{} differs from operator/src/admission_policy.rs: run AKP_BLESS=1 cargo test -p akp-operator admission_policy",
            path.display()
        );
    }

    #[test]
    fn every_policy_is_typed_and_bound() {
        let p = policies().expect("the documents are valid objects");
        assert_eq!(p.validating.len(), 5);
        assert_eq!(p.validating.len(), p.validating_bindings.len());
        assert_eq!(p.mutating.len(), p.mutating_bindings.len());
        for (policy, binding) in p.validating.iter().zip(&p.validating_bindings) {
            assert_eq!(binding.spec.policy_name, policy.name_any());
        }
    }

    #[test]
    fn cel_literals_escape_quotes() {
        assert_eq!(lit("agency's"), "'agency\\'s'");
    }
}
