//! Pod and PersistentVolumeClaim admission against the real control plane: the
//! scheduler, the controller manager and kwok nodes in Kazakhstan (astana-1, almaty-1)
//! and abroad (frankfurt-1), plus a node in astana-1's zone attested in RU.
//!
//! One webhook server serves the whole test binary, registered with the operator's own
//! Validating- and MutatingWebhookConfiguration (namespace selectors unchanged), so the
//! tests prove the real scope: environment namespaces are judged, system namespaces
//! are not. It runs on a thread of its own, since each test has its own runtime.
//! "Today" is fixed at 2026-11-22: redis-7's register documents (until 2026-12-15)
//! expire within 30 days, `legacy-tool`'s have expired.
//!
//! Rules: R-PLC-01, R-PLC-02, R-SEG-01 (placement); R-ENV-02, R-SW-01, R-SW-02,
//! R-SW-03 (the software catalog).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use akp_crds::site::COUNTRY_LABEL;
use akp_operator::rules::naming::labels;
use akp_operator::webhook::configuration::PODS_VALIDATING_HOOK;
use akp_operator::webhook::notice::EXPIRING_REASON;
use akp_operator::webhook::{
    AdmissionMetrics, CertStore, Clock, ClusterLookup, PodPlacement, Validators, WebhookEndpoint,
    WebhookServer, apply_configuration, mutating_webhook_configuration, patch_mutating_ca_bundle,
    routes, validating_webhook_configuration,
};
use akp_test_support::operator::eventually;
use akp_test_support::{
    ControlPlane, Options, apply, apply_examples, create_test_namespace, kwok_node,
};
use anyhow::{Context, Result, anyhow, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// The date the R-SW-02 rules are judged on.
const TODAY: &str = "2026-11-22";
/// A trusted image allowed in every environment (postgresql-16, valid until 2027).
const TRUSTED: &str = "registry.akp.kz/platform/postgresql:16";
const ZONE: &str = "topology.kubernetes.io/zone";

fn control_plane() -> Result<&'static ControlPlane> {
    ControlPlane::shared(Options::full().with_crds())
        .context("control plane starts (run tools/build.sh first)")
}

/// The webhook server of the binary, once it is enforced.
struct Shared {
    metrics: AdmissionMetrics,
}

/// Starts (once) the nodes, sites, catalog, the webhook server and its configurations.
fn shared() -> Result<&'static Shared> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("the shared webhook failed to start: {e}"))
}

fn start() -> Result<Shared> {
    let cp = control_plane()?;
    let (ready, started) = std::sync::mpsc::channel::<Result<Shared>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready.send(Err(e.into()));
                return;
            }
        };
        runtime.block_on(async move {
            match prepare(cp).await {
                Ok((metrics, serving)) => {
                    let _ = ready.send(Ok(Shared { metrics }));
                    // Serves until the test process exits.
                    if let Err(e) = serving.await {
                        eprintln!("the webhook server stopped: {e:#}");
                    }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        });
    });
    started
        .recv()
        .context("the webhook thread ended before it was ready")?
}

type Serving = std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>;

