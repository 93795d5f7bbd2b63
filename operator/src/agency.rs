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

use kube::ResourceExt;
use kube::api::{Api, ObjectMeta};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::{instrument, warn};

use crate::apply::{Claimed, apply_if_changed, apply_owned_namespace, apply_status};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::product::controller::publish;
use crate::product::status::Notice;
use crate::rbac;
use crate::rules::conditions::{self, ConditionType, Observed};
use crate::rules::naming::{labels, pod_security_labels};
use crate::rules::ownership::{self, Owner};

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
    // Pod Security Admission as in environments, under the policy that refuses
    // workloads here at all (admission_policy.rs).
    let mut ns_meta = meta(None);
    ns_meta
        .labels
        .get_or_insert_default()
        .extend(pod_security_labels());
    (
        Namespace {
            metadata: ns_meta,
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

/// Reconciles one agency: its namespace only if the Agency holds it (R-LC-08: made
/// for its UID, or made for it before UIDs were recorded); a namespace another holds
/// (another Agency's, a product's environment, one made by hand) gets no write, and
/// the Agency is Degraded and not Ready with a Warning event naming the holder.
#[instrument(skip(agency, ctx), fields(agency = %agency.name_any()))]
pub async fn reconcile(agency: Arc<Agency>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_timer("agency");
    if !ctx.caches_ready.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let owner = Owner::agency(&agency).ok_or(Error::MissingField("metadata.uid"))?;
    let (namespace, bindings) = desired(&agency);
    let ns_name = namespace.name_any();
    let cached = ctx
        .stores
        .namespaces
        .get(&ObjectRef::new(&ns_name))
        .map(|n| (*n).clone());
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    let held = apply_owned_namespace(&namespaces, cached, &namespace, &owner).await?;
    if let Claimed::Applied(_) = held {
        for b in &bindings {
            let api = Api::<RoleBinding>::namespaced(ctx.client.clone(), &ns_name);
            if role_changed(
                ctx.stores.bindings.get(&ObjectRef::from_obj(b)).as_deref(),
                b,
            ) {
                match api.delete(&b.name_any(), &Default::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            apply_if_changed(&api, &ctx.stores.bindings, b).await?;
        }
    }
    let old = agency.status.clone().unwrap_or_default();
    let now = jiff::Timestamp::from_second(ctx.clock.now().as_second())
        .unwrap_or_else(|_| ctx.clock.now());
    let observed = Observed {
        old: &old.conditions,
        now,
        generation: agency.metadata.generation,
    };
    let condition = |type_, value, reason: &str, message: &str| {
        conditions::condition(&observed, type_, value, reason, message)
    };
    let (conditions, notice) = match &held {
        Claimed::Applied(_) => {
            let message =
                format!("namespace {ns_name} and its role bindings are in place (R-LC-08)");
            (
                vec![
                    condition(ConditionType::Ready, true, "Provisioned", &message),
                    condition(ConditionType::Degraded, false, "Provisioned", &message),
                ],
                None,
            )
        }
        Claimed::Taken(holder) => {
            warn!(namespace = %ns_name, %holder, "agency namespace held by another; nothing written");
            let message = ownership::taken_message([(ns_name.as_str(), "", holder)], &owner);
            let is_new = !old.conditions.iter().any(|c| {
                c.type_ == ConditionType::Degraded.as_str()
                    && c.status == "True"
                    && c.message == message
            });
            let notice = is_new.then(|| Notice {
                warning: true,
                reason: "NamespaceTaken",
                note: message.clone(),
            });
            (
                vec![
                    condition(ConditionType::Ready, false, "NamespaceTaken", &message),
                    condition(ConditionType::Degraded, true, "NamespaceTaken", &message),
                ],
                notice,
            )
        }
    };
    let status = AgencyStatus {
        observed_generation: agency.metadata.generation,
        namespace: matches!(held, Claimed::Applied(_)).then(|| ns_name.clone()),
        conditions,
    };
    let api = Api::<Agency>::all(ctx.client.clone());
    apply_status(&api, agency.as_ref(), agency.status.as_ref(), &status)
        .await
        .map_err(Error::Kube)?;
    if let Some(n) = notice {
        publish(&ctx, agency.as_ref(), vec![n]).await;
    }
    Ok(match held {
        Claimed::Applied(_) => Action::requeue(Duration::from_secs(30 * 60)),
        // A namespace made by hand is not in the cache: look again for its removal.
        Claimed::Taken(_) => Action::requeue(Duration::from_secs(60)),
    })
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
