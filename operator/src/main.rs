//! The operator's process: flags, telemetry, leader election, controllers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use akp_operator::clock::SystemClock;
use akp_operator::leader::LeaderElection;
use akp_operator::product::segmentation::Segmentation;
use akp_operator::remote::{RemoteClusters, RemoteWebhooks, SiteClients};
use akp_operator::rules::calendar::Calendar;
use akp_operator::run::{Settings, run, run_when_leading};
use akp_operator::telemetry::{self, Metrics, Readiness};
use akp_operator::webhook::Validators;
use akp_operator::webhook::certs::{SelfManagedCerts, ensure_serving_cert};
use akp_operator::webhook::configuration::{
    CONFIGURATION_NAME, WebhookEndpoint, apply_configuration, validating_webhook_configuration,
};
use akp_operator::webhook::metrics::AdmissionMetrics;
use akp_operator::webhook::server::{WebhookServer, routes};
use akp_operator::webhook::sites::{SiteAdmission, site_routes};
use akp_operator::webhook::tls::{CertStore, ClientCa};
use akp_operator::webhook::{ClusterLookup, PodPlacement, mutating_webhook_configuration};
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
    /// The operator's configuration file (YAML): `calendar` (extra `holidays` and
    /// `workingDays` from the government's yearly transfer decree, and
    /// `movableHolidays` by year, Kurban Ait as announced, R-ENV-03) and
    /// `segmentation` (gateway, ingress and monitoring namespaces, cluster CIDRs,
    /// R-SEG-01..04). See docs/operator.md.
    #[arg(long, env = "AKP_CONFIG")]
    config: Option<PathBuf>,
    /// Where the admission webhooks are served (TLS). Every replica serves them.
    #[arg(long, env = "AKP_WEBHOOK_ADDR", default_value = "0.0.0.0:8443")]
    webhook_addr: SocketAddr,
    /// How the API server reaches the webhooks: `service:<namespace>/<name>:<port>`
    /// (in the cluster) or an `https://` base URL (out of the cluster, the demo).
    #[arg(
        long,
        env = "AKP_WEBHOOK_ENDPOINT",
        default_value = "service:akp-system/akp-operator-webhook:443"
    )]
    webhook_endpoint: String,
    /// Where the serving certificate comes from: `self-managed` (a CA and certificate
    /// kept in a Secret and rotated by the operator), or a directory with `tls.crt` and
    /// `tls.key` (cert-manager), reloaded every five minutes.
    #[arg(long, env = "AKP_WEBHOOK_CERTS", default_value = "self-managed")]
    webhook_certs: String,
    /// A PEM file with the CA of the API server's webhook client certificate: callers
    /// without a client certificate it signed are refused at the TLS handshake, so
    /// only the API server can make an admission call. Reloaded every five minutes.
    /// Use a CA of its own, not the cluster CA (which signs users' certificates).
    /// Without it, reviews are answered but not recorded (docs/operations.md).
    #[arg(long, env = "AKP_WEBHOOK_CLIENT_CA")]
    webhook_client_ca: Option<PathBuf>,
    /// The `https://` base URL at which the API servers of other clusters (the clusters
    /// of remote Sites) reach these webhooks, e.g. a LoadBalancer in front of the
    /// webhook port. Each such cluster gets the Pod and claim webhooks of its Site, so
    /// that placement and the catalog hold there too (R-PLC-01, R-SW-01); without it
    /// pods there meet the admission policies and Pod Security only. Its host is in
    /// the self-managed certificate's names.
    #[arg(long, env = "AKP_REMOTE_WEBHOOK_ENDPOINT")]
    remote_webhook_endpoint: Option<String>,
    /// The Secret of the self-managed certificate.
    #[arg(long, default_value = "akp-operator-webhook-tls")]
    webhook_secret: String,
    /// Register the webhook configurations (else the Helm chart ships them).
    #[arg(long, env = "AKP_REGISTER_WEBHOOKS")]
    register_webhooks: bool,
    /// Serve no webhooks (development only: the API server's CEL rules still apply).
    #[arg(long)]
    no_webhooks: bool,
    /// Log JSON lines.
    #[arg(long, env = "AKP_LOG_JSON")]
    log_json: bool,
    /// The audit database (R-MON-02): sqlite:///path/audit.db or postgres://user@host/db.
    /// Admission decisions and stage changes are stored there; while it is down they
    /// wait in memory, and past that bound a request is refused rather than left
    /// unrecorded (D-AUD-2). Without it they are only logged on the target `akp::audit`.
    #[arg(long, env = "AKP_AUDIT_DB")]
    audit_db: Option<String>,
    /// R-MON-03: the largest offset of this clock from the API server's before
    /// `clock_out_of_sync` is 1, in milliseconds.
    #[arg(long, env = "AKP_MAX_CLOCK_OFFSET_MS", default_value_t = 1000)]
    max_clock_offset_ms: u64,
    /// A group of the platform's SREs (repeat for several; the chart passes
    /// `users.sre.groups`). Its members, and `system:masters`, alone delete the record
    /// of a product that reached trial operation (R-LC-07) and change its legal regime
    /// past development (R-LC-10).
    #[arg(long = "sre-group", default_value = "akp:sre")]
    sre_groups: Vec<String>,
    /// A group of the authorized body's users (repeat for several; the chart passes
    /// `users.authorizedBody.groups`). Its members alone confirm production resources
    /// (`resourceConfirmation` acts), and change nothing else of a product (R-LC-10).
    #[arg(long = "authorized-body-group", default_value = "akp:authorized-body")]
    authorized_body_groups: Vec<String>,
    /// How many reconciles of each controller run at once (at least 1; kube's own
    /// default is unbounded). A reconcile never runs twice at once for one object.
    #[arg(long, env = "AKP_RECONCILE_CONCURRENCY", default_value_t = akp_operator::run::DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u16).range(1..))]
    reconcile_concurrency: u16,
}