async fn prepare(cp: &'static ControlPlane) -> Result<(AdmissionMetrics, Serving)> {
    let started = Instant::now();
    let client = cp.admin_client().await?;
    let nodes = Api::<Node>::all(client.clone());
    for (name, zone, country) in [
        ("astana-1-a", "astana-1", "KZ"),
        ("astana-1-b", "astana-1", "KZ"),
        ("almaty-1-a", "almaty-1", "KZ"),
        ("almaty-1-b", "almaty-1", "KZ"),
        ("frankfurt-1-a", "frankfurt-1", "DE"),
        ("frankfurt-1-b", "frankfurt-1", "DE"),
        // In astana-1's zone, but attested abroad: never a place for a product.
        ("astana-1-rogue", "astana-1", "RU"),
    ] {
        nodes
            .create(
                &PostParams::default(),
                &kwok_node(name, &[(ZONE, zone), (COUNTRY_LABEL, country)]),
            )
            .await
            .with_context(|| format!("creating node {name}"))?;
    }
    apply_examples(&client, &["sites.yaml", "catalog.yaml"], "akp-tests").await?;
    // Catalog items of the refusals: name, category, register entry, dependencies.
    let item = |name: &str, category: &str, register: Value, depends: &[&str]| {
        let mut spec = json!({
            "displayName": name, "category": category,
            "images": [format!("registry.akp.kz/platform/{name}")],
            "allowedEnvironments": ["development", "testing", "trial", "production"],
            "trustedRegister": register, "dependsOn": depends
        });
        if let Some(s) = spec.as_object_mut() {
            s.retain(|_, v| !v.is_null());
        }
        json!({"apiVersion": "akp.egov.kz/v1alpha1", "kind": "SoftwareCatalogItem",
            "metadata": {"name": name}, "spec": spec})
    };
    let valid = |entry: &str| json!({"entry": entry, "documentsValidUntil": "2027-12-31"});
    for extra in [
        // Register documents expired.
        item(
            "legacy-tool",
            "system",
            json!({"entry": "RU-2023-0007", "documentsValidUntil": "2026-06-30"}),
            &[],
        ),
        // Its base is not in the catalog.
        item(
            "orphan-lib",
            "specialized",
            valid("RU-2025-0300"),
            &["missing-base"],
        ),
        // Removed from the register.
        item(
            "withdrawn-tool",
            "system",
            json!({"entry": "RU-2025-0400",
            "documentsValidUntil": "2027-12-31",
            "removed": {"on": "2026-11-20", "basis": "order 12 of 2026-11-19"}}),
            &[],
        ),
        // Software the register does not have, and software on it.
        item("unregistered-base", "system", Value::Null, &[]),
        item(
            "on-unregistered",
            "specialized",
            valid("RU-2025-0301"),
            &["unregistered-base"],
        ),
    ] {
        apply(&client, &extra, None, "akp-tests").await?;
    }

    let (cert, key) = cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
    let store = Arc::new(CertStore::from_pem(&cert, &key)?);
    let metrics = AdmissionMetrics::unregistered()?;
    let validators = Validators::with_lookup(
        Arc::new(ClusterLookup::new(client.clone())),
        Clock::fixed(TODAY.parse()?),
    )
    .with_metrics(metrics.clone())
    .with_events(client.clone());
    let placement = PodPlacement::new(client.clone());
    // Mutual TLS, as in production: only the API server's calls get in.
    let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await?
        .with_client_ca(cp.webhook_client_ca()?);
    let endpoint =
        WebhookEndpoint::Url(format!("https://127.0.0.1:{}", server.local_addr()?.port()));
    let serving: Serving = Box::pin(async move {
        server
            .run(store, routes(validators, placement), std::future::pending())
            .await?;
        Ok(())
    });
    let serving = tokio::spawn(serving);

    // The operator's own configurations, unchanged but for the URL and the CA.
    apply_configuration(
        &client,
        &validating_webhook_configuration(&endpoint, Some(cp.ca_cert_pem())),
    )
    .await
    .context("registering the validating configuration")?;
    apply_configuration(
        &client,
        &mutating_webhook_configuration(&endpoint, Some(cp.ca_cert_pem())),
    )
    .await
    .context("registering the mutating configuration")?;
    wait_until_enforced(&client).await?;
    eprintln!("webhook enforced {:?} after start", started.elapsed());
    let serving: Serving = Box::pin(async move { serving.await? });
    Ok((metrics, serving))
}

