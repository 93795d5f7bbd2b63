//! The BillingReport controller against a real API server and a real SQLite ledger
//! (R-BIL-01, R-BIL-02): Pending while the month is open, created for a closed month,
//! signed with exact totals, delivered exactly once across a controller restart, and
//! Failed with a Warning event while the receiver fails.
//!
//! The receiver is a local HTTPS server (the operator's TLS server, with a serving
//! certificate of the control plane's rcgen CA, trusted by the deliverer).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use akp_billing::Ledger;
use akp_billing::report::controller::Context as ReportsContext;
use akp_crds::report::{BillingReport, ReportPhase};
use akp_operator::webhook::{CertStore, Validators, WebhookServer, router};
use akp_test_support::operator::eventually;
use akp_test_support::reports::{
    InProcessReports, create_report, idempotency_key, october_production_ledger, reports_config,
    start_reports,
};
use akp_test_support::{ControlPlane, Options, apply_examples, list_all};
use anyhow::{Result, anyhow, ensure};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};

const SEED: [u8; 32] = [9; 32];

/// A receiver answering `status` to every POST; a key already accepted gets 409.
struct Receiver {
    url: String,
    ca_pem: Vec<u8>,
    status: Arc<AtomicU16>,
    requests: Arc<AtomicUsize>,
    accepted: Arc<Mutex<Vec<String>>>,
}

/// An HTTPS receiver on 127.0.0.1 with a certificate of the control plane's CA,
/// served by the operator's TLS server (every path falls through to the handler).
async fn receiver(cp: &ControlPlane, client: &kube::Client) -> Result<Receiver> {
    let (cert, key) = cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
    let store = Arc::new(CertStore::from_pem(&cert, &key)?);
    let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let url = format!("https://127.0.0.1:{}/reports", server.local_addr()?.port());
    let status = Arc::new(AtomicU16::new(503));
    let requests = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s, r, a) = (status.clone(), requests.clone(), accepted.clone());
    let handler = move |headers: http::HeaderMap| {
        let (s, r, a) = (s.clone(), r.clone(), a.clone());
        async move {
            let key = idempotency_key(&headers);
            r.fetch_add(1, Ordering::SeqCst);
            let mut code = s.load(Ordering::SeqCst);
            if (200..300).contains(&code)
                && let Ok(mut accepted) = a.lock()
            {
                if accepted.contains(&key) {
                    code = 409;
                } else {
                    accepted.push(key);
                }
            }
            http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
        }
    };
    let app = router(Validators::new(client.clone())).fallback(handler);
    tokio::spawn(async move {
        if let Err(e) = server.run(store, app, std::future::pending()).await {
            eprintln!("receiver stopped: {e}");
        }
    });
    Ok(Receiver {
        url,
        ca_pem: cp.ca_cert_pem().as_bytes().to_vec(),
        status,
        requests,
        accepted,
    })
}

fn start(
    client: &kube::Client,
    ledger: &Ledger,
    dir: &std::path::Path,
    rx: &Receiver,
) -> Result<(InProcessReports, Arc<ReportsContext>)> {
    let mut config = reports_config(dir, &rx.url, &rx.ca_pem, "test")?;
    if let Some(delivery) = config.delivery.as_mut() {
        // One attempt per reconcile: the tests count the controller's retries.
        delivery.timeout = Duration::from_secs(5);
        delivery.max_attempts = 1;
        delivery.initial_backoff = Duration::from_millis(300);
    }
    start_reports(client, ledger, &SEED, config)
}

