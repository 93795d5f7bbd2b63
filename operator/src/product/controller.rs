//! The product reconcile: validate → build → apply (only what differs) → status, inside
//! a finalizer that removes the environments when the product is deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akp_crds::{PlatformSoftwareProduct, Stage};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::apply::{FIELD_MANAGER, apply_if_changed, delete_if_present};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::rules::naming::labels;

use super::build::{self, Child, Plan};
use super::status::{self, Notice, Observation, PlacementView};
use super::validate::validate;

/// The finalizer that holds a product until its environments are removed.
pub const FINALIZER: &str = "akp.egov.kz/environments";

/// How often a product is looked at when nothing happens; a resync writes nothing.
const RESYNC: Duration = Duration::from_secs(30 * 60);

/// Reconciles one product.
#[instrument(skip(product, ctx), fields(product = %product.name_any(), namespace = product.namespace().unwrap_or_default()))]
pub async fn reconcile(product: Arc<PlatformSoftwareProduct>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_timer("product");
    if !ctx.caches_ready.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let namespace = product
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, FINALIZER, product, |event| async {
        match event {
            Event::Apply(p) => apply(&p, &api, &ctx).await,
            Event::Cleanup(p) => cleanup(&p, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Retries failed reconciles with a short delay and counts them.
pub fn error_policy(
    product: Arc<PlatformSoftwareProduct>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    warn!(product = %product.name_any(), %error, "reconcile failed");
    ctx.metrics.set_failure("product", error.metric_label());
    Action::requeue(Duration::from_secs(5))
}

/// Maps a managed object to the product it belongs to, by its labels.
pub fn owner_of(meta: &ObjectMeta) -> Option<ObjectRef<PlatformSoftwareProduct>> {
    let l = meta.labels.as_ref()?;
    Some(ObjectRef::new(l.get(labels::PRODUCT)?).within(l.get(labels::PRODUCT_NAMESPACE)?))
}

/// Now, to the second: the API server keeps times to the second, so a status computed
/// from a finer time would differ from the stored one on every resync.
fn now(ctx: &Context) -> jiff::Timestamp {
    let t = ctx.clock.now();
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
}

async fn apply(
    p: &PlatformSoftwareProduct,
    api: &Api<PlatformSoftwareProduct>,
    ctx: &Context,
) -> Result<Action> {
    let now = now(ctx);
    let agencies = ctx.stores.agencies.state();
    let obs = Observation {
        now,
        calendar: &ctx.calendar,
        generation: p.metadata.generation,
        old: p.status.as_ref(),
    };
    let validated = match validate(p, agencies.iter().map(|a| a.as_ref())) {
        Ok(v) => v,
        Err(why) => {
            let (status, notices) = status::invalid(&obs, &why);
            let refused_stage = (p.status.as_ref() != Some(&status))
                .then(|| p.status.as_ref().and_then(|s| s.stage))
                .filter(|old| *old != Some(p.spec.stage));
            write_status(api, p, status).await?;
            if let Some(old) = refused_stage {
                ctx.audit(stage_change(
                    p,
                    old,
                    akp_audit::Decision::Failed,
                    why.to_string(),
                ));
            }
            publish(ctx, p, notices).await;
            return Ok(Action::requeue(RESYNC));
        }
    };
    let Some(agency) = agencies
        .iter()
        .find(|a| a.name_any() == validated.agency_name)
    else {
        return Err(Error::MissingField("agency"));
    };

    let plan = build::plan(&validated, &ctx.segmentation);
    let mut ready = BTreeMap::new();
    let mut writes = 0;
    for env in &plan.environments {
        match apply_environment(ctx, env).await? {
            Some(w) => {
                writes += w;
                ready.insert(env.env, true);
            }
            None => {
                ready.insert(env.env, false);
            }
        }
    }
    writes += retire_orphans(ctx, p, Some(&plan)).await?;
    writes += sync_remote_sites(ctx, &validated, Some(&plan)).await?;
    if writes > 0 {
        info!(writes, stage = ?validated.stage, "environments applied");
    }

    let placement = place(ctx, &validated, &plan);
    let (status, notices) = status::applied(&obs, &validated, agency, &plan, &ready, &placement);
    let requeue = next_look(&status, now, ready.values().all(|r| *r));
    let old_stage = p.status.as_ref().and_then(|s| s.stage);
    write_status(api, p, status).await?;
    if old_stage != Some(validated.stage) {
        let envs: Vec<String> = plan
            .environments
            .iter()
            .map(|e| e.namespace.name_any())
            .collect();
        ctx.audit(stage_change(
            p,
            old_stage,
            akp_audit::Decision::Done,
            format!("environments of the stage applied: {}", envs.join(", ")),
        ));
    }
    publish(ctx, p, notices).await;
    Ok(requeue)
}

/// The allowed sites and the audit of every environment (R-PLC-01, R-PLC-02).
fn place(
    ctx: &Context,
    v: &super::validate::Validated,
    plan: &Plan,
) -> BTreeMap<akp_crds::EnvironmentName, PlacementView> {
    use crate::rules::placement::{allowed_sites, audit};
    let sites: Vec<akp_crds::Site> = ctx
        .stores
        .sites
        .state()
        .iter()
        .map(|s| (**s).clone())
        .collect();
    let nodes: BTreeMap<String, BTreeMap<String, String>> = ctx
        .stores
        .nodes
        .state()
        .iter()
        .map(|n| (n.name_any(), n.labels().clone()))
        .collect();
    let spec = &v.product.spec;
    plan.environments
        .iter()
        .map(|e| {
            let ns = e.namespace.name_any();
            let pods: Vec<(String, String)> = ctx
                .stores
                .pods
                .state()
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
                .filter_map(|p| Some((p.name_any(), p.spec.as_ref()?.node_name.clone()?)))
                .collect();
            let allowed = allowed_sites(
                &sites,
                crate::site::HOME_COUNTRY,
                spec.contour,
                spec.class,
                e.env,
            )
            .map(|s| s.iter().map(|s| s.name_any()).collect())
            .map_err(|e| e.to_string());
            (
                e.env,
                PlacementView {
                    allowed,
                    audit: audit(&pods, &nodes, &sites, crate::site::HOME_COUNTRY),
                },
            )
        })
        .collect()
}

/// When to look again: at the trial deadline (R-LC-03), soon while provisioning, else
/// at the resync.
fn next_look(
    status: &akp_crds::PlatformSoftwareProductStatus,
    now: jiff::Timestamp,
    all_ready: bool,
) -> Action {
    if !all_ready {
        return Action::requeue(Duration::from_secs(5));
    }
    let mut wait = RESYNC;
    if let (Some(Stage::TrialOperation), Some(trial)) = (status.stage, &status.trial)
        && let Ok(left) = Duration::try_from(trial.deadline.0.duration_since(now))
    {
        wait = wait.min(left + Duration::from_secs(1));
    }
    // The provisioning SLA may run out while an environment is not ready; re-check daily.
    if status.environments.iter().any(|e| !e.ready) {
        wait = wait.min(Duration::from_secs(3600));
    }
    Action::requeue(wait)
}

/// Applies one environment's namespace and objects. `None` when its namespace is still
/// terminating (a retired environment coming back), so nothing can be created yet.
async fn apply_environment(ctx: &Context, env: &build::EnvironmentPlan) -> Result<Option<usize>> {
    let client = &ctx.client;
    let name = env.namespace.name_any();
    let stores = &ctx.stores;
    if let Some(live) = stores.namespaces.get(&ObjectRef::new(&name))
        && live.metadata.deletion_timestamp.is_some()
    {
        return Ok(None);
    }
    let mut writes = usize::from(
        apply_if_changed(
            &Api::<Namespace>::all(client.clone()),
            &stores.namespaces,
            &env.namespace,
        )
        .await?,
    );
    for child in &env.objects {
        let written = match child {
            Child::Quota(o) => {
                apply_if_changed(
                    &Api::<ResourceQuota>::namespaced(client.clone(), &name),
                    &stores.quotas,
                    o,
                )
                .await?
            }
            Child::Limits(o) => {
                apply_if_changed(
                    &Api::<LimitRange>::namespaced(client.clone(), &name),
                    &stores.limits,
                    o,
                )
                .await?
            }
            Child::Binding(o) => {
                apply_if_changed(
                    &Api::<RoleBinding>::namespaced(client.clone(), &name),
                    &stores.bindings,
                    o,
                )
                .await?
            }
            Child::Policy(o) => {
                apply_if_changed(
                    &Api::<NetworkPolicy>::namespaced(client.clone(), &name),
                    &stores.policies,
                    o,
                )
                .await?
            }
        };
        writes += usize::from(written);
    }
    Ok(Some(writes))
}

/// Deletes the environment namespaces of `p` that `plan` no longer has (all of them
/// without a plan). Returns how many deletions were requested.
async fn retire_orphans(
    ctx: &Context,
    p: &PlatformSoftwareProduct,
    plan: Option<&Plan>,
) -> Result<usize> {
    let product_ref = ObjectRef::<PlatformSoftwareProduct>::from_obj(p);
    let keep: Vec<String> = plan
        .map(|pl| {
            pl.environments
                .iter()
                .map(|e| e.namespace.name_any())
                .collect()
        })
        .unwrap_or_default();
    let api = Api::<Namespace>::all(ctx.client.clone());
    let mut deleted = 0;
    for ns in ctx.stores.namespaces.state() {
        let is_environment = ns.labels().contains_key(labels::ENVIRONMENT);
        if is_environment
            && owner_of(&ns.metadata).as_ref() == Some(&product_ref)
            && ns.metadata.deletion_timestamp.is_none()
            && !keep.contains(&ns.name_any())
        {
            info!(namespace = %ns.name_any(), "retiring environment");
            deleted += usize::from(delete_if_present(&api, &ns.name_any()).await?);
        }
    }
    Ok(deleted)
}

/// Environments at sites in other clusters (R-PLC-02): those the plan places at such a
/// site are applied there; the product's other environment namespaces there are
/// removed. Reads first, so a resync writes nothing there either.
async fn sync_remote_sites(
    ctx: &Context,
    v: &super::validate::Validated,
    plan: Option<&Plan>,
) -> Result<usize> {
    use crate::rules::naming::environment_namespace;
    use crate::rules::placement::allowed_sites;
    let all: Vec<akp_crds::Site> = ctx
        .stores
        .sites
        .state()
        .iter()
        .map(|s| (**s).clone())
        .collect();
    let mut writes = 0;
    for site in all.iter().filter(|s| s.spec.cluster.is_some()) {
        let Some(cluster) = &site.spec.cluster else {
            continue;
        };
        let remote = ctx
            .remotes
            .client(&ctx.client, &cluster.kubeconfig_secret_ref)
            .await?;
        let spec = &v.product.spec;
        let here: Vec<&build::EnvironmentPlan> = plan
            .map(|pl| {
                pl.environments
                    .iter()
                    .filter(|e| {
                        allowed_sites(
                            &all,
                            crate::site::HOME_COUNTRY,
                            spec.contour,
                            spec.class,
                            e.env,
                        )
                        .is_ok_and(|sites| sites.iter().any(|s| s.name_any() == site.name_any()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !here.is_empty() {
            // The project roles must exist there for the bindings to mean anything.
            crate::run::apply_cluster_roles(&remote)
                .await
                .map_err(|e| Error::Remote(e.to_string()))?;
        }
        for env in &here {
            writes += crate::remote::apply_environment(&remote, env).await?;
        }
        for env in akp_crds::EnvironmentName::ALL {
            let ns = environment_namespace(&v.agency_name, &v.product_name, env);
            if here.iter().any(|e| e.env == env) {
                continue;
            }
            let live = Api::<Namespace>::all(remote.clone()).get_opt(&ns).await?;
            if live.is_some_and(|n| n.metadata.deletion_timestamp.is_none()) {
                info!(namespace = %ns, site = %site.name_any(), "retiring environment at a remote site");
                writes += usize::from(crate::remote::delete_environment(&remote, &ns).await?);
            }
        }
    }
    Ok(writes)
}

/// R-LC-07 and deletion: the environments go, the finalizer lets the record go.
async fn cleanup(p: &PlatformSoftwareProduct, ctx: &Context) -> Result<Action> {
    let agencies = ctx.stores.agencies.state();
    if let Ok(v) = validate(p, agencies.iter().map(|a| a.as_ref())) {
        sync_remote_sites(ctx, &v, None).await?;
    }
    let deleted = retire_orphans(ctx, p, None).await?;
    publish(
        ctx,
        p,
        vec![Notice {
            warning: false,
            reason: "EnvironmentsRemoved",
            note: format!("{deleted} environment namespace(s) deleted with the product"),
        }],
    )
    .await;
    Ok(Action::await_change())
}

/// Writes the status by server-side apply, unless it is what is stored already.
async fn write_status(
    api: &Api<PlatformSoftwareProduct>,
    p: &PlatformSoftwareProduct,
    status: akp_crds::PlatformSoftwareProductStatus,
) -> Result<()> {
    if p.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": PlatformSoftwareProduct::api_version(&()),
        "kind": PlatformSoftwareProduct::kind(&()),
        "status": status,
    });
    api.patch_status(
        &p.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// R-MON-02: a stage the operator carried out (or refused) when it reconciled. The
/// person who asked is in the `stage.change` record the product webhook wrote at
/// admission, from the AdmissionReview's `userInfo` (same object UID and generation);
/// the field manager is kept in the details only, as the client chose it.
fn stage_change(
    p: &PlatformSoftwareProduct,
    from: Option<Stage>,
    decision: akp_audit::Decision,
    reason: String,
) -> akp_audit::Record {
    let name = |s: Option<Stage>| s.map(Stage::as_str).unwrap_or("none");
    let setter = p
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0["f:spec"]["f:stage"].is_object())
        })
        .max_by_key(|m| m.time.as_ref().map(|t| t.0));
    let last_request = p
        .status
        .as_ref()
        .and_then(|s| s.request_history.last())
        .map(|r| r.observed_at.0.to_string());
    let object = akp_audit::Object::namespaced(
        "PlatformSoftwareProduct",
        &p.namespace().unwrap_or_default(),
        &p.name_any(),
    )
    .with_uid(p.metadata.uid.clone());
    akp_audit::Record::new(
        crate::apply::FIELD_MANAGER,
        akp_audit::record::STAGE_APPLIED,
        object,
        decision,
    )
    .reason(format!(
        "stage {} → {}: {reason}",
        name(from),
        name(Some(p.spec.stage))
    ))
    .details(serde_json::json!({
        "from": name(from),
        "to": name(Some(p.spec.stage)),
        "generation": p.metadata.generation,
        "fieldManager": setter.and_then(|m| m.manager.clone()),
        "managerOperation": setter.and_then(|m| m.operation.clone()),
        "managerTime": setter.and_then(|m| m.time.as_ref()).map(|t| t.0.to_string()),
        "previousRequestObservedAt": last_request,
    }))
}

/// Publishes events; a failure to publish is logged, never fatal.
pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    notices: Vec<Notice>,
) {
    let reference = obj.object_ref(&());
    for n in notices {
        let event = KubeEvent {
            type_: if n.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: n.reason.to_owned(),
            note: Some(n.note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            warn!(error = %e, "publishing an event failed");
        }
    }
}