/// The API server picks configurations up from a watch: probe with dry-run creates
/// until both webhooks answer.
async fn wait_until_enforced(client: &Client) -> Result<()> {
    let ns = environment(client, "development", 2, "agency-probe").await?;
    let api = Api::<Pod>::namespaced(client.clone(), &ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let refused = api
            .create(&dry_run, &pod("probe", &["busybox"], json!({})))
            .await
            .err()
            .is_some_and(|e| e.to_string().contains("(R-SW-01)"));
        let mutated = api
            .create(&dry_run, &pod("probe", &[TRUSTED], json!({})))
            .await
            .ok()
            .is_some_and(|p| affinity(&p).is_some());
        if refused && mutated {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the webhooks were not enforced within 30s (refused {refused}, mutated {mutated})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new environment namespace (`<env>-xxxxx`) labelled as the operator labels them.
async fn environment(client: &Client, env: &str, class: u8, product_ns: &str) -> Result<String> {
    let labels = BTreeMap::from([
        (labels::AGENCY.to_owned(), "mon".to_owned()),
        (labels::PRODUCT.to_owned(), "e-license".to_owned()),
        (labels::PRODUCT_NAMESPACE.to_owned(), product_ns.to_owned()),
        (labels::ENVIRONMENT.to_owned(), env.to_owned()),
        (labels::CONTOUR.to_owned(), "internal".to_owned()),
        (labels::CLASS.to_owned(), class.to_string()),
    ]);
    create_test_namespace(client, env, labels).await
}

/// A namespace without environment labels (`<prefix>-xxxxx`).
async fn plain_namespace(client: &Client, prefix: &str) -> Result<String> {
    create_test_namespace(client, prefix, BTreeMap::new()).await
}

async fn delete_namespaces(client: &Client, names: &[&str]) -> Result<()> {
    let api = Api::<Namespace>::all(client.clone());
    for name in names {
        api.delete(name, &DeleteParams::default()).await?;
    }
    Ok(())
}

/// A pod `name` with one container per image (`c0`, `c1`…) and `extra` merged into
/// its spec.
fn pod(name: &str, images: &[&str], extra: Value) -> Pod {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    let mut spec = json!({"containers": containers, "terminationGracePeriodSeconds": 0});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": spec
    }))
    .expect("a valid pod")
}

fn deployment(name: &str, replicas: i32, extra: Value) -> Result<Deployment> {
    let template = pod(name, &[TRUSTED], extra);
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template.spec}
        }
    }))?)
}

fn affinity(pod: &Pod) -> Option<Value> {
    let required = pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?;
    serde_json::to_value(required).ok()
}

/// The refusal's message, or an error if the create was allowed.
async fn refused(api: &Api<Pod>, pod: &Pod) -> Result<String> {
    match api.create(&PostParams::default(), pod).await {
        Ok(created) => bail!("pod {} was admitted", created.name_any()),
        Err(e) => Ok(e.to_string()),
    }
}

/// The nodes the pods labelled `app=<app>` run on, once `count` of them are scheduled.
async fn scheduled(api: &Api<Pod>, app: &str, count: usize) -> Result<Vec<String>> {
    eventually(
        &format!("{count} pods of {app} scheduled"),
        Duration::from_secs(45),
        || async {
            let pods = api
                .list(&ListParams::default().labels(&format!("app={app}")))
                .await?;
            let nodes: Vec<String> = pods
                .items
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                .collect();
            Ok((nodes.len() >= count).then_some(nodes))
        },
    )
    .await
}

/// R-PLC-01: pods of a development environment of a class 2 internal product run only
/// on astana-1 nodes attested in KZ: not almaty-1 (the reserve), not frankfurt-1, not
/// the node in astana-1's zone attested in RU.
#[tokio::test]
async fn r_plc_01_a_pod_in_an_environment_lands_only_on_kazakh_nodes_of_its_site() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let ns = environment(&client, "development", 2, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("web", 8, json!({}))?)
        .await?;
    let bare = pods
        .create(&PostParams::default(), &pod("bare", &[TRUSTED], json!({})))
        .await?;
    let required = affinity(&bare).context("the webhook added a required node affinity")?;
    assert_eq!(
        required,
        json!({"nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE, "operator": "In", "values": ["astana-1"]},
            {"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}
        ]}]})
    );
    let mut nodes = scheduled(&pods, "web", 8).await?;
    nodes.extend(scheduled(&pods, "bare", 1).await?);
    let used: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
    ensure!(
        used.iter()
            .all(|n| ["astana-1-a", "astana-1-b"].contains(n)),
        "pods ran outside astana-1 in KZ: {nodes:?}"
    );

    // A pod's own narrowing is kept: it asks for one of the site's nodes.
    let narrowed = pods
        .create(
            &PostParams::default(),
            &pod(
                "narrowed",
                &[TRUSTED],
                json!({"nodeSelector": {"kubernetes.io/hostname": "astana-1-b"}}),
            ),
        )
        .await?;
    ensure!(affinity(&narrowed).is_some());
    ensure!(scheduled(&pods, "narrowed", 1).await? == ["astana-1-b"]);
    delete_namespaces(&client, &[&ns]).await
}

