//! Metering proved on live exporters (R-BIL-01): kube-state-metrics v2.16.0 (built by
//! tools/build.sh, run with the chart's flags) and kwok's emulation of the kubelet's
//! `/metrics/resource` (pods of known CPU and memory usage on kwok nodes), scraped by
//! a real Prometheus with the reference scrape configuration
//! (`docs/prometheus-metering.yaml`), metered live by the billing collector into
//! SQLite and PostgreSQL ledgers.
//!
//! Every case runs at once in one cluster over about three minutes; the churn
//! (a kwok restart resetting every counter, kube-state-metrics restarted, Prometheus
//! down for a few scrapes, pods deleted and rescheduled, a namespace deleted) happens
//! to all of them, so each expected amount is stated from the usage given to kwok and
//! the scrape timestamps Prometheus kept, with the exactness of docs/metrics-contract.md:
//!
//! - CPU (a counter kwok integrates when it is scraped): usage × the time between the
//!   counter's first and last scrape, less each interval across a counter reset (the
//!   time kwok was down and counts from zero) plus what the new run reports at its first
//!   scrape, exact up to the delay between a scrape's
//!   timestamp and kwok's evaluation: at most 0.25 s of usage per run of the counter.
//! - Memory (a gauge): usage × the time its samples cover (each holds to the next one
//!   within the hold, else one interval), exact to the ledger's rounding (0.5 µGiB-hour
//!   per row).
//! - Against the wall clock: the billed time of each pod is its running time less at most
//!   a few scrape intervals (before the first scrape, after the last, across the reset).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use akp_billing::metering::integrate::Series;
use akp_billing::metering::prom::Prometheus;
use akp_billing::{Calendar, Catalog, Collector, Hour, Ledger, LedgerRow, MeteringConfig, Metrics};
use akp_rules::billing::rows::QualityRow;
use akp_test_support::live::{
    HOLD, LiveExporters, SCRAPE, SETTLE, kwok_usage_annotations, live_config,
};
use akp_test_support::usage::{POSTGRES_CATALOG, POSTGRES_IMAGE};
use akp_test_support::{ControlPlane, Options, TestPostgres, kwok_node};
use anyhow::{Context, Result, anyhow, ensure};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

const GIB: i128 = 1 << 30;
/// Delay between a scrape's timestamp and kwok's evaluation of the counter, bounded.
const EVAL_SLACK_MS: i128 = 250;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A pod of known usage.
#[derive(Clone, Debug)]
struct Usage {
    namespace: &'static str,
    pod: &'static str,
    node: &'static str,
    image: &'static str,
    millicores: i64,
    mebibytes: i64,
}

/// The environments: (namespace, agency, product, environment).
const ENVS: &[(&str, &str, &str, &str)] = &[
    ("ag1-alpha-production", "ag1", "alpha", "production"),
    ("ag1-alpha-development", "ag1", "alpha", "development"),
    ("ag2-beta-testing", "ag2", "beta", "testing"),
    ("ag2-beta-production", "ag2", "beta", "production"),
    ("ag3-gamma-trial", "ag3", "gamma", "trial"),
    ("ag4-delta-development", "ag4", "delta", "development"),
];

fn pods() -> Vec<Usage> {
    let u = |namespace, pod, node, image, millicores, mebibytes| Usage {
        namespace,
        pod,
        node,
        image,
        millicores,
        mebibytes,
    };
    vec![
        // Steady all along (a catalogued image: instances and per-core licence).
        u("ag1-alpha-production", "db", "n1", POSTGRES_IMAGE, 250, 128),
        // Steady, uncatalogued image.
        u(
            "ag1-alpha-development",
            "web",
            "n2",
            "docker.io/library/nginx:1.27",
            500,
            64,
        ),
        // Deleted mid-window.
        u(
            "ag2-beta-testing",
            "job",
            "n1",
            "docker.io/library/busybox:1.36",
            100,
            32,
        ),
        // Rescheduled: api-1 on n1 deleted, api-2 on n2 created (a Deployment's new pod).
        u(
            "ag2-beta-production",
            "api-1",
            "n1",
            "docker.io/library/busybox:1.36",
            200,
            96,
        ),
        u(
            "ag2-beta-production",
            "api-2",
            "n2",
            "docker.io/library/busybox:1.36",
            200,
            96,
        ),
        // Its namespace is deleted mid-window.
        u(
            "ag3-gamma-trial",
            "tmp",
            "n2",
            "docker.io/library/busybox:1.36",
            300,
            48,
        ),
        // The product whose pod exposes forged series (scraped by a job of its own).
        u(
            "ag4-delta-development",
            "forger",
            "n1",
            "docker.io/library/busybox:1.36",
            50,
            16,
        ),
    ]
}

