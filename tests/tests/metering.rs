//! Metering against a real Prometheus (TSDB blocks made by promtool from generated
//! series) and real SQLite and PostgreSQL ledgers (R-BIL-01, R-BIL-03, R-MON-01).
//!
//! The data is built so that every expected quantity is computable by hand: integer
//! counter increments per 15-minute scrape, constant gauges, and twists whose effect
//! follows from the documented integration rules (docs/metering.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use akp_billing::{Calendar, Catalog, Collector, Hour, Ledger, MeteringConfig, Metrics, Month};
use akp_test_support::usage::{
    Env, GIB, KSM_JOB, POSTGRES_CATALOG, STEP, Twists, env_series, environments, rfc3339,
    test_config,
};
use akp_test_support::{OpenMetrics, TestPostgres, TestPrometheus, setpriv_command};
use anyhow::{Context, Result, anyhow, bail, ensure};

fn calendar() -> Calendar {
    Calendar::kazakhstan()
}

fn month(text: &str) -> Month {
    Month::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// A namespace that is not an environment: its usage is a data-quality line.
fn system_series(om: &mut OpenMetrics, t0: i64, ks: std::ops::Range<i64>) {
    for k in ks {
        let t = t0 + k * STEP;
        om.sample(
            "kube_namespace_labels",
            &[KSM_JOB, ("namespace", "kube-system")],
            t,
            1,
        );
        om.sample(
            "container_cpu_usage_seconds_total",
            &[
                ("job", "kubelet"),
                ("metrics_path", "/metrics/resource"),
                ("namespace", "kube-system"),
                ("pod", "coredns"),
                ("container", "coredns"),
                ("image", "coredns:1.11"),
            ],
            t,
            k * 90,
        );
    }
}

async fn collector(config: MeteringConfig, db: &str) -> Result<Collector> {
    let ledger = Ledger::open(db, calendar()).await?;
    let catalog = Catalog::from_yaml(POSTGRES_CATALOG).map_err(|e| anyhow!(e))?;
    Ok(Collector::new(config, ledger, catalog, Metrics::new()?)?)
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

// ---------------------------------------------------------------------------------
// The month of 20 environments.

/// September 2026 (Astana time) with two hours on either side.
struct MonthData {
    start: Hour,
    end: Hour,
    t0: i64,
    scrapes: i64,
    envs: Vec<Env>,
    twists: BTreeMap<usize, Twists>,
}

impl MonthData {
    fn new() -> Self {
        let cal = calendar();
        let m = month("2026-09");
        let (start, end) = (cal.month_start(m), cal.month_end(m));
        let t0 = start.start() - 2 * 3600;
        let scrapes = (end.start() + 2 * 3600 - t0) / STEP;
        let k_of = |hour: i64, minute: i64| (start.start() + hour * 3600 + minute * 60 - t0) / STEP;
        let mut twists = BTreeMap::new();
        // Production: two 15-minute scrapes short of replicas in hour 200.
        twists.insert(
            0,
            Twists {
                unavailable: vec![k_of(200, 15), k_of(200, 30)],
                ..Twists::default()
            },
        );
        // A process restart: the counter resets in place.
        twists.insert(
            1,
            Twists {
                reset_at: Some(k_of(100, 30)),
                ..Twists::default()
            },
        );
        // Missed scrapes: one (bridged) and two in a row (not bridged) in hour 300.
        twists.insert(
            2,
            Twists {
                missing: vec![k_of(50, 15), k_of(300, 15), k_of(300, 30)],
                ..Twists::default()
            },
        );
        // Deleted after 14.5 days: the last scrape covers until hour 348.
        twists.insert(
            3,
            Twists {
                last: Some(k_of(348, 0) - 1),
                ..Twists::default()
            },
        );
        // cAdvisor replaces the container series (a new container id).
        twists.insert(
            4,
            Twists {
                new_container_at: Some(k_of(400, 15)),
                ..Twists::default()
            },
        );
        Self {
            start,
            end,
            t0,
            scrapes,
            envs: environments(20),
            twists,
        }
    }

    fn openmetrics(&self) -> OpenMetrics {
        let mut om = OpenMetrics::new();
        for env in &self.envs {
            let tw = self.twists.get(&env.idx).cloned().unwrap_or_default();
            env_series(&mut om, env, self.t0, 0..self.scrapes, &tw);
        }
        system_series(&mut om, self.t0, 0..self.scrapes);
        om
    }

    /// Hand-computed September totals per (namespace, resource), in micro-units.
    fn expected(&self) -> BTreeMap<(String, String), i64> {
        let mut out = BTreeMap::new();
        for env in &self.envs {
            let ns = env.namespace();
            let i = env.idx as i64 + 1;
            // Hours the namespace existed in September, and seconds of gauge data lost
            // to missed scrapes (two in a row: 30 minutes).
            let hours: i64 = if env.idx == 3 { 348 } else { 720 };
            let lost_secs: i64 = if env.idx == 2 { 1800 } else { 0 };
            let held = hours * 3600 - lost_secs;
            // Counter samples with a predecessor: 4 per hour; a new container series'
            // first sample adds nothing.
            let counted = 4 * hours;
            let cpu_samples = counted - i64::from(env.idx == 4);
            let mut put = |resource: &str, value: i64| {
                out.insert((ns.clone(), resource.to_string()), value);
            };
            put("cpu", cpu_samples * env.cpu_inc() * 1_000_000);
            // 256 MiB × i = i/4 GiB.
            put("memory", i * 250_000 * held / 3600);
            put("storage", i * 1_000_000 * held / 3600);
            // Bytes / 1000 = micro-GB.
            put("telecom.internet", counted * 1_000);
            put("telecom.gateway", counted * 500);
            put("telecom.internal", counted * 1_500);
            put("software.instances/postgresql", 1_000_000 * held / 3600);
            // Core-seconds / 3600 = core-hours.
            put(
                "software.cores/postgresql",
                cpu_samples * env.cpu_inc() * 1_000_000 / 3600,
            );
            put("quota.cpu", 2 * held * 1_000_000);
            put("quota.memory", 4 * 1_000_000 * held / 3600);
            put("quota.storage", 10 * 1_000_000 * held / 3600);
            if env.environment == "production" {
                let unavailable = if env.idx == 0 { 500_000 } else { 0 };
                put("availability", hours * 1_000_000 - unavailable);
            }
        }
        out
    }
}

fn month_prometheus() -> Result<&'static TestPrometheus> {
    static PROM: OnceLock<Result<(TestPrometheus, Duration), String>> = OnceLock::new();
    let started = PROM.get_or_init(|| {
        let t = Instant::now();
        let data = MonthData::new().openmetrics();
        let samples = data.len();
        let prom = TestPrometheus::start(&data).map_err(|e| format!("{e:#}"))?;
        eprintln!(
            "month data: {samples} samples imported and Prometheus ready in {:?}",
            t.elapsed()
        );
        Ok((prom, t.elapsed()))
    });
    started
        .as_ref()
        .map(|(p, _)| p)
        .map_err(|e| anyhow!("the month's Prometheus failed to start: {e}"))
}

fn diff(
    expected: &BTreeMap<(String, String), i64>,
    actual: &BTreeMap<(String, String), i64>,
) -> String {
    let mut out = String::new();
    for (k, v) in expected {
        match actual.get(k) {
            Some(a) if a == v => {}
            other => out.push_str(&format!("{k:?}: expected {v}, ledger {other:?}\n")),
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            out.push_str(&format!("{k:?}: not expected, ledger {v}\n"));
        }
    }
    out
}

/// Collects the month into `db` and checks it against the hand totals.
async fn month_into(
    prom: &TestPrometheus,
    data: &MonthData,
    db: &str,
    recheck: bool,
) -> Result<String> {
    let now = data.end.start() + 3 * 86_400 + 3600;
    let c = collector(test_config(&prom.url(), data.start.start()), db).await?;
    let t = Instant::now();
    let report = c.collect(now).await?;
    let took = t.elapsed();
    eprintln!(
        "{}: backfilled {} windows, {} queries, {} rows in {took:?}",
        db.split(':').next().unwrap_or(""),
        report.windows,
        report.queries,
        report.rows
    );
    // One query per resource kind per window: identity + 9 meter queries + the
    // container info the CPU meter joins for images.
    ensure!(report.max_queries_per_window == 11, "{report:?}");
    ensure!(report.queries == 11 * report.windows, "{report:?}");
    ensure!(report.months_closed == vec![month("2026-09")], "{report:?}");

    let sept = month("2026-09");
    let totals = c.ledger().totals(sept).await?;
    let expected = data.expected();
    let d = diff(&expected, &totals);
    ensure!(
        d.is_empty(),
        "ledger differs from the hand-computed totals:\n{d}"
    );

    // One row per (environment, resource, hour).
    let rows = c.ledger().rows(sept).await?;
    let prod = data
        .envs
        .iter()
        .find(|e| e.idx == 6)
        .map(Env::namespace)
        .unwrap_or_default();
    let prod_rows = rows.iter().filter(|r| r.namespace == prod).count();
    ensure!(prod_rows == 720 * 12, "production env rows: {prod_rows}");
    ensure!(rows.iter().all(|r| r.identity.agency.starts_with("ag")));

    // Data quality: kube-system is no environment; redis is in no catalog item.
    let dq = c.ledger().data_quality(sept).await?;
    let sys_cpu: i64 = dq
        .iter()
        .filter(|q| q.reason == "not-an-environment" && q.resource == "cpu")
        .map(|q| q.quantity)
        .sum();
    ensure!(
        sys_cpu == 720 * 4 * 90 * 1_000_000,
        "kube-system cpu {sys_cpu}"
    );
    let redis: i64 = dq
        .iter()
        .filter(|q| q.reason == "uncatalogued-image")
        .map(|q| q.quantity)
        .sum();
    ensure!(redis == 720 * 1_000_000, "uncatalogued {redis}");
    ensure!(!rows.iter().any(|r| r.namespace == "kube-system"));

    // Coverage: the two missed scrapes are a gap hour; the deleted namespace existed
    // 348 hours and is fully covered.
    let coverage = c.ledger().coverage(sept).await?;
    ensure!(coverage.len() == 20, "{coverage:?}");
    for cov in &coverage {
        let env = data
            .envs
            .iter()
            .find(|e| e.namespace() == cov.namespace)
            .context("unknown env")?;
        let (hours, gaps, ms) = match env.idx {
            2 => (720, 1, 720 * 3_600_000 - 1_800_000),
            3 => (348, 0, 348 * 3_600_000),
            _ => (720, 0, 720 * 3_600_000),
        };
        ensure!(
            (cov.hours, cov.gap_hours, cov.covered_ms) == (hours, gaps, ms),
            "coverage of {}: {cov:?}",
            cov.namespace
        );
    }

    let dump = c.ledger().dump().await?;
    if recheck {
        // Collecting the closed month again books nothing and changes nothing.
        let again = c.recollect(data.start, data.end, now).await?;
        ensure!(again.adjustments == 0, "{again:?}");
        ensure!(
            c.ledger().dump().await? == dump,
            "recollecting changed the ledger"
        );
    }
    c.ledger().close().await;
    Ok(dump)
}

/// R-BIL-01, R-BIL-03, R-MON-01: a month of 20 environments equals the hand-computed
/// totals exactly, on SQLite and on PostgreSQL, with counter resets, missed scrapes, a
/// namespace deleted mid-month, non-environment usage and uncatalogued images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_bil_01_month_of_20_environments_matches_hand_totals_on_sqlite_and_postgres() -> Result<()>
{
    let prom = month_prometheus()?;
    let data = MonthData::new();
    let dir = tempfile::tempdir()?;
    let sqlite = month_into(prom, &data, &sqlite_url(dir.path(), "ledger.db"), true).await?;
    let pg = TestPostgres::start()?;
    let postgres = month_into(prom, &data, &pg.create_database("month")?, false).await?;
    ensure!(sqlite == postgres, "SQLite and PostgreSQL ledgers differ");
    Ok(())
}

// ---------------------------------------------------------------------------------
// SIGKILL during a backfill.

/// The `akp-billing` binary, built if needed.
fn billing_binary() -> Result<PathBuf> {
    akp_test_support::workspace_binary("akp-billing")
}

/// A tiny deterministic PRNG (xorshift64*), seeded from `AKP_TEST_SEED` or the clock.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("AKP_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            .max(1);
        eprintln!("random seed (AKP_TEST_SEED): {seed}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = hi.saturating_sub(lo).as_micros().max(1) as u64;
        lo + Duration::from_micros(self.next() % span)
    }
}