/// R-PLC-01: a pod asking for a node abroad, by nodeSelector, nodeName or its own
/// required affinity, or tolerating the quarantine taint, is refused with the field,
/// the value, the rule and the fix.
#[tokio::test]
async fn r_plc_01_a_pod_asking_for_a_foreign_node_is_refused_with_its_message() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let ns = environment(&client, "development", 2, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let denied = format!("admission webhook \"{PODS_VALIDATING_HOOK}\" denied the request: ");

    let by_selector = refused(
        &pods,
        &pod(
            "by-selector",
            &[TRUSTED],
            json!({"nodeSelector": {ZONE: "frankfurt-1"}}),
        ),
    )
    .await?;
    ensure!(
        by_selector.contains(&format!(
            r#"{denied}spec.nodeSelector[{ZONE}] "frankfurt-1" selects no node of astana-1, the sites the development environment may use, but nodes of frankfurt-1 (DE) (R-PLC-01): remove it: the platform places the pod on nodes of astana-1 in KZ by itself"#
        )),
        "{by_selector}"
    );
    let by_country = refused(
        &pods,
        &pod(
            "by-country",
            &[TRUSTED],
            json!({"nodeSelector": {COUNTRY_LABEL: "DE"}}),
        ),
    )
    .await?;
    ensure!(
        by_country.contains(&format!(
            r#"spec.nodeSelector[{COUNTRY_LABEL}] "DE" selects no node of astana-1"#
        )) && by_country.contains("(R-PLC-01)"),
        "{by_country}"
    );

    let by_name = refused(
        &pods,
        &pod("by-name", &[TRUSTED], json!({"nodeName": "frankfurt-1-a"})),
    )
    .await?;
    ensure!(
        by_name.contains(&format!(
            r#"{denied}spec.nodeName "frankfurt-1-a" is a node of site frankfurt-1, attested in DE, not a node of astana-1 attested in KZ (R-PLC-01): leave spec.nodeName empty: the scheduler places the pod on a node of astana-1"#
        )),
        "{by_name}"
    );
    let rogue = refused(
        &pods,
        &pod("rogue", &[TRUSTED], json!({"nodeName": "astana-1-rogue"})),
    )
    .await?;
    ensure!(
        rogue.contains(
            r#"spec.nodeName "astana-1-rogue" is a node of site astana-1, attested in RU"#
        ),
        "{rogue}"
    );
    let reserve = refused(
        &pods,
        &pod("reserve", &[TRUSTED], json!({"nodeName": "almaty-1-a"})),
    )
    .await?;
    ensure!(reserve.contains("(R-PLC-01)"), "{reserve}");

    let by_affinity = refused(
        &pods,
        &pod(
            "by-affinity",
            &[TRUSTED],
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": ZONE, "operator": "In", "values": ["frankfurt-1"]}
                ]}]
            }}}}),
        ),
    )
    .await?;
    ensure!(
        by_affinity.contains(r#"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0] "topology.kubernetes.io/zone In frankfurt-1" selects no node of astana-1"#)
            && by_affinity.contains("but nodes of frankfurt-1 (DE) (R-PLC-01)"),
        "{by_affinity}"
    );

    let tolerating = refused(
        &pods,
        &pod(
            "tolerating",
            &[TRUSTED],
            json!({"tolerations": [{"key": "akp.egov.kz/quarantine", "operator": "Exists"}]}),
        ),
    )
    .await?;
    ensure!(
        tolerating.contains(r#"spec.tolerations[0] "akp.egov.kz/quarantine" tolerates a taint the platform puts on nodes that may not host workloads (R-PLC-01)"#),
        "{tolerating}"
    );

    // Its own node of the site is fine.
    pods.create(
        &PostParams::default(),
        &pod("pinned", &[TRUSTED], json!({"nodeName": "astana-1-a"})),
    )
    .await?;
    let listed = pods.list(&ListParams::default()).await?;
    let names: Vec<String> = listed.items.iter().map(|p| p.name_any()).collect();
    ensure!(
        names == ["pinned"],
        "only the allowed pod exists: {names:?}"
    );
    delete_namespaces(&client, &[&ns]).await
}

/// R-PLC-01 through a Deployment: its pods land on KZ nodes of the site; one whose
/// template asks for frankfurt-1 creates no pod, and its ReplicaSet's events carry
/// the webhook's refusal.
#[tokio::test]
async fn r_plc_01_a_deployment_asking_for_frankfurt_creates_no_pods_and_its_events_say_why()
-> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let ns = environment(&client, "testing", 3, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    deployments
        .create(&PostParams::default(), &deployment("home", 3, json!({}))?)
        .await?;
    deployments
        .create(
            &PostParams::default(),
            &deployment("abroad", 2, json!({"nodeSelector": {ZONE: "frankfurt-1"}}))?,
        )
        .await?;
    let nodes = scheduled(&pods, "home", 3).await?;
    ensure!(
        nodes.iter().all(|n| n == "astana-1-a" || n == "astana-1-b"),
        "{nodes:?}"
    );
    let events = Api::<Event>::namespaced(client.clone(), &ns);
    let message = eventually(
        "a FailedCreate event of the abroad ReplicaSet",
        Duration::from_secs(30),
        || async {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find_map(|e| {
                let of_abroad = e.involved_object.kind.as_deref() == Some("ReplicaSet")
                    && e.involved_object
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("abroad-"));
                (of_abroad && e.reason.as_deref() == Some("FailedCreate"))
                    .then(|| e.message.unwrap_or_default())
            }))
        },
    )
    .await?;
    ensure!(
        message.contains(&format!(
            r#"admission webhook "{PODS_VALIDATING_HOOK}" denied the request: spec.nodeSelector[{ZONE}] "frankfurt-1" selects no node of astana-1"#
        )) && message.contains("(R-PLC-01)"),
        "{message}"
    );
    let abroad = pods
        .list(&ListParams::default().labels("app=abroad"))
        .await?;
    ensure!(abroad.items.is_empty(), "no pod of the abroad Deployment");
    delete_namespaces(&client, &[&ns]).await
}

