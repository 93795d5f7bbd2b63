//! The operator's process: flags, telemetry, leader election, controllers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use akp_operator::clock::SystemClock;
use akp_operator::leader::LeaderElection;
use akp_operator::rules::calendar::Calendar;
use akp_operator::run::{Settings, run, run_when_leading};
use akp_operator::telemetry::{self, Metrics, Readiness};
use anyhow::Context as _;
use clap::Parser;
use futures::FutureExt;
use tokio::sync::watch;
use tracing::{error, info};

/// Reconciles agencies and platform software products into environments.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "AKP_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// The namespace of the leader-election Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "akp-system")]
    namespace: String,
    /// This replica's identity in the Lease; defaults to the host name.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The Lease's name.
    #[arg(long, default_value = "akp-operator")]
    lease_name: String,
    /// Act without a Lease (a single replica, development only).
    #[arg(long)]
    no_leader_election: bool,
    /// A YAML file of extra days off and working days for the Kazakhstan calendar
    /// (`holidays: [YYYY-MM-DD]`, `workingDays: [YYYY-MM-DD]`), from the government's
    /// yearly transfer decree (R-ENV-03).
    #[arg(long, env = "AKP_CALENDAR")]
    calendar: Option<PathBuf>,
    /// Log JSON lines.
    #[arg(long, env = "AKP_LOG_JSON")]
    log_json: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<jiff::civil::Date>,
    #[serde(default)]
    working_days: Vec<jiff::civil::Date>,
}

fn calendar(path: Option<&PathBuf>) -> anyhow::Result<Calendar> {
    let year = jiff::Zoned::now().year();
    let base = Calendar::kazakhstan(year - 2..=year + 2);
    let Some(path) = path else { return Ok(base) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: CalendarFile = serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(base.with_holidays(file.holidays).with_working_days(file.working_days))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init_tracing(args.log_json)?;
    let metrics = Metrics::new()?;
    let readiness = Readiness::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
        .shared()
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down");
        let _ = stop_tx.send(true);
    });

    let serving = telemetry::serve(args.metrics_addr, metrics.clone(), readiness.clone(), stopped.clone()).await?;
    info!(addr = %serving.local_addr, "telemetry");
    let client = kube::Client::try_default().await.context("connecting to the API server")?;
    let settings = Settings {
        clock: Arc::new(SystemClock),
        calendar: calendar(args.calendar.as_ref())?,
        instance: args.identity.clone(),
        metrics: metrics.clone(),
        readiness: readiness.clone(),
    };

    if args.no_leader_election {
        metrics.set_leader(true);
        return run(client, settings, stopped).await;
    }
    let identity = args.identity.clone().unwrap_or_else(|| hostname().unwrap_or_else(|| format!("akp-operator-{}", std::process::id())));
    let election = LeaderElection::new(client.clone(), &args.namespace, &args.lease_name, &identity);
    // Followers are ready too: they serve health and webhooks.
    readiness.set_ready();
    if run_when_leading(client, settings, election, stopped).await? {
        // Exit, and let the Deployment start a fresh follower (as linkerd's policy
        // controller does).
        error!("leadership lost; exiting");
        std::process::exit(1);
    }
    Ok(())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}
