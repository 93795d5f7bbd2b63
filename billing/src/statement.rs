//! The agencies' statements and the cost metrics (issue 20): for the open month (and
//! the month that closed last, once more as final), the ledger's rows rated as the
//! monthly report rates them, written as one `UsageStatement` per agency in the
//! agency's namespace, and as `akp_billing_month_to_date_*` gauges. What the figures
//! are is decided in `akp_rules::billing::statement`.

use std::collections::BTreeMap;
use std::time::Duration;

use akp_crds::UsageStatement;
use akp_rules::billing::period::{Hour, Month};
use akp_rules::billing::rating::{self, KZ_UTC_OFFSET_SECS, TariffBook};
use akp_rules::billing::statement::{AgencyMonth, StatementContext, statement_name, statements};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

use crate::ledger::{Ledger, LedgerError};
use crate::report::controller::{contracts, rating_objects};

/// The field manager of the statements.
pub const FIELD_MANAGER: &str = "akp-billing";

/// Why an update of the statements failed.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// Reading the ledger.
    #[error("reading the ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// Reading tariffs or agencies, or writing a statement.
    #[error("API server: {0}")]
    Kube(#[from] kube::Error),
    /// The tariffs cannot be used.
    #[error("tariffs: {0}")]
    Tariffs(String),
    /// Rating failed.
    #[error("rating: {0}")]
    Rating(String),
}

/// The cost metrics: bounded by agencies × products × 3 categories, and the budgets.
#[derive(Clone)]
pub struct CostMetrics {
    month_to_date: GaugeVec,
    budget: GaugeVec,
    budget_used: GaugeVec,
    threshold_reached: IntGaugeVec,
    updated: prometheus::IntGauge,
}

impl CostMetrics {
    /// Defines the metrics in `registry` (the daemon's, prefixed `akp_billing_`).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<GaugeVec, prometheus::Error> {
                let g = GaugeVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(g.clone()))?;
                Ok(g)
            };
        let threshold_reached = IntGaugeVec::new(
            Opts::new(
                "budget_threshold_reached",
                "1 when the agency's billed amount of the open month has reached the threshold (percent of its budget).",
            ),
            &["agency", "threshold"],
        )?;
        registry.register(Box::new(threshold_reached.clone()))?;
        let updated = prometheus::IntGauge::new(
            "statements_updated_timestamp_seconds",
            "When the agencies' statements and cost metrics were last computed (Unix seconds).",
        )?;
        registry.register(Box::new(updated.clone()))?;
        Ok(Self {
            month_to_date: gauge(
                "month_to_date_amount",
                "Billed amount of the open month so far, KZT, by agency, product and category (R-BIL-03).",
                &["agency", "product", "category"],
            )?,
            budget: gauge(
                "budget_amount",
                "The agency's monthly budget, KZT (Agency spec.budget.monthly).",
                &["agency"],
            )?,
            budget_used: gauge(
                "budget_used_ratio",
                "Billed amount of the open month over the agency's monthly budget (1 = all of it).",
                &["agency"],
            )?,
            threshold_reached,
            updated,
        })
    }

    /// Replaces the open month's figures with `agencies`' (agencies and products gone
    /// from the ledger leave no stale series).
    fn set(&self, agencies: &BTreeMap<String, AgencyMonth>, thresholds: &[u32], now: i64) {
        self.month_to_date.reset();
        self.budget.reset();
        self.budget_used.reset();
        self.threshold_reached.reset();
        for (agency, m) in agencies {
            for ((product, category), tiyn) in &m.billed {
                self.month_to_date
                    .with_label_values(&[agency, product, category.as_str()])
                    .set(*tiyn as f64 / 100.0);
            }
            if let (Some(b), Some(ratio)) = (&m.spec.budget, m.budget_ratio) {
                self.budget
                    .with_label_values(&[agency])
                    .set(b.monthly.parse().unwrap_or(0.0));
                self.budget_used.with_label_values(&[agency]).set(ratio);
                for t in thresholds {
                    self.threshold_reached
                        .with_label_values(&[agency, &t.to_string()])
                        .set(i64::from(b.reached.contains(t)));
                }
            }
        }
        self.updated.set(now);
    }
}