/// R-PLC-02: class 1 production runs hot on the primary and the reserve site: a
/// Deployment of 4 replicas lands on both astana-1 and almaty-1, evenly.
#[tokio::test]
async fn r_plc_02_class_1_production_spreads_replicas_over_primary_and_reserve() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let ns = environment(&client, "production", 1, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deployment("hot", 4, json!({}))?)
        .await?;
    let nodes = scheduled(&pods, "hot", 4).await?;
    let astana = nodes.iter().filter(|n| n.starts_with("astana-1-")).count();
    let almaty = nodes.iter().filter(|n| n.starts_with("almaty-1-")).count();
    ensure!(
        astana == 2 && almaty == 2,
        "2 replicas per site expected: {nodes:?}"
    );
    ensure!(
        !nodes
            .iter()
            .any(|n| n.contains("rogue") || n.starts_with("frankfurt"))
    );
    let one = pods
        .list(&ListParams::default().labels("app=hot"))
        .await?
        .items
        .into_iter()
        .next()
        .context("a pod")?;
    let spread = serde_json::to_value(one.spec.and_then(|s| s.topology_spread_constraints))?;
    ensure!(
        spread[0]["topologyKey"] == ZONE
            && spread[0]["maxSkew"] == 1
            && spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
            // The API server itself adds the pod's own pod-template-hash to the
            // selector (matchLabelKeys); the webhook gives the rest of its labels.
            && spread[0]["labelSelector"]["matchLabels"] == json!({"app": "hot"})
            && spread[0]["matchLabelKeys"] == json!(["pod-template-hash"]),
        "{spread}"
    );
    delete_namespaces(&client, &[&ns]).await
}

