//! `akp-billing`: the billing daemon (metering half).
//!
//! ```text
//! akp-billing [--config metering.yaml] [--database URL] [--catalog swc.yaml] <command>
//!   run        collect every cycle, serve /metrics and /healthz
//!              (--reports: also run the BillingReport controller)
//!   collect    catch up once (backfill from the watermarks) and close due months
//!   recollect  collect a past range again (late data; adjustments for closed months)
//!   coverage   coverage per environment of a month
//!   dump       the ledger as canonical text
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use akp_billing::{Calendar, Catalog, Collector, Hour, Ledger, MeteringConfig, Metrics, Month};
use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "akp-billing",
    about = "Meters actually consumed resources into an exact ledger (R-BIL-01)"
)]
struct Cli {
    /// Metering configuration (YAML); defaults apply to everything left out.
    #[arg(long, env = "AKP_BILLING_CONFIG")]
    config: Option<PathBuf>,
    /// The ledger: sqlite:///path/ledger.db or postgres://user@host/db.
    #[arg(
        long,
        env = "AKP_BILLING_DATABASE_URL",
        default_value = "sqlite://akp-billing.db"
    )]
    database: String,
    /// Overrides prometheus.url of the configuration.
    #[arg(long, env = "AKP_BILLING_PROMETHEUS_URL")]
    prometheus: Option<String>,
    /// Overrides prometheus.caFile: extra CA certificates (PEM) of an https:// Prometheus.
    #[arg(long, env = "AKP_BILLING_PROMETHEUS_CA")]
    prometheus_ca: Option<PathBuf>,
    /// Overrides prometheus.bearerTokenFile: a file with the token sent as
    /// `Authorization: Bearer` (read for each query).
    #[arg(long, env = "AKP_BILLING_PROMETHEUS_BEARER_TOKEN_FILE")]
    prometheus_bearer_token_file: Option<PathBuf>,
    /// Overrides prometheus.basicAuth.username (with --prometheus-password-file).
    #[arg(
        long,
        env = "AKP_BILLING_PROMETHEUS_USERNAME",
        requires = "prometheus_password_file"
    )]
    prometheus_username: Option<String>,
    /// Overrides prometheus.basicAuth.passwordFile: a file with the basic-auth password.
    #[arg(
        long,
        env = "AKP_BILLING_PROMETHEUS_PASSWORD_FILE",
        requires = "prometheus_username"
    )]
    prometheus_password_file: Option<PathBuf>,
    /// Software catalog items (YAML, as `kubectl get swc -o yaml` prints them).
    #[arg(long, conflicts_with = "catalog_from_cluster")]
    catalog: Option<PathBuf>,
    /// Read the software catalog from the cluster (SoftwareCatalogItem resources).
    #[arg(long)]
    catalog_from_cluster: bool,
    /// The audit database (R-MON-02): sqlite:///path/audit.db or postgres://user@host/db.
    /// Months closed, adjustments booked and report actions are stored there; without
    /// it they are only logged on the target `akp::audit`.
    #[arg(long, env = "AKP_AUDIT_DB")]
    audit_db: Option<String>,
    /// R-MON-03: the largest offset of this clock from the API server's before
    /// `akp_billing_clock_out_of_sync` is 1, in milliseconds (read while `run` has
    /// cluster access: reports or statements).
    #[arg(long, env = "AKP_MAX_CLOCK_OFFSET_MS", default_value_t = 1000)]
    max_clock_offset_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect every cycle and serve /metrics and /healthz.
    Run {
        /// Address of the metrics endpoint.
        #[arg(long, default_value = "0.0.0.0:9091")]
        listen: SocketAddr,
        #[command(flatten)]
        reports: ReportsArgs,
        #[command(flatten)]
        statements: StatementsArgs,
    },
    /// Catch up once: every hour from the watermarks to now, then close due months.
    Collect {
        /// The time to act as of (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
    },
    /// Collect a past range again: late data replaces open-month rows and becomes
    /// adjustments for closed months.
    Recollect {
        /// First hour (RFC 3339).
        #[arg(long)]
        from: String,
        /// End, exclusive (RFC 3339).
        #[arg(long)]
        to: String,
        /// The time to act as of (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
    },
    /// Print coverage per environment of a month (YYYY-MM).
    Coverage {
        /// The month.
        #[arg(long)]
        month: String,
    },
    /// Print the ledger as canonical text.
    Dump,
    /// Verify a signed report directory: every artifact's SHA-256 against the manifest,
    /// and the manifest's Ed25519 signature against the public key (R-BIL-02).
    Verify {
        /// The report directory (manifest.json, manifest.sig and the artifacts).
        dir: PathBuf,
        /// The public key: 32 raw bytes or 64 hex digits.
        #[arg(long)]
        key: PathBuf,
    },
}