struct Child {
    bin: PathBuf,
    args: Vec<String>,
}

impl Child {
    fn command(&self) -> Command {
        let mut cmd = setpriv_command(&self.bin);
        cmd.args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self) -> Result<Duration> {
        let t = Instant::now();
        let out = self.command().output()?;
        ensure!(
            out.status.success(),
            "akp-billing failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(t.elapsed())
    }
}

/// R-BIL-01: the collector killed with SIGKILL at 10 random points of a backfill ends
/// with a ledger identical to an uninterrupted run: nothing lost, nothing doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_bil_01_sigkill_during_backfill_ten_times_gives_the_uninterrupted_ledger() -> Result<()> {
    let prom = month_prometheus()?;
    let data = MonthData::new();
    let dir = tempfile::tempdir()?;
    let mut config = test_config(&prom.url(), data.start.start());
    // The first 12 days of the month in 6-hour windows: 48 windows, 384 commits to
    // interrupt.
    config.timing.max_window_hours = 6;
    let config_path = dir.path().join("metering.yaml");
    std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
    let catalog_path = dir.path().join("catalog.yaml");
    std::fs::write(&catalog_path, POSTGRES_CATALOG)?;
    let now = rfc3339(data.start.start() + 12 * 86_400 + 2 * STEP);
    let bin = billing_binary()?;
    let child = |db: &str| Child {
        bin: bin.clone(),
        args: vec![
            "--config".into(),
            config_path.display().to_string(),
            "--catalog".into(),
            catalog_path.display().to_string(),
            "--database".into(),
            db.into(),
            "collect".into(),
            "--now".into(),
            now.clone(),
        ],
    };

