//! The demo: a local control plane with the API, the example agencies, sites, catalog,
//! tariffs and products, shown as an SRE sees them with kubectl, and bad input refused
//! by the API server. `--keep` leaves the cluster running until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_test_support::operator::operator_args;

use akp_test_support::{
    Binaries, ControlPlane, Options, apply, apply_examples, create_site_nodes, documents,
    ensure_namespace, free_port, repo_root, yaml_files,
};
use anyhow::{Context, Result};
use kube::api::{Api, PostParams};

const MANAGER: &str = "akp-demo";

struct Demo {
    started: Instant,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    /// PATH with this binary's directory first, where `kubectl-pbo` is built, so that
    /// kubectl finds the plugin.
    path: std::ffi::OsString,
}

impl Demo {
    fn step(&self, what: &str) {
        println!(
            "\n\x1b[1m[{:>5.1}s] {what}\x1b[0m",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Runs kubectl and shows its command line and output, as an SRE would see it.
    fn kubectl(&self, args: &[&str]) -> Result<bool> {
        self.kubectl_as(&self.kubeconfig, args)
    }

    /// [`Demo::kubectl`] with the credentials of `kubeconfig`.
    fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Result<bool> {
        println!("$ kubectl {}", args.join(" "));
        let out = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("PATH", &self.path)
            .current_dir(repo_root())
            .output()
            .with_context(|| format!("running {}", self.kubectl.display()))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        print!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(out.status.success())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let keep = std::env::args().any(|a| a == "--keep");
    let out_dir = repo_root().join("out").join("demo");
    std::fs::create_dir_all(&out_dir)?;
    let started = Instant::now();
    println!(
        "AKP demo: a real kube-apiserver, etcd, scheduler, controller manager and kwok on loopback"
    );

    let cp = ControlPlane::start(Options {
        crds: true,
        // kwok serves each node's kubelet /metrics/resource, for the live metering.
        kwok_metrics: true,
        ..Options::full()
    })?;
    let kubeconfig = out_dir.join("kubeconfig");
    std::fs::copy(cp.kubeconfig_path(), &kubeconfig)?;
    let demo = Demo {
        started,
        kubectl: Binaries::locate()?.kubectl,
        kubeconfig,
        path: plugin_path()?,
    };
    demo.step(&format!(
        "control plane ready in {:.1}s; CRDs installed",
        cp.startup_duration().as_secs_f64()
    ));
    let client = cp.admin_client().await?;
    demo.kubectl(&["get", "crds"])?;

    demo.step("nodes: two server buildings in Kazakhstan and one abroad (kwok makes them Ready)");
    create_site_nodes(
        &client,
        &[
            ("astana-1-a", "astana-1", "KZ"),
            ("astana-1-b", "astana-1", "KZ"),
            ("almaty-1-a", "almaty-1", "KZ"),
            ("frankfurt-1-a", "frankfurt-1", "DE"),
        ],
    )
    .await?;
    apply_examples(&client, &["agencies.yaml", "sites.yaml"], MANAGER).await?;
    demo.kubectl(&["get", "agencies"])?;
    demo.kubectl(&["get", "sites"])?;
    demo.kubectl(&[
        "get",
        "nodes",
        "-L",
        "topology.kubernetes.io/zone",
        "-L",
        akp_crds::site::COUNTRY_LABEL,
    ])?;

    demo.step("the trusted-software catalog and the tariffs");
    apply_examples(&client, &["catalog.yaml", "tariffs.yaml"], MANAGER).await?;
    demo.kubectl(&["get", "softwarecatalogitems"])?;
    demo.kubectl(&["get", "tariffs"])?;

    demo.step("the operator starts: agency namespaces and their access (R-LC-08)");
    let operator_bin = std::env::var_os("AKP_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/akp-operator"));
    let operator_log = out_dir.join("operator.log");
    ensure_namespace(&client, "akp-system").await?;
    let _operator = Child::spawn(
        Command::new(&operator_bin)
            .args(operator_args(free_port()?))
            .env("KUBECONFIG", &demo.kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(std::fs::File::create(&operator_log)?)
            .stderr(std::fs::File::create(out_dir.join("operator.err"))?),
    )
    .with_context(|| format!("starting {}", operator_bin.display()))?;
    wait_until(&demo, "agencies Ready", || async {
        let agencies = Api::<Agency>::all(client.clone())
            .list(&Default::default())
            .await?;
        Ok(!agencies.items.is_empty()
            && agencies
                .items
                .iter()
                .all(|a| ready(a.status.as_ref().map(|s| s.conditions.as_slice()))))
    })
    .await?;
    demo.kubectl(&["get", "agencies"])?;

    demo.step(
        "agencies create their products; the operator gives each the environments of its stage",
    );
    apply_dir(&client, &repo_root().join("examples").join("products"), &[]).await?;
    wait_until(&demo, "products Ready", || async {
        let products = Api::<PlatformSoftwareProduct>::all(client.clone())
            .list(&Default::default())
            .await?;
        Ok(products.items.len() >= 4
            && products
                .items
                .iter()
                .all(|p| ready(p.status.as_ref().map(|s| s.conditions.as_slice()))))
    })
    .await?;
    demo.kubectl(&["get", "pbo", "-A"])?;
    demo.kubectl(&[
        "get",
        "namespaces",
        "-l",
        "akp.egov.kz/environment",
        "-L",
        "akp.egov.kz/environment",
        "-L",
        "akp.egov.kz/contour",
        "-L",
        "akp.egov.kz/class",
    ])?;
    demo.kubectl(&[
        "get",
        "resourcequota,limitrange,rolebinding,networkpolicy",
        "-n",
        "mon-e-license-trial",
    ])?;

    demo.step("the operator's webhook refuses what needs other objects to judge");
    let mut stray = documents(&repo_root().join("examples/products/tax-check.yaml"))?
        .into_iter()
        .next()
        .context("tax-check")?;
    stray["metadata"]["namespace"] = "default".into();
    println!("a product created in namespace default, which belongs to no agency:");
    show_refusal(
        apply(&client, &stray, None, MANAGER).await,
        "a product outside every agency namespace was accepted",
    )?;

    demo.step("school-enrolment walks its stages: preliminary testing, then trial operation once its acts are signed");
    let enrolment = repo_root().join("examples/products/school-enrolment.yaml");
    let mut doc = documents(&enrolment)?
        .into_iter()
        .next()
        .context("school-enrolment")?;
    doc["spec"]["stage"] = "trialOperation".into();
    doc["spec"]["environments"]["trial"] =
        serde_json::json!({"cpu": "4", "memory": "8Gi", "storage": "40Gi"});
    println!("trying trialOperation straight from development:");
    show_refusal(
        apply(&client, &doc, None, MANAGER).await,
        "skipping two stages was accepted",
    )?;
    for (stage, acts) in [
        ("preliminaryTesting", serde_json::json!([])),
        (
            "trialOperation",
            serde_json::json!([
                {"type": "preliminaryTestProtocol", "number": "31", "date": "2026-11-02", "sha256": "480319ad78eb98a195bfe6df582f912e6099c9406a122884b97268d45596c80b"},
                {"type": "trialTransferAct", "number": "32", "date": "2026-11-04", "sha256": "871510a60d8a650aef2497491c8711f6e1e5e74fa141913103d4a5eb679590c9"}
            ]),
        ),
    ] {
        doc["spec"]["stage"] = stage.into();
        doc["spec"]["acts"] = acts;
        apply(&client, &doc, None, MANAGER)
            .await
            .with_context(|| format!("moving school-enrolment to {stage}"))?;
        wait_until(&demo, &format!("school-enrolment at {stage}"), || async {
            let p = Api::<PlatformSoftwareProduct>::namespaced(client.clone(), "agency-mon")
                .get("school-enrolment")
                .await?;
            let at = p.status.as_ref().and_then(|s| s.stage) == Some(p.spec.stage);
            Ok(at && ready(p.status.as_ref().map(|s| s.conditions.as_slice())))
        })
        .await?;
        demo.kubectl(&[
            "get",
            "pbo",
            "school-enrolment",
            "-n",
            "agency-mon",
            "-o",
            "wide",
        ])?;
    }
    demo.kubectl(&["pbo", "status", "school-enrolment", "-n", "agency-mon"])?;
    demo.kubectl(&[
        "get",
        "namespaces",
        "-l",
        "akp.egov.kz/product=school-enrolment",
    ])?;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    demo.kubectl(&[
        "get",
        "events",
        "-n",
        "agency-mon",
        "--field-selector",
        "involvedObject.name=school-enrolment",
        "--sort-by",
        ".metadata.creationTimestamp",
    ])?;

    demo.step("pods stay in Kazakhstan: the webhook binds them to their sites and refuses escapes (R-PLC-01)");
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(
        client.clone(),
        "mon-school-enrolment-development",
    );
    let pod = |name: &str, selector: Option<&str>| -> Result<k8s_openapi::api::core::v1::Pod> {
        let mut spec = serde_json::json!({"containers": [{"name": "db", "image": "registry.akp.kz/platform/postgresql:16"}]});
        if let Some(zone) = selector {
            spec["nodeSelector"] = serde_json::json!({"topology.kubernetes.io/zone": zone});
        }
        Ok(serde_json::from_value(
            serde_json::json!({"metadata": {"name": name}, "spec": spec}),
        )?)
    };
    pods.create(&PostParams::default(), &pod("db-0", None)?)
        .await?;
    wait_until(&demo, "db-0 scheduled", || async {
        Ok(pods
            .get("db-0")
            .await?
            .spec
            .and_then(|s| s.node_name)
            .is_some())
    })
    .await?;
    demo.kubectl(&[
        "get",
        "pods",
        "-n",
        "mon-school-enrolment-development",
        "-o",
        "wide",
    ])?;
    println!("a pod asking for a node in Frankfurt:");
    show_refusal(
        pods.create(
            &PostParams::default(),
            &pod("db-abroad", Some("frankfurt-1"))?,
        )
        .await,
        "a pod asking for a node abroad was admitted",
    )?;
    println!("a pod with an image that is not in the trusted-software catalog:");
    let mut untrusted = pod("hub", None)?;
    if let Some(c) = untrusted
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut())
    {
        c.image = Some("postgres:16".into());
    }
    show_refusal(
        pods.create(&PostParams::default(), &untrusted).await,
        "an untrusted image was admitted",
    )?;
    demo.kubectl(&["get", "sites"])?;

    demo.step("tenants cannot walk around it: no workloads in the agency namespace, no host access (docs/security.md)");
    let miner = || -> Result<k8s_openapi::api::core::v1::Pod> {
        Ok(serde_json::from_value(serde_json::json!({
            "metadata": {"name": "miner"},
            "spec": {"nodeName": "frankfurt-1-a", "containers": [{"name": "m", "image": "docker.io/evil/miner"}]}
        }))?)
    };
    let head = cp.client_for("alice@mon.gov.kz", &[]).await?;
    for (who, client) in [
        ("mon's digitalization head, with her own certificate", &head),
        ("even the platform's administrator", &client),
    ] {
        println!("{who}: a miner pinned to frankfurt-1-a in the agency namespace agency-mon:");
        show_refusal(
            Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), "agency-mon")
                .create(&PostParams::default(), &miner()?)
                .await,
            "a pod in the agency namespace was admitted",
        )?;
    }
    println!("a privileged pod on the node's network in mon-school-enrolment-development:");
    let mut privileged = pod("root", None)?;
    if let Some(spec) = privileged.spec.as_mut() {
        spec.host_network = Some(true);
        if let Some(c) = spec.containers.first_mut() {
            c.security_context = Some(k8s_openapi::api::core::v1::SecurityContext {
                privileged: Some(true),
                ..Default::default()
            });
        }
    }
    show_refusal(
        pods.create(&PostParams::default(), &privileged).await,
        "a privileged pod was admitted",
    )?;
    println!("the same as a Deployment's pod template:");
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "root"},
            "spec": {
                "selector": {"matchLabels": {"app": "root"}},
                "template": {"metadata": {"labels": {"app": "root"}}, "spec": privileged.spec}
            }
        }))?;
    show_refusal(
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
            client.clone(),
            "mon-school-enrolment-development",
        )
        .create(&PostParams::default(), &deployment)
        .await,
        "a privileged Deployment was admitted",
    )?;

    demo.step("bad input is refused by the API server with the field, the rule and the fix");
    for bad in [
        "pbo-internet-facing-internal.yaml",
        "pbo-trial-missing-act.yaml",
        "catalog-image-with-tag.yaml",
    ] {
        let refused = !demo.kubectl(&[
            "apply",
            "-n",
            "agency-mon",
            "-f",
            &format!("examples/invalid/{bad}"),
        ])?;
        anyhow::ensure!(refused, "examples/invalid/{bad} was accepted");
    }

    demo.step(
        "billing: October 2026 metered from Prometheus into the ledger, rated, signed and verified",
    );
    let report_dir = billing(&demo, &client, &out_dir).await?;
    let reports = report_dir.parent().context("reports directory")?;
    demo.kubectl(&[
        "pbo",
        "report",
        "verify",
        "2026-10",
        "--dir",
        &reports.display().to_string(),
        "--public-key",
        &reports.join("signing-key.pub").display().to_string(),
    ])?;
    demo.kubectl(&[
        "pbo",
        "usage",
        "e-health-records",
        "-n",
        "agency-mz",
        "--month",
        "2026-10",
        "--ledger",
        &format!("sqlite://{}", out_dir.join("ledger.db").display()),
    ])?;
    demo.step(
        "today metered live: the pods' usage from kwok's kubelet metrics and kube-state-metrics, scraped by Prometheus, in a short window",
    );
    let live_ledger = live_billing(&cp, &client, &out_dir).await?;
    let today = akp_billing::Calendar::kazakhstan()
        .month_of(akp_billing::Hour::containing(unix_now()))
        .to_string();
    demo.kubectl(&[
        "pbo",
        "usage",
        "school-enrolment",
        "-n",
        "agency-mon",
        "--month",
        &today,
        "--ledger",
        &live_ledger,
    ])?;
    demo.step("each agency sees its own costs: billing writes its UsageStatement of the month so far, with its budget; mon's head reads it with her own certificate");
    statements(&demo, &cp, &client, &live_ledger, &today, &out_dir).await?;
    demo.step("before placement, an agency estimates its monthly bill (R-BIL-04) and its development cost (R-EST-01)");
    demo.kubectl(&["pbo", "estimate", "-f", "examples/products/tax-check.yaml"])?;
    demo.kubectl(&[
        "pbo",
        "estimate-development",
        "-f",
        "examples/development-cost/estimate.yaml",
    ])?;

    demo.step("done");
    println!("kubeconfig: {}", demo.kubeconfig.display());
    println!("billing report: {}", report_dir.display());
    if keep {
        println!(
            "the cluster stays up: export KUBECONFIG={}; Ctrl-C stops it",
            demo.kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// Gives mon a monthly budget, writes the agencies' statements of the live ledger's
/// month, and shows them as an SRE, as mon's head and on billing's /metrics.
async fn statements(
    demo: &Demo,
    cp: &ControlPlane,
    client: &kube::Client,
    ledger_url: &str,
    month: &str,
    out_dir: &Path,
) -> Result<()> {
    use akp_billing::statement::{CostMetrics, StatementsConfig, update};
    use kube::api::{Api, Patch, PatchParams};
    Api::<akp_crds::Agency>::all(client.clone())
        .patch(
            "mon",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"budget": {"monthly": "0.50"}}})),
        )
        .await?;
    let ledger =
        akp_billing::Ledger::open_read_only(ledger_url, akp_billing::Calendar::kazakhstan())
            .await?;
    let metrics = akp_billing::Metrics::new()?;
    let cost = CostMetrics::register(metrics.registry())?;
    let written = update(
        client,
        &ledger,
        &cost,
        &StatementsConfig::default(),
        jiff::Timestamp::now(),
    )
    .await?;
    ledger.close().await;
    println!("  {written} statement(s) written");
    demo.kubectl(&["get", "usagestatements", "-A"])?;
    let alice = out_dir.join("alice.kubeconfig");
    cp.write_kubeconfig_for("alice@mon.gov.kz", &[], &alice)?;
    let usage: Vec<&str> = "pbo usage school-enrolment -n agency-mon --month"
        .split(' ')
        .chain([month])
        .collect();
    demo.kubectl_as(&alice, &usage)?;
    let refused = !demo.kubectl_as(&alice, &["get", "usagestatements", "-n", "agency-mz"])?;
    anyhow::ensure!(refused, "mon's head read mz's statements");
    println!("  billing's /metrics:");
    for line in metrics.encode().lines().filter(|l| {
        l.starts_with("akp_billing_month_to_date_amount") || l.starts_with("akp_billing_budget")
    }) {
        println!("    {line}");
    }
    Ok(())
}

