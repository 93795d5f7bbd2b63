//! The agency controller: the agency's namespace and who may act there (R-LC-08). The
//! agency's group manages its products there; the digitalization head administers it.
//! Deleting an Agency leaves its namespace: products are state records, and removing
//! them is an SRE's explicit act.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akp_crds::Agency;
use akp_crds::agency::AgencyStatus;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::{instrument, warn};

use crate::apply::{FIELD_MANAGER, apply_if_changed, delete_if_present};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::rbac;
use crate::rules::naming::labels;

/// The agency's namespace and its role bindings (pure).
pub fn desired(agency: &Agency) -> (Namespace, Vec<RoleBinding>) {
    let ns = agency.spec.namespace.clone();
    let labels = BTreeMap::from([
        (labels::AGENCY.to_owned(), agency.name_any()),
        (labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned()),
    ]);
    let meta = |name: Option<&str>| ObjectMeta {
        name: Some(name.unwrap_or(&ns).to_owned()),
        namespace: name.map(|_| ns.clone()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let subject = |kind: &str, name: String| Subject {
        kind: kind.into(),
        name,
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    };
    let binding = |name: &str, role: &str, subjects: Vec<Subject>| RoleBinding {
        metadata: meta(Some(name)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    };
    // The agency namespace holds the agency's records, not workloads: neither role
    // grants pods, workloads, Services or Secrets there (rbac.rs). The head reads
    // the environments through the viewer binding of each (product/build.rs).
    let bindings = vec![
        binding(
            "akp-agency-products",
            rbac::PRODUCT_EDITOR,
            vec![subject("Group", agency.group())],
        ),
        binding(
            "akp-digitalization-head",
            rbac::DIGITALIZATION_HEAD,
            vec![subject(
                "User",
                agency.spec.digitalization_head.user.clone(),
            )],
        ),
    ];
    (
        Namespace {
            metadata: meta(None),
            ..Namespace::default()
        },
        bindings,
    )
}

/// Whether a live binding refers to another role than desired: a roleRef cannot be
/// changed, so the binding is deleted and made again (the head's, bound to the built-in
/// `admin` before `akp:digitalization-head` existed).
fn role_changed(live: Option<&RoleBinding>, desired: &RoleBinding) -> bool {
    live.is_some_and(|l| l.role_ref != desired.role_ref)
}

/// Reconciles one agency.
#[instrument(skip(agency, ctx), fields(agency = %agency.name_any()))]
pub async fn reconcile(agency: Arc<Agency>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_timer("agency");
    if !ctx.caches_ready.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let (namespace, bindings) = desired(&agency);
    let ns_name = namespace.name_any();
    apply_if_changed(
        &Api::<Namespace>::all(ctx.client.clone()),
        &ctx.stores.namespaces,
        &namespace,
    )
    .await?;
    for b in &bindings {
        let api = Api::<RoleBinding>::namespaced(ctx.client.clone(), &ns_name);
        if role_changed(
            ctx.stores.bindings.get(&ObjectRef::from_obj(b)).as_deref(),
            b,
        ) {
            delete_if_present(&api, &b.name_any()).await?;
        }
        apply_if_changed(&api, &ctx.stores.bindings, b).await?;
    }
    let old = agency.status.clone().unwrap_or_default();
    let now = jiff::Timestamp::from_second(ctx.clock.now().as_second())
        .unwrap_or_else(|_| ctx.clock.now());
    let ready_since = old
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let status = AgencyStatus {
        observed_generation: agency.metadata.generation,
        namespace: Some(ns_name.clone()),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Provisioned".into(),
            message: format!("namespace {ns_name} and its role bindings are in place (R-LC-08)"),
            last_transition_time: ready_since,
            observed_generation: agency.metadata.generation,
        }],
    };
    if agency.status.as_ref() != Some(&status) {
        let patch = serde_json::json!({"apiVersion": Agency::api_version(&()), "kind": Agency::kind(&()), "status": status});
        Api::<Agency>::all(ctx.client.clone())
            .patch_status(
                &agency.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(Error::Kube)?;
    }
    Ok(Action::requeue(Duration::from_secs(30 * 60)))
}

/// Retries failed reconciles with a short delay and counts them.
pub fn error_policy(agency: Arc<Agency>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(agency = %agency.name_any(), %error, "reconcile failed");
    ctx.metrics.set_failure("agency", error.metric_label());
    Action::requeue(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mon() -> Agency {
        crate::examples::load("agencies.yaml").remove(0)
    }

    /// R-LC-08: the agency namespace holds records; the head gets its own role there,
    /// not the built-in `admin`, and the agency's group edits products.
    #[test]
    fn r_lc_08_the_head_gets_the_heads_role_not_admin() {
        let (ns, bindings) = desired(&mon());
        assert_eq!(ns.metadata.name.as_deref(), Some("agency-mon"));
        let roles: Vec<_> = bindings
            .iter()
            .map(|b| {
                let subjects: Vec<_> = b
                    .subjects
                    .iter()
                    .flatten()
                    .map(|s| format!("{}:{}", s.kind, s.name))
                    .collect();
                (
                    b.metadata.name.clone().unwrap_or_default(),
                    b.role_ref.name.clone(),
                    subjects,
                )
            })
            .collect();
        assert_eq!(
            roles,
            [
                (
                    "akp-agency-products".to_owned(),
                    rbac::PRODUCT_EDITOR.to_owned(),
                    vec!["Group:agency-mon".to_owned()]
                ),
                (
                    "akp-digitalization-head".to_owned(),
                    rbac::DIGITALIZATION_HEAD.to_owned(),
                    vec!["User:alice@mon.gov.kz".to_owned()]
                ),
            ]
        );
        assert!(bindings.iter().all(|b| b.role_ref.kind == "ClusterRole"));
    }

    #[test]
    fn a_binding_to_another_role_is_made_again() {
        let (_, bindings) = desired(&mon());
        let head = &bindings[1];
        let mut old = head.clone();
        old.role_ref.name = "admin".into();
        assert!(role_changed(Some(&old), head));
        assert!(!role_changed(Some(head), head));
        assert!(!role_changed(None, head));
    }
}
