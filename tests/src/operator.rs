//! Running the operator in-process against a control plane whose API server writes an
//! audit log, so tests can count the operator's requests exactly.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use akp_operator::clock::ManualClock;
use akp_operator::leader::LeaderElection;
use akp_operator::rules::calendar::Calendar;
use akp_operator::run::{Settings, run, run_when_leading};
use akp_operator::telemetry::{Metrics, Readiness};
use anyhow::{Result, bail};
use futures::FutureExt;
use kube::Client;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::{ControlPlane, Options, setpriv_command, workspace_binary};

/// A control plane that writes an audit log of every write, so tests can count the
/// operator's requests exactly.
pub struct Cluster {
    /// The control plane.
    pub cp: ControlPlane,
    audit_log: PathBuf,
    _policy: tempfile::TempDir,
}

/// The API server's audit policy: the metadata of every write, nothing else.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  verbs: [create, update, patch, delete, deletecollection]\n- level: None\n";

/// Writes the audit policy into `dir` and returns the kube-apiserver arguments that
/// log every write, blocking, to `dir/audit.log`, and that log's path.
pub fn audit_log_args(dir: &Path) -> Result<(Vec<String>, PathBuf)> {
    let policy = dir.join("audit-policy.yaml");
    std::fs::write(&policy, AUDIT_POLICY)?;
    let audit_log = dir.join("audit.log");
    let args = vec![
        format!("--audit-policy-file={}", policy.display()),
        format!("--audit-log-path={}", audit_log.display()),
        "--audit-log-mode=blocking".into(),
    ];
    Ok((args, audit_log))
}