/// Meters a month of generated usage of the products' real environments (a real
/// Prometheus built from TSDB blocks, a SQLite ledger), rates it with the example
/// tariffs, signs the report and verifies it. Returns the report's directory.
async fn billing(demo: &Demo, client: &kube::Client, out_dir: &Path) -> Result<PathBuf> {
    use akp_billing::{Calendar, Collector, Ledger, Metrics, Month};
    use akp_test_support::usage::{Env, STEP, Twists, env_series, test_config};
    use akp_test_support::{OpenMetrics, TestPrometheus};

    let products = Api::<PlatformSoftwareProduct>::all(client.clone())
        .list(&Default::default())
        .await?;
    let mut envs = Vec::new();
    for p in &products.items {
        for e in p.status.iter().flat_map(|s| s.environments.iter()) {
            envs.push(Env {
                idx: envs.len(),
                agency: p
                    .status
                    .as_ref()
                    .and_then(|s| s.agency.clone())
                    .unwrap_or_default(),
                product: kube::ResourceExt::name_any(p),
                environment: e.name.as_str(),
            });
        }
    }
    let calendar = Calendar::kazakhstan();
    let month = Month::parse("2026-10")?;
    let start = calendar.month_start(month).start();
    let t0 = start - 2 * 3600;
    let scrapes = (31 * 24 + 4) * 3600 / STEP;
    let mut om = OpenMetrics::new();
    for env in &envs {
        env_series(&mut om, env, t0, 0..scrapes, &Twists::default());
    }
    println!(
        "  {} samples of {} environments for October 2026 (cAdvisor, kubelet, kube-state-metrics, ingress, gateway)",
        om.len(),
        envs.len()
    );
    let prometheus = TestPrometheus::start(&om)?;
    println!("  Prometheus with the TSDB blocks at {}", prometheus.url());

    let db = out_dir.join("ledger.db");
    let _ = std::fs::remove_file(&db);
    let ledger = Ledger::open(&format!("sqlite://{}", db.display()), calendar.clone()).await?;
    let collector = Collector::new(
        test_config(&prometheus.url(), start),
        ledger.clone(),
        example_catalog()?,
        Metrics::new()?,
    )?;
    let now = calendar.month_start(Month::parse("2026-11")?).start() + 10 * 86_400;
    let cycle = collector.collect(now).await?;
    println!(
        "  metered: {} windows, {} queries (at most {} per window, whatever the number of environments), {} ledger rows; months closed: {:?}",
        cycle.windows,
        cycle.queries,
        cycle.max_queries_per_window,
        cycle.rows,
        cycle
            .months_closed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    wait_until(demo, "October closed", || async {
        Ok(ledger.closed_through().await?.is_some_and(|m| m >= month))
    })
    .await?;

    let tariffs: Vec<akp_crds::Tariff> = Api::<akp_crds::Tariff>::all(client.clone())
        .list(&Default::default())
        .await?
        .items;
    let agencies: Vec<Agency> = Api::<Agency>::all(client.clone())
        .list(&Default::default())
        .await?
        .items;
    let book = akp_rules::billing::rating::TariffBook::new(&tariffs)?;
    let request = akp_billing::report::ReportRequest {
        name: "2026-10".into(),
        month,
        corrects: None,
        generated_at: "2026-11-10T00:00:00Z".into(),
        residency: None,
    };
    let mut doc = akp_billing::report::from_ledger(
        &ledger,
        &request,
        &book,
        &akp_billing::report::controller::contracts(&agencies),
    )
    .await?;
    // Issuer, recipient, number and the agencies' names and BINs, as the controller adds them.
    let named: Vec<_> = agencies
        .iter()
        .map(akp_rules::billing::report::document::AgencyInfo::of)
        .collect();
    akp_rules::billing::report::document::complete(
        &mut doc,
        &akp_test_support::reports::report_document()?,
        &named,
    );
    // A throwaway signing key: in the cluster it comes from a Secret.
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let key = akp_billing::report::sign::signing_key_from_bytes(&seed)?;
    let bundle = akp_billing::report::sign::sign(&doc, &key)?;
    let dir = out_dir.join("reports").join("2026-10");
    akp_billing::report::sign::write_bundle(&bundle, &dir)?;
    // The public half, as the authorized body receives it, for `kubectl pbo report verify`.
    std::fs::write(
        out_dir.join("reports").join("signing-key.pub"),
        hex::encode(key.verifying_key().to_bytes()),
    )?;
    let manifest = akp_billing::report::sign::verify_dir(&dir, &key.verifying_key())?;
    let mut files: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    println!(
        "  report written to {}: {}",
        dir.display(),
        files.join(", ")
    );
    println!(
        "  signature and {} artifact hashes verified",
        manifest.artifacts.len()
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json"))?)?;
    println!("  totals: {}", json["totals"]);
    Ok(dir)
}

fn example_catalog() -> Result<akp_billing::Catalog> {
    akp_billing::Catalog::from_yaml(&std::fs::read_to_string(
        repo_root().join("examples/catalog.yaml"),
    )?)
    .map_err(|e| anyhow::anyhow!(e))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Gives the pods of the products' environments a known usage (kwok), meters them live
/// for about a minute from kube-state-metrics and kwok's kubelet metrics, scraped by
/// Prometheus with the reference scrape configuration, into a ledger of its own.
/// Returns that ledger's URL.
async fn live_billing(cp: &ControlPlane, client: &kube::Client, out_dir: &Path) -> Result<String> {
    use akp_billing::{Collector, Hour, Ledger, Metrics};
    use akp_test_support::live::{LiveExporters, SETTLE, kwok_usage_annotations, live_config};
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{ListParams, Patch, PatchParams};

    let (millicores, mebibytes) = (500, 256);
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    for p in &pods.items {
        let (Some(ns), Some(name)) = (&p.metadata.namespace, &p.metadata.name) else {
            continue;
        };
        let patch = serde_json::json!({"metadata": {"annotations": kwok_usage_annotations(millicores, mebibytes)}});
        Api::<Pod>::namespaced(client.clone(), ns)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        println!("  {ns}/{name}: {millicores}m CPU, {mebibytes}Mi memory (kwok)");
    }
    let nodes: Vec<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let exporters = LiveExporters::start(cp, &names, "").await?;
    let url = exporters.prometheus.url();
    println!(
        "  kube-state-metrics at {} (its own user, the chart's ClusterRole); Prometheus at {url} scraping it and {} kubelets",
        exporters.kube_state_metrics.address(),
        names.len()
    );
    let db = out_dir.join("live-ledger.db");
    let _ = std::fs::remove_file(&db);
    let ledger_url = format!("sqlite://{}", db.display());
    let ledger = Ledger::open(&ledger_url, akp_billing::Calendar::kazakhstan()).await?;
    let started = unix_now();
    let collector = Collector::new(
        live_config(&url, Hour::containing(started).start()),
        ledger,
        example_catalog()?,
        Metrics::new()?,
    )?;
    // A minute of scrapes, then live cycles (each meters up to SETTLE seconds ago).
    let metered = (60 + SETTLE) as u64;
    println!("  scraping for {metered} s, then metering the open hour");
    tokio::time::sleep(std::time::Duration::from_secs(metered)).await;
    let cycle = collector.collect(unix_now()).await?;
    println!(
        "  metered live: {} ledger rows from {} queries",
        cycle.rows, cycle.queries
    );
    anyhow::ensure!(cycle.rows > 0, "no live ledger rows after {metered} s");
    Ok(ledger_url)
}

/// PATH with the directory of this binary (and of `kubectl-pbo`, built beside it) first.
fn plugin_path() -> Result<std::ffi::OsString> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the demo binary has no directory")?;
    let rest = std::env::var_os("PATH").unwrap_or_default();
    Ok(std::env::join_paths(
        std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)),
    )?)
}