    let reference_db = sqlite_url(dir.path(), "reference.db");
    let full = child(&reference_db).run()?;
    let idle = child(&reference_db).run()?;
    eprintln!("uninterrupted backfill: {full:?}; a run with nothing to do: {idle:?}");

    let victim_db = sqlite_url(dir.path(), "victim.db");
    let victim = child(&victim_db);
    let mut rng = Rng::new();
    let mut kills = 0;
    let mut attempts = 0;
    while kills < 10 {
        attempts += 1;
        ensure!(attempts < 40, "the backfill kept finishing before the kill");
        let mut proc = victim.command().spawn()?;
        // Somewhere between start-up and a twelfth of the backfill.
        let delay = rng.between(idle / 2, idle + full.saturating_sub(idle) / 12);
        std::thread::sleep(delay);
        if proc.try_wait()?.is_some() {
            continue;
        }
        proc.kill()?; // SIGKILL
        proc.wait()?;
        kills += 1;
        eprintln!("kill {kills} after {delay:?}");
    }
    let rest = victim.run()?;
    eprintln!("the rest of the backfill after 10 kills: {rest:?}");

    let reference = Ledger::open(&reference_db, calendar())
        .await?
        .dump()
        .await?;
    let after_kills = Ledger::open(&victim_db, calendar()).await?.dump().await?;
    ensure!(
        reference.lines().count() > 50_000,
        "reference ledger too small"
    );
    if reference != after_kills {
        let first = reference
            .lines()
            .zip(after_kills.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("reference: {a}\nafter kills: {b}"))
            .unwrap_or_else(|| "one is a prefix of the other".into());
        bail!("the ledger after 10 SIGKILLs differs from the uninterrupted one:\n{first}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Small scenarios.

/// `hours` hours of steady data for `envs` from `from`, with two hours on either side.
fn small_data(om: &mut OpenMetrics, envs: &[Env], from: i64, hours: i64) {
    let t0 = from - 2 * 3600;
    let scrapes = (hours + 4) * 3600 / STEP;
    for env in envs {
        env_series(om, env, t0, 0..scrapes, &Twists::default());
    }
}

/// R-BIL-01: the number of queries per window is the same for 10 and for 1,000
/// environments (one query per resource kind, aggregated over namespaces).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_bil_01_query_count_is_the_same_for_10_and_1000_environments() -> Result<()> {
    let a = calendar().month_start(month("2026-06")).start();
    let b = a + 2 * 86_400;
    let mut om = OpenMetrics::new();
    small_data(&mut om, &environments(10), a, 1);
    small_data(&mut om, &environments(1000), b, 1);
    let t = Instant::now();
    let prom = TestPrometheus::start(&om)?;
    eprintln!("{} samples imported in {:?}", om.len(), t.elapsed());

    let dir = tempfile::tempdir()?;
    let now = b + 10 * 86_400;
    let c = collector(test_config(&prom.url(), a), &sqlite_url(dir.path(), "q.db")).await?;
    let mut results = Vec::new();
    for (label, from) in [("10 environments", a), ("1000 environments", b)] {
        let hour = Hour::containing(from);
        let t = Instant::now();
        let report = c.recollect(hour, hour.plus(1), now).await?;
        eprintln!(
            "{label}: {} queries, {} rows, {:?}",
            report.queries,
            report.rows,
            t.elapsed()
        );
        results.push(report);
    }
    ensure!(
        results[0].queries == 11 && results[1].queries == 11,
        "{results:?}"
    );
    // Eleven resources per environment and hour, and availability in production.
    let rows = |n: usize| {
        11 * n as u64
            + environments(n)
                .iter()
                .filter(|e| e.environment == "production")
                .count() as u64
    };
    ensure!(
        results[0].rows == rows(10) && results[1].rows == rows(1000),
        "{results:?}"
    );
    Ok(())
}

/// R-BIL-01: Prometheus down for a while, then the database down for a while: the
/// collector catches up; the ledger equals an uninterrupted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_bil_01_prometheus_and_database_outages_lose_nothing_and_double_nothing() -> Result<()> {
    let from = calendar().month_start(month("2026-05")).start();
    let hours = 8 * 24;
    let mut data = OpenMetrics::new();
    small_data(&mut data, &environments(6), from, hours);
    let mut prom = TestPrometheus::start(&data)?;
    let mut pg = TestPostgres::start()?;
    let now = from + (hours + 2) * 3600;
    let mut config = test_config(&prom.url(), from);
    config.timing.max_window_hours = 1;

    let reference_db = pg.create_database("reference")?;
    let reference = collector(config.clone(), &reference_db).await?;
    reference.collect(now).await?;
    let expected = reference.ledger().dump().await?;
    reference.ledger().close().await;

    let db = pg.create_database("outage")?;
    let c = std::sync::Arc::new(collector(config, &db).await?);
    let target = Hour::containing(now - 2 * STEP);
    let worker = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match c.collect(now).await {
                    Ok(r) if r.collected_until >= Some(target) => {
                        return Ok::<u32, anyhow::Error>(failures);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    };
    let progress = |c: &Collector| {
        let c = c.ledger().clone();
        async move {
            c.watermarks()
                .await
                .ok()
                .and_then(|m| m.values().min().copied())
                .map_or(0, |h| Hour::containing(from).hours_until(h))
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while progress(&c).await < hours / 4 {
        ensure!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    prom.stop();
    eprintln!("Prometheus down at {} hours", progress(&c).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    prom.restart()?;
    while progress(&c).await < hours / 2 {
        ensure!(
            Instant::now() < deadline,
            "no progress after Prometheus came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at = progress(&c).await;
    pg.stop();
    eprintln!("PostgreSQL down at {at} hours");
    ensure!(
        at < hours,
        "the collection finished before the database went down"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restart()?;
    let failures = tokio::time::timeout(Duration::from_secs(120), worker).await???;
    // Prometheus refuses connections at once: failed cycles. The ledger pool waits up to
    // its acquire timeout for the database to come back, so a short database outage
    // either fails a cycle or only delays one.
    let metrics = c.metrics().encode();
    let db_errors = metrics
        .lines()
        .filter(|l| l.starts_with("akp_billing_database_errors_total"))
        .count();
    eprintln!("caught up after {failures} failed cycles; database error series: {db_errors}");
    ensure!(
        failures >= 1,
        "the Prometheus outage caused no failed cycle"
    );
    ensure!(
        metrics.contains("akp_billing_query_errors_total{error=\"unreachable\""),
        "{metrics}"
    );
    let actual = c.ledger().dump().await?;
    ensure!(
        actual == expected,
        "the ledger after the outages differs from the uninterrupted one"
    );
    Ok(())
}

/// R-BIL-01, R-BIL-02: data that arrives after its month closed becomes an
/// adjustment in the next month; the closed month does not change; collecting the
/// late data again books nothing more. On SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_bil_01_late_data_after_the_close_becomes_an_adjustment_in_the_next_month() -> Result<()>
{
    let cal = calendar();
    let oct = cal.month_start(month("2026-10"));
    let from = oct.start() - 3 * 86_400;
    let hours = 6 * 24;
    let envs = environments(3);
    let mut data = OpenMetrics::new();
    small_data(&mut data, &envs, from, hours);
    let mut prom = TestPrometheus::start(&data)?;
    let pg = TestPostgres::start()?;
    let dir = tempfile::tempdir()?;
    let dbs = [
        sqlite_url(dir.path(), "late.db"),
        pg.create_database("late")?,
    ];
    // Past September's end + the 3-day grace.
    let now = oct.start() + 3 * 86_400 + 2 * 3600;

    let mut before = Vec::new();
    for db in &dbs {
        let c = collector(test_config(&prom.url(), from), db).await?;
        let report = c.collect(now).await?;
        ensure!(report.months_closed == vec![month("2026-09")], "{report:?}");
        before.push(c.ledger().rows(month("2026-09")).await?);
        c.ledger().close().await;
    }

    // Late data: a pod of env 0 that nobody scraped on time, one hour in September and
    // one in October: 1 GiB for the hour, and 3600 CPU-seconds.
    let ns = envs[0].namespace();
    let late_sept = oct.plus(-10);
    let late_oct = oct.plus(10);
    let mut late = OpenMetrics::new();
    for hour in [late_sept, late_oct] {
        let labels = [
            ("job", "kubelet"),
            ("metrics_path", "/metrics/resource"),
            ("namespace", ns.as_str()),
            ("pod", "late-0"),
            ("container", "late"),
            ("image", "x.kz/late:1"),
        ];
        // Four scrapes in the hour: 4 × 15 minutes of 1 GiB.
        for k in 0..4 {
            late.sample(
                "container_memory_working_set_bytes",
                &labels,
                hour.start() + k * STEP,
                GIB,
            );
        }
        // From a scrape just before the hour: four increments of 900 CPU-seconds.
        for k in 0..=4 {
            late.sample(
                "container_cpu_usage_seconds_total",
                &labels,
                hour.start() + (k - 1) * STEP,
                k * 900,
            );
        }
    }
    prom.add(&late)?;

    for (db, before) in dbs.iter().zip(before) {
        let c = collector(test_config(&prom.url(), from), db).await?;
        let oct_before = c.ledger().totals(month("2026-10")).await?;
        let report = c
            .recollect(Hour::containing(from), oct.plus(48), now)
            .await?;
        ensure!(report.adjustments == 2, "{report:?}");
        ensure!(
            c.ledger().rows(month("2026-09")).await? == before,
            "a closed month changed"
        );
        let adjustments = c.ledger().adjustments(month("2026-10")).await?;
        let got: Vec<(String, i64, i64)> = adjustments
            .iter()
            .map(|a| (a.row.resource.clone(), a.row.hour.start(), a.row.quantity))
            .collect();
        ensure!(
            got == vec![
                ("cpu".to_string(), late_sept.start(), 3600 * 1_000_000),
                ("memory".to_string(), late_sept.start(), 1_000_000),
            ],
            "adjustments: {got:?}"
        );
        // The open month took its late hour in place.
        let oct_after = c.ledger().totals(month("2026-10")).await?;
        let key = |r: &str| (ns.clone(), r.to_string());
        for (resource, late_amount, adjustment) in [
            ("cpu", 3600 * 1_000_000, 3600 * 1_000_000),
            ("memory", 1_000_000, 1_000_000),
        ] {
            let was = oct_before.get(&key(resource)).copied().unwrap_or(0);
            let is = oct_after.get(&key(resource)).copied().unwrap_or(0);
            ensure!(
                is == was + late_amount + adjustment,
                "{resource}: {was} → {is}"
            );
        }
        // Again: nothing more is booked.
        let again = c
            .recollect(Hour::containing(from), oct.plus(48), now)
            .await?;
        ensure!(again.adjustments == 0, "{again:?}");
        ensure!(c.ledger().adjustments(month("2026-10")).await? == adjustments);
        c.ledger().close().await;
    }
    Ok(())
}

/// The daemon serves its own metrics while it retries an unreachable Prometheus, and
/// stops on SIGTERM.
#[test]
fn r_bil_01_daemon_serves_its_metrics_and_retries_an_unreachable_prometheus() -> Result<()> {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut daemon = setpriv_command(billing_binary()?)
        .args(["--prometheus", "http://127.0.0.1:9", "--database"])
        .arg(sqlite_url(dir.path(), "daemon.db"))
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let get = || -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    let found = loop {
        if let Some(body) = get() {
            if body.contains("akp_billing_cycles_total{result=\"unreachable\"}")
                && body.contains(
                    "akp_billing_query_errors_total{error=\"unreachable\",meter=\"identity\"}",
                )
            {
                break true;
            }
            last = body;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid = daemon.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = daemon.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            daemon.kill()?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(
        found,
        "the daemon's metrics never showed the failed cycle:\n{last}"
    );
    ensure!(
        status.is_some_and(|s| s.success()),
        "the daemon did not stop cleanly on SIGTERM: {status:?}"
    );
    Ok(())
}