/// Write requests made so far by `user` according to the audit log at `audit_log`
/// (none while it does not exist), excluding Leases and Events (elections and notices
/// are not environment writes), as `verb resource namespace/name`.
pub fn writes_in(audit_log: &Path, user: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(audit_log).unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == user)
        .filter(|e| {
            !matches!(
                e["objectRef"]["resource"].as_str(),
                Some("leases" | "events")
            )
        })
        .map(|e| {
            format!(
                "{} {} {}/{}",
                e["verb"].as_str().unwrap_or_default(),
                e["objectRef"]["resource"].as_str().unwrap_or_default(),
                e["objectRef"]["namespace"].as_str().unwrap_or_default(),
                e["objectRef"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

/// A full control plane (scheduler, controller manager, kwok, CRDs) with an audit log.
pub fn cluster() -> Result<Cluster> {
    let dir = tempfile::tempdir()?;
    let (apiserver_args, audit_log) = audit_log_args(dir.path())?;
    let cp = ControlPlane::start(Options {
        crds: true,
        apiserver_args,
        ..Options::full()
    })?;
    Ok(Cluster {
        cp,
        audit_log,
        _policy: dir,
    })
}

impl Cluster {
    /// Write requests made so far by `user`, excluding Leases and Events (see
    /// [`writes_in`]).
    pub fn writes_by(&self, user: &str) -> Result<Vec<String>> {
        writes_in(&self.audit_log, user)
    }
}

/// An operator running in this test's runtime.
pub struct Operator {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<bool>>,
    /// Its metrics.
    pub metrics: Metrics,
}

impl Operator {
    fn settings(clock: &ManualClock, metrics: &Metrics) -> Settings {
        Settings {
            audit: None,
            clock: Arc::new(clock.clone()),
            calendar: Calendar::kazakhstan(2025..=2028),
            segmentation: Default::default(),
            instance: Some("test".into()),
            metrics: metrics.clone(),
            readiness: Readiness::new(),
            remotes: Default::default(),
            concurrency: akp_operator::run::DEFAULT_CONCURRENCY,
        }
    }

    /// Runs the controllers (no election) on this runtime.
    pub fn start(client: Client, clock: &ManualClock) -> Self {
        Self::start_audited(client, clock, None)
    }

    /// Runs the controllers (no election) on this runtime, storing their audit
    /// records (R-MON-02) through `audit`.
    pub fn start_audited(
        client: Client,
        clock: &ManualClock,
        audit: Option<akp_audit::Sink>,
    ) -> Self {
        let metrics = Metrics::new().unwrap_or_default();
        let settings = Settings {
            audit,
            ..Self::settings(clock, &metrics)
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            run(client, settings, rx.map(|_| ())).await?;
            Ok(false)
        });
        Self {
            stop: Some(tx),
            task,
            metrics,
        }
    }

    /// Runs a replica that acts only while it leads the Lease `default/akp-operator`.
    pub fn start_elected(client: Client, clock: &ManualClock, identity: &str) -> Self {
        let metrics = Metrics::new().unwrap_or_default();
        let settings = Self::settings(clock, &metrics);
        let (tx, rx) = oneshot::channel::<()>();
        let base = LeaderElection::new(client.clone(), "default", "akp-operator", identity);
        // Short durations so takeover tests stay quick; valid by construction.
        let election = base
            .clone()
            .with_durations(Duration::from_secs(4), Duration::from_secs(1))
            .unwrap_or(base);
        let task = tokio::spawn(run_when_leading(
            client,
            settings,
            election,
            rx.map(|_| ()).shared(),
        ));
        Self {
            stop: Some(tx),
            task,
            metrics,
        }
    }

    /// Stops it gracefully.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }

    /// Kills it mid-work: no graceful shutdown, no release.
    pub fn kill(self) {
        self.task.abort();
    }

    /// How many product reconciles it started.
    pub fn product_reconciles(&self) -> u64 {
        let text = self.metrics.render().unwrap_or_default();
        text.lines()
            .filter(|l| {
                l.starts_with("akp_operator_reconciles_total")
                    && l.contains("controller=\"product\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// Polls `check` every 200 ms until it yields a value, for at most `timeout`.
pub async fn eventually<F, Fut, T>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what} {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The user the in-process operator authenticates as in these tests.
pub const OPERATOR_USER: &str = "akp-operator";

impl Cluster {
    /// Starts an operator as [`OPERATOR_USER`] (a cluster admin) with `clock`.
    pub async fn operator(&self, clock: &ManualClock) -> Result<Operator> {
        self.operator_audited(clock, None).await
    }

    /// [`Cluster::operator`] with a clock of its own at the real now, for tests that
    /// never move the clock.
    pub async fn operator_now(&self) -> Result<Operator> {
        self.operator(&ManualClock::new(jiff::Timestamp::now()))
            .await
    }

    /// [`Cluster::operator`] whose audit records go to `audit`.
    pub async fn operator_audited(
        &self,
        clock: &ManualClock,
        audit: Option<akp_audit::Sink>,
    ) -> Result<Operator> {
        Ok(Operator::start_audited(
            self.cp
                .client_for(OPERATOR_USER, &["system:masters"])
                .await?,
            clock,
            audit,
        ))
    }
}

/// Waits until an Event with `reason` (and Warning type when `warning`) exists, in
/// `namespace` or, with `None`, anywhere.
/// The CPU (`requests.cpu`) of the operator's quota `akp-requested` in `namespace`.
pub async fn quota_cpu(client: &Client, namespace: &str) -> Result<Option<String>> {
    use k8s_openapi::api::core::v1::ResourceQuota;
    let quota = kube::api::Api::<ResourceQuota>::namespaced(client.clone(), namespace)
        .get_opt("akp-requested")
        .await?;
    Ok(quota
        .and_then(|q| q.spec)
        .and_then(|s| s.hard)
        .and_then(|h| h.get("requests.cpu").map(|q| q.0.clone())))
}

pub async fn wait_for_event(
    client: &Client,
    namespace: Option<&str>,
    reason: &str,
    warning: bool,
) -> Result<()> {
    use k8s_openapi::api::core::v1::Event;
    use kube::api::{Api, ListParams};
    let api: Api<Event> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    eventually(
        &format!("an event {reason}"),
        Duration::from_secs(30),
        || async {
            let events = api.list(&ListParams::default()).await?;
            let found = events.items.iter().any(|e| {
                e.reason.as_deref() == Some(reason)
                    && (!warning || e.type_.as_deref() == Some("Warning"))
            });
            Ok(found.then_some(()))
        },
    )
    .await
}

/// The arguments of an `akp-operator` process of these tests (and the demo): no leader
/// election, metrics on any port, the namespace `akp-system`, its webhooks served and
/// registered at `https://127.0.0.1:<webhook_port>`.
pub fn operator_args(webhook_port: u16) -> Vec<String> {
    [
        "--no-leader-election",
        "--metrics-addr",
        "127.0.0.1:0",
        "--namespace",
        "akp-system",
        "--register-webhooks",
        "--webhook-addr",
        &format!("127.0.0.1:{webhook_port}"),
        "--webhook-endpoint",
        &format!("https://127.0.0.1:{webhook_port}"),
    ]
    .map(str::to_owned)
    .into()
}

/// The `akp-operator` binary with [`operator_args`], as [`OPERATOR_USER`] (a cluster
/// admin) of `cp`, dying with the test ([`setpriv_command`]), its output in
/// `dir/operator.log` and `dir/operator.err` (kept for a failure's diagnosis). The
/// caller adds its own arguments and spawns it.
pub fn operator_command(cp: &ControlPlane, dir: &Path, webhook_port: u16) -> Result<Command> {
    std::fs::create_dir_all(dir)?;
    let kubeconfig = dir.join("kubeconfig");
    cp.write_kubeconfig_for(OPERATOR_USER, &["system:masters"], &kubeconfig)?;
    let mut command = setpriv_command(workspace_binary("akp-operator")?);
    command
        .args(operator_args(webhook_port))
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "info,kube=warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("operator.log"))?)
        .stderr(std::fs::File::create(dir.join("operator.err"))?);
    Ok(command)
}
