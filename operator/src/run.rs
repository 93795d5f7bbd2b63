//! Starts the caches and the controllers, and keeps the fleet metrics.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use akp_crds::{Agency, PlatformSoftwareProduct, Site, SoftwareCatalogItem, Stage, Tariff};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, Node, Pod, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::Api;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::clock::Clock;
use crate::context::{Context, Stores};
use crate::product::controller::owner_of;
use crate::product::status::conditions;
use crate::rules::calendar::Calendar;
use crate::rules::naming::labels;
use crate::telemetry::{Metrics, Readiness};
use crate::{agency, product};

/// What the controllers need besides the client.
pub struct Settings {
    /// The time source of the legal clocks.
    pub clock: Arc<dyn Clock>,
    /// The working-day calendar.
    pub calendar: Calendar,
    /// The platform namespaces of contour segmentation.
    pub segmentation: crate::product::segmentation::Segmentation,
    /// This replica's name, for events.
    pub instance: Option<String>,
    /// Metrics.
    pub metrics: Metrics,
    /// Set once the caches are filled.
    pub readiness: Readiness,
    /// The audit trail's writer (R-MON-02), shared with the webhooks; `None` logs only.
    pub audit: Option<akp_audit::Sink>,
    /// The clients of remote Sites' clusters, shared with the webhooks.
    pub remotes: Arc<crate::remote::RemoteClusters>,
    /// How many reconciles of each controller run at once ([`DEFAULT_CONCURRENCY`]).
    pub concurrency: u16,
}

/// The default of [`Settings::concurrency`]. kube's controllers are unbounded by
/// default: 500 new products were 500 reconciles at once, each holding its sequence of
/// writes open against an API server and etcd that share the operator's cores (issue
/// 18, P1). A bound keeps the work in flight to what the API server can take and lets
/// a reconcile finish, and its status be written, before the next begins.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// What a cache keeps of each object: all of it, or a projection of what the
/// operator reads (docs/benchmarks.md, P2).
type Trim<K> = fn(&mut K);

/// Everything: the controllers' own objects (the stage-change audit names the field
/// manager that moved the stage).
fn keep_all<K>(_: &mut K) {}

/// Everything but managedFields, a large part of a small object that nothing reads
/// from the child caches. Dropped, not cleared, so that the allocation goes too.
fn drop_managed_fields<K: kube::Resource>(o: &mut K) {
    o.meta_mut().managed_fields = None;
}

/// The identity of an object: what a cache needs to key and replace it.
fn identity(m: &mut kube::api::ObjectMeta) -> kube::api::ObjectMeta {
    kube::api::ObjectMeta {
        name: m.name.take(),
        namespace: m.namespace.take(),
        uid: m.uid.take(),
        resource_version: m.resource_version.take(),
        ..Default::default()
    }
}

/// A pod as the placement audit reads it: its name, namespace and node.
fn project_pod(p: &mut Pod) {
    let node_name = p.spec.as_ref().and_then(|s| s.node_name.clone());
    p.metadata = identity(&mut p.metadata);
    p.spec = Some(k8s_openapi::api::core::v1::PodSpec {
        node_name,
        ..Default::default()
    });
    p.status = None;
}

/// A node as residency reads it: its name and labels.
fn project_node(n: &mut Node) {
    let labels = n.metadata.labels.take();
    n.metadata = kube::api::ObjectMeta {
        labels,
        ..identity(&mut n.metadata)
    };
    n.spec = None;
    n.status = None;
}

