//! The BillingReport controller run inside a test's process, and ledger rows of the
//! example production environment, for the report and fault tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use akp_billing::report::controller::{Context as ReportsContext, ReportsConfig};
use akp_billing::report::delivery::{DeliveryConfig, IDEMPOTENCY_HEADER};
use akp_billing::{Calendar, Hour, Ledger};
use akp_crds::report::{BillingReport, BillingReportSpec};
use akp_rules::billing::rows::EnvIdentity;
use akp_rules::billing::rows::LedgerRow;
use kube::api::{Api, PostParams};

/// A ledger row of `mon`'s `e-license` production environment.
pub fn production_row(resource: &str, unit: &str, hour: Hour, quantity: i64) -> LedgerRow {
    LedgerRow {
        namespace: "mon-e-license-production".into(),
        resource: resource.into(),
        hour,
        identity: EnvIdentity {
            agency: "mon".into(),
            product: "e-license".into(),
            environment: "production".into(),
            ..EnvIdentity::default()
        },
        unit: unit.into(),
        quantity,
    }
}

/// The ledger at `url` (created if it is a new SQLite file) holding ten hours of `mon`'s `e-license` production from
/// 2026-10-10T00:00Z (October 2026 in UTC+5), 2 cores and 8 GiB each hour: at the
/// akp-2026 tariff 10 × (2 × 10.80 + 8 × 1.30) = 320.00 KZT. Returns the ledger and
/// the first hour; the month is not closed.
pub async fn october_production_ledger(url: &str) -> anyhow::Result<(Ledger, Hour)> {
    let ledger = Ledger::open(url, Calendar::kazakhstan()).await?;
    let first: jiff::Timestamp = "2026-10-10T00:00:00Z".parse()?;
    let first = Hour::starting_at(first.as_second())
        .ok_or_else(|| anyhow::anyhow!("2026-10-10T00:00Z is not an hour"))?;
    let rows: Vec<LedgerRow> = (0..10)
        .flat_map(|i| {
            let h = first.plus(i);
            [
                production_row("cpu", "core_second", h, 7_200_000_000),
                production_row("memory", "gib_hour", h, 8_000_000),
            ]
        })
        .collect();
    ledger.commit("cpu", first.plus(10), &rows, &[]).await?;
    Ok((ledger, first))
}

/// Report settings fast enough for tests: delivery to `endpoint` trusting `ca_pem`,
/// 2 attempts 200 ms to 1 s apart with a 2 s timeout, requeues within a second.
pub fn reports_config(
    dir: &Path,
    endpoint: &str,
    ca_pem: &[u8],
    instance: &str,
) -> anyhow::Result<ReportsConfig> {
    Ok(ReportsConfig {
        dir: dir.to_path_buf(),
        delivery: Some(DeliveryConfig {
            endpoint: endpoint.to_owned(),
            ca_pem: Some(ca_pem.to_vec()),
            timeout: Duration::from_secs(2),
            max_attempts: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
            ..DeliveryConfig::default()
        }),
        pending_requeue: Duration::from_millis(500),
        create_interval: Duration::from_millis(300),
        instance: Some(instance.to_owned()),
        document: report_document()?,
        ..ReportsConfig::default()
    })
}

/// The example document settings (examples/billing/report-document.yaml).
pub fn report_document() -> anyhow::Result<akp_rules::billing::report::document::DocumentConfig> {
    let path = crate::repo_root().join("examples/billing/report-document.yaml");
    Ok(akp_rules::billing::report::document::DocumentConfig::load(
        &path,
    )?)
}

/// The report controller in this process; aborted on drop (a restart is a drop and
/// a new start).
pub struct InProcessReports(tokio::task::JoinHandle<()>);

impl Drop for InProcessReports {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the report controller on this runtime, signing with the key of `seed`.
pub fn start_reports(
    client: &kube::Client,
    ledger: &Ledger,
    seed: &[u8; 32],
    config: ReportsConfig,
) -> anyhow::Result<(InProcessReports, Arc<ReportsContext>)> {
    let key = akp_billing::report::sign::signing_key_from_bytes(seed)?;
    let ctx = Arc::new(ReportsContext::new(
        client.clone(),
        ledger.clone(),
        key,
        config,
    )?);
    Ok((
        InProcessReports(tokio::spawn(akp_billing::report::controller::run(
            ctx.clone(),
        ))),
        ctx,
    ))
}

/// Creates the BillingReport `name` of `period`, to be delivered, correcting
/// `corrects` if given.
pub async fn create_report(
    api: &Api<BillingReport>,
    name: &str,
    period: &str,
    corrects: Option<&str>,
) -> anyhow::Result<()> {
    let spec = BillingReportSpec {
        period: period.into(),
        deliver: true,
        corrects: corrects.map(Into::into),
    };
    api.create(&PostParams::default(), &BillingReport::new(name, spec))
        .await?;
    Ok(())
}

/// The idempotency key a delivery carries (empty when it has none).
pub fn idempotency_key(headers: &http::HeaderMap) -> String {
    headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