/// A child process killed when the demo ends.
struct Child(std::process::Child);

impl Child {
    fn spawn(cmd: &mut Command) -> std::io::Result<Self> {
        cmd.spawn().map(Self)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ready(conditions: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]>) -> bool {
    conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Polls `check` until it holds, for at most two minutes.
async fn wait_until<F, Fut>(demo: &Demo, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while !check().await? {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    println!(
        "  ({what} after {:.1}s)",
        demo.started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Shows the API server's refusal of a request, or fails saying what was `admitted`.
fn show_refusal<T>(result: Result<T, kube::Error>, admitted: &str) -> Result<()> {
    match result {
        Err(kube::Error::Api(status)) => {
            println!("  refused: {}", status.message);
            Ok(())
        }
        Err(e) => Err(e.into()),
        Ok(_) => anyhow::bail!("{admitted}"),
    }
}

/// Applies every document of the named files of `dir` (all files when `names` is
/// empty). Agency namespaces are the operator's to create: one made by hand is not the
/// Agency's (docs/security.md N4).
async fn apply_dir(client: &kube::Client, dir: &Path, names: &[&str]) -> Result<()> {
    let files = yaml_files(dir)?.into_iter().filter(|f| {
        names.is_empty() || f.file_name().is_some_and(|n| names.iter().any(|w| n == *w))
    });
    for file in files {
        for doc in documents(&file)? {
            apply(client, &doc, None, MANAGER).await.with_context(|| {
                format!(
                    "applying {} from {}",
                    doc["metadata"]["name"],
                    file.display()
                )
            })?;
        }
    }
    Ok(())
}