/// The configuration file.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    calendar: CalendarFile,
    #[serde(default)]
    segmentation: Segmentation,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<jiff::civil::Date>,
    #[serde(default)]
    working_days: Vec<jiff::civil::Date>,
    /// R-ENV-03: the movable holidays (Kurban Ait) by year, as announced; a year named
    /// here is known and its days replace the shipped ones (2024-2027).
    #[serde(default)]
    movable_holidays: std::collections::BTreeMap<i16, Vec<jiff::civil::Date>>,
}

fn config(path: Option<&PathBuf>) -> anyhow::Result<(Calendar, Segmentation)> {
    let file: ConfigFile = match path {
        None => ConfigFile::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
    };
    // The fixed holidays of every year in use: from the first year shipped to well
    // past any deadline of this run (a long-running operator does not outgrow it).
    let year = jiff::Zoned::now().year();
    let calendar = Calendar::kazakhstan(2020.min(year - 2)..=year + 20)
        .with_movable_holidays(file.calendar.movable_holidays)
        .with_holidays(file.calendar.holidays)
        .with_working_days(file.calendar.working_days);
    Ok((calendar, file.segmentation))
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

    let serving = telemetry::serve(
        args.metrics_addr,
        metrics.clone(),
        readiness.clone(),
        stopped.clone(),
    )
    .await?;
    info!(addr = %serving.local_addr, "telemetry");
    let client = api_client().await?;
    let mut clock = akp_audit::ClockWatch::new(
        client.clone(),
        std::time::Duration::from_millis(args.max_clock_offset_ms),
    );
    if let Some(registry) = metrics.registry() {
        clock = clock.register(registry)?;
    }
    tokio::spawn(clock.run(akp_audit::clock::READING_INTERVAL));
    // One writer for the webhooks and the controllers.
    let audit = match &args.audit_db {
        Some(url) => {
            let sink = akp_audit::Sink::start(url, akp_audit::SinkOptions::default());
            if let Some(registry) = metrics.registry() {
                sink.register(registry)?;
            }
            Some(sink)
        }
        None => None,
    };
    let remotes = if args.no_webhooks {
        Arc::new(RemoteClusters::default())
    } else {
        webhooks(
            &args,
            client.clone(),
            &metrics,
            audit.clone(),
            stopped.clone(),
        )
        .await?
    };
    let (calendar, segmentation) = config(args.config.as_ref())?;
    let settings = Settings {
        clock: Arc::new(SystemClock),
        calendar,
        segmentation,
        instance: args.identity.clone(),
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        audit,
        remotes,
        concurrency: args.reconcile_concurrency,
    };

    if args.no_leader_election {
        metrics.set_leader(true);
        return run(client, settings, stopped).await;
    }
    let identity = args.identity.clone().unwrap_or_else(|| {
        hostname().unwrap_or_else(|| format!("akp-operator-{}", std::process::id()))
    });
    let election =
        LeaderElection::new(client.clone(), &args.namespace, &args.lease_name, &identity);
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

/// Serves the admission webhooks on every replica, with a self-managed or mounted
/// certificate, and registers their configuration when asked. Returns the clients of
/// remote Sites' clusters, which get the webhooks too.
async fn webhooks(
    args: &Args,
    client: kube::Client,
    metrics: &Metrics,
    audit: Option<akp_audit::Sink>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Arc<RemoteClusters>> {
    let endpoint = match args.webhook_endpoint.strip_prefix("service:") {
        Some(rest) => {
            let (ns_name, port) = rest
                .rsplit_once(':')
                .context("--webhook-endpoint service:<namespace>/<name>:<port>")?;
            let (namespace, name) = ns_name
                .split_once('/')
                .context("--webhook-endpoint service:<namespace>/<name>:<port>")?;
            WebhookEndpoint::Service {
                namespace: namespace.into(),
                name: name.into(),
                port: port.parse().context("webhook service port")?,
            }
        }
        None => WebhookEndpoint::Url(args.webhook_endpoint.clone()),
    };
    let (store, ca) = if args.webhook_certs == "self-managed" {
        let dns_names = match &endpoint {
            WebhookEndpoint::Service {
                namespace, name, ..
            } => vec![
                format!("{name}.{namespace}.svc"),
                format!("{name}.{namespace}.svc.cluster.local"),
            ],
            WebhookEndpoint::Url(url) => vec![url_host(url)],
        };
        let dns_names: Vec<String> = dns_names
            .into_iter()
            .chain(args.remote_webhook_endpoint.as_deref().map(url_host))
            .fold(Vec::new(), |mut names, name| {
                if !names.contains(&name) {
                    names.push(name);
                }
                names
            });
        let certs = SelfManagedCerts {
            namespace: args.namespace.clone(),
            secret_name: args.webhook_secret.clone(),
            dns_names: dns_names.clone(),
            configuration: CONFIGURATION_NAME.into(),
        };
        let serving =
            ensure_serving_cert(&client, &certs.namespace, &certs.secret_name, &dns_names).await?;
        let store = Arc::new(CertStore::from_pem(&serving.cert_pem, &serving.key_pem)?);
        let (refresh_client, refresh_store) = (client.clone(), store.clone());
        // Configurations installed by someone else (the Helm chart) carry no caBundle
        // until this replica patches it, so patch at once; then renew every 6 hours,
        // retrying a failure sooner.
        let mut wait = if args.register_webhooks {
            CERT_RENEWAL
        } else {
            std::time::Duration::ZERO
        };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(wait).await;
                wait = match certs.refresh(&refresh_client, &refresh_store).await {
                    Ok(_) => CERT_RENEWAL,
                    Err(e) => {
                        error!(error = %e, "renewing the webhook certificate or its caBundle");
                        CERT_RETRY
                    }
                };
            }
        });
        (store, Some(serving.ca_pem))
    } else {
        let dir = PathBuf::from(&args.webhook_certs);
        let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        let store = Arc::new(CertStore::from_files(&crt, &key)?);
        let reload = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(300)).await;
                if let Err(e) = reload.reload_files(&crt, &key) {
                    error!(error = %e, "reloading the webhook certificate");
                }
            }
        });
        // cert-manager's Secrets carry the issuing CA next to the certificate.
        (store, std::fs::read_to_string(dir.join("ca.crt")).ok())
    };
    let remotes = Arc::new(RemoteClusters::with_webhooks(
        args.remote_webhook_endpoint
            .clone()
            .map(|base_url| RemoteWebhooks {
                base_url,
                ca_pem: ca.clone(),
            }),
    ));
    if args.register_webhooks {
        apply_configuration(
            &client,
            &validating_webhook_configuration(&endpoint, ca.as_deref()),
        )
        .await?;
        apply_configuration(
            &client,
            &mutating_webhook_configuration(&endpoint, ca.as_deref()),
        )
        .await?;
    }
    let placement = PodPlacement::new(client.clone());
    let mut validators =
        Validators::new(client.clone()).with_groups(akp_operator::webhook::product::Groups {
            sre: args.sre_groups.clone(),
            authorized_body: args.authorized_body_groups.clone(),
        });
    if let Some(registry) = metrics.registry() {
        validators = validators.with_metrics(AdmissionMetrics::register(registry)?);
    }
    if let Some(sink) = audit {
        validators = validators.with_audit(sink);
    }
    let mut server = WebhookServer::bind(args.webhook_addr).await?;
    if let Some(path) = &args.webhook_client_ca {
        let ca = Arc::new(
            ClientCa::from_file(path)
                .with_context(|| format!("--webhook-client-ca {}", path.display()))?,
        );
        let (reload, path) = (ca.clone(), path.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(300)).await;
                if let Err(e) = reload.reload_file(&path) {
                    error!(error = %e, "reloading the webhook client CA");
                }
            }
        });
        server = server.with_client_ca(ca);
    }
    let sites = SiteAdmission::new(
        Arc::new(ClusterLookup::new(client.clone())),
        Arc::new(SiteClients {
            home: client.clone(),
            remotes: remotes.clone(),
        }),
        validators.clone(),
        placement.clone(),
    );
    let routes = routes(validators, placement).merge(site_routes(sites));
    info!(addr = %server.local_addr()?, "admission webhooks");
    tokio::spawn(async move {
        if let Err(e) = server.run(store, routes, stopped).await {
            error!(error = %e, "the webhook server stopped");
        }
    });
    Ok(remotes)
}

