//! The collection cycle: from the watermarks to now, window by window, one query per
//! resource kind per window, into the ledger.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::metering::config::{MeteringConfig, QueryConfig};
use akp_rules::billing::rows::{EnvIdentity, LedgerRow, QualityRow};

use crate::ledger::{Batch, Ledger, LedgerError};
use crate::metering::identity::{WindowIdentity, identify};
use crate::metering::integrate::Series;
use crate::metering::meter::{Meter, Resource, Tally, compute};
use crate::metering::prom::{PromError, Prometheus};
use crate::metering::quantity::{Exact, Unit, to_micro};
use crate::metrics::Metrics;
use akp_rules::billing::period::{Hour, Month, Window, windows};

/// Data-quality reason: usage in a namespace that is not an environment.
pub const NOT_AN_ENVIRONMENT: &str = "not-an-environment";
/// Data-quality reason: a running image that is in no catalog item.
pub const UNCATALOGUED_IMAGE: &str = "uncatalogued-image";
/// Data-quality reason: series without the labels that only the platform's scrape
/// configuration sets (`QueryConfig::trusted`): never billed, whatever they claim.
pub const UNTRUSTED_SERIES: &str = "untrusted-series";
/// Data-quality reason: usage of a namespace whose identity two series claimed
/// differently in the same hour.
pub const IDENTITY_CONFLICT: &str = "identity-conflict";

/// Why a cycle failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Prometheus failed.
    #[error(transparent)]
    Prometheus(#[from] PromError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The configuration cannot be used.
    #[error("{0}")]
    Config(String),
    /// Some meters failed; the others were collected.
    #[error("meters failed: {0}")]
    Partial(String),
}

impl CollectError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            CollectError::Prometheus(e) => e.metric_label(),
            CollectError::Ledger(e) => e.metric_label(),
            CollectError::Config(_) => "config",
            CollectError::Partial(_) => "partial",
        }
    }
}

/// What a cycle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Windows processed.
    pub windows: u64,
    /// Queries sent.
    pub queries: u64,
    /// The most queries one window needed.
    pub max_queries_per_window: u64,
    /// Rows upserted.
    pub rows: u64,
    /// Adjustments booked.
    pub adjustments: u64,
    /// Months closed.
    pub months_closed: Vec<Month>,
    /// The lowest watermark after the cycle.
    pub collected_until: Option<Hour>,
}

/// Collects metering data from Prometheus into the ledger.
pub struct Collector {
    config: MeteringConfig,
    prometheus: Prometheus,
    ledger: Ledger,
    catalog: Catalog,
    metrics: Metrics,
    audit: Option<akp_audit::Sink>,
}

impl Collector {
    /// Stores months closed and adjustments booked in the audit trail through `sink`
    /// (R-MON-02); without it they are only logged.
    pub fn with_audit(mut self, sink: akp_audit::Sink) -> Self {
        self.audit = Some(sink);
        self
    }

    async fn audit(&self, record: akp_audit::Record) {
        akp_audit::emit(self.audit.as_ref(), record).await;
    }

    /// A collector; the configuration must be valid.
    pub fn new(
        config: MeteringConfig,
        ledger: Ledger,
        catalog: Catalog,
        metrics: Metrics,
    ) -> Result<Self, CollectError> {
        config
            .validate()
            .map_err(|e| CollectError::Config(e.to_string()))?;
        let timeout = Duration::from_secs(config.prometheus.timeout_seconds.max(1));
        let prometheus = Prometheus::from_config(&config.prometheus, timeout)?;
        Ok(Self {
            config,
            prometheus,
            ledger,
            catalog,
            metrics,
            audit: None,
        })
    }