/// A cache of `api` and the stream of objects that changed in it.
///
/// Each watch retries on its own backoff, and its errors are logged, counted in
/// `akp_operator_watch_errors_total` and dropped here. A controller merges all of its
/// trigger streams under one shared backoff that stops polling every one of them while
/// it sleeps (up to 30 s per error): after a kube-apiserver restart each watch's
/// "resource version too old" then put all the watches to sleep again, one at a time,
/// and the operator stalled for minutes (found by tests/tests/faults.rs).
fn watched<K>(
    api: Api<K>,
    config: watcher::Config,
    metrics: &Metrics,
    trim: Trim<K>,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let resource = K::plural(&()).into_owned();
    let metrics = metrics.clone();
    let watch = watcher::watcher(api, config).modify(trim);
    let stream = reflector::reflector(writer, watch)
        .default_backoff()
        .touched_objects()
        .filter_map(move |event| {
            futures::future::ready(match event {
                Ok(object) => Some(Ok(object)),
                Err(error) => {
                    warn!(%resource, %error, "watch failed; retrying on its own backoff");
                    metrics.watch_error(&resource);
                    None
                }
            })
        });
    (store, stream)
}

/// Resolves to `true` once `store` holds its first full list (`false`: its writer is
/// gone).
fn filled<K>(store: &Store<K>) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>>
where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    let store = store.clone();
    Box::pin(async move { store.wait_until_ready().await.is_ok() })
}

fn managed() -> watcher::Config {
    watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::OPERATOR))
}

