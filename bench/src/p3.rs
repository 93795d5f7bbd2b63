//! P3 metering: a one-hour window of N environments from a real Prometheus into a
//! SQLite ledger by the billing `Collector`, against the floor: the same PromQL at the
//! same evaluation times sent by a plain HTTP client, bodies read, nothing parsed.

use std::time::{Duration, Instant};

use akp_billing::{
    Calendar, Catalog, Collector, Hour, Ledger, Meter, MeteringConfig, Metrics, Month,
};
use akp_rules::billing::period::Window;
use akp_test_support::usage::{
    POSTGRES_CATALOG, STEP, Twists, env_series, environments, test_config,
};
use akp_test_support::{OpenMetrics, TestPrometheus};
use anyhow::{Context, Result, anyhow};

use crate::table::{Results, secs};

/// What P3 does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Environment counts, the last one the benchmark (the query count must be equal).
    pub environments: Vec<usize>,
    /// Repetitions of each measurement (the median is reported).
    pub repeats: usize,
}

/// `hours` hours of steady data for `n` environments from `from`, two hours either side.
fn data(om: &mut OpenMetrics, n: usize, from: i64, hours: i64) {
    let t0 = from - 2 * 3600;
    let scrapes = (hours + 4) * 3600 / STEP;
    for env in environments(n) {
        env_series(om, &env, t0, 0..scrapes, &Twists::default());
    }
}

/// The PromQL the collector sends for `window`, with its evaluation time, in order.
fn queries(config: &MeteringConfig, window: Window) -> Vec<(String, i64)> {
    let mut qs = vec![&config.identity.query];
    for meter in Meter::ALL {
        qs.extend(meter.queries(config));
    }
    qs.into_iter()
        .map(|q| {
            let at = window.end.start() + q.hold_seconds;
            let range = at - window.start.start() + config.timing.lookback_seconds;
            (q.render(range), at)
        })
        .collect()
}

/// The floor: the same queries over plain HTTP, one after another. Returns bytes read.
async fn floor_pass(http: &reqwest::Client, base: &str, qs: &[(String, i64)]) -> Result<usize> {
    let mut bytes = 0;
    for (q, at) in qs {
        let body = http
            .post(format!("{base}/api/v1/query"))
            .form(&[("query", q.as_str()), ("time", &at.to_string())])
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        bytes += body.len();
    }
    Ok(bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs P3 and adds its rows.
pub async fn run(cfg: &Config, results: &mut Results) -> Result<()> {
    let calendar = Calendar::kazakhstan();
    let first = calendar
        .month_start(Month::parse("2026-06").map_err(|e| anyhow!("{e}"))?)
        .start();
    // One day apart per size, each with its own hour of data.
    let starts: Vec<i64> = (0..cfg.environments.len())
        .map(|i| first + 2 * 86_400 * i as i64)
        .collect();
    let mut om = OpenMetrics::new();
    for (n, from) in cfg.environments.iter().zip(&starts) {
        data(&mut om, *n, *from, 1);
    }
    eprintln!("P3: importing {} samples into Prometheus", om.len());
    let t = Instant::now();
    let prom = TestPrometheus::start(&om)?;
    let samples = om.len();
    drop(om);
    results.note(format!(
        "P3: {samples} samples imported (promtool) and Prometheus ready in {}",
        secs(t.elapsed())
    ));
    let base = prom.url();
    let config = test_config(&base, first);
    let now = starts.last().copied().unwrap_or(first) + 10 * 86_400;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let mut counts = Vec::new();
    for (i, (n, from)) in cfg.environments.iter().zip(&starts).enumerate() {
        let hour = Hour::containing(*from);
        let window = Window {
            start: hour,
            end: hour.plus(1),
        };
        let qs = queries(&config, window);
        let collector = |name: String| {
            let (config, calendar) = (config.clone(), calendar.clone());
            let url = format!("sqlite://{}", dir.path().join(name).display());
            async move {
                let ledger = Ledger::open(&url, calendar).await?;
                let catalog = Catalog::from_yaml(POSTGRES_CATALOG).map_err(|e| anyhow!(e))?;
                anyhow::Ok(Collector::new(config, ledger, catalog, Metrics::new()?)?)
            }
        };
        // The same warm-up for both sides: Prometheus' caches, and the collector's code
        // and a ledger file of its own.
        let bytes = floor_pass(&http, &base, &qs).await?;
        let warm = collector(format!("p3-{i}-warm.db")).await?;
        warm.recollect(hour, hour.plus(1), now).await?;
        warm.ledger().close().await;
        let (mut measured, mut floor, mut query_time) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for rep in 0..cfg.repeats {
            let c = collector(format!("p3-{i}-{rep}.db")).await?;
            let t = Instant::now();
            let report = c.recollect(hour, hour.plus(1), now).await?;
            measured.push(t.elapsed());
            query_time.push(Duration::from_secs_f64(query_seconds(
                &c.metrics().encode(),
            )));
            c.ledger().close().await;
            let t = Instant::now();
            floor_pass(&http, &base, &qs).await?;
            floor.push(t.elapsed());
            last = Some(report);
        }
        let report = last.context("no repetition ran")?;
        let (m, f) = (median(measured), median(floor));
        eprintln!(
            "P3: {n} environments: collector {} ({} queries, {} rows), floor {} ({bytes} bytes)",
            secs(m),
            report.queries,
            report.rows,
            secs(f)
        );
        counts.push((*n, report.queries));
        results.ratio(
            &format!("P3 metering: 1 h window, {n} environments"),
            m,
            f,
            2.0,
        );
        results.note(format!(
            "P3 {n} environments: {} queries, {} ledger rows, {:.1} MB of answers; median of {} runs each; of the collector's time, {} is its queries (HTTP and parsing the answers into exact samples), the rest integration, identities and the ledger's transactions",
            report.queries,
            report.rows,
            bytes as f64 / 1e6,
            cfg.repeats,
            secs(median(query_time))
        ));
    }
    let text: Vec<String> = counts.iter().map(|(n, q)| format!("{q} for {n}")).collect();
    let same = counts.windows(2).all(|w| w[0].1 == w[1].1);
    results.value(
        "P3 queries per window (by environments)",
        text.join(", "),
        "independent of N",
        Some(same),
    );
    drop(prom);
    Ok(())
}

/// The sum of `akp_billing_query_duration_seconds_sum` over meters.
fn query_seconds(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("akp_billing_query_duration_seconds_sum"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