/// The BillingReport controller, started next to the metering loop with `--reports`.
#[derive(clap::Args)]
struct StatementsArgs {
    /// Write each agency's UsageStatement of the open month in its namespace, and the
    /// cost metrics (akp_billing_month_to_date_amount, budgets).
    #[arg(long)]
    statements: bool,
    /// Seconds between updates of the statements.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..))]
    statements_interval_seconds: u64,
    /// Budget alert thresholds, percent of an agency's monthly budget.
    #[arg(long, value_delimiter = ',', default_value = "50,90,100", value_parser = clap::value_parser!(u32).range(1..=1000))]
    budget_thresholds: Vec<u32>,
}

#[derive(clap::Args)]
struct ReportsArgs {
    /// Run the BillingReport controller (R-BIL-02).
    #[arg(long)]
    reports: bool,
    /// Where signed report bundles are written.
    #[arg(long, env = "AKP_BILLING_REPORTS_DIR", default_value = "reports")]
    reports_dir: PathBuf,
    /// The day of the next month by which a month's report is due, signed and
    /// delivered (1-28): later, akp_billing_report_overdue and AkpReportOverdue.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=28))]
    report_due_day: u8,
    /// The Ed25519 signing key: the 32-byte seed, raw or hex (mounted from a Secret).
    #[arg(
        long,
        env = "AKP_BILLING_SIGNING_KEY",
        required_if_eq("reports", "true")
    )]
    signing_key: Option<PathBuf>,
    /// The reports' issuer, recipient, signatory and number prefix (YAML; see
    /// examples/billing/report-document.yaml).
    #[arg(
        long,
        env = "AKP_BILLING_REPORT_DOCUMENT",
        required_if_eq("reports", "true")
    )]
    report_document: Option<PathBuf>,
    /// The authorized body's HTTPS endpoint; without it reports stay Signed.
    #[arg(long, env = "AKP_BILLING_DELIVERY_ENDPOINT")]
    delivery_endpoint: Option<String>,
    /// Extra CA certificates (PEM) to trust for the delivery endpoint.
    #[arg(long, env = "AKP_BILLING_DELIVERY_CA")]
    delivery_ca: Option<PathBuf>,
}

/// The audit sink of this process, started by `main_inner` when `--audit-db` is given.
static AUDIT: std::sync::OnceLock<akp_audit::Sink> = std::sync::OnceLock::new();

/// A task the daemon runs beside metering, if its flag asks for it.
type Task = Option<tokio::task::JoinHandle<()>>;

