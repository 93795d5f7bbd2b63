//! The product reconcile: validate → build → apply (only what differs) → status, inside
//! a finalizer that removes the environments when the product is deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akp_crds::{PlatformSoftwareProduct, Stage};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::apply::{
    Claimed, OwnWrites, Written, apply_in, apply_owned_namespace, apply_status,
    delete_owned_namespace,
};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::rules::naming::labels;
use crate::rules::ownership::{self, Holder, Owner};

use super::build::{self, Child, Plan};
use super::status::{self, NamespaceTaken, Notice, Observation, PlacementView};
use super::validate::validate;

/// The finalizer that holds a product until its environments are removed.
pub const FINALIZER: &str = "akp.egov.kz/environments";

/// How often a product is looked at when nothing happens; a resync writes nothing.
const RESYNC: Duration = Duration::from_secs(30 * 60);

/// How often a product whose namespace another holds is looked at again (a namespace
/// made by hand is not in the operator's cache, so its removal triggers nothing).
const TAKEN_RECHECK: Duration = Duration::from_secs(60);

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
    let product = with_finalizer(&api, product).await?;
    finalizer(&api, FINALIZER, product, |event| async {
        match event {
            Event::Apply(p) => apply(&p, &api, &ctx).await,
            Event::Cleanup(p) => cleanup(&p, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// The product with the finalizer, added unless it is there or the product is being
/// deleted: the product as the patch returned it. kube's `finalizer()` adds it and
/// returns, and the apply waits for the reconcile the change triggers, a round trip
/// through the watch and the queue for every new product (issue 18, P1); here the
/// same reconcile goes on. Nothing is applied before the finalizer is stored, so a
/// deletion still finds it; the API server refuses a new finalizer on a product being
/// deleted.
async fn with_finalizer(
    api: &Api<PlatformSoftwareProduct>,
    product: Arc<PlatformSoftwareProduct>,
) -> Result<Arc<PlatformSoftwareProduct>> {
    let present = product.finalizers().iter().any(|f| f == FINALIZER);
    if present || product.metadata.deletion_timestamp.is_some() {
        return Ok(product);
    }
    // As kube's helper does: the test fails the patch if the list changed meanwhile,
    // since the API server does not deduplicate finalizers.
    let ops = if product.finalizers().is_empty() {
        serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": product.finalizers()},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    };
    let params = PatchParams {
        field_manager: Some(crate::apply::FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let patched = api
        .patch(
            &product.name_any(),
            &params,
            &Patch::Json::<()>(serde_json::from_value(ops)?),
        )
        .await?;
    Ok(Arc::new(patched))
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
    let agencies = holding_agencies(ctx, &p.namespace().unwrap_or_default());
    let tariffs: Vec<(jiff::civil::Date, i32)> = ctx
        .stores
        .tariffs
        .state()
        .iter()
        .map(|t| {
            (
                t.spec.effective_from,
                t.spec.non_production.free_months_from_contract,
            )
        })
        .collect();
    // The cache's own Arcs: no copy of the catalog per reconcile.
    let catalog = ctx.stores.catalog.state();
    let obs = Observation {
        now,
        calendar: &ctx.calendar,
        generation: p.metadata.generation,
        old: p.status.as_ref(),
        tariffs: &tariffs,
        catalog: &catalog,
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
                ))
                .await;
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

    let owner =
        Owner::product(p, &validated.agency_name).ok_or(Error::MissingField("metadata.uid"))?;
    let sites = sites(ctx);
    let plan = build::plan(&validated, &ctx.segmentation, &sites);
    let mut ready = BTreeMap::new();
    let mut taken = Vec::new();
    let mut writes = 0;
    let mut any_pending = false;
    for env in &plan.environments {
        match apply_environment(ctx, env, &owner).await? {
            Outcome::Applied { writes: w, pending } => {
                writes += w;
                any_pending |= pending;
                ready.insert(env.env, true);
            }
            Outcome::Terminating => {
                ready.insert(env.env, false);
            }
            Outcome::Taken(holder) => {
                ready.insert(env.env, false);
                taken.push(NamespaceTaken::new(env, None, &holder));
            }
        }
    }
    writes += retire_orphans(ctx, p, &owner, Some(&plan)).await?;
    writes += sync_remote_sites(ctx, &validated, &owner, &sites, Some(&plan), &mut taken).await?;
    if writes > 0 {
        info!(writes, stage = ?validated.stage, "environments applied");
    }

    let placement = place(ctx, &sites, &plan);
    let (mut status, mut notices) =
        status::applied(&obs, &validated, agency, &plan, &ready, &placement);
    status::namespaces_taken(&obs, &mut status, &mut notices, &taken, &owner);
    let requeue = if !taken.is_empty() {
        Action::requeue(TAKEN_RECHECK)
    } else if any_pending {
        // Compare with the cache once it has the operator's own writes.
        Action::requeue(OwnWrites::TRUST)
    } else {
        next_look(&status, now, ready.values().all(|r| *r))
    };
    let old_stage = p.status.as_ref().and_then(|s| s.stage);
    write_status(api, p, status).await?;
    if old_stage != Some(validated.stage) {
        let envs: Vec<String> = plan
            .environments
            .iter()
            .map(|e| e.namespace.name_any())
            .collect();
        let (decision, reason) = if taken.is_empty() {
            (
                akp_audit::Decision::Done,
                format!("environments of the stage applied: {}", envs.join(", ")),
            )
        } else {
            let held: Vec<&str> = taken.iter().map(|t| t.namespace.as_str()).collect();
            (
                akp_audit::Decision::Failed,
                format!(
                    "namespaces held by another, nothing written there (R-LC-08): {}",
                    held.join(", ")
                ),
            )
        };
        ctx.audit(stage_change(p, old_stage, decision, reason))
            .await;
    }
    let stage = validated.stage;
    publish_as(ctx, p, notices, |n| transition_action(n, stage)).await;
    Ok(requeue)
}

/// The action of an event: the stage reached for a transition's, so that transitions
/// in quick succession stay apart. kube's `Recorder` folds events of one object with
/// the same type, action and reason within 6 minutes into a series that keeps the
/// first note, and a walk of stages would otherwise leave one `StageChanged` event
/// that names only the first step.
fn transition_action(n: &Notice, stage: Stage) -> String {
    if !status::reasons::TRANSITION.contains(&n.reason) {
        return RECONCILE_ACTION.to_owned();
    }
    let mut name = stage.as_str().chars();
    let first = name.next().map(|c| c.to_ascii_uppercase());
    format!("Reach{}{}", first.unwrap_or_default(), name.as_str())
}

/// The action of the events the operator publishes when it reconciles.
const RECONCILE_ACTION: &str = "Reconcile";

/// The Agencies whose claim on their namespace holds (R-LC-08): one that names in
/// `spec.namespace` a namespace it does not hold (another Agency's, a product's) is
/// left out for the products there, so they never become its products.
fn holding_agencies(ctx: &Context, namespace: &str) -> Vec<Arc<akp_crds::Agency>> {
    let live = ctx.stores.namespaces.get(&ObjectRef::new(namespace));
    ctx.stores
        .agencies
        .state()
        .into_iter()
        .filter(|a| {
            a.spec.namespace != namespace
                || live
                    .as_ref()
                    .zip(Owner::agency(a))
                    .is_some_and(|(ns, owner)| ownership::holds(&ns.metadata, &owner))
        })
        .collect()
}

/// The Sites as the cache has them.
fn sites(ctx: &Context) -> Vec<akp_crds::Site> {
    ctx.stores
        .sites
        .state()
        .iter()
        .map(|s| (**s).clone())
        .collect()
}

/// The plan's allowed sites and the audit of where every environment's pods run
/// (R-PLC-01, R-PLC-02): an observation, the plan decided the sites.
fn place(
    ctx: &Context,
    sites: &[akp_crds::Site],
    plan: &Plan,
) -> BTreeMap<akp_crds::EnvironmentName, PlacementView> {
    use crate::rules::placement::{HOME_COUNTRY, audit};
    let nodes: BTreeMap<String, BTreeMap<String, String>> = ctx
        .stores
        .nodes
        .state()
        .iter()
        .map(|n| (n.name_any(), n.labels().clone()))
        .collect();
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
            (
                e.env,
                PlacementView {
                    allowed: e.sites.clone(),
                    audit: audit(&pods, &nodes, sites, HOME_COUNTRY),
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

/// What became of one environment.
enum Outcome {
    /// Applied, with this many writes; `pending`: some children were left to the
    /// operator's own writes the cache has not seen yet.
    Applied { writes: usize, pending: bool },
    /// Its namespace is still terminating (a retired environment coming back), so
    /// nothing can be created yet.
    Terminating,
    /// Its namespace is held by another: nothing was written (R-LC-08).
    Taken(Holder),
}

/// Applies one environment's namespace and objects, only into a namespace `owner`
/// holds (R-LC-08): the namespace is checked before anything is written in it.
async fn apply_environment(
    ctx: &Context,
    env: &build::EnvironmentPlan,
    owner: &Owner,
) -> Result<Outcome> {
    let client = &ctx.client;
    let name = env.namespace.name_any();
    let stores = &ctx.stores;
    let cached = stores
        .namespaces
        .get(&ObjectRef::new(&name))
        .map(|n| (*n).clone());
    if cached
        .as_ref()
        .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
    {
        return Ok(Outcome::Terminating);
    }
    let namespaces = Api::<Namespace>::all(client.clone());
    let mut writes = match apply_owned_namespace(&namespaces, cached, &env.namespace, owner).await?
    {
        Claimed::Applied(w) => w,
        Claimed::Taken(holder) => {
            warn!(namespace = %name, %holder, "environment namespace held by another; nothing written");
            return Ok(Outcome::Taken(holder));
        }
    };
    let own = &ctx.own_writes;
    let mut pending = false;
    for child in &env.objects {
        let written = match child {
            Child::Quota(o) => apply_in(client, &name, &stores.quotas, own, o).await?,
            Child::Limits(o) => apply_in(client, &name, &stores.limits, own, o).await?,
            Child::Binding(o) => apply_in(client, &name, &stores.bindings, own, o).await?,
            Child::Policy(o) => apply_in(client, &name, &stores.policies, own, o).await?,
        };
        writes += usize::from(written == Written::Applied);
        pending |= written == Written::Pending;
    }
    Ok(Outcome::Applied { writes, pending })
}

/// Deletes the environment namespaces of `p` that `plan` no longer has (all of them
/// without a plan), only those `owner` holds (R-LC-08). Returns how many deletions
/// were requested.
async fn retire_orphans(
    ctx: &Context,
    p: &PlatformSoftwareProduct,
    owner: &Owner,
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
            && ownership::holds(&ns.metadata, owner)
        {
            info!(namespace = %ns.name_any(), "retiring environment");
            deleted += usize::from(delete_owned_namespace(&api, &ns, owner).await?);
        }
    }
    Ok(deleted)
}

/// Environments at sites in other clusters (R-PLC-02): those the plan places at such a
/// site are applied there; the product's other environment namespaces there are
/// removed, those `owner` holds there (R-LC-08; namespaces held by another go to
/// `taken`). Reads first, so a resync writes nothing there either.
async fn sync_remote_sites(
    ctx: &Context,
    v: &super::validate::Validated,
    owner: &Owner,
    sites: &[akp_crds::Site],
    plan: Option<&Plan>,
    taken: &mut Vec<NamespaceTaken>,
) -> Result<usize> {
    use crate::rules::naming::environment_namespace;
    let mut writes = 0;
    for site in sites.iter().filter(|s| s.spec.cluster.is_some()) {
        let Some(cluster) = &site.spec.cluster else {
            continue;
        };
        let remote = ctx
            .remotes
            .client(
                &ctx.client,
                &site.name_any(),
                &cluster.kubeconfig_secret_ref,
            )
            .await?;
        let here: Vec<&build::EnvironmentPlan> = plan
            .map(|pl| {
                pl.environments
                    .iter()
                    .filter(|e| e.at_site(&site.name_any()))
                    .collect()
            })
            .unwrap_or_default();
        if !here.is_empty() {
            // The project roles must exist there for the bindings to mean anything.
            crate::apply::apply_cluster_roles(&remote)
                .await
                .map_err(|e| Error::Remote(e.to_string()))?;
        }
        for env in &here {
            match crate::remote::apply_environment(&remote, env, owner).await? {
                Claimed::Applied(w) => writes += w,
                Claimed::Taken(holder) => {
                    warn!(namespace = %env.namespace.name_any(), site = %site.name_any(), %holder, "remote environment namespace held by another; nothing written");
                    taken.push(NamespaceTaken::new(env, Some(site.name_any()), &holder));
                }
            }
        }
        for env in akp_crds::EnvironmentName::ALL {
            let ns = environment_namespace(&v.agency_name, &v.product_name, env);
            if here.iter().any(|e| e.env == env) {
                continue;
            }
            if crate::remote::delete_environment(&remote, &ns, owner).await? {
                info!(namespace = %ns, site = %site.name_any(), "retired environment at a remote site");
                writes += 1;
            }
        }
    }
    Ok(writes)
}

/// R-LC-07 and deletion: the environments go, the finalizer lets the record go.
async fn cleanup(p: &PlatformSoftwareProduct, ctx: &Context) -> Result<Action> {
    let agencies = holding_agencies(ctx, &p.namespace().unwrap_or_default());
    let validated = validate(p, agencies.iter().map(|a| a.as_ref())).ok();
    // Without its Agency, the agency it was last reconciled for (for namespaces made
    // before owner UIDs; those with its UID are its own in any case).
    let agency = validated
        .as_ref()
        .map(|v| v.agency_name.clone())
        .or_else(|| p.status.as_ref().and_then(|s| s.agency.clone()))
        .unwrap_or_default();
    let owner = Owner::product(p, &agency).ok_or(Error::MissingField("metadata.uid"))?;
    if let Some(v) = &validated {
        sync_remote_sites(ctx, v, &owner, &sites(ctx), None, &mut Vec::new()).await?;
    }
    let deleted = retire_orphans(ctx, p, &owner, None).await?;
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
    Ok(apply_status(api, p, p.status.as_ref(), &status).await?)
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
    publish_as(ctx, obj, notices, |_| RECONCILE_ACTION.to_owned()).await;
}

/// [`publish`], each event with the action `action` gives it.
async fn publish_as<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    obj: &K,
    notices: Vec<Notice>,
    action: impl Fn(&Notice) -> String,
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
            action: action(&n),
            note: Some(n.note),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            warn!(error = %e, "publishing an event failed");
        }
    }
}