/// R-PLC-01: a claim may use only the storage classes of its environment's sites.
#[tokio::test]
async fn r_plc_01_a_claim_with_a_storage_class_of_another_site_is_refused() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let dev = environment(&client, "development", 2, "agency-mon").await?;
    let prod = environment(&client, "production", 1, "agency-mon").await?;
    let claim = |name: &str, class: Option<&str>| -> Result<PersistentVolumeClaim> {
        Ok(serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": class
            }
        }))?)
    };
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &dev);
    let create = |c: PersistentVolumeClaim| {
        let claims = claims.clone();
        async move { claims.create(&PostParams::default(), &c).await }
    };
    let other = create(claim("reserve", Some("almaty-1-ssd"))?)
        .await
        .err()
        .context("a claim of the reserve site's class is refused in development")?
        .to_string();
    ensure!(
        other.contains(r#"spec.storageClassName "almaty-1-ssd" is not a storage class of astana-1, the sites the development environment may use, it keeps volumes at site almaty-1 (KZ) (R-PLC-01): use one of astana-1-ssd"#),
        "{other}"
    );
    let foreign = create(claim("foreign", Some("frankfurt-1-ssd"))?)
        .await
        .err()
        .context("a foreign class is refused")?
        .to_string();
    ensure!(
        foreign.contains(
            r#"spec.storageClassName "frankfurt-1-ssd" is not a storage class of astana-1"#
        ),
        "{foreign}"
    );
    let unset = create(claim("unset", None)?)
        .await
        .err()
        .context("a claim without a class is refused")?
        .to_string();
    ensure!(unset.contains("is not set"), "{unset}");
    create(claim("data", Some("astana-1-ssd"))?).await?;
    // Class 1 production may keep volumes in the reserve building too.
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), &prod)
        .create(
            &PostParams::default(),
            &claim("standby", Some("almaty-1-ssd"))?,
        )
        .await?;
    delete_namespaces(&client, &[&dev, &prod]).await
}

/// R-ENV-02, R-SW-01, R-SW-02, R-SW-03: the catalog decides which images run, matched
/// by exact repository, for every kind of container.
#[tokio::test]
async fn r_sw_01_r_env_02_r_sw_03_only_catalog_software_allowed_at_that_stage_runs() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let dev = environment(&client, "development", 2, "agency-mon").await?;
    let trial = environment(&client, "trial", 2, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &dev);

    // Allowed: system software of the catalog, with its dependency.
    pods.create(
        &PostParams::default(),
        &pod(
            "allowed",
            &[TRUSTED, "registry.akp.kz/platform/kafka:3.7"],
            json!({}),
        ),
    )
    .await?;

    let portal = "registry.akp.kz/agency-mon/e-license-portal:1.0";
    let stage = refused(&pods, &pod("stage", &[portal], json!({}))).await?;
    ensure!(
        stage.contains(r#"spec.containers[0].image: image "registry.akp.kz/agency-mon/e-license-portal:1.0" is catalog item e-license-portal which is not allowed in the development environment (R-ENV-02)"#),
        "{stage}"
    );
    // The same application is allowed in trial operation.
    Api::<Pod>::namespaced(client.clone(), &trial)
        .create(&PostParams::default(), &pod("portal", &[portal], json!({})))
        .await?;

    // One image each, refused with its message.
    for (name, image, message) in [
        (
            "expired",
            "registry.akp.kz/platform/legacy-tool:2",
            "spec.containers[0].image: catalog item legacy-tool (register entry RU-2023-0007) has documents valid until 2026-06-30, expired (R-SW-02)",
        ),
        (
            "evil",
            "registry.akp.kz/platform/postgresql-evil:16",
            r#"spec.containers[0].image: image "registry.akp.kz/platform/postgresql-evil:16" (repository registry.akp.kz/platform/postgresql-evil) is in no SoftwareCatalogItem (R-SW-01)"#,
        ),
        (
            "orphan",
            "registry.akp.kz/platform/orphan-lib:1",
            "spec.containers[0].image: catalog item orphan-lib depends on missing-base, which is not in the catalog (R-SW-03)",
        ),
        // Removed from the register (004 p.10): refused like expired software (R-SW-02).
        (
            "withdrawn",
            "registry.akp.kz/platform/withdrawn-tool:1",
            "spec.containers[0].image: catalog item withdrawn-tool (register entry RU-2025-0400) was removed from the register of trusted software on 2026-11-20 (order 12 of 2026-11-19) (R-SW-02)",
        ),
        // A dependency in the catalog but not in the register (R-SW-03).
        (
            "on-unregistered",
            "registry.akp.kz/platform/on-unregistered:1",
            "spec.containers[0].image: catalog item on-unregistered depends on unregistered-base, which has no entry in the register of trusted software (R-SW-03)",
        ),
    ] {
        let got = refused(&pods, &pod(name, &[image], json!({}))).await?;
        ensure!(got.contains(message), "{name}: {got}");
    }

    let init = refused(
        &pods,
        &pod(
            "init",
            &[TRUSTED],
            json!({"initContainers": [{"name": "fetch", "image": "docker.io/curlimages/curl:8.10.1"}]}),
        ),
    )
    .await?;
    ensure!(
        init.contains(r#"spec.initContainers[0].image: image "docker.io/curlimages/curl:8.10.1" (repository docker.io/curlimages/curl) is in no SoftwareCatalogItem (R-SW-01)"#),
        "{init}"
    );
    // The unregistered base itself, software the register does not have, runs on its
    // own (R-SW-01).
    pods.create(
        &PostParams::default(),
        &pod(
            "base",
            &["registry.akp.kz/platform/unregistered-base:1"],
            json!({}),
        ),
    )
    .await?;

    // Several offending fields: every one is listed.
    let several = refused(
        &pods,
        &pod("several", &["busybox", TRUSTED, "nginx:1.27"], json!({})),
    )
    .await?;
    ensure!(
        several.contains("2 problems: spec.containers[0].image: image \"busybox\"")
            && several.contains("; spec.containers[2].image: image \"nginx:1.27\""),
        "{several}"
    );
    delete_namespaces(&client, &[&dev, &trial]).await
}

/// R-SW-01: an ephemeral container (kubectl debug) goes through the
/// pods/ephemeralcontainers subresource, and is judged like any container.
#[tokio::test]
async fn r_sw_01_an_ephemeral_container_with_an_untrusted_image_is_refused() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let ns = environment(&client, "testing", 2, "agency-mon").await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    pods.create(
        &PostParams::default(),
        &pod("debugged", &[TRUSTED], json!({})),
    )
    .await?;
    let debug = |image: &str| {
        json!({"spec": {"ephemeralContainers": [
            {"name": "debugger", "image": image, "stdin": true, "tty": true}
        ]}})
    };
    let untrusted = pods
        .patch_subresource(
            "ephemeralcontainers",
            "debugged",
            &PatchParams::default(),
            &Patch::Strategic(debug("busybox:1.36")),
        )
        .await
        .err()
        .context("an untrusted debugger is refused")?
        .to_string();
    ensure!(
        untrusted.contains(r#"spec.ephemeralContainers[0].image: image "busybox:1.36" (repository docker.io/library/busybox) is in no SoftwareCatalogItem (R-SW-01)"#),
        "{untrusted}"
    );
    pods.patch_subresource(
        "ephemeralcontainers",
        "debugged",
        &PatchParams::default(),
        &Patch::Strategic(debug("registry.akp.kz/platform/debian:12")),
    )
    .await
    .context("a trusted debugger is admitted")?;

    // Swapping a running container's image for an untrusted one is refused too.
    let swapped = pods
        .patch(
            "debugged",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "c0", "image": "postgres:16"}]}}),
            ),
        )
        .await
        .err()
        .context("an untrusted image swap is refused")?
        .to_string();
    ensure!(
        swapped.contains("spec.containers[0].image: image \"postgres:16\""),
        "{swapped}"
    );
    delete_namespaces(&client, &[&ns]).await
}

