//! The NetworkPolicies the operator generates, checked against a table of
//! (from, to, port) → allowed or denied, covering every rule of R-SEG (no CNI runs here).
//!
//! The table is judged twice:
//! - on the policies the builder plans, by our own evaluator (`akp_test_support::netpol`),
//!   without a control plane;
//! - on the policies the operator wrote into a real API server, read back from it, by our
//!   evaluator and by cyclonus (`github.com/mattfenwick/cyclonus`, built by
//!   `tools/build.sh`), a NetworkPolicy engine no one here wrote. Both must give the
//!   table's verdict on every row.
//!
//! What neither engine models, and how the table stands in for it:
//! - Host-network pods. Such a pod shares its node's network namespace: policies see its
//!   node's address and no pod selector selects it (what the common CNIs do). The table
//!   gives it its node's address, as an address outside the pod network; its rows show why
//!   admission must refuse `hostNetwork` (its egress is no namespace's).
//! - ipBlock on pod addresses. The API leaves it to the implementation whether an ipBlock
//!   matches in-cluster addresses; both engines match by address. The generated ipBlock
//!   excepts the cluster's ranges, so no row depends on that choice.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_operator::clock::ManualClock;
use akp_operator::product::build::{Child, plan};
use akp_operator::product::segmentation::Segmentation;
use akp_operator::product::validate::validate;
use akp_test_support::fixtures::is_ready;
use akp_test_support::netpol::{Endpoint, World};
use akp_test_support::operator::{OPERATOR_USER, Operator, eventually};
use akp_test_support::{
    Binaries, ControlPlane, Options, apply_examples, ensure_namespace, names, repo_root,
};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const TESTER: &str = "akp-tests";

/// The example products whose environments the table talks about.
const PRODUCTS: [&str; 3] = [
    "products/e-license.yaml",
    "products/e-health-records.yaml",
    "products/tax-check.yaml",
];

/// The platform's namespaces the table names, besides kube-system.
const PLATFORM: [&str; 5] = [
    "egov-gateway",
    "akp-ingress",
    "monitoring",
    "dmz",
    "default",
];

fn load<T: serde::de::DeserializeOwned>(path: &str) -> Vec<T> {
    let text = std::fs::read_to_string(repo_root().join("examples").join(path)).expect("example");
    serde_saphyr::from_multiple(&text).expect("yaml")
}

/// The platform as the builder plans it: the example products' environments plus the
/// gateway, ingress, monitoring, DMZ, kube-system and a namespace of no product.
fn world(config: &Segmentation) -> World {
    let agencies: Vec<Agency> = load("agencies.yaml");
    let mut w = World::default();
    for file in PRODUCTS {
        let mut product: Vec<PlatformSoftwareProduct> = load(file);
        let product = product.remove(0);
        let v = validate(&product, agencies.iter()).expect("valid example");
        for env in plan(&v, config, &[]).environments {
            let name = env.namespace.metadata.name.clone().expect("name");
            w.namespace(
                &name,
                env.namespace.metadata.labels.clone().unwrap_or_default(),
            );
            for child in env.objects {
                if let Child::Policy(p) = child {
                    w.policies.push(p);
                }
            }
        }
    }
    for ns in PLATFORM.into_iter().chain(["kube-system"]) {
        w.namespace(ns, Default::default());
    }
    w
}

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, n)
}

/// One connection of the table and whether the policies must admit it.
struct Row {
    what: &'static str,
    from: Endpoint,
    to: Endpoint,
    port: i32,
    protocol: &'static str,
    allowed: bool,
}

fn row(
    what: &'static str,
    from: &Endpoint,
    to: &Endpoint,
    port: i32,
    protocol: &'static str,
    allowed: bool,
) -> Row {
    Row {
        what,
        from: from.clone(),
        to: to.clone(),
        port,
        protocol,
        allowed,
    }
}