/// How the statements are kept.
#[derive(Clone, Debug)]
pub struct StatementsConfig {
    /// Between updates.
    pub interval: Duration,
    /// Budget alert thresholds, percent.
    pub thresholds: Vec<u32>,
}

impl Default for StatementsConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3600),
            thresholds: vec![50, 90, 100],
        }
    }
}

/// Updates the statements every `config.interval` until the task is dropped.
pub async fn run(client: Client, ledger: Ledger, metrics: CostMetrics, config: StatementsConfig) {
    loop {
        match update(&client, &ledger, &metrics, &config, jiff::Timestamp::now()).await {
            Ok(n) => tracing::info!(statements = n, "agency statements updated"),
            Err(e) => tracing::warn!("agency statements not updated, retrying: {e}"),
        }
        tokio::time::sleep(config.interval).await;
    }
}

/// One update as of `now`: the open month's statements (provisional) and, when the
/// previous month is closed, its statements (final). Returns how many were written.
pub async fn update(
    client: &Client,
    ledger: &Ledger,
    metrics: &CostMetrics,
    config: &StatementsConfig,
    now: jiff::Timestamp,
) -> Result<usize, StatementError> {
    let (tariffs, agencies) = rating_objects(client).await?;
    let book = TariffBook::new(&tariffs).map_err(|e| StatementError::Tariffs(e.to_string()))?;
    let contracts = contracts(&agencies);
    let budgets: BTreeMap<String, String> = agencies
        .iter()
        .filter_map(|a| Some((a.name_any(), a.spec.budget.as_ref()?.monthly.clone())))
        .collect();
    let namespaces: BTreeMap<String, String> = agencies
        .iter()
        .map(|a| (a.name_any(), a.spec.namespace.clone()))
        .collect();
    let calendar = ledger.calendar().clone();
    let open = calendar.month_of(Hour::containing(now.as_second()));
    let closed = ledger.closed_through().await?;
    let through = ledger.watermarks().await?.values().min().copied();
    let mut months = vec![(open, closed.is_some_and(|c| c >= open))];
    if let Some(c) = closed.filter(|c| c.next() == open) {
        months.insert(0, (c, true));
    }
    let mut written = 0;
    for (month, is_final) in months {
        let days = ledger.daily_usage(month, KZ_UTC_OFFSET_SECS).await?;
        let adjustments = ledger.adjustments(month).await?;
        let rated = rating::rate_daily(
            &rating::RatingInput {
                tariffs: &book,
                contracts: &contracts,
                calendar: &calendar,
            },
            &days,
            &adjustments,
        )
        .map_err(|e| StatementError::Rating(e.to_string()))?;
        let end = calendar.month_end(month);
        let through = through.map_or(end, |t| t.min(end));
        let ctx = StatementContext {
            month,
            final_: is_final,
            through: rfc3339(through.start()),
            updated_at: rfc3339(now.as_second()),
            budgets: &budgets,
            thresholds: &config.thresholds,
        };
        let all = statements(&rated, &ctx);
        for (agency, m) in &all {
            // Usage of an agency whose Agency object is gone stays in the report only.
            let Some(namespace) = namespaces.get(agency) else {
                continue;
            };
            written += usize::from(write(client, namespace, month, m).await?);
        }
        if month == open {
            metrics.set(&all, &config.thresholds, now.as_second());
        }
    }
    Ok(written)
}

/// Applies one statement unless its figures are those stored (only the time changed).
async fn write(
    client: &Client,
    namespace: &str,
    month: Month,
    m: &AgencyMonth,
) -> Result<bool, kube::Error> {
    let api = Api::<UsageStatement>::namespaced(client.clone(), namespace);
    let name = statement_name(&m.spec.agency, month);
    if let Some(live) = api.get_opt(&name).await? {
        let mut same = live.spec.clone();
        same.updated_at.clone_from(&m.spec.updated_at);
        if same == m.spec {
            return Ok(false);
        }
    }
    let statement = UsageStatement::new(&name, m.spec.clone());
    let mut value = serde_json::to_value(&statement).map_err(kube::Error::SerdeError)?;
    value["metadata"]["labels"] = serde_json::json!({
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        "akp.egov.kz/agency": m.spec.agency,
    });
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&value),
    )
    .await?;
    Ok(true)
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