/// R-SW-02: software whose register documents expire within 30 days is admitted with a
/// warning the client sees, a Warning event on the product and the metric.
#[tokio::test]
async fn r_sw_02_expiring_software_is_admitted_with_a_warning_an_event_and_a_metric() -> Result<()>
{
    let shared = shared()?;
    let client = control_plane()?.admin_client().await?;
    let product_ns = plain_namespace(&client, "agency").await?;
    let ns = environment(&client, "production", 2, &product_ns).await?;
    let before = shared.metrics.catalog_expiring("redis-7");

    // kube's typed calls drop response headers: send the create ourselves.
    let body = serde_json::to_vec(&pod(
        "cache",
        &["registry.akp.kz/platform/redis:7.4"],
        json!({}),
    ))?;
    let request = http::Request::post(format!("/api/v1/namespaces/{ns}/pods"))
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body))?;
    let response = client.send(request).await?;
    ensure!(
        response.status().is_success(),
        "admitted: {}",
        response.status()
    );
    let warnings: Vec<String> = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    ensure!(
        warnings.iter().any(|w| w.contains(
            "catalog item redis-7 (register entry RU-2025-0140) documents expire on 2026-12-15: renewal is due at least 30 days before (R-SW-02)"
        )),
        "{warnings:?}"
    );
    ensure!(
        shared.metrics.catalog_expiring("redis-7") > before,
        "the metric counts the use"
    );

    let events =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), &product_ns);
    let note = eventually(
        "the expiry event on the product",
        Duration::from_secs(20),
        || async {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find_map(|e| {
                let on_product = e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some("PlatformSoftwareProduct")
                        && r.name.as_deref() == Some("e-license")
                });
                (on_product
                    && e.reason.as_deref() == Some(EXPIRING_REASON)
                    && e.type_.as_deref() == Some("Warning"))
                .then(|| e.note.unwrap_or_default())
            }))
        },
    )
    .await?;
    ensure!(
        note.contains(&format!(
            "pod {ns}/cache was admitted with catalog item redis-7"
        )) && note.contains("expire on 2026-12-15")
            && note.contains("(R-SW-02)"),
        "{note}"
    );
    delete_namespaces(&client, &[&ns, &product_ns]).await
}