/// Runs the agency and product controllers until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    crate::apply::apply_cluster_roles(&client).await?;
    crate::admission_policy::apply(&client).await?;
    let shutdown = shutdown.shared();

    // Caches of what the operator manages; their watch streams also trigger the
    // product that owns a changed or deleted object.
    let metrics = settings.metrics.clone();
    macro_rules! cache {
        ($kind:ty, $config:expr) => {
            cache!($kind, $config, drop_managed_fields)
        };
        ($kind:ty, $config:expr, $trim:expr) => {
            watched::<$kind>(Api::<$kind>::all(client.clone()), $config, &metrics, $trim)
        };
    }
    let (agencies, agency_stream) = cache!(Agency, watcher::Config::default());
    let (namespaces, ns_stream) = cache!(Namespace, managed());
    let (quotas, quota_stream) = cache!(ResourceQuota, managed());
    let (limits, limit_stream) = cache!(LimitRange, managed());
    let (bindings, binding_stream) = cache!(RoleBinding, managed());
    let (policies, policy_stream) = cache!(NetworkPolicy, managed());
    let (sites, site_stream) = cache!(Site, watcher::Config::default());
    let (nodes, node_stream) = cache!(Node, watcher::Config::default(), project_node);
    let (pods, pod_stream) = cache!(Pod, watcher::Config::default(), project_pod);
    // The catalog feeds the expiry gauge and the products' SoftwareTrusted condition.
    let (catalog, catalog_stream) = cache!(SoftwareCatalogItem, watcher::Config::default());
    let (tariffs, tariff_stream) = cache!(Tariff, watcher::Config::default());
    let stores = Stores {
        agencies,
        namespaces,
        quotas,
        limits,
        bindings,
        policies,
        sites,
        nodes,
        pods,
        tariffs,
        catalog,
    };
    let (recheck, recheck_requests) = futures::channel::mpsc::unbounded();

    let caches_ready = Arc::new(AtomicBool::new(false));
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            crate::telemetry::reporter(settings.instance.clone()),
        ),
        metrics: settings.metrics.clone(),
        clock: settings.clock.clone(),
        calendar: Arc::new(settings.calendar),
        segmentation: Arc::new(settings.segmentation),
        stores: stores.clone(),
        recheck,
        remotes: settings.remotes.clone(),
        caches_ready: caches_ready.clone(),
        audit: settings.audit.clone(),
        own_writes: Default::default(),
    });

    // The controllers' own objects keep their managedFields: the stage-change audit
    // names the field manager that moved the stage.
    let (product_store, product_stream) = watched(
        Api::<PlatformSoftwareProduct>::all(client.clone()),
        watcher::Config::default(),
        &metrics,
        keep_all,
    );
    let controller_config =
        kube::runtime::controller::Config::default().concurrency(settings.concurrency);
    let products = Controller::for_stream(product_stream, product_store.clone())
        .with_config(controller_config.clone());
    let by_agency = {
        let product_store = product_store.clone();
        move |a: Agency| {
            product_store
                .state()
                .into_iter()
                .filter(|p| p.namespace().as_deref() == Some(a.spec.namespace.as_str()))
                .map(|p| ObjectRef::from_obj(&*p))
                .collect::<Vec<_>>()
        }
    };
    let all_products = {
        let product_store = product_store.clone();
        move || {
            product_store
                .state()
                .into_iter()
                .map(|p| ObjectRef::from_obj(&*p))
                .collect::<Vec<_>>()
        }
    };
    // A Tariff's free months are every product's free period (R-ENV-04).
    let every_product = {
        let all = all_products.clone();
        move |_: Tariff| all()
    };
    // A catalog item's register standing is that of every product requesting it or
    // software that depends on it (R-SW-02, R-SW-03): a dependency's change reaches
    // products that never name it, so all of them look again.
    let by_software = move |_: SoftwareCatalogItem| all_products();
    let by_owner = |meta: &kube::api::ObjectMeta| owner_of(meta);
    let product_controller = products
        .watches_stream(agency_stream, by_agency)
        .watches_stream(tariff_stream, every_product)
        .watches_stream(catalog_stream, by_software)
        .watches_stream(ns_stream, move |o: Namespace| by_owner(&o.metadata))
        .watches_stream(quota_stream, move |o: ResourceQuota| by_owner(&o.metadata))
        .watches_stream(limit_stream, move |o: LimitRange| by_owner(&o.metadata))
        .watches_stream(binding_stream, move |o: RoleBinding| by_owner(&o.metadata))
        .watches_stream(policy_stream, move |o: NetworkPolicy| by_owner(&o.metadata))
        .watches_stream(pod_stream, {
            // A pod belongs to the product whose environment namespace it is in.
            let namespaces = stores.namespaces.clone();
            move |pod: Pod| {
                namespaces
                    .get(&ObjectRef::new(&pod.namespace().unwrap_or_default()))
                    .and_then(|ns| owner_of(&ns.metadata))
            }
        })
        .reconcile_on(recheck_requests)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            product::controller::reconcile,
            product::controller::error_policy,
            ctx.clone(),
        )
        .for_each(|_| async {});
    let site_controller = {
        let sites = stores.sites.clone();
        Controller::for_stream(site_stream, stores.sites.clone())
            .with_config(controller_config.clone())
            .watches_stream(node_stream, move |node: Node| {
                sites
                    .state()
                    .into_iter()
                    .filter(|s| crate::site::selects(s, &node))
                    .map(|s| ObjectRef::from_obj(&*s))
                    .collect::<Vec<_>>()
            })
            .graceful_shutdown_on(shutdown.clone())
            .run(
                crate::site::reconcile,
                crate::site::error_policy,
                ctx.clone(),
            )
            .for_each(|_| async {})
    };
    let (agency_store, own_agency_stream) = watched(
        Api::<Agency>::all(client.clone()),
        watcher::Config::default(),
        &metrics,
        keep_all,
    );
    let agency_controller = Controller::for_stream(own_agency_stream, agency_store)
        .with_config(controller_config)
        .graceful_shutdown_on(shutdown.clone())
        .run(agency::reconcile, agency::error_policy, ctx.clone())
        .for_each(|_| async {});

    let readiness = settings.readiness.clone();
    let ready_stores = stores.clone();
    let mark_ready = async move {
        let s = ready_stores;
        let waits = vec![
            filled(&s.agencies),
            filled(&s.namespaces),
            filled(&s.quotas),
            filled(&s.limits),
            filled(&s.bindings),
            filled(&s.policies),
            filled(&s.sites),
            filled(&s.nodes),
            filled(&s.pods),
            filled(&s.tariffs),
            filled(&s.catalog),
        ];
        if futures::future::join_all(waits)
            .await
            .into_iter()
            .all(|ok| ok)
        {
            caches_ready.store(true, Ordering::Release);
            readiness.set_ready();
            info!("caches filled; controllers acting");
        }
    };
    let fleet = fleet_metrics(
        Fleet {
            products: product_store,
            stores: stores.clone(),
            calendar: ctx.calendar.clone(),
            clock: settings.clock.clone(),
        },
        settings.metrics,
        shutdown.clone(),
    );
    futures::join!(
        product_controller,
        agency_controller,
        site_controller,
        mark_ready,
        fleet
    );
    Ok(())
}