async fn start_reports(args: &ReportsArgs, ledger: Ledger, metrics: &Metrics) -> Result<Task> {
    if !args.reports {
        return Ok(None);
    }
    let key_path = args
        .signing_key
        .as_ref()
        .ok_or_else(|| anyhow!("--reports needs --signing-key"))?;
    let key = akp_billing::report::controller::load_key(key_path)?;
    let delivery = match &args.delivery_endpoint {
        Some(endpoint) => Some(akp_billing::report::delivery::DeliveryConfig {
            endpoint: endpoint.clone(),
            ca_pem: args
                .delivery_ca
                .as_ref()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .transpose()?,
            ..Default::default()
        }),
        None => None,
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to the cluster")?;
    let document = akp_rules::billing::report::document::DocumentConfig::load(
        args.report_document
            .as_ref()
            .ok_or_else(|| anyhow!("--reports needs --report-document"))?,
    )?;
    let config = akp_billing::report::controller::ReportsConfig {
        dir: args.reports_dir.clone(),
        delivery,
        document,
        instance: std::env::var("POD_NAME").ok(),
        due_day: args.report_due_day,
        ..Default::default()
    };
    let mut ctx = akp_billing::report::controller::Context::new(client, ledger, key, config)?
        .with_metrics(akp_billing::report::controller::ReportMetrics::register(
            metrics.registry(),
        )?);
    if let Some(sink) = AUDIT.get() {
        sink.register(metrics.registry())?;
        ctx = ctx.with_audit(sink.clone());
    }
    Ok(Some(tokio::spawn(akp_billing::report::controller::run(
        std::sync::Arc::new(ctx),
    ))))
}

async fn start_statements(args: &StatementsArgs, ledger: Ledger, m: &Metrics) -> Result<Task> {
    if !args.statements {
        return Ok(None);
    }
    let client = kube::Client::try_default()
        .await
        .context("connecting to the cluster")?;
    let cost = akp_billing::statement::CostMetrics::register(m.registry())?;
    let config = akp_billing::statement::StatementsConfig {
        interval: Duration::from_secs(args.statements_interval_seconds),
        thresholds: args.budget_thresholds.clone(),
    };
    Ok(Some(tokio::spawn(akp_billing::statement::run(
        client, ledger, cost, config,
    ))))
}

fn parse_time(text: Option<&str>) -> Result<i64> {
    match text {
        Some(t) => Ok(t
            .parse::<jiff::Timestamp>()
            .with_context(|| format!("{t:?} is not an RFC 3339 time"))?
            .as_second()),
        None => Ok(jiff::Timestamp::now().as_second()),
    }
}

async fn load_catalog(cli: &Cli) -> Result<Catalog> {
    if let Some(path) = &cli.catalog {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Catalog::from_yaml(&text).map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    if cli.catalog_from_cluster {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the cluster")?;
        let api: kube::Api<akp_crds::SoftwareCatalogItem> = kube::Api::all(client);
        let items = api
            .list(&Default::default())
            .await
            .context("listing SoftwareCatalogItems")?;
        return Ok(Catalog::new(&items.items));
    }
    Ok(Catalog::default())
}

async fn collector(cli: &Cli, metrics: Metrics) -> Result<Collector> {
    let mut config = match &cli.config {
        Some(path) => MeteringConfig::load(path)?,
        None => MeteringConfig::default(),
    };
    if let Some(url) = &cli.prometheus {
        config.prometheus.url = url.clone();
    }
    if let Some(ca) = &cli.prometheus_ca {
        config.prometheus.ca_file = Some(ca.clone());
    }
    if let Some(token) = &cli.prometheus_bearer_token_file {
        config.prometheus.bearer_token_file = Some(token.clone());
    }
    if let (Some(username), Some(password_file)) =
        (&cli.prometheus_username, &cli.prometheus_password_file)
    {
        config.prometheus.basic_auth = Some(akp_billing::metering::config::BasicAuth {
            username: username.clone(),
            password_file: password_file.clone(),
        });
    }
    let calendar = Calendar::kazakhstan();
    let ledger = Ledger::open(&cli.database, calendar).await?;
    let catalog = load_catalog(cli).await?;
    let collector = Collector::new(config, ledger, catalog, metrics)?;
    Ok(match AUDIT.get() {
        Some(sink) => collector.with_audit(sink.clone()),
        None => collector,
    })
}

async fn run(
    cli: &Cli,
    listen: SocketAddr,
    reports: &ReportsArgs,
    statements: &StatementsArgs,
) -> Result<()> {
    let metrics = Metrics::new()?;
    let server = tokio::spawn(akp_billing::metrics::serve(listen, metrics.clone()));
    let mut collector = collector(cli, metrics.clone()).await?;
    let reports = start_reports(reports, collector.ledger().clone(), &metrics).await?;
    let statements = start_statements(statements, collector.ledger().clone(), &metrics).await?;
    let clock = if reports.is_some() || statements.is_some() {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the cluster")?;
        let watch =
            akp_audit::ClockWatch::new(client, Duration::from_millis(cli.max_clock_offset_ms))
                .register(metrics.registry())?;
        Some(tokio::spawn(watch.run(akp_audit::clock::READING_INTERVAL)))
    } else {
        None
    };
    let poll = Duration::from_secs(collector.config().timing.poll_seconds.max(1));
    let recheck = collector.config().timing.recheck_seconds;
    let mut failures: u32 = 0;
    let mut last_recheck: Option<i64> = None;
    loop {
        if cli.catalog_from_cluster {
            match load_catalog(cli).await {
                Ok(catalog) => collector.set_catalog(catalog),
                Err(e) => tracing::warn!("keeping the previous software catalog: {e:#}"),
            }
        }
        let now = jiff::Timestamp::now().as_second();
        let result = collector.collect(now).await;
        let delay = match &result {
            Ok(report) => {
                failures = 0;
                metrics.cycle("ok");
                if report.windows > 0 {
                    tracing::info!(?report, "collected");
                }
                // Late data: once a day, collect the recent past again.
                if recheck > 0 && last_recheck.is_none_or(|t| now - t >= 86_400) {
                    let from = Hour::containing(now - recheck);
                    match collector
                        .recollect(from, collector.collectable_until(now), now)
                        .await
                    {
                        Ok(r) => {
                            last_recheck = Some(now);
                            tracing::info!(
                                adjustments = r.adjustments,
                                "recent hours collected again"
                            );
                        }
                        Err(e) => tracing::warn!("recollecting recent hours failed: {e}"),
                    }
                }
                poll
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                metrics.cycle(e.metric_label());
                tracing::warn!("collection failed ({failures} in a row), retrying: {e}");
                (poll * 2u32.saturating_pow(failures.min(4))).min(Duration::from_secs(600))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = tokio::signal::ctrl_c() => break,
            r = terminated() => { r?; break; }
        }
        if server.is_finished() {
            return Err(anyhow!("the metrics endpoint stopped"));
        }
    }
    for task in [reports, statements, clock].into_iter().flatten() {
        task.abort();
    }
    collector.ledger().close().await;
    Ok(())
}

async fn terminated() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    term.recv().await;
    Ok(())
}

async fn main_inner(cli: Cli) -> Result<()> {
    if let Some(url) = &cli.audit_db {
        let _ = AUDIT.set(akp_audit::Sink::start(
            url,
            akp_audit::SinkOptions::default(),
        ));
    }
    let result = commands(&cli).await;
    if let Some(sink) = AUDIT.get()
        && !sink.flush(Duration::from_secs(30)).await
    {
        tracing::error!("audit records still waiting for the audit database at exit");
    }
    result
}

async fn commands(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Run {
            listen,
            reports,
            statements,
        } => run(cli, *listen, reports, statements).await,
        Command::Collect { now } => {
            let now = parse_time(now.as_deref())?;
            let collector = collector(cli, Metrics::new()?).await?;
            let report = collector.collect(now).await?;
            println!(
                "windows={} queries={} max_queries_per_window={} rows={} adjustments={} closed={:?} collected_until={}",
                report.windows,
                report.queries,
                report.max_queries_per_window,
                report.rows,
                report.adjustments,
                report
                    .months_closed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                report
                    .collected_until
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
            );
            Ok(())
        }
        Command::Recollect { from, to, now } => {
            let now = parse_time(now.as_deref())?;
            let from = Hour::containing(parse_time(Some(from))?);
            let to = Hour::containing(parse_time(Some(to))?);
            let collector = collector(cli, Metrics::new()?).await?;
            let report = collector.recollect(from, to, now).await?;
            println!(
                "windows={} rows={} adjustments={}",
                report.windows, report.rows, report.adjustments
            );
            Ok(())
        }
        Command::Coverage { month } => {
            let month = Month::parse(month)?;
            let collector = collector(cli, Metrics::new()?).await?;
            println!("namespace\thours\tcovered_ppm\tgap_hours");
            for c in collector.ledger().coverage(month).await? {
                println!("{}\t{}\t{}\t{}", c.namespace, c.hours, c.ppm(), c.gap_hours);
            }
            Ok(())
        }
        Command::Verify { dir, key } => {
            println!("{}", akp_billing::report::sign::verify_command(dir, key)?);
            Ok(())
        }
        Command::Dump => {
            let collector = collector(cli, Metrics::new()?).await?;
            print!("{}", collector.ledger().dump().await?);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    akp_audit::cli::main("akp-billing", async {
        main_inner(cli).await.map(|()| ExitCode::SUCCESS)
    })
}