async fn wait_phase(
    api: &Api<BillingReport>,
    name: &str,
    phase: ReportPhase,
) -> Result<BillingReport> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(br) = api.get_opt(name).await?
            && br.status.as_ref().is_some_and(|s| s.phase == phase)
        {
            return Ok(br);
        }
        if Instant::now() > deadline {
            let now = api.get_opt(name).await?;
            return Err(anyhow!(
                "{name} never reached {phase:?}: {:?}",
                now.map(|b| b.status)
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_event(events: &Api<Event>, name: &str, type_: &str, reason: &str) -> Result<()> {
    eventually(
        &format!("a {type_} event {reason} for {name}"),
        Duration::from_secs(20),
        || async {
            let found = list_all(events).await?.iter().any(|e| {
                e.type_.as_deref() == Some(type_)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            });
            Ok(found.then_some(()))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_bil_02_report_controller_pending_signed_delivered_once() -> Result<()> {
    let started = Instant::now();
    let cp = ControlPlane::start(Options::default().with_crds())?;
    let client = cp.admin_client().await?;
    apply_examples(&client, &["tariffs.yaml", "agencies.yaml"], "tests").await?;
    let tmp = tempfile::tempdir()?;
    // 320.00 KZT of October 2026 for mon/e-license in production.
    let (ledger, first) = october_production_ledger(&format!(
        "sqlite://{}",
        tmp.path().join("ledger.db").display()
    ))
    .await?;
    ensure!(ledger.closed_through().await?.is_none());

    let rx = receiver(&cp, &client).await?;
    let reports_dir = tmp.path().join("reports");
    let api = Api::<BillingReport>::all(client.clone());
    let (running, ctx) = start(&client, &ledger, &reports_dir, &rx)?;

    // An open month: Pending, with the reason.
    create_report(&api, "2026-11", "2026-11", None).await?;
    let pending = wait_phase(&api, "2026-11", ReportPhase::Pending).await?;
    let cond = pending
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Signed"))
        .ok_or_else(|| anyhow!("no Signed condition"))?;
    ensure!(
        cond.status == "False" && cond.reason == "MonthOpen",
        "{cond:?}"
    );
    let t_pending = started.elapsed();

    // October closes: its report is created (named after the period), signed, and
    // fails delivery while the receiver answers 503.
    let now = jiff::Timestamp::now().as_second();
    let closed = ledger.close_due_months(now, 0, first.plus(24 * 40)).await?;
    ensure!(
        closed.iter().map(ToString::to_string).collect::<Vec<_>>() == ["2026-10"],
        "{closed:?}"
    );
    let failed = wait_phase(&api, "2026-10", ReportPhase::Failed).await?;
    let status = failed.status.clone().unwrap_or_default();
    ensure!(
        status.totals.get("KZT").map(String::as_str) == Some("320.00"),
        "{:?}",
        status.totals
    );
    ensure!(status.tariffs == ["akp-2026"], "{:?}", status.tariffs);
    ensure!(status.delivery_attempts >= 1);
    ensure!(status.generated_at.is_some());
    ensure!(ctx.metrics.delivery_failures("2026-10") >= 1);
    let key = akp_billing::report::sign::signing_key_from_bytes(&SEED)?;
    let manifest =
        akp_billing::report::sign::verify_dir(&reports_dir.join("2026-10"), &key.verifying_key())?;
    ensure!(manifest.totals.get("KZT").map(String::as_str) == Some("320.00"));
    let artifacts: BTreeSet<&str> = status.artifacts.iter().map(|a| a.format.as_str()).collect();
    ensure!(
        artifacts.contains("manifest")
            && artifacts.contains("signature")
            && artifacts.contains("csv"),
        "{artifacts:?}"
    );
    let events = Api::<Event>::all(client.clone());
    wait_event(&events, "2026-10", "Warning", "Failed").await?;
    let t_failed = started.elapsed();

    // The controller restarts while the report is Failed (its attempts are on disk),
    // then the receiver recovers: Delivered, accepted once.
    drop(running);
    let (running, _ctx) = start(&client, &ledger, &reports_dir, &rx)?;
    rx.status.store(201, Ordering::SeqCst);
    let delivered = wait_phase(&api, "2026-10", ReportPhase::Delivered).await?;
    let dstatus = delivered.status.clone().unwrap_or_default();
    ensure!(dstatus.delivered_at.is_some());
    ensure!(
        dstatus.generated_at == status.generated_at,
        "generatedAt is kept"
    );
    ensure!(rx.accepted.lock().map_err(|_| anyhow!("lock"))?.len() == 1);
    ensure!(
        dstatus.delivery_attempts >= 2,
        "attempts before the restart are kept: {}",
        dstatus.delivery_attempts
    );
    wait_event(&events, "2026-10", "Normal", "Delivered").await?;

    let t_delivered = started.elapsed();

    // Restart the controller: nothing is sent again.
    drop(running);
    let requests = rx.requests.load(Ordering::SeqCst);
    let (running, _ctx) = start(&client, &ledger, &reports_dir, &rx)?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    ensure!(
        rx.requests.load(Ordering::SeqCst) == requests,
        "a restart delivered again"
    );
    let after = wait_phase(&api, "2026-10", ReportPhase::Delivered).await?;
    ensure!(after.status.as_ref().map(|s| s.delivery_attempts) == Some(dstatus.delivery_attempts));
    ensure!(rx.accepted.lock().map_err(|_| anyhow!("lock"))?.len() == 1);
    // Still byte-identical and verifiable after the restart's regeneration.
    akp_billing::report::sign::verify_dir(&reports_dir.join("2026-10"), &key.verifying_key())?;
    // Status is applied only when it changes: the Pending report, reconciled every
    // 500 ms, keeps its resourceVersion.
    let pending = api.get("2026-11").await?;
    ensure!(pending.status.as_ref().map(|s| s.phase) == Some(ReportPhase::Pending));
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        api.get("2026-11").await?.metadata.resource_version == pending.metadata.resource_version,
        "the status of an unchanged report was written again"
    );
    // A correction is a separate report, delivered as a new one (its own key).
    create_report(&api, "2026-10-c1", "2026-10", Some("2026-10")).await?;
    let correction = wait_phase(&api, "2026-10-c1", ReportPhase::Delivered).await?;
    ensure!(
        correction
            .status
            .as_ref()
            .and_then(|s| s.totals.get("KZT"))
            .map(String::as_str)
            == Some("320.00")
    );
    let corrected = akp_billing::report::sign::verify_dir(
        &reports_dir.join("2026-10-c1"),
        &key.verifying_key(),
    )?;
    ensure!(corrected.corrects.as_deref() == Some("2026-10"));
    ensure!(rx.accepted.lock().map_err(|_| anyhow!("lock"))?.len() == 2);
    ensure!(
        api.list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|r| r.spec.period == "2026-10")
            .count()
            == 2,
        "no extra report was created for a month that has one"
    );
    drop(running);
    eprintln!(
        "timings: pending {t_pending:?}, failed+warning {t_failed:?}, delivered {t_delivered:?}, total {:?}",
        started.elapsed()
    );
    ledger.close().await;
    Ok(())
}