fn namespace(name: &str, agency: &str, product: &str, env: &str) -> Result<Namespace> {
    // The labels the operator puts on an environment namespace (docs/operator.md).
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {
            "app.kubernetes.io/managed-by": "akp-operator",
            "akp.egov.kz/agency": agency,
            "akp.egov.kz/product": product,
            "akp.egov.kz/product-namespace": format!("{agency}-{product}"),
            "akp.egov.kz/environment": env,
            "akp.egov.kz/contour": "internal",
            "akp.egov.kz/class": "2",
        }}
    }))?)
}

fn pod(u: &Usage) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": u.pod, "namespace": u.namespace,
            "annotations": kwok_usage_annotations(u.millicores, u.mebibytes)},
        "spec": {
            "nodeName": u.node,
            "containers": [{"name": "app", "image": u.image}],
            "tolerations": [{"operator": "Exists"}],
        }
    }))?)
}

/// Serves the forger's exposition: series that claim another product's namespace is a
/// development environment and that it used a million cores, with the exporters' own
/// `job` and `metrics_path` labels (which Prometheus renames, honor_labels being off).
fn serve_forgery() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let cpu = now() * 1_000_000;
            let body = format!(
                "kube_namespace_labels{{job=\"kube-state-metrics\",namespace=\"ag1-alpha-production\",label_app_kubernetes_io_managed_by=\"akp-operator\",label_akp_egov_kz_agency=\"ag1\",label_akp_egov_kz_product=\"alpha\",label_akp_egov_kz_environment=\"development\"}} 1\n\
                 container_cpu_usage_seconds_total{{job=\"kubelet\",metrics_path=\"/metrics/resource\",namespace=\"ag1-alpha-production\",pod=\"db\",container=\"app\"}} {cpu}\n\
                 container_memory_working_set_bytes{{job=\"kubelet\",metrics_path=\"/metrics/resource\",namespace=\"ag1-alpha-production\",pod=\"db\",container=\"app\"}} 1000000000000\n"
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(port)
}

async fn collector(config: MeteringConfig, db: &str) -> Result<Collector> {
    let ledger = Ledger::open(db, Calendar::kazakhstan()).await?;
    let catalog = Catalog::from_yaml(POSTGRES_CATALOG).map_err(|e| anyhow!(e))?;
    Ok(Collector::new(config, ledger, catalog, Metrics::new()?)?)
}

/// The ledger summed per (namespace, resource), with the identities its rows carry.
async fn totals(
    ledger: &Ledger,
    hours: &[Hour],
) -> Result<(
    BTreeMap<(String, String), (i64, usize)>,
    Vec<LedgerRow>,
    Vec<QualityRow>,
)> {
    let cal = ledger.calendar().clone();
    let mut months: Vec<_> = hours.iter().map(|h| cal.month_of(*h)).collect();
    months.dedup();
    let (mut rows, mut quality) = (Vec::new(), Vec::new());
    for m in months {
        rows.extend(ledger.rows(m).await?);
        quality.extend(ledger.data_quality(m).await?);
    }
    let mut sums: BTreeMap<(String, String), (i64, usize)> = BTreeMap::new();
    for r in &rows {
        let slot = sums
            .entry((r.namespace.clone(), r.resource.clone()))
            .or_default();
        slot.0 += r.quantity;
        slot.1 += 1;
    }
    Ok((sums, rows, quality))
}

/// What the usage given to kwok and Prometheus' scrape timestamps say a pod's CPU
/// (nano-core-milliseconds… kept as core × ms) and memory (byte × ms) must be.
struct Expected {
    cpu_core_ms: i128,
    cpu_runs: i128,
    memory_byte_ms: i128,
    first_ms: i64,
    last_ms: i64,
}