/// The R-SEG table. e-license: external, Internet-facing, trial operation.
/// e-health-records: internal, production. tax-check: internal, preliminary testing.
fn table() -> Vec<Row> {
    let ext_trial = Endpoint::pod("mon-e-license-trial", ip(1));
    let ext_trial_2 = Endpoint::pod("mon-e-license-trial", ip(2));
    let ext_dev = Endpoint::pod("mon-e-license-development", ip(3));
    let int_prod = Endpoint::pod("mz-e-health-records-production", ip(4));
    let int_dev = Endpoint::pod("mz-e-health-records-development", ip(5));
    let other_int = Endpoint::pod("mf-tax-check-testing", ip(6));
    let gateway = Endpoint::pod("egov-gateway", ip(7));
    let ingress = Endpoint::pod("akp-ingress", ip(8));
    let monitoring = Endpoint::pod("monitoring", ip(9));
    let dns = Endpoint::labelled("kube-system", &[("k8s-app", "kube-dns")], ip(10));
    let apiserver_like = Endpoint::pod("kube-system", ip(11));
    let stranger = Endpoint::pod("default", ip(12));
    let internet = Endpoint::External(Ipv4Addr::new(8, 8, 8, 8));
    let cluster_address = Endpoint::External(Ipv4Addr::new(10, 96, 0, 1));
    // A host-network pod of any namespace: to policies, its node's address.
    let host_network = Endpoint::External(Ipv4Addr::new(192, 168, 1, 10));
    vec![
        row(
            "R-SEG-01 own pods talk",
            &ext_trial,
            &ext_trial_2,
            8080,
            "TCP",
            true,
        ),
        row(
            "R-SEG-02 the gateway reaches the internal contour",
            &gateway,
            &int_prod,
            8443,
            "TCP",
            true,
        ),
        row(
            "R-SEG-02 the external contour reaches the gateway",
            &ext_trial,
            &gateway,
            443,
            "TCP",
            true,
        ),
        row(
            "R-SEG-03 the external contour never reaches internal pods directly",
            &ext_trial,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-03 nor does its development environment",
            &ext_dev,
            &int_dev,
            5432,
            "TCP",
            false,
        ),
        row(
            "R-SEG-02 the ingress reaches the external contour",
            &ingress,
            &ext_trial,
            8080,
            "TCP",
            true,
        ),
        row(
            "R-SEG-03 the ingress does not reach the internal contour",
            &ingress,
            &int_prod,
            8080,
            "TCP",
            false,
        ),
        row(
            "R-SEG-02 an Internet-facing product reaches the Internet",
            &ext_trial,
            &internet,
            443,
            "TCP",
            true,
        ),
        row(
            "R-SEG-03 Internet egress excludes the cluster's addresses",
            &ext_trial,
            &cluster_address,
            443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-03 an internal product does not reach the Internet",
            &int_prod,
            &internet,
            443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-03 the Internet does not reach a pod directly",
            &internet,
            &ext_trial,
            8080,
            "TCP",
            false,
        ),
        row(
            "R-SEG-04 non-production never reaches production",
            &int_dev,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-04 production does not reach non-production either",
            &int_prod,
            &int_dev,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-02 products meet only through the gateway",
            &other_int,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-02 and call the gateway",
            &other_int,
            &gateway,
            443,
            "TCP",
            true,
        ),
        row(
            "R-MON-01 monitoring scrapes every environment",
            &monitoring,
            &int_prod,
            9090,
            "TCP",
            true,
        ),
        row(
            "R-MON-01 monitoring scrapes the external contour too",
            &monitoring,
            &ext_trial,
            9090,
            "TCP",
            true,
        ),
        row("cluster DNS over UDP", &int_prod, &dns, 53, "UDP", true),
        row("cluster DNS over TCP", &ext_trial, &dns, 53, "TCP", true),
        row(
            "DNS pods only on port 53",
            &int_prod,
            &dns,
            80,
            "TCP",
            false,
        ),
        row(
            "no other kube-system pod",
            &int_prod,
            &apiserver_like,
            443,
            "TCP",
            false,
        ),
        row(
            "a namespace of no product is outside",
            &stranger,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        row(
            "and cannot be reached",
            &int_prod,
            &stranger,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-03 a host-network pod is its node's address: the internal contour refuses it",
            &host_network,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-03 an environment does not reach a host-network pod (a cluster address)",
            &ext_trial,
            &host_network,
            443,
            "TCP",
            false,
        ),
        row(
            "R-SEG-02 a host-network pod's egress is no namespace's, hence refused at admission",
            &host_network,
            &stranger,
            8443,
            "TCP",
            true,
        ),
    ]
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

/// The table with each judge's verdict beside the expected one, rows where any judge
/// differs marked `✗`; `None` when every judge gives the expected verdict on every row.
fn disagreements(rows: &[Row], judges: &[(&str, &[bool])]) -> Option<String> {
    let wrong = |i: usize| judges.iter().any(|(_, v)| v[i] != rows[i].allowed);
    let count = (0..rows.len()).filter(|&i| wrong(i)).count();
    if count == 0 {
        return None;
    }
    let mut out = format!("{count} of {} rows wrong:\n   expected", rows.len());
    for (name, _) in judges {
        let _ = write!(out, "  {name:<9}");
    }
    out.push_str("  row\n");
    for (i, r) in rows.iter().enumerate() {
        let mark = if wrong(i) { "✗" } else { " " };
        let _ = write!(out, "{mark}  {:<8}", verdict(r.allowed));
        for (name, v) in judges {
            let _ = write!(out, "  {:<w$}", verdict(v[i]), w = name.len().max(9));
        }
        let _ = writeln!(out, "  {} ({}/{})", r.what, r.port, r.protocol);
    }
    Some(out)
}

fn netpol_verdicts(w: &World, rows: &[Row]) -> Vec<bool> {
    rows.iter()
        .map(|r| w.allowed(&r.from, &r.to, r.port, r.protocol))
        .collect()
}

#[test]
fn r_seg_the_generated_policies_admit_exactly_the_table() {
    let rows = table();
    let ours = netpol_verdicts(&world(&Segmentation::default()), &rows);
    if let Some(diff) = disagreements(&rows, &[("netpol.rs", &ours)]) {
        panic!("{diff}");
    }
}

/// Applies the example agencies and products, lets the operator reconcile them, and
/// reads back what it wrote: every Namespace with its labels and every NetworkPolicy.
async fn world_in_api_server(client: &Client) -> Result<World> {
    apply_examples(client, &["agencies.yaml"], TESTER).await?;
    let agencies = Api::<Agency>::all(client.clone());
    for name in ["mon", "mz", "mf"] {
        eventually(
            &format!("agency {name} Ready"),
            Duration::from_secs(60),
            || async {
                let a = agencies.get(name).await?;
                Ok(a.status
                    .is_some_and(|s| is_ready(&s.conditions))
                    .then_some(()))
            },
        )
        .await?;
    }
    apply_examples(client, &PRODUCTS, TESTER).await?;
    for ns in PLATFORM {
        ensure_namespace(client, ns).await?;
    }
    let products = Api::<PlatformSoftwareProduct>::all(client.clone());
    eventually(
        "every product Ready with both policies in each environment",
        Duration::from_secs(90),
        || async {
            let list = products.list(&ListParams::default()).await?;
            ensure!(list.items.len() == PRODUCTS.len(), "products missing");
            for p in &list.items {
                let s = p.status.clone().unwrap_or_default();
                if !is_ready(&s.conditions) || s.observed_generation != p.metadata.generation {
                    return Ok(None);
                }
                for env in &s.environments {
                    let names: BTreeSet<String> = names(&Api::<NetworkPolicy>::namespaced(
                        client.clone(),
                        &env.namespace,
                    ))
                    .await?
                    .into_iter()
                    .collect();
                    if !names.contains("akp-default-deny") || !names.contains("akp-contour") {
                        return Ok(None);
                    }
                }
            }
            Ok(Some(()))
        },
    )
    .await?;
    let mut w = World::default();
    for ns in Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await?
    {
        let labels = ns.labels().clone();
        w.namespace(&ns.name_any(), labels);
    }
    w.policies = Api::<NetworkPolicy>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    Ok(w)
}

/// A cyclonus traffic peer: a pod by its namespace, the namespace's labels and its own
/// labels; anything else by its address alone.
fn cyclonus_peer(w: &World, e: &Endpoint) -> Result<Value> {
    Ok(match e {
        Endpoint::Pod {
            namespace,
            labels,
            ip,
        } => {
            let ns_labels = w
                .namespaces
                .get(namespace)
                .with_context(|| format!("namespace {namespace} is not in the API server"))?;
            json!({
                "Internal": {"Namespace": namespace, "NamespaceLabels": ns_labels, "PodLabels": labels},
                "IP": ip.to_string(),
            })
        }
        Endpoint::External(ip) => json!({"Internal": null, "IP": ip.to_string()}),
    })
}

/// cyclonus's verdict on each row and its explanation (the tables it prints), from the
/// policies of `w` written out as a NetworkPolicyList and the rows as its traffic
/// queries (`cyclonus analyze --mode query-traffic`).
fn cyclonus_verdicts(
    cyclonus: &Path,
    w: &World,
    rows: &[Row],
    dir: &Path,
) -> Result<(Vec<bool>, Vec<String>)> {
    let policy_dir = dir.join("policies");
    std::fs::create_dir_all(&policy_dir)?;
    let list = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicyList",
        "items": w.policies,
    });
    // JSON is YAML; cyclonus parses it strictly, so an unknown field would fail here.
    std::fs::write(
        policy_dir.join("policies.json"),
        serde_json::to_vec_pretty(&list)?,
    )?;
    let traffic: Vec<Value> = rows
        .iter()
        .map(|r| {
            Ok(json!({
                "Source": cyclonus_peer(w, &r.from)?,
                "Destination": cyclonus_peer(w, &r.to)?,
                "ResolvedPort": r.port,
                "ResolvedPortName": "",
                "Protocol": r.protocol,
            }))
        })
        .collect::<Result<_>>()?;
    let traffic_path = dir.join("traffic.json");
    std::fs::write(&traffic_path, serde_json::to_vec_pretty(&traffic)?)?;
    let out = Command::new(cyclonus)
        .args(["analyze", "--mode", "query-traffic", "--policy-path"])
        .arg(&policy_dir)
        .arg("--traffic-path")
        .arg(&traffic_path)
        .output()
        .with_context(|| format!("running {}", cyclonus.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cyclonus failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_query_traffic(&stdout, rows.len())
}

/// Each query's block of `cyclonus analyze --mode query-traffic` output starts with
/// `Traffic:` and ends in a table whose footer reads `IS ALLOWED? | TRUE` (or `FALSE`).
fn parse_query_traffic(stdout: &str, queries: usize) -> Result<(Vec<bool>, Vec<String>)> {
    let blocks: Vec<&str> = stdout.split("Traffic:\n").skip(1).collect();
    ensure!(
        blocks.len() == queries,
        "cyclonus answered {} of {queries} queries:\n{stdout}",
        blocks.len()
    );
    let verdicts = blocks
        .iter()
        .map(|b| {
            let footer = b
                .lines()
                .map(str::to_lowercase)
                .find(|l| l.contains("is allowed?"))
                .with_context(|| format!("no verdict in cyclonus's answer:\n{b}"))?;
            let words: Vec<&str> = footer
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            match (words.contains(&"true"), words.contains(&"false")) {
                (true, false) => Ok(true),
                (false, true) => Ok(false),
                _ => bail!("unreadable verdict {footer:?} in:\n{b}"),
            }
        })
        .collect::<Result<_>>()?;
    Ok((verdicts, blocks.iter().map(|b| b.to_string()).collect()))
}

/// R-SEG-01..04, R-MON-01: the policies the operator wrote into a real API server, read
/// back from it, admit exactly the table, according to our evaluator and to cyclonus alike.
#[tokio::test]
async fn r_seg_the_policies_in_the_api_server_admit_exactly_the_table_by_two_engines() -> Result<()>
{
    let cyclonus = Binaries::locate()?.cyclonus;
    Binaries::require(&cyclonus)?;
    // Its own control plane: an operator acts on the whole cluster.
    let cp = ControlPlane::start(Options::default().with_crds())?;
    let admin = cp.admin_client().await?;
    let clock = ManualClock::new("2026-10-01T00:00:00Z".parse()?);
    let operator = Operator::start(
        cp.client_for(OPERATOR_USER, &["system:masters"]).await?,
        &clock,
    );
    let w = world_in_api_server(&admin).await;
    operator.stop().await;
    let w = w?;
    let rows = table();
    let ours = netpol_verdicts(&w, &rows);
    let dir = tempfile::tempdir()?;
    let (theirs, explanations) = cyclonus_verdicts(&cyclonus, &w, &rows, dir.path())?;
    if let Some(diff) = disagreements(&rows, &[("netpol.rs", &ours), ("cyclonus", &theirs)]) {
        let kept = dir.keep();
        let mut why = String::new();
        for (i, r) in rows.iter().enumerate() {
            if theirs[i] != r.allowed || ours[i] != r.allowed {
                let _ = write!(why, "\ncyclonus on {:?}:\n{}", r.what, explanations[i]);
            }
        }
        bail!(
            "{diff}\npolicies and traffic given to cyclonus: {}\n{why}",
            kept.display()
        );
    }
    Ok(())
}

#[test]
fn r_seg_02_a_screened_subnet_is_the_other_way_between_contours() {
    let config = Segmentation {
        screened_subnet_namespace: Some("dmz".into()),
        ..Segmentation::default()
    };
    let w = world(&config);
    let dmz = Endpoint::pod("dmz", ip(20));
    let int_prod = Endpoint::pod("mz-e-health-records-production", ip(4));
    let ext_trial = Endpoint::pod("mon-e-license-trial", ip(1));
    assert!(w.allowed(&ext_trial, &dmz, 443, "TCP"));
    assert!(w.allowed(&dmz, &int_prod, 8443, "TCP"));
    assert!(
        !w.allowed(&ext_trial, &int_prod, 8443, "TCP"),
        "still not directly"
    );
    // Without the DMZ configured, the same namespace is a stranger.
    let w = world(&Segmentation::default());
    assert!(!w.allowed(&dmz, &int_prod, 8443, "TCP"));
}

#[test]
fn r_seg_02_an_external_product_that_is_not_internet_facing_has_no_internet() {
    let agencies: Vec<Agency> = load("agencies.yaml");
    let mut products: Vec<PlatformSoftwareProduct> = load("products/e-license.yaml");
    let mut product = products.remove(0);
    product.spec.internet_facing = false;
    let v = validate(&product, agencies.iter()).expect("valid");
    let mut w = World::default();
    for env in plan(&v, &Segmentation::default(), &[]).environments {
        w.namespace(
            env.namespace.metadata.name.as_deref().unwrap_or_default(),
            Default::default(),
        );
        w.policies
            .extend(env.objects.into_iter().filter_map(|c| match c {
                Child::Policy(p) => Some(p),
                _ => None,
            }));
    }
    let pod = Endpoint::pod("mon-e-license-trial", ip(1));
    assert!(!w.allowed(
        &pod,
        &Endpoint::External(Ipv4Addr::new(8, 8, 8, 8)),
        443,
        "TCP"
    ));
}