/// Pods of environment namespaces on nodes not attested in the home country (R-PLC-01).
fn pods_outside_country(stores: &Stores) -> i64 {
    let home = |node: &str| {
        stores.nodes.get(&ObjectRef::new(node)).is_some_and(|n| {
            n.labels()
                .get(akp_crds::site::COUNTRY_LABEL)
                .map(String::as_str)
                == Some(crate::rules::placement::HOME_COUNTRY)
        })
    };
    stores
        .pods
        .state()
        .iter()
        .filter(|p| {
            let in_environment = stores
                .namespaces
                .get(&ObjectRef::new(&p.namespace().unwrap_or_default()))
                .is_some_and(|ns| ns.labels().contains_key(labels::ENVIRONMENT));
            let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
            in_environment && node.is_some_and(|n| !home(n))
        })
        .count() as i64
}

/// What the fleet gauges are computed from.
struct Fleet {
    products: Store<PlatformSoftwareProduct>,
    stores: Stores,
    calendar: Arc<Calendar>,
    clock: Arc<dyn Clock>,
}

/// Products by stage, overdue trials, SLA breaches and risks, pods abroad and catalog
/// expiries, from the caches every 15 s.
async fn fleet_metrics(fleet: Fleet, metrics: Metrics, shutdown: impl Future<Output = ()>) {
    let tick = async {
        loop {
            let products = fleet.products.state();
            let stages = [
                ("development", Stage::Development),
                ("preliminaryTesting", Stage::PreliminaryTesting),
                ("trialOperation", Stage::TrialOperation),
                ("production", Stage::Production),
                ("decommissioned", Stage::Decommissioned),
            ];
            metrics.set_products(stages.iter().map(|(name, s)| {
                (
                    *name,
                    products.iter().filter(|p| p.spec.stage == *s).count() as i64,
                )
            }));
            let with = |type_: &str| {
                products
                    .iter()
                    .filter(|p| {
                        p.status.as_ref().is_some_and(|s| {
                            s.conditions
                                .iter()
                                .any(|c| c.type_ == type_ && c.status == "False")
                        })
                    })
                    .count() as i64
            };
            metrics.set_trials_overdue(with(conditions::TRIAL_WITHIN_LIMIT));
            metrics.set_provisioning_sla_breaches(with(conditions::PROVISIONED_WITHIN_SLA));
            metrics.set_pods_outside_country(pods_outside_country(&fleet.stores));
            let now = fleet.clock.now();
            let at_risk = products
                .iter()
                .flat_map(|p| p.status.iter().flat_map(|s| s.environments.iter()))
                .filter(|e| !e.ready)
                .filter_map(|e| e.requested_at.as_ref())
                .filter(|requested| {
                    crate::rules::clocks::provisioning_at_risk(&fleet.calendar, requested.0, now)
                })
                .count() as i64;
            metrics.set_provisioning_sla_at_risk(at_risk);
            // R-ENV-03: deadlines through a year of unknown movable holidays.
            let unknown = products
                .iter()
                .flat_map(|p| p.status.iter().flat_map(|s| s.environments.iter()))
                .filter_map(|e| e.requested_at.as_ref())
                .filter(|requested| {
                    !crate::rules::clocks::provisioning_deadline_unknown_years(
                        &fleet.calendar,
                        requested.0,
                    )
                    .is_empty()
                })
                .count() as i64;
            metrics.set_calendar_unknown_deadlines(unknown);
            let catalog = fleet.stores.catalog.state();
            metrics.set_catalog_expiries(catalog.iter().filter_map(|item| {
                let valid_until = item.spec.trusted_register.as_ref()?.documents_valid_until;
                Some((item.metadata.name.as_deref()?, expiry_seconds(valid_until)?))
            }));
            // R-MON-01: the targets Prometheus compares the measurements with.
            let targets: Vec<crate::rules::quality::Targets> = products
                .iter()
                .filter_map(|p| crate::rules::quality::targets(p))
                .collect();
            metrics.set_product_slas(&targets);
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    };
    futures::pin_mut!(tick);
    futures::future::select(tick, Box::pin(shutdown)).await;
}

/// The end of `last_valid_day` in Kazakhstan (UTC+5), in Unix seconds.
pub(crate) fn expiry_seconds(last_valid_day: jiff::civil::Date) -> Option<i64> {
    let next = last_valid_day.tomorrow().ok()?;
    Some(crate::rules::time::day_start(next)?.as_second())
}

/// Runs the controllers while this replica leads the Lease of `election`, until
/// `shutdown` resolves or leadership is lost. Returns whether it was lost: the caller
/// then exits, because a replica that lost the lease must not act again.
pub async fn run_when_leading(
    client: Client,
    settings: Settings,
    election: crate::leader::LeaderElection,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) -> anyhow::Result<bool> {
    use crate::leader::LeaderState;
    let identity = election.identity().to_owned();
    let (mut state, election_task) = election.spawn(shutdown.clone());
    info!(%identity, "waiting to lead");
    let leading = async {
        let _ = state.wait_for(|s| *s == LeaderState::Leader).await;
    };
    tokio::select! {
        () = leading => {}
        () = shutdown.clone() => {
            let _ = election_task.await;
            return Ok(false);
        }
    }
    if *state.borrow() != LeaderState::Leader {
        return Ok(false);
    }
    info!(%identity, "leading: controllers start");
    settings.metrics.set_leader(true);
    let metrics = settings.metrics.clone();
    let lost = {
        let mut state = state.clone();
        async move {
            let _ = state.wait_for(|s| *s == LeaderState::Lost).await;
        }
    };
    let stop = futures::future::select(Box::pin(shutdown), Box::pin(lost)).map(|_| ());
    run(client, settings, stop).await?;
    metrics.set_leader(false);
    let lost = *state.borrow() == LeaderState::Lost;
    // The Lease is released inside the election task: wait for it, so that the other
    // replica takes over at once instead of after the lease expires.
    if !lost {
        let _ = tokio::time::timeout(Duration::from_secs(5), election_task).await;
    }
    Ok(lost)
}

#[cfg(test)]
mod tests {
    /// The caches of pods and nodes keep what placement reads, and nothing else.
    #[test]
    fn r_plc_01_pod_and_node_caches_keep_only_what_placement_reads() {
        let mut pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "mon-x-development", "uid": "u1",
                "labels": {"app": "p"}, "annotations": {"a": "b"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
            "spec": {"nodeName": "astana-1-a", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running"}
        }))
        .expect("pod");
        super::project_pod(&mut pod);
        assert_eq!(
            serde_json::to_value(&pod).expect("json"),
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "mon-x-development", "uid": "u1"},
                "spec": {"nodeName": "astana-1-a", "containers": []}
            })
        );
        let mut node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n", "labels": {"zone": "astana-1"}, "annotations": {"a": "b"}},
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"images": [{"names": ["x"], "sizeBytes": 1}]}
        }))
        .expect("node");
        super::project_node(&mut node);
        assert_eq!(
            serde_json::to_value(&node).expect("json"),
            serde_json::json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "n", "labels": {"zone": "astana-1"}}})
        );
    }

    #[test]
    fn r_sw_02_a_catalog_item_expires_at_the_end_of_its_last_valid_day_in_kazakhstan() {
        // 2026-12-31 ends at 2027-01-01T00:00+05:00 = 2026-12-31T19:00Z.
        assert_eq!(
            super::expiry_seconds(jiff::civil::date(2026, 12, 31)),
            Some(1_798_743_600)
        );
    }
}
