//! P4 rating: a month of hourly ledger rows (N environments × 8 resources × 744 hours)
//! rated into a report by `report::from_ledger`, against the floor: a plain SQL
//! aggregate of the same rows (`GROUP BY namespace, resource`) on the same database,
//! on SQLite and on PostgreSQL.
//!
//! The rows are generated inside each database by one `INSERT … SELECT` over a cross
//! join (environments × resources × hours) in one transaction: the same rows in both,
//! loaded at the database's own speed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use akp_billing::report::{self, ReportRequest};
use akp_billing::{Calendar, Ledger, Month};
use akp_crds::Tariff;
use akp_rules::billing::rating::{Contracts, TariffBook};
use akp_test_support::{TestPostgres, documents, repo_root};
use anyhow::{Context, Result, anyhow, ensure};
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use crate::table::{Results, secs};

/// What P4 does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Environments (the full benchmark: 2,000).
    pub environments: usize,
    /// Repetitions of each measurement (the best is reported).
    pub repeats: usize,
    /// Which databases: "sqlite", "postgres".
    pub databases: Vec<String>,
}

/// The billed month: 2026-10 at UTC+5, 744 hours from 2026-09-30T19:00Z.
const MONTH: &str = "2026-10";
const HOURS: i64 = 744;
const AGENCIES: usize = 20;

/// (ledger resource, unit) of the 8 resources.
const RESOURCES: [(&str, &str); 8] = [
    ("cpu", "core_second"),
    ("memory", "gib_hour"),
    ("storage", "gib_hour"),
    ("telecom.internet", "gigabyte"),
    ("telecom.gateway", "gigabyte"),
    ("telecom.internal", "gigabyte"),
    ("software.instances/postgresql-16", "instance_hour"),
    ("quota.cpu", "core_second"),
];