fn expected(u: &Usage, cpu: &Series, memory: &Series) -> Result<Expected> {
    let mut core_ms = 0i128;
    let mut runs = 1;
    for pair in cpu.samples.windows(2) {
        if pair[1].value >= pair[0].value {
            core_ms += i128::from(pair[1].t_ms - pair[0].t_ms) * i128::from(u.millicores);
        } else {
            // A reset: the new run counted from zero, and what it reports at its first
            // scrape was used (as `increase()` counts it): about nothing when that scrape
            // is kwok's first evaluation, an interval's usage when one was lost.
            // Nano core-seconds → millicore × ms.
            core_ms += pair[1].value / 1000;
            runs += 1;
        }
    }
    let bytes = i128::from(u.mebibytes) << 20;
    let mut byte_ms = 0i128;
    for (i, s) in memory.samples.iter().enumerate() {
        // kwok reports exactly the usage it was given.
        ensure!(
            s.value == bytes * 1_000_000_000,
            "{}/{}: memory sample {s:?}",
            u.namespace,
            u.pod
        );
        let held = match memory.samples.get(i + 1) {
            Some(next) if next.t_ms - s.t_ms <= HOLD * 1000 => next.t_ms - s.t_ms,
            _ => SCRAPE * 1000,
        };
        byte_ms += bytes * i128::from(held);
    }
    Ok(Expected {
        // millicores × ms / 1000 = core × ms
        cpu_core_ms: core_ms / 1000,
        cpu_runs: runs,
        memory_byte_ms: byte_ms,
        first_ms: cpu.samples.first().map_or(0, |s| s.t_ms),
        last_ms: cpu.samples.last().map_or(0, |s| s.t_ms),
    })
}