/// The webhooks never touch system namespaces (nor any namespace without the
/// environment label): there any image runs anywhere, unpatched.
#[tokio::test]
async fn r_plc_01_system_namespaces_are_never_touched() -> Result<()> {
    shared()?;
    let client = control_plane()?.admin_client().await?;
    let plain = plain_namespace(&client, "plain").await?;
    for ns in ["default", "kube-system", plain.as_str()] {
        let pods = Api::<Pod>::namespaced(client.clone(), ns);
        let name = format!("untouched-{}", plain.rsplit('-').next().unwrap_or("x"));
        let created = pods
            .create(
                &PostParams::default(),
                &pod(
                    &name,
                    &["busybox:latest"],
                    json!({"nodeSelector": {ZONE: "frankfurt-1"},
                           "tolerations": [{"key": "akp.egov.kz/quarantine", "operator": "Exists"}]}),
                ),
            )
            .await
            .with_context(|| format!("a pod in {ns} is admitted"))?;
        ensure!(affinity(&created).is_none(), "no affinity added in {ns}");
        pods.delete(&name, &DeleteParams::background()).await?;
    }
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "anywhere"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "frankfurt-1-ssd"}
    }))?;
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), &plain)
        .create(&PostParams::default(), &pvc)
        .await?;
    delete_namespaces(&client, &[&plain]).await
}

/// The MutatingWebhookConfiguration's caBundle is kept by the same code path as the
/// validating one: patched when it differs, left alone when it does not, and a missing
/// configuration is named.
#[tokio::test]
async fn the_mutating_configuration_gets_its_ca_bundle_patched() -> Result<()> {
    let cp = control_plane()?;
    let client = cp.admin_client().await?;
    let name = format!(
        "akp-operator-ca-{}",
        plain_namespace(&client, "ca")
            .await?
            .rsplit('-')
            .next()
            .unwrap_or("x")
    );
    let mut config =
        mutating_webhook_configuration(&WebhookEndpoint::Url("https://127.0.0.1:1".into()), None);
    config.metadata.name = Some(name.clone());
    // Scoped to no namespace, so it never answers for the other tests.
    for hook in config.webhooks.iter_mut().flatten() {
        hook.namespace_selector = Some(serde_json::from_value(
            json!({"matchLabels": {"akp.test/nothing": "here"}}),
        )?);
    }
    apply_configuration(&client, &config).await?;
    patch_mutating_ca_bundle(&client, &name, cp.ca_cert_pem()).await?;
    let configs = Api::<MutatingWebhookConfiguration>::all(client.clone());
    let patched = configs.get(&name).await?;
    ensure!(
        patched.webhooks.iter().flatten().all(|w| w
            .client_config
            .ca_bundle
            .as_ref()
            .map(|b| b.0.as_slice())
            == Some(cp.ca_cert_pem().as_bytes())),
        "every mutating webhook has the caBundle"
    );
    patch_mutating_ca_bundle(&client, &name, cp.ca_cert_pem()).await?;
    ensure!(
        configs.get(&name).await?.resource_version() == patched.resource_version(),
        "an unchanged caBundle is not written again"
    );
    let missing = patch_mutating_ca_bundle(&client, "akp-no-such-configuration", "PEM")
        .await
        .err()
        .context("a missing configuration is an error")?;
    ensure!(
        missing.to_string()
            == "MutatingWebhookConfiguration akp-no-such-configuration does not exist",
        "{missing}"
    );
    configs.delete(&name, &DeleteParams::default()).await?;
    Ok(())
}