/// The host of an `https://` URL (a DNS name or an IP address).
fn url_host(url: &str) -> String {
    url.trim_start_matches("https://")
        .split([':', '/'])
        .next()
        .unwrap_or("localhost")
        .to_owned()
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}

/// How often the self-managed webhook certificate is checked and renewed.
const CERT_RENEWAL: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
/// How soon a failed renewal or caBundle patch is retried.
const CERT_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a request may wait for the API server's response headers. A watch answers
/// with its headers at once, so this does not cut long watches short.
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The API client, with [`RESPONSE_TIMEOUT`] on every request: kube sets no read
/// timeout, and its watcher only times out streams that are already flowing, so a
/// server that accepts a request and never answers would otherwise hold a reconcile
/// (and with it that product) forever.
async fn api_client() -> anyhow::Result<kube::Client> {
    let config = kube::Config::infer()
        .await
        .context("reading the kubeconfig or the in-cluster configuration")?;
    let builder =
        kube::client::ClientBuilder::try_from(config).context("building the API client")?;
    Ok(builder
        .with_layer(&tower::timeout::TimeoutLayer::new(RESPONSE_TIMEOUT))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// R-ENV-03: Kurban Ait of a year the binary does not ship, from the configuration
    /// file as the chart renders `operator.config` (years as numbers or strings).
    #[test]
    fn r_env_03_movable_holidays_come_from_the_configuration_file() {
        let path = std::env::temp_dir().join(format!(
            "akp-operator-calendar-test-{}.yaml",
            std::process::id()
        ));
        std::fs::write(
            &path,
            "calendar:\n  movableHolidays:\n    2028: [2028-05-04]\n    \"2029\": [\"2029-04-24\"]\n",
        )
        .expect("write");
        let parsed = config(Some(&path));
        let _ = std::fs::remove_file(&path);
        let (calendar, _) = parsed.expect("config");
        assert!(calendar.movable_holidays_known(2027), "shipped");
        assert!(calendar.movable_holidays_known(2028) && calendar.movable_holidays_known(2029));
        assert!(!calendar.movable_holidays_known(2030));
        assert!(!calendar.is_working_day(date(2028, 5, 4)));
        assert!(!calendar.is_working_day(date(2029, 4, 24)));
        // The fixed holidays of years well past the start are there too.
        assert!(!calendar.is_working_day(date(2040, 3, 22)));
    }
}