async fn wait_running(pods: &Api<Pod>, name: &str) -> Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = pods.get(name).await?;
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            return Ok(now_ms());
        }
        ensure!(Instant::now() < deadline, "pod {name} not Running in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<i64>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while api.get_opt(name).await?.is_some() {
        ensure!(Instant::now() < deadline, "{name} still there after 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(now_ms())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_bil_01_live_exporters_meter_known_usage_exactly_through_churn_and_forgery() -> Result<()>
{
    let started = Instant::now();
    let cp = ControlPlane::start(Options {
        kwok_metrics: true,
        ..Options::full()
    })?;
    let client = cp.admin_client().await?;
    let nodes: Api<Node> = Api::all(client.clone());
    for n in ["n1", "n2"] {
        nodes
            .create(&PostParams::default(), &kwok_node(n, &[]))
            .await?;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, agency, product, env) in ENVS {
        namespaces
            .create(
                &PostParams::default(),
                &namespace(name, agency, product, env)?,
            )
            .await?;
    }
    let forger_port = serve_forgery()?;
    // A product's own scrape job (as its PodMonitor would give), honor_labels off.
    let product_job = format!(
        "  - job_name: product-metrics\n    static_configs:\n      - targets: [\"127.0.0.1:{forger_port}\"]\n        labels: {{namespace: ag4-delta-development, pod: forger}}\n"
    );
    let LiveExporters {
        kube_state_metrics: mut ksm,
        prometheus: mut prom,
    } = LiveExporters::start(&cp, &["n1", "n2"], &product_job).await?;
    let pg = TestPostgres::start()?;
    let pg_url = pg.create_database("live")?;
    let start_hour = Hour::containing(now());

    // The pods, and when each ran (from Running to gone, wall clock).
    let mut ran: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    let all = pods();
    for u in all.iter().filter(|u| u.pod != "api-2") {
        let api: Api<Pod> = Api::namespaced(client.clone(), u.namespace);
        api.create(&PostParams::default(), &pod(u)?).await?;
    }
    for u in all.iter().filter(|u| u.pod != "api-2") {
        let api: Api<Pod> = Api::namespaced(client.clone(), u.namespace);
        let t = wait_running(&api, u.pod).await?;
        ran.insert((u.namespace, u.pod), (t, 0));
    }
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let sqlite_dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", sqlite_dir.path().join("live.db").display());
    let live = collector(live_config(&prom.url(), start_hour.start()), &sqlite).await?;

    // A live cycle mid-run: minutes of usage are in the ledger before the hour ends.
    tokio::time::sleep_until(at(50).into()).await;
    live.collect(now()).await?;
    let (mid, _, _) = totals(live.ledger(), &[start_hour, Hour::containing(now())]).await?;
    let mid_cpu = mid
        .get(&("ag1-alpha-production".to_string(), "cpu".to_string()))
        .map_or(0, |v| v.0);
    ensure!(mid_cpu > 0, "no live CPU row after 50 s: {mid:?}");
    let marks = live.ledger().watermarks().await?;
    ensure!(
        marks.values().all(|h| *h <= Hour::containing(now())),
        "a live cycle moved a watermark past the open hour: {marks:?}"
    );

    // Deleted, rescheduled, namespace deleted.
    tokio::time::sleep_until(at(60).into()).await;
    let testing: Api<Pod> = Api::namespaced(client.clone(), "ag2-beta-testing");
    testing
        .delete("job", &DeleteParams::default().grace_period(0))
        .await?;
    let beta: Api<Pod> = Api::namespaced(client.clone(), "ag2-beta-production");
    beta.delete("api-1", &DeleteParams::default().grace_period(0))
        .await?;
    let api2 = all.iter().find(|u| u.pod == "api-2").context("api-2")?;
    beta.create(&PostParams::default(), &pod(api2)?).await?;
    namespaces
        .delete("ag3-gamma-trial", &DeleteParams::default())
        .await?;
    let gone = wait_gone(&testing, "job").await?;
    ran.entry(("ag2-beta-testing", "job"))
        .and_modify(|r| r.1 = gone);
    let gone = wait_gone(&beta, "api-1").await?;
    ran.entry(("ag2-beta-production", "api-1"))
        .and_modify(|r| r.1 = gone);
    let t = wait_running(&beta, "api-2").await?;
    ran.insert(("ag2-beta-production", "api-2"), (t, 0));
    let trial: Api<Pod> = Api::namespaced(client.clone(), "ag3-gamma-trial");
    let gone = wait_gone(&trial, "tmp").await?;
    ran.entry(("ag3-gamma-trial", "tmp"))
        .and_modify(|r| r.1 = gone);

    // kwok (every "kubelet") restarted: every counter resets in place.
    tokio::time::sleep_until(at(80).into()).await;
    let kwok_restart_ms = now_ms();
    cp.restart("kwok").await?;
    // kube-state-metrics restarted.
    tokio::time::sleep_until(at(100).into()).await;
    ksm.restart()?;
    // Prometheus down for about two scrapes (within the hold).
    tokio::time::sleep_until(at(120).into()).await;
    prom.stop();
    tokio::time::sleep(Duration::from_secs(7)).await;
    prom.restart()?;

    // The end: the remaining pods deleted, then settle.
    tokio::time::sleep_until(at(150).into()).await;
    for u in &all {
        if ran.get(&(u.namespace, u.pod)).is_some_and(|r| r.1 == 0) {
            let api: Api<Pod> = Api::namespaced(client.clone(), u.namespace);
            api.delete(u.pod, &DeleteParams::default().grace_period(0))
                .await?;
        }
    }
    for u in &all {
        if ran.get(&(u.namespace, u.pod)).is_some_and(|r| r.1 == 0) {
            let api: Api<Pod> = Api::namespaced(client.clone(), u.namespace);
            let gone = wait_gone(&api, u.pod).await?;
            ran.entry((u.namespace, u.pod)).and_modify(|r| r.1 = gone);
        }
    }
    tokio::time::sleep(Duration::from_secs((SETTLE + HOLD + 2 * SCRAPE) as u64)).await;
    let end = now();
    let hours = [start_hour, Hour::containing(end)];

    // The final collection, SQLite (after its live cycles) and PostgreSQL (at once).
    live.collect(end).await?;
    let fresh = collector(live_config(&prom.url(), start_hour.start()), &pg_url).await?;
    fresh.collect(end).await?;
    let (sums, rows, quality) = totals(live.ledger(), &hours).await?;
    let (pg_sums, _, pg_quality) = totals(fresh.ledger(), &hours).await?;
    // Every check is made, failures listed together.
    let mut failures: Vec<String> = Vec::new();
    macro_rules! check {
        ($cond:expr, $($fmt:tt)+) => {
            if !$cond {
                failures.push(format!($($fmt)+));
            }
        };
    }
    check!(
        sums == pg_sums,
        "SQLite and PostgreSQL differ:\n{sums:?}\n{pg_sums:?}"
    );
    check!(
        quality == pg_quality,
        "data quality differs:\n{quality:?}\n{pg_quality:?}"
    );

    // The kubelet series Prometheus kept, for the expected amounts.
    let p = Prometheus::new(&prom.url(), Duration::from_secs(30))?;
    let range = end - start_hour.start() + 600;
    let fetch = |name: &'static str| {
        let p = &p;
        async move {
            p.query(
                &format!("{name}{{job=\"kubelet\",metrics_path=\"/metrics/resource\",container=\"app\"}}[{range}s]"),
                end,
            )
            .await
        }
    };
    let cpu_series = fetch("container_cpu_usage_seconds_total").await?;
    let mem_series = fetch("container_memory_working_set_bytes").await?;
    let find = |list: &[Series], u: &Usage| {
        list.iter()
            .find(|s| s.label("namespace") == u.namespace && s.label("pod") == u.pod)
            .cloned()
            .with_context(|| format!("no kubelet series for {}/{}", u.namespace, u.pod))
    };

    let mut by_ns: BTreeMap<&str, (i128, i128, i128, i128)> = BTreeMap::new();
    for u in &all {
        let e = expected(u, &find(&cpu_series, u)?, &find(&mem_series, u)?)?;
        let (run_start, run_end) = ran[&(u.namespace, u.pod)];
        // Against the wall clock: scraped from within three intervals after it ran (under
        // load Prometheus can miss one) to at most one before it was gone.
        check!(
            e.first_ms >= run_start - 1000 && e.first_ms <= run_start + (3 * SCRAPE + 2) * 1000,
            "{}/{}: first scrape {} vs running at {run_start}",
            u.namespace,
            u.pod,
            e.first_ms
        );
        check!(
            e.last_ms <= run_end && e.last_ms >= run_end - (2 * SCRAPE + 2) * 1000,
            "{}/{}: last scrape {} vs gone at {run_end}",
            u.namespace,
            u.pod,
            e.last_ms
        );
        let slot = by_ns.entry(u.namespace).or_default();
        slot.0 += e.cpu_core_ms;
        slot.1 += e.cpu_runs * EVAL_SLACK_MS * i128::from(u.millicores) / 1000;
        slot.2 += e.memory_byte_ms;
        slot.3 += e.cpu_runs;
        // Every counter was reset once by the kwok restart, except pods gone before it.
        let expected_runs = if run_end < kwok_restart_ms || run_start > kwok_restart_ms {
            1
        } else {
            2
        };
        check!(
            e.cpu_runs == expected_runs,
            "{}/{}: {} runs of the counter, expected {expected_runs}",
            u.namespace,
            u.pod,
            e.cpu_runs
        );
    }
    let get = |ns: &str, resource: &str| sums.get(&(ns.to_string(), resource.to_string())).copied();
    for (ns, (core_ms, slack_core_ms, byte_ms, _)) in &by_ns {
        // cpu rows: micro core-seconds = core × ms × 1000.
        let (cpu, _) = get(ns, "cpu").unwrap_or_default();
        let want = core_ms * 1000;
        check!(
            (i128::from(cpu) - want).abs() <= slack_core_ms * 1000,
            "{ns}: cpu {cpu} µcore-s, expected {want} ± {}",
            slack_core_ms * 1000
        );
        // memory rows: micro GiB-hours = byte × ms × 10⁶ / (2³⁰ × 3.6 × 10⁶).
        let (memory, n) = get(ns, "memory").unwrap_or_default();
        let want_exact = byte_ms * 1_000_000 / (GIB * 3_600_000);
        check!(
            (i128::from(memory) - want_exact).abs() <= n as i128,
            "{ns}: memory {memory} µGiB-h, expected {want_exact} ± {n}"
        );
        println!(
            "{ns}: cpu {cpu} µcore-s (expected {}), memory {memory} µGiB-h (expected {want_exact})",
            core_ms * 1000
        );
    }
    // Rows carry the identity of their namespace (the deleted one's too), never the
    // forger's.
    for r in &rows {
        let env = ENVS
            .iter()
            .find(|e| e.0 == r.namespace)
            .with_context(|| format!("row of {}", r.namespace))?;
        check!(
            (
                r.identity.agency.as_str(),
                r.identity.product.as_str(),
                r.identity.environment.as_str()
            ) == (env.1, env.2, env.3),
            "{r:?}"
        );
    }
    // Software: the catalogued database's instance-hours ≈ its running time, core-hours
    // = its CPU; the uncatalogued images are a data-quality line.
    let db = &all[0];
    let (run_start, run_end) = ran[&(db.namespace, db.pod)];
    let (instances, _) = get(db.namespace, "software.instances/postgresql").unwrap_or_default();
    let ran_hours_micro = i128::from(run_end - run_start) * 1_000_000 / 3_600_000;
    check!(
        (i128::from(instances) - ran_hours_micro).abs()
            <= i128::from(5 * SCRAPE) * 1_000_000 / 3600,
        "instances {instances} µh, ran {ran_hours_micro} µh"
    );
    let (cores, n) = get(db.namespace, "software.cores/postgresql").unwrap_or_default();
    let (cpu, _) = get(db.namespace, "cpu").unwrap_or_default();
    check!(
        (i128::from(cores) - i128::from(cpu) / 3600).abs() <= n as i128,
        "core-hours {cores} vs cpu {cpu} µcore-s"
    );
    let reasons = |reason: &str, resource: &str| {
        quality
            .iter()
            .filter(|q| q.reason == reason && q.resource == resource)
            .count()
    };
    check!(
        reasons("uncatalogued-image", "software.uncatalogued") > 0,
        "{quality:?}"
    );
    // The forgery: named in data quality, billed nowhere.
    for resource in ["identity", "cpu", "memory"] {
        check!(
            reasons("untrusted-series", resource) > 0,
            "R-BIL-01: no untrusted {resource} line: {quality:?}"
        );
    }
    check!(reasons("identity-conflict", "cpu") == 0, "{quality:?}");

    // The same Prometheus metered with the trusted-series filter off (every query's
    // `trusted` emptied): the forger's series then reach the ledger, so the filter is
    // what makes the checks above hold (R-BIL-01).
    let mut untrusting = live_config(&prom.url(), start_hour.start());
    for q in [
        &mut untrusting.identity.query,
        &mut untrusting.meters.cpu,
        &mut untrusting.meters.memory,
    ] {
        q.trusted.clear();
    }
    let off_db = format!(
        "sqlite://{}",
        sqlite_dir.path().join("untrusting.db").display()
    );
    let off = collector(untrusting, &off_db).await?;
    off.collect(end).await?;
    let (off_sums, _, off_quality) = totals(off.ledger(), &hours).await?;
    let forged_cpu: i64 = off_quality
        .iter()
        .filter(|q| q.reason == "identity-conflict" && q.resource == "cpu")
        .map(|q| q.quantity)
        .sum();
    let (forger_cpu, _) = get("ag4-delta-development", "cpu").unwrap_or_default();
    println!(
        "R-BIL-01 trust off: identity-conflict cpu {forged_cpu} µcore-s (the forger's own: {forger_cpu}); ledger {off_sums:?}"
    );
    check!(
        off_sums != sums,
        "R-BIL-01: the forged series change nothing even with the trusted-series filter off, so the forgery check above proves nothing"
    );
    check!(
        forged_cpu > 1000 * forger_cpu.max(1),
        "R-BIL-01: with the filter off the forged identity and million-core counter should reach metering (an identity-conflict cpu line far above the forger's {forger_cpu} µcore-s), got {forged_cpu}: {off_quality:?}"
    );
    check!(
        !off_quality.iter().any(|q| q.reason == "untrusted-series"
            && matches!(q.resource.as_str(), "identity" | "cpu" | "memory")),
        "R-BIL-01: untrusted-series lines with the filter off: {off_quality:?}"
    );
    ensure!(
        failures.is_empty(),
        "{} failed checks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "live metering: {} rows, {} data-quality lines, {:?} in all",
        rows.len(),
        quality.len(),
        started.elapsed()
    );
    Ok(())
}