    /// The Prometheus client (it counts queries).
    pub fn prometheus(&self) -> &Prometheus {
        &self.prometheus
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The configuration.
    pub fn config(&self) -> &MeteringConfig {
        &self.config
    }

    /// Replaces the software catalog.
    pub fn set_catalog(&mut self, catalog: Catalog) {
        self.catalog = catalog;
    }

    /// The first hour that may not be collected yet at `now`: every earlier hour ended
    /// at least the settle time ago.
    pub fn collectable_until(&self, now_secs: i64) -> Hour {
        Hour::containing(now_secs - self.config.timing.settle_seconds)
    }

    /// The oldest hour Prometheus still keeps at `now`.
    fn oldest_kept(&self, now_secs: i64) -> Hour {
        Hour::containing(now_secs - self.config.timing.retention_seconds).plus(1)
    }

    /// Where an empty ledger starts.
    fn initial_start(&self, now_secs: i64) -> Result<Hour, CollectError> {
        match &self.config.timing.start {
            Some(text) => {
                let ts: jiff::Timestamp = text
                    .parse()
                    .map_err(|e| CollectError::Config(format!("timing.start = {text:?}: {e}")))?;
                Ok(Hour::containing(ts.as_second()))
            }
            None => Ok(self.oldest_kept(now_secs)),
        }
    }

    /// Collects every hour from each meter's watermark up to `now` (backfilling what
    /// is missing within Prometheus' retention and recording older hours as lost),
    /// then closes the months that are due.
    pub async fn collect(&self, now_secs: i64) -> Result<CycleReport, CollectError> {
        let until = self.collectable_until(now_secs);
        let marks = self.ledger_op(self.ledger.watermarks()).await?;
        let oldest = self.oldest_kept(now_secs);
        let initial = self.initial_start(now_secs)?;
        let mut starts = BTreeMap::new();
        for meter in Meter::ALL {
            let mut start = marks.get(meter.name()).copied().unwrap_or(initial);
            if start < oldest {
                tracing::warn!(meter = meter.name(), from = %start, to = %oldest, "hours lost: older than Prometheus' retention");
                self.ledger_op(self.ledger.record_lost(meter.name(), start, oldest))
                    .await?;
                start = oldest;
            }
            starts.insert(meter, start);
        }
        let mut report = self.run_windows(&starts, until, now_secs, None).await;
        if self.config.timing.live {
            // The open hour, up to the settle time before now, for the meters that are
            // caught up; their watermarks stay at its start.
            let marks = self.ledger_op(self.ledger.watermarks()).await?;
            let open: BTreeMap<Meter, Hour> = Meter::ALL
                .into_iter()
                .filter(|m| marks.get(m.name()).or(starts.get(m)) == Some(&until))
                .map(|m| (m, until))
                .collect();
            let cutoff = now_secs - self.config.timing.settle_seconds;
            if !open.is_empty() && cutoff > until.start() {
                let live = self
                    .run_windows(&open, until.plus(1), now_secs, Some(cutoff))
                    .await;
                match (report.as_mut(), live) {
                    (Ok(r), Ok(l)) => {
                        r.windows += l.windows;
                        r.queries += l.queries;
                        r.rows += l.rows;
                    }
                    (Ok(_), Err(e)) => report = Err(e),
                    (Err(_), _) => {}
                }
            }
        }
        let marks = self.ledger_op(self.ledger.watermarks()).await?;
        let lowest = Meter::ALL
            .iter()
            .map(|m| marks.get(m.name()).copied())
            .collect::<Option<Vec<Hour>>>()
            .and_then(|hours| hours.into_iter().min());
        if let Some(lowest) = lowest {
            let closed = self
                .ledger_op(self.ledger.close_due_months(
                    now_secs,
                    self.config.timing.grace_seconds,
                    lowest,
                ))
                .await?;
            self.metrics.months_closed(closed.len() as u64);
            for month in &closed {
                self.audit(
                    akp_audit::Record::new(
                        "akp-billing",
                        akp_audit::record::BILLING_MONTH_CLOSED,
                        akp_audit::Object::cluster("LedgerMonth", &month.to_string()),
                        akp_audit::Decision::Done,
                    )
                    .reason(format!(
                        "month {month} closed: its rows are final, later data becomes adjustments"
                    ))
                    .details(serde_json::json!({
                        "collectedUntil": lowest.to_string(),
                        "now": now_secs,
                    })),
                )
                .await;
            }
            if let Ok(r) = report.as_mut() {
                r.months_closed = closed;
                r.collected_until = Some(lowest);
            }
        }
        self.update_gauges(now_secs).await;
        report
    }

    /// Collects `[from, until)` again for every meter, whatever the watermarks say:
    /// late data of open months replaces their rows, of closed months becomes
    /// adjustments. Watermarks only move forward.
    pub async fn recollect(
        &self,
        from: Hour,
        until: Hour,
        now_secs: i64,
    ) -> Result<CycleReport, CollectError> {
        let until = until.min(self.collectable_until(now_secs));
        let from = from.max(self.oldest_kept(now_secs));
        let starts = Meter::ALL.into_iter().map(|m| (m, from)).collect();
        self.run_windows(&starts, until, now_secs, None).await
    }

    /// `live`: the window is the open hour, collected up to this Unix second; its
    /// watermarks do not move.
    async fn run_windows(
        &self,
        starts: &BTreeMap<Meter, Hour>,
        until: Hour,
        now_secs: i64,
        live: Option<i64>,
    ) -> Result<CycleReport, CollectError> {
        let mut report = CycleReport::default();
        let Some(global) = starts.values().copied().min() else {
            return Ok(report);
        };
        let mut failed: BTreeMap<Meter, String> = BTreeMap::new();
        for window in windows(global, until, self.config.timing.max_window_hours) {
            let before = self.prometheus.query_count();
            let id_query = &self.config.identity.query;
            let (identity_series, forged) = trusted(
                self.query("identity", id_query, window, live).await?,
                id_query,
            );
            // Written with the first meter's rows.
            let mut pending_quality = untrusted_identity(&forged, id_query, window);
            let spacing = self.config.identity.query.spacing(&self.config.timing);
            let identity = identify(&identity_series, &self.config.identity, spacing, window);
            self.ledger_op(self.ledger.write_identity(&identity))
                .await?;
            let known = self.ledger_op(self.ledger.known_identities()).await?;
            let mut computed = Vec::new();
            for meter in Meter::ALL {
                let Some(start) = starts.get(&meter).copied() else {
                    continue;
                };
                if start >= window.end || failed.contains_key(&meter) {
                    continue;
                }
                let sub = Window {
                    start: start.max(window.start),
                    end: window.end,
                };
                let mut results = Vec::new();
                let mut untrusted = Vec::new();
                let mut error = None;
                for q in meter.queries(&self.config) {
                    match self.query(meter.name(), q, sub, live).await {
                        Ok(series) => {
                            let (good, bad) = trusted(series, q);
                            results.push(good);
                            untrusted.push(bad);
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = error {
                    tracing::warn!(meter = meter.name(), window = %sub.start, "query failed: {e}");
                    failed.insert(meter, e.to_string());
                    continue;
                }
                let t_compute = Instant::now();
                let tally = compute(meter, &self.config, &self.catalog, sub, &results);
                let (rows, mut quality) = self.resolve(&tally, &identity, &known)?;
                let forged = compute(meter, &self.config, &self.catalog, sub, &untrusted);
                quality.extend(untrusted_usage(&forged)?);
                quality.append(&mut pending_quality);
                let next = if live.is_some() { sub.start } else { sub.end };
                tracing::debug!(
                    meter = meter.name(),
                    window = %sub.start,
                    compute = ?t_compute.elapsed(),
                    rows = rows.len(),
                    "meter computed"
                );
                computed.push((meter, sub, next, rows, quality));
            }
            // One transaction for the window's meters: one sync instead of one per meter.
            let t_commit = Instant::now();
            let batches: Vec<Batch<'_>> = computed
                .iter()
                .map(|(meter, _, next, rows, quality)| Batch {
                    meter: meter.name(),
                    next_hour: *next,
                    rows,
                    quality,
                })
                .collect();
            let all_stats = self.ledger_op(self.ledger.commit_batches(&batches)).await?;
            tracing::debug!(window = %window.start, commit = ?t_commit.elapsed(), "window committed");
            for ((meter, sub, _, _, _), stats) in computed.iter().zip(all_stats) {
                self.metrics.written(stats.rows, stats.adjustments);
                if stats.adjustments > 0 {
                    self.audit(
                        akp_audit::Record::new(
                            "akp-billing",
                            akp_audit::record::BILLING_ADJUSTMENTS_BOOKED,
                            akp_audit::Object::cluster("LedgerMeter", meter.name()),
                            akp_audit::Decision::Done,
                        )
                        .reason(format!(
                            "{} adjustment(s) of closed months booked from hours {} to {}",
                            stats.adjustments, sub.start, sub.end
                        ))
                        .details(serde_json::json!({
                            "meter": meter.name(),
                            "from": sub.start.to_string(),
                            "to": sub.end.to_string(),
                            "adjustments": stats.adjustments,
                        })),
                    )
                    .await;
                }
                if live.is_none() {
                    self.metrics
                        .collected(meter.name(), sub.end.start(), now_secs);
                }
                report.rows += stats.rows;
                report.adjustments += stats.adjustments;
            }
            let used = self.prometheus.query_count() - before;
            self.metrics.queries_per_window(used);
            report.windows += 1;
            report.queries += used;
            report.max_queries_per_window = report.max_queries_per_window.max(used);
            tracing::debug!(window = %window.start, hours = window.len(), queries = used, "window collected");
        }
        if failed.is_empty() {
            Ok(report)
        } else {
            let list: Vec<String> = failed
                .iter()
                .map(|(m, e)| format!("{}: {e}", m.name()))
                .collect();
            Err(CollectError::Partial(list.join("; ")))
        }
    }

    /// One query over `window`: evaluated at the window's end plus the hold, reaching
    /// back the lookback before its start.
    async fn query(
        &self,
        meter: &str,
        q: &QueryConfig,
        window: Window,
        live: Option<i64>,
    ) -> Result<Vec<Series>, PromError> {
        let timing = &self.config.timing;
        let at = window.end.start() + q.hold_seconds;
        let at = live.map_or(at, |cutoff| at.min(cutoff));
        let range = at - window.start.start() + timing.lookback_seconds;
        let started = Instant::now();
        let result = self.prometheus.query(&q.render(range), at).await;
        self.metrics.query(
            meter,
            started.elapsed(),
            result.as_ref().err().map(PromError::metric_label),
        );
        result
    }

    async fn ledger_op<T>(
        &self,
        op: impl Future<Output = Result<T, LedgerError>>,
    ) -> Result<T, CollectError> {
        op.await.map_err(|e| {
            self.metrics.database_error(e.metric_label());
            CollectError::Ledger(e)
        })
    }

    /// Rounds a tally to ledger rows of environments, and data-quality lines for the rest.
    fn resolve(
        &self,
        tally: &Tally,
        identity: &WindowIdentity,
        known: &BTreeMap<String, EnvIdentity>,
    ) -> Result<(Vec<LedgerRow>, Vec<QualityRow>), CollectError> {
        let mut rows = Vec::new();
        let mut quality: BTreeMap<(&'static str, String, Hour), (i64, i64)> = BTreeMap::new();
        for ((namespace, resource, hour), exact) in tally {
            let unit = resource.unit();
            let quantity = ledger_quantity(namespace, resource, *exact)?;
            let env = identity.resolve(namespace, *hour, known);
            let conflict = identity.conflicts.contains(&(namespace.clone(), *hour));
            let reason = match (resource, env) {
                _ if conflict => Some(IDENTITY_CONFLICT),
                (Resource::UncataloguedInstances, _) => Some(UNCATALOGUED_IMAGE),
                (Resource::Availability, Some(id))
                    if id.environment != self.config.identity.production =>
                {
                    continue;
                }
                (
                    Resource::Availability
                    | Resource::QuotaCpu
                    | Resource::QuotaMemory
                    | Resource::QuotaStorage,
                    None,
                ) => {
                    continue;
                }
                (_, None) => Some(NOT_AN_ENVIRONMENT),
                (_, Some(_)) => None,
            };
            match (reason, env) {
                (Some(reason), _) => {
                    let slot = quality
                        .entry((reason, resource.to_string(), *hour))
                        .or_default();
                    slot.0 += quantity;
                    slot.1 += 1;
                }
                (None, Some(id)) => rows.push(LedgerRow {
                    namespace: namespace.clone(),
                    resource: resource.to_string(),
                    hour: *hour,
                    identity: id.clone(),
                    unit: unit.as_str().to_string(),
                    quantity,
                }),
                (None, None) => {}
            }
        }
        let quality = quality
            .into_iter()
            .map(
                |((reason, resource, hour), (quantity, namespaces))| QualityRow {
                    reason: reason.to_string(),
                    unit: Resource::parse(&resource)
                        .map(|r| r.unit().as_str().to_string())
                        .unwrap_or_default(),
                    resource,
                    hour,
                    quantity,
                    namespaces,
                },
            )
            .collect();
        Ok((rows, quality))
    }

    /// Refreshes the gap gauges from the ledger (best effort).
    async fn update_gauges(&self, now_secs: i64) {
        let calendar = self.ledger.calendar().clone();
        let this = calendar.month_of(Hour::containing(now_secs));
        let previous = calendar.month_of(calendar.month_start(this).plus(-1));
        let mut gaps = 0;
        for month in [previous, this] {
            if let Ok(coverage) = self.ledger.coverage(month).await {
                gaps += coverage.iter().map(|c| c.gap_hours).sum::<i64>();
            }
        }
        let lost = self.ledger.lost_hours().await.unwrap_or(0);
        self.metrics.gaps(gaps, lost);
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A tallied amount in the ledger's integer micro-units, or why it does not fit.
fn ledger_quantity(namespace: &str, resource: &Resource, exact: Exact) -> Result<i64, LedgerError> {
    let overflow = |quantity| LedgerError::Overflow {
        namespace: namespace.to_owned(),
        resource: resource.to_string(),
        quantity,
    };
    let micro = to_micro(exact, resource.unit()).ok_or_else(|| overflow(0))?;
    i64::try_from(micro).map_err(|_| overflow(micro))
}

/// Splits a query's series into those carrying its trusted labels and the rest.
fn trusted(series: Vec<Series>, q: &QueryConfig) -> (Vec<Series>, Vec<Series>) {
    series.into_iter().partition(|s| q.trusts(&s.labels))
}

/// Data-quality lines of untrusted usage series: what they would have billed, per
/// resource and hour, and how many namespaces they named.
fn untrusted_usage(tally: &Tally) -> Result<Vec<QualityRow>, CollectError> {
    let mut lines: BTreeMap<(String, Hour), (i64, i64, Unit)> = BTreeMap::new();
    for ((namespace, resource, hour), exact) in tally {
        let unit = resource.unit();
        let quantity = ledger_quantity(namespace, resource, *exact)?;
        let slot = lines
            .entry((resource.to_string(), *hour))
            .or_insert((0, 0, unit));
        slot.0 += quantity;
        slot.1 += 1;
    }
    Ok(lines
        .into_iter()
        .map(
            |((resource, hour), (quantity, namespaces, unit))| QualityRow {
                reason: UNTRUSTED_SERIES.to_string(),
                resource,
                hour,
                unit: unit.as_str().to_string(),
                quantity,
                namespaces,
            },
        )
        .collect())
}

/// Data-quality lines of untrusted identity series (resource `identity`, unit
/// `series`): per hour of `window` they have samples in, how many series and
/// namespaces.
fn untrusted_identity(series: &[Series], q: &QueryConfig, window: Window) -> Vec<QualityRow> {
    let mut seen: BTreeMap<Hour, (i64, std::collections::BTreeSet<&str>)> = BTreeMap::new();
    for s in series {
        let hours: std::collections::BTreeSet<Hour> = s
            .samples
            .iter()
            .map(|x| Hour::containing(x.t_ms.div_euclid(1000)))
            .filter(|h| *h >= window.start && *h < window.end)
            .collect();
        for hour in hours {
            let slot = seen.entry(hour).or_default();
            slot.0 += 1;
            slot.1.insert(s.label(&q.namespace_label));
        }
    }
    seen.into_iter()
        .map(|(hour, (count, namespaces))| QualityRow {
            reason: UNTRUSTED_SERIES.to_string(),
            resource: "identity".to_string(),
            hour,
            unit: "series".to_string(),
            quantity: count,
            namespaces: namespaces.len() as i64,
        })
        .collect()
}