fn resources_values() -> String {
    RESOURCES
        .iter()
        .enumerate()
        .map(|(j, (r, u))| format!("({j}, '{r}', '{u}')"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tariffs: the example's 2026 tariff (free 3 months, then flag) and a revision in
/// force from 2026-10-15 (then bill), so that the month splits by tariff too.
fn tariffs() -> Result<TariffBook> {
    let docs = documents(&repo_root().join("examples/tariffs.yaml"))?;
    let mut out: Vec<Tariff> = Vec::new();
    for mut d in docs {
        if d["metadata"]["name"] == "akp-2027" {
            d["metadata"]["name"] = "akp-2026-10".into();
            d["spec"]["effectiveFrom"] = "2026-10-15".into();
        }
        out.push(serde_json::from_value(d)?);
    }
    TariffBook::new(&out).map_err(|e| anyhow!("{e}"))
}

/// Contracts: agency k signed on 2026-07-(k+1), so its free period ends on 2026-10-(k+1)
/// (within the month); every fifth agency has no contract.
fn contracts() -> Result<Contracts> {
    let mut c = BTreeMap::new();
    for k in 0..AGENCIES {
        if k % 5 != 4 {
            c.insert(
                format!("ag{k:02}"),
                jiff::civil::date(2026, 7, i8::try_from(k + 1)?),
            );
        }
    }
    Ok(c)
}

/// Fills a fresh ledger (schema applied by `Ledger::open`) with the month's rows.
async fn load(url: &str, n: usize, month_start: i64, postgres: bool) -> Result<u64> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let mut tx = pool.begin().await?;
    let last_env = n as i64 - 1;
    let last_hour = HOURS - 1;
    let (envs, hours, namespace, agency, product, environment) = if postgres {
        (
            format!("generate_series(0, {last_env}) AS e(i)"),
            format!("generate_series(0, {last_hour}) AS h(k)"),
            "'ag' || lpad(((i / 4) % 20)::text, 2, '0') || '-prod' || lpad((i / 4)::text, 4, '0') || '-' || (ARRAY['production','development','testing','trial'])[i % 4 + 1]",
            "'ag' || lpad(((i / 4) % 20)::text, 2, '0')",
            "'prod' || lpad((i / 4)::text, 4, '0')",
            "(ARRAY['production','development','testing','trial'])[i % 4 + 1]",
        )
    } else {
        (
            "e".to_string(),
            "h".to_string(),
            "printf('ag%02d-prod%04d-%s', (i / 4) % 20, i / 4, CASE i % 4 WHEN 0 THEN 'production' WHEN 1 THEN 'development' WHEN 2 THEN 'testing' ELSE 'trial' END)",
            "printf('ag%02d', (i / 4) % 20)",
            "printf('prod%04d', i / 4)",
            "CASE i % 4 WHEN 0 THEN 'production' WHEN 1 THEN 'development' WHEN 2 THEN 'testing' ELSE 'trial' END",
        )
    };
    let r = resources_values();
    // SQLite appends faster in key order; PostgreSQL's heap does not care.
    let order = if postgres { "" } else { " ORDER BY i, r.j, k" };
    let with = if postgres {
        format!("WITH r(j, resource, unit) AS (VALUES {r}) ")
    } else {
        sqlx::query("PRAGMA cache_size = -262144")
            .execute(&mut *tx)
            .await?;
        format!(
            "WITH RECURSIVE e(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM e WHERE i < {last_env}), \
             h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < {last_hour}), \
             r(j, resource, unit) AS (VALUES {r}) "
        )
    };
    let ledger = format!(
        "{with}INSERT INTO ledger (namespace, resource, hour, month, agency, product, environment, unit, quantity) \
         SELECT {namespace}, r.resource, {month_start} + k * 3600, '{MONTH}', {agency}, {product}, {environment}, r.unit, \
                (i * 7919 + k * 104729 + r.j * 15485863) % 5000000 + 1000 \
         FROM {envs}, r, {hours}{order}"
    );
    let rows = sqlx::query(&ledger)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // Coverage per environment and hour (one hour in 97 half covered) and the
    // environments, as metering writes them.
    let coverage = format!(
        "{with}INSERT INTO coverage (namespace, hour, month, covered_ms) \
         SELECT {namespace}, {month_start} + k * 3600, '{MONTH}', CASE WHEN (i + k) % 97 = 0 THEN 1800000 ELSE 3600000 END \
         FROM {envs}, {hours}"
    );
    sqlx::query(&coverage).execute(&mut *tx).await?;
    let envs_sql = format!(
        "{}INSERT INTO environments (namespace, agency, product, product_namespace, environment, contour, class, first_hour, last_hour) \
         SELECT {namespace}, {agency}, {product}, {agency}, {environment}, 'internal', '2', {}, {} FROM {envs}",
        if postgres {
            String::new()
        } else {
            format!(
                "WITH RECURSIVE e(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM e WHERE i < {last_env}) "
            )
        },
        month_start - 30 * 86_400,
        month_start + (HOURS + 48) * 3600,
    );
    sqlx::query(&envs_sql).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO months (month, closed_at) VALUES ($1, $2)")
        .bind(MONTH)
        .bind(month_start + (HOURS + 96) * 3600)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if postgres {
        // What autovacuum would do after a bulk load.
        sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    }
    pool.close().await;
    Ok(rows)
}

/// The floor: the month's rows summed per environment and resource, fetched.
async fn floor(url: &str) -> Result<(Duration, BTreeMap<(String, String), (i64, i64)>)> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let t = Instant::now();
    let rows = sqlx::query(
        "SELECT namespace, resource, CAST(SUM(quantity) AS BIGINT), COUNT(*) FROM ledger \
         WHERE month = $1 GROUP BY namespace, resource",
    )
    .bind(MONTH)
    .fetch_all(&pool)
    .await?;
    let took = t.elapsed();
    let mut sums = BTreeMap::new();
    for r in &rows {
        sums.insert(
            (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?),
            (r.try_get::<i64, _>(2)?, r.try_get::<i64, _>(3)?),
        );
    }
    pool.close().await;
    Ok((took, sums))
}

/// Checks the report against the floor's sums: every billable environment-hour rated
/// once, and the allocated CPU (one line per environment) exactly the summed quota.
fn check(
    doc: &report::ReportDocument,
    sums: &BTreeMap<(String, String), (i64, i64)>,
) -> Result<()> {
    let mut hours: BTreeMap<&str, i64> = BTreeMap::new();
    for a in &doc.agencies {
        for p in &a.products {
            for e in &p.environments {
                for l in &e.lines {
                    *hours.entry(e.namespace.as_str()).or_default() += i64::from(l.hours);
                }
            }
        }
    }
    let mut expected: BTreeMap<&str, i64> = BTreeMap::new();
    for ((ns, resource), (_, count)) in sums {
        if resource != "quota.cpu" {
            *expected.entry(ns.as_str()).or_default() += count;
        }
    }
    ensure!(
        hours == expected,
        "rated hours per environment differ from the ledger's rows"
    );
    for al in &doc.allocation {
        if al.resource != "cpu" {
            continue;
        }
        let (sum, _) = sums
            .get(&(al.namespace.clone(), "quota.cpu".to_string()))
            .context("quota row")?;
        let micro = akp_rules::billing::rating::div_half_even(i128::from(*sum), 3600);
        ensure!(
            al.allocated == akp_rules::billing::rating::format_micro(micro),
            "allocated cpu of {} is {} not {micro}",
            al.namespace,
            al.allocated
        );
    }
    Ok(())
}

/// Runs P4 on one database.
async fn one(
    label: &str,
    url: &str,
    postgres: bool,
    cfg: &Config,
    results: &mut Results,
) -> Result<()> {
    let calendar = Calendar::kazakhstan();
    let month = Month::parse(MONTH).map_err(|e| anyhow!("{e}"))?;
    let month_start = calendar.month_start(month).start();
    let ledger = Ledger::open(url, calendar.clone()).await?;
    let t = Instant::now();
    let rows = load(url, cfg.environments, month_start, postgres).await?;
    let load_time = t.elapsed();
    eprintln!("P4 {label}: {rows} rows loaded in {}", secs(load_time));
    let book = tariffs()?;
    let contracts = contracts()?;
    let request = ReportRequest {
        name: format!("akp-{MONTH}"),
        month,
        corrects: None,
        generated_at: "2026-11-05T00:00:00Z".into(),
        residency: None,
    };
    if rows <= 3_000_000 {
        // Small runs also check that rating per civil day in the database equals rating
        // each row (the report's path against the plain one).
        let input = akp_rules::billing::rating::RatingInput {
            tariffs: &book,
            contracts: &contracts,
            calendar: &calendar,
        };
        let by_row = akp_rules::billing::rating::rate(&input, &ledger.rows(month).await?, &[])?;
        let days = ledger
            .daily_usage(month, akp_rules::billing::rating::KZ_UTC_OFFSET_SECS)
            .await?;
        let by_day = akp_rules::billing::rating::rate_daily(&input, &days, &[])?;
        ensure!(
            by_row == by_day,
            "{label}: rating by day differs from rating by row"
        );
        results.note(format!(
            "P4 {label}: rating {} daily sums equals rating the {rows} rows one by one",
            days.len()
        ));
    }
    let (mut best_m, mut best_f) = (Duration::MAX, Duration::MAX);
    let mut lines = 0;
    for _ in 0..cfg.repeats {
        let (f, sums) = floor(url).await?;
        best_f = best_f.min(f);
        let t = Instant::now();
        let doc = report::from_ledger(&ledger, &request, &book, &contracts).await?;
        best_m = best_m.min(t.elapsed());
        lines = doc
            .agencies
            .iter()
            .flat_map(|a| &a.products)
            .flat_map(|p| &p.environments)
            .map(|e| e.lines.len())
            .sum::<usize>();
        check(&doc, &sums)?;
    }
    // Where the report's time goes, one pass of each part.
    let t = Instant::now();
    let days = ledger
        .daily_usage(month, akp_rules::billing::rating::KZ_UTC_OFFSET_SECS)
        .await?;
    let t_days = t.elapsed();
    let t = Instant::now();
    let coverage = ledger.coverage(month).await?;
    let t_coverage = t.elapsed();
    let t = Instant::now();
    let input = akp_rules::billing::rating::RatingInput {
        tariffs: &book,
        contracts: &contracts,
        calendar: &calendar,
    };
    let rated = akp_rules::billing::rating::rate_daily(&input, &days, &[])?;
    let t_rate = t.elapsed();
    results.note(format!(
        "P4 {label} breakdown: daily sums query {} ({} groups), coverage query {} ({} environments), rating {} ({} lines), the rest (adjustments, data quality, building the document) the remainder",
        secs(t_days),
        days.len(),
        secs(t_coverage),
        coverage.len(),
        secs(t_rate),
        rated.lines.len()
    ));
    eprintln!(
        "P4 {label}: report {} ({lines} lines), floor {}",
        secs(best_m),
        secs(best_f)
    );
    ledger.close().await;
    results.ratio(
        &format!(
            "P4 rating: {} rows ({} environments × 8 × 744 h) → report, {label}",
            rows, cfg.environments
        ),
        best_m,
        best_f,
        2.0,
    );
    results.note(format!(
        "P4 {label}: {rows} ledger rows + {} coverage rows loaded in {} ({:.0} rows/s); report of {lines} lines; best of {}",
        cfg.environments as i64 * HOURS,
        secs(load_time),
        rows as f64 / load_time.as_secs_f64(),
        cfg.repeats
    ));
    Ok(())
}

/// Runs P4 and adds its rows.
pub async fn run(cfg: &Config, results: &mut Results) -> Result<()> {
    if cfg.databases.iter().any(|d| d == "sqlite") {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("p4.db").display());
        one("SQLite", &url, false, cfg, results).await?;
    }
    if cfg.databases.iter().any(|d| d == "postgres") {
        let pg = TestPostgres::start()?;
        let url = pg.create_database("p4")?;
        one("PostgreSQL", &url, true, cfg, results).await?;
    }
    Ok(())
}
