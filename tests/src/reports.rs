//! The BillingReport controller run inside a test's process, and ledger rows of the
//! example production environment, for the report and fault tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use akp_billing::delivery::DeliveryConfig;
use akp_billing::identity::EnvIdentity;
use akp_billing::ledger::LedgerRow;
use akp_billing::reports::{Context as ReportsContext, ReportsConfig};
use akp_billing::{Hour, Ledger};

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

/// Report settings fast enough for tests: delivery to `endpoint` trusting `ca_pem`,
/// 2 attempts 200 ms to 1 s apart with a 2 s timeout, requeues within a second.
pub fn reports_config(dir: &Path, endpoint: &str, ca_pem: &[u8], instance: &str) -> ReportsConfig {
    ReportsConfig {
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
    }
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
    let key = akp_billing::sign::signing_key_from_bytes(seed)?;
    let ctx = Arc::new(ReportsContext::new(
        client.clone(),
        ledger.clone(),
        key,
        config,
    )?);
    Ok((
        InProcessReports(tokio::spawn(akp_billing::reports::run(ctx.clone()))),
        ctx,
    ))
}
