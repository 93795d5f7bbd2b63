//! The BillingReport controller (R-BIL-01, R-BIL-02): for each report, waits for its
//! month to close in the ledger, rates it at the Tariffs in force with the Agencies'
//! contracts, signs the bundle into `<reports dir>/<name>/`, and delivers it once to
//! the authorized body. The delivery record is persisted next to the bundle
//! (`<reports dir>/<name>.delivery.json`) so a restart never sends twice. A closed
//! month gets its BillingReport (named after the period) created automatically.
//!
//! The phase is decided by [`decide`], a pure function of what is known.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use akp_crds::report::{
    BillingReport, BillingReportSpec, BillingReportStatus, DataQuality, Gap, ReportPhase,
};
use akp_crds::{Agency, Tariff};
use akp_rules::conditions::{ConditionType, Observed, condition};
use ed25519_dalek::SigningKey;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::ledger::Ledger;
use crate::report::delivery::{Deliverer, DeliveryConfig, DeliveryRecord};
use crate::report::sign;
use crate::report::{self, ReportRequest};
use akp_rules::billing::period::Month;
use akp_rules::billing::rating::{Contracts, TariffBook};

/// The field manager of the status the controller applies.
pub const FIELD_MANAGER: &str = "akp-billing";

/// Why a reconcile failed (retried by the error policy).
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// The API server refused or failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// Generating the report failed.
    #[error(transparent)]
    Generate(#[from] report::GenerateError),
    /// The tariffs could not be read into a book.
    #[error(transparent)]
    Rating(#[from] akp_rules::billing::rating::RatingError),
    /// Signing or writing the bundle failed.
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    /// Reading or writing the delivery record failed.
    #[error("delivery record {path}: {message}")]
    Record {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Delivery failed before any attempt.
    #[error(transparent)]
    Delivery(#[from] crate::report::delivery::DeliveryError),
}

impl ReportsError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kubernetes",
            Self::Ledger(e) => e.metric_label(),
            Self::Generate(_) => "generate",
            Self::Rating(_) => "rating",
            Self::Sign(_) => "sign",
            Self::Record { .. } => "record",
            Self::Delivery(e) => e.metric_label(),
        }
    }
}

/// The controller's configuration.
#[derive(Clone, Debug)]
pub struct ReportsConfig {
    /// Where bundles are written, one directory per report.
    pub dir: PathBuf,
    /// Delivery to the authorized body; `None`: reports stay Signed.
    pub delivery: Option<DeliveryConfig>,
    /// How long to wait before looking at an open month again.
    pub pending_requeue: Duration,
    /// How often to look for closed months without a report.
    pub create_interval: Duration,
    /// The reporter instance of events.
    pub instance: Option<String>,
    /// Issuer, recipient, signatory and number prefix of the documents (issue 19).
    pub document: report::document::DocumentConfig,
    /// The day of the next month by which a month's report is signed and delivered
    /// (1-28); later, `akp_billing_report_overdue` says what is missing.
    pub due_day: u8,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("reports"),
            delivery: None,
            pending_requeue: Duration::from_secs(600),
            create_interval: Duration::from_secs(300),
            instance: None,
            document: report::document::DocumentConfig::default(),
            due_day: 5,
        }
    }
}

/// Metrics of the report controller (`akp_billing_report_*`): in the daemon's registry
/// when run by the daemon, in a registry of their own otherwise (tests).
#[derive(Clone)]
pub struct ReportMetrics {
    registry: Registry,
    delivery_failures: IntCounterVec,
    reconcile_errors: IntCounterVec,
    overdue: IntGaugeVec,
}

impl ReportMetrics {
    /// Defines the metrics in a registry of their own.
    pub fn new() -> Result<Self, prometheus::Error> {
        Self::register(&Registry::new_custom(Some("akp_billing".into()), None)?)
    }

    /// Defines the metrics in `registry` (the daemon's, served on /metrics).
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let registry = registry.clone();
        let delivery_failures = IntCounterVec::new(
            Opts::new(
                "report_delivery_failures_total",
                "Report deliveries that ended without acceptance.",
            ),
            &["report"],
        )?;
        let reconcile_errors = IntCounterVec::new(
            Opts::new(
                "report_reconcile_errors_total",
                "Failed BillingReport reconciles.",
            ),
            &["error"],
        )?;
        let overdue = IntGaugeVec::new(
            Opts::new(
                "report_overdue",
                "1 when a closed month's report is past its due day without its signature or its delivery (missing).",
            ),
            &["report", "missing"],
        )?;
        registry.register(Box::new(delivery_failures.clone()))?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        registry.register(Box::new(overdue.clone()))?;
        Ok(Self {
            registry,
            delivery_failures,
            reconcile_errors,
            overdue,
        })
    }

    /// Sets what `report` lacks past its due day.
    fn set_overdue(&self, report: &str, signature: bool, delivery: bool) {
        for (missing, overdue) in [("signature", signature), ("delivery", delivery)] {
            self.overdue
                .with_label_values(&[report, missing])
                .set(i64::from(overdue));
        }
    }

    /// Failed deliveries of `report` so far.
    pub fn delivery_failures(&self, report: &str) -> u64 {
        self.delivery_failures.with_label_values(&[report]).get()
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if prometheus::Encoder::encode(&encoder, &self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Shared state of the controller.
pub struct Context {
    client: kube::Client,
    ledger: Ledger,
    key: SigningKey,
    deliverer: Option<Deliverer>,
    config: ReportsConfig,
    recorder: Recorder,
    /// The controller's metrics.
    pub metrics: ReportMetrics,
    /// The audit trail (R-MON-02), when the daemon has an audit database.
    audit: Option<akp_audit::Sink>,
}

impl Context {
    /// A context; fails on a bad delivery configuration or metric definition.
    pub fn new(
        client: kube::Client,
        ledger: Ledger,
        key: SigningKey,
        config: ReportsConfig,
    ) -> anyhow::Result<Self> {
        // A report names its issuer and recipient: refuse to start without them.
        config.document.check()?;
        let deliverer = config.delivery.clone().map(Deliverer::new).transpose()?;
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: config.instance.clone(),
            },
        );
        Ok(Self {
            client,
            ledger,
            key,
            deliverer,
            config,
            recorder,
            metrics: ReportMetrics::new()?,
            audit: None,
        })
    }

    /// Stores the report actions (generated, signed, delivered or failed) in the audit
    /// trail through `sink` (R-MON-02); without it they are only logged.
    pub fn with_audit(mut self, sink: akp_audit::Sink) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Records the metrics in `metrics` instead (the daemon's registry).
    pub fn with_metrics(mut self, metrics: ReportMetrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// Reads the Ed25519 signing key (the 32-byte seed, raw or hex) from a file.
pub fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("reading the signing key {}: {e}", path.display()))?;
    sign::signing_key_from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("signing key {}: {e}", path.display()))
}

/// What is known about a report when deciding its phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseInputs {
    /// The period parsed; `false`: the spec is unusable.
    pub period_valid: bool,
    /// The month is closed in the ledger.
    pub month_closed: bool,
    /// The bundle was generated and signed.
    pub signed: bool,
    /// `spec.deliver`.
    pub deliver: bool,
    /// A delivery endpoint is configured.
    pub endpoint: bool,
    /// The delivery record, when there is one.
    pub delivered: bool,
    /// The authorized body refused the report for good.
    pub rejected: bool,
    /// Delivery attempts made, all of them.
    pub attempts: usize,
}

/// What to do with a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Its phase.
    pub phase: ReportPhase,
    /// Why, as a condition reason.
    pub reason: &'static str,
    /// Whether to generate (rate and sign) now.
    pub generate: bool,
    /// Whether to deliver now.
    pub deliver: bool,
}

/// Decides a report's phase (pure). Called before generation (`signed` false) and
/// after it.
pub fn decide(i: &PhaseInputs) -> Decision {
    let d = |phase, reason, generate, deliver| Decision {
        phase,
        reason,
        generate,
        deliver,
    };
    if !i.period_valid {
        return d(ReportPhase::Failed, "InvalidPeriod", false, false);
    }
    if !i.month_closed {
        return d(ReportPhase::Pending, "MonthOpen", false, false);
    }
    if !i.signed {
        return d(ReportPhase::Collecting, "Collecting", true, false);
    }
    if !(i.deliver && i.endpoint) {
        let reason = if i.deliver {
            "NoDeliveryEndpoint"
        } else {
            "NotDelivered"
        };
        return d(ReportPhase::Signed, reason, false, false);
    }
    if i.delivered {
        return d(ReportPhase::Delivered, "Accepted", false, false);
    }
    if i.rejected {
        return d(ReportPhase::Failed, "Rejected", false, false);
    }
    if i.attempts > 0 {
        return d(ReportPhase::Failed, "DeliveryFailed", false, true);
    }
    d(ReportPhase::Signed, "Delivering", false, true)
}

fn now_time() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

fn record_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.delivery.json"))
}

fn read_record(path: &Path) -> Result<Option<DeliveryRecord>, ReportsError> {
    let err = |message: String| ReportsError::Record {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(e.to_string())),
    }
}

/// Writes the record atomically (a temporary file renamed over it).
fn write_record(path: &Path, record: &DeliveryRecord) -> Result<(), ReportsError> {
    let err = |message: String| ReportsError::Record {
        path: path.display().to_string(),
        message,
    };
    let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| err(e.to_string()))?;
    bytes.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

/// What rating reads from the cluster: every Tariff and every Agency (their contract
/// dates, names and budgets). For the reports and the statements alike.
pub async fn rating_objects(
    client: &kube::Client,
) -> Result<(Vec<Tariff>, Vec<Agency>), kube::Error> {
    let tariffs = Api::<Tariff>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let agencies = Api::<Agency>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    Ok((tariffs, agencies))
}

/// The agencies' contract dates: the earliest contract of each agency.
pub fn contracts(agencies: &[Agency]) -> Contracts {
    agencies
        .iter()
        .filter_map(|a| {
            a.spec
                .contracts
                .iter()
                .map(|c| c.signed_on)
                .min()
                .map(|d| (a.name_any(), d))
        })
        .collect()
}

/// An RFC 3339 time, to the second (as the API server keeps it, so that an unchanged
/// status compares equal).
fn parse_time(text: &str) -> Option<Time> {
    let t = text.parse::<jiff::Timestamp>().ok()?;
    jiff::Timestamp::from_second(t.as_second()).ok().map(Time)
}

/// Reconciles one report.
pub async fn reconcile(br: Arc<BillingReport>, ctx: Arc<Context>) -> Result<Action, ReportsError> {
    let name = br.name_any();
    let old = br.status.clone().unwrap_or_default();
    let now = now_time();
    let generation = br.metadata.generation;
    let observed = Observed {
        old: &old.conditions,
        now: now.0,
        generation,
    };
    let month = Month::parse(&br.spec.period).ok();
    let closed = ctx.ledger.closed_through().await?;
    let mut inputs = PhaseInputs {
        period_valid: month.is_some(),
        month_closed: month.is_some_and(|m| closed.is_some_and(|c| m <= c)),
        deliver: br.spec.deliver,
        endpoint: ctx.deliverer.is_some(),
        ..PhaseInputs::default()
    };
    let mut status = BillingReportStatus {
        generated_at: old.generated_at.clone(),
        ..BillingReportStatus::default()
    };
    // A delivered report is final: never regenerated, rewritten or sent again.
    if old.phase == ReportPhase::Delivered
        && read_record(&record_path(&ctx.config.dir, &name))?.is_some_and(|r| r.delivered())
    {
        ctx.metrics.set_overdue(&name, false, false);
        return Ok(Action::await_change());
    }
    let first = decide(&inputs);
    // R-MON-02: emitted once the status that says so is written.
    let mut trail: Vec<akp_audit::Record> = Vec::new();
    let audited = |action: &str, decision: akp_audit::Decision, reason: String| {
        akp_audit::Record::new(
            FIELD_MANAGER,
            action,
            akp_audit::Object::cluster("BillingReport", &name).with_uid(br.metadata.uid.clone()),
            decision,
        )
        .reason(reason)
    };
    let mut requeue = ctx.config.pending_requeue;
    let mut messages: Vec<Condition> = Vec::new();
    if first.generate
        && let Some(month) = month
    {
        let (tariffs, agencies) = rating_objects(&ctx.client).await?;
        let book = TariffBook::new(&tariffs)?;
        let generated = status.generated_at.clone().unwrap_or_else(|| now.clone());
        let request = ReportRequest {
            name: name.clone(),
            month,
            corrects: br.spec.corrects.clone(),
            generated_at: generated.0.to_string(),
            residency: None,
        };
        let mut doc =
            report::from_ledger(&ctx.ledger, &request, &book, &contracts(&agencies)).await?;
        let named: Vec<_> = agencies
            .iter()
            .map(report::document::AgencyInfo::of)
            .collect();
        report::document::complete(&mut doc, &ctx.config.document, &named);
        // R-LC-05, R-LC-07: the products' revisions and decommissionings of the month.
        let products = Api::<akp_crds::PlatformSoftwareProduct>::all(ctx.client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        report::lifecycle::complete(&mut doc, &products);
        report::lifecycle::complete_targets(&mut doc, &products);
        messages.push(condition(
            &observed,
            ConditionType::Collected,
            true,
            "Collected",
            format!("month {month} read from the closed ledger"),
        ));
        messages.push(condition(
            &observed,
            ConditionType::Rated,
            true,
            "Rated",
            format!(
                "rated at {}",
                doc.tariffs
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        let bundle = sign::sign(&doc, &ctx.key)?;
        let dir = ctx.config.dir.join(&name);
        let record_file = record_path(&ctx.config.dir, &name);
        let mut record = read_record(&record_file)?;
        // A delivered report is never rewritten: its bundle stays as accepted.
        if !record.as_ref().is_some_and(DeliveryRecord::delivered) {
            sign::write_bundle(&bundle, &dir)?;
        }
        if old.generated_at.is_none() {
            trail.push(
                audited(
                    akp_audit::record::BILLING_REPORT_GENERATED,
                    akp_audit::Decision::Done,
                    format!("month {month} rated from the closed ledger"),
                )
                .details(serde_json::json!({
                    "period": br.spec.period,
                    "corrects": br.spec.corrects,
                    "totals": doc.totals.billed,
                    "currency": doc.currency,
                    "tariffs": doc.tariffs.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
                })),
            );
            trail.push(
                audited(
                    akp_audit::record::BILLING_REPORT_SIGNED,
                    akp_audit::Decision::Done,
                    format!("bundle signed (Ed25519) and written to {}", dir.display()),
                )
                .details(serde_json::json!({
                    "manifestSha256": bundle.manifest_sha256(),
                    "artifacts": bundle.artifacts.len(),
                })),
            );
        }
        status.generated_at = Some(generated);
        status.totals = BTreeMap::from([(doc.currency.clone(), doc.totals.billed.clone())]);
        status.artifacts = sign::status_artifacts(&bundle, &dir);
        status.tariffs = doc.tariffs.iter().map(|t| t.name.clone()).collect();
        status.data_quality = Some(DataQuality {
            coverage: doc.data_quality.coverage.clone(),
            gaps: doc
                .data_quality
                .gaps
                .iter()
                .filter_map(|g| {
                    Some(Gap {
                        namespace: g.namespace.clone(),
                        resource: g.resource.clone(),
                        from: parse_time(&g.from)?,
                        to: parse_time(&g.to)?,
                    })
                })
                .collect(),
        });
        inputs.signed = true;
        let set = |inputs: &mut PhaseInputs, r: &Option<DeliveryRecord>| {
            if let Some(r) = r {
                inputs.delivered = r.delivered();
                inputs.rejected = r.rejected;
                inputs.attempts = r.attempts.len();
            }
        };
        set(&mut inputs, &record);
        if decide(&inputs).deliver
            && let Some(deliverer) = &ctx.deliverer
        {
            let mut r = record.take().unwrap_or_default();
            let result = deliverer.deliver(&bundle, &mut r).await;
            write_record(&record_file, &r)?;
            let last = r.attempts.last();
            let (decision, reason) = if r.delivered() {
                (
                    akp_audit::Decision::Done,
                    "delivered to the authorized body".to_owned(),
                )
            } else {
                (
                    akp_audit::Decision::Failed,
                    match &result {
                        Err(e) => format!("delivery failed: {e}"),
                        Ok(_) => format!(
                            "delivery failed{}: {}",
                            if r.rejected {
                                " for good"
                            } else {
                                ", will retry"
                            },
                            last.and_then(|a| a.error.clone()).unwrap_or_default()
                        ),
                    },
                )
            };
            // Emitted at once: the attempts are already persisted in the delivery record.
            akp_audit::emit(
                ctx.audit.as_ref(),
                audited(akp_audit::record::BILLING_REPORT_DELIVERY, decision, reason).details(
                    serde_json::json!({
                        "idempotencyKey": r.idempotency_key,
                        "attempts": r.attempts.len(),
                        "lastStatus": last.and_then(|a| a.status),
                        "deliveredAt": r.delivered_at,
                        "rejected": r.rejected,
                    }),
                ),
            )
            .await;
            result?;
            if !r.delivered() {
                ctx.metrics
                    .delivery_failures
                    .with_label_values(&[&name])
                    .inc();
            }
            record = Some(r);
            set(&mut inputs, &record);
        }
        if let Some(r) = &record {
            status.delivery_attempts = i32::try_from(r.attempts.len()).unwrap_or(i32::MAX);
            status.delivered_at = r.delivered_at.as_deref().and_then(parse_time);
        }
        let failures = record
            .as_ref()
            .map(|r| r.attempts.iter().filter(|a| a.error.is_some()).count())
            .unwrap_or(0);
        requeue = match (&ctx.config.delivery, decide(&inputs).deliver) {
            (Some(c), true) => crate::report::delivery::backoff(
                c,
                u32::try_from(failures.max(1)).unwrap_or(u32::MAX),
            ),
            _ => Duration::from_secs(3600),
        };
    }
    let decision = decide(&inputs);
    status.phase = decision.phase;
    let last_error = || {
        let record = read_record(&record_path(&ctx.config.dir, &name))
            .ok()
            .flatten();
        record
            .and_then(|r| r.attempts.last().and_then(|a| a.error.clone()))
            .unwrap_or_default()
    };
    let message = match decision.reason {
        "InvalidPeriod" => format!("{:?} is not a month YYYY-MM", br.spec.period),
        "MonthOpen" => format!(
            "month {} is not closed in the ledger yet (closed through {}); reports are made of closed months only",
            br.spec.period,
            closed
                .map(|c| c.to_string())
                .unwrap_or_else(|| "none".into())
        ),
        "NotDelivered" => "signed; spec.deliver is false".into(),
        "NoDeliveryEndpoint" => "signed; no delivery endpoint is configured".into(),
        "Accepted" => "accepted by the authorized body".into(),
        "Rejected" => format!("the authorized body refused the report: {}", last_error()),
        "DeliveryFailed" => format!(
            "delivery failed after {} attempts, retrying: {}",
            status.delivery_attempts,
            last_error()
        ),
        _ => "signed, delivering".into(),
    };
    messages.push(condition(
        &observed,
        ConditionType::Signed,
        inputs.signed,
        if inputs.signed {
            "Signed"
        } else {
            decision.reason
        },
        if inputs.signed {
            "the manifest is signed (Ed25519)".into()
        } else {
            message.clone()
        },
    ));
    if inputs.signed {
        messages.push(condition(
            &observed,
            ConditionType::Delivered,
            decision.phase == ReportPhase::Delivered,
            decision.reason,
            message.clone(),
        ));
    }
    status.conditions = messages;
    if br.status.as_ref() != Some(&status) {
        let patch = serde_json::json!({
            "apiVersion": BillingReport::api_version(&()),
            "kind": BillingReport::kind(&()),
            "status": status,
        });
        Api::<BillingReport>::all(ctx.client.clone())
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await?;
    }
    for r in trail {
        akp_audit::emit(ctx.audit.as_ref(), r).await;
    }
    if old.phase != status.phase {
        let warning = status.phase == ReportPhase::Failed;
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: format!("{:?}", status.phase),
            note: Some(message),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &br.object_ref(&())).await {
            tracing::warn!(error = %e, "publishing an event failed");
        }
    }
    if let Some(month) = month {
        let due = ctx.ledger.calendar().report_due(month, ctx.config.due_day);
        let past_due = now.0.as_second() >= due.start();
        let signed = matches!(status.phase, ReportPhase::Signed | ReportPhase::Delivered);
        let delivered = status.phase == ReportPhase::Delivered || !br.spec.deliver;
        ctx.metrics
            .set_overdue(&name, past_due && !signed, past_due && !delivered);
    }
    Ok(match decision.phase {
        ReportPhase::Pending => Action::requeue(ctx.config.pending_requeue),
        ReportPhase::Failed if decision.deliver => Action::requeue(requeue),
        ReportPhase::Signed if decision.deliver => Action::requeue(requeue),
        ReportPhase::Failed => Action::await_change(),
        _ => Action::requeue(Duration::from_secs(3600)),
    })
}

/// Retries failed reconciles with a short delay and counts them.
pub fn error_policy(br: Arc<BillingReport>, error: &ReportsError, ctx: Arc<Context>) -> Action {
    tracing::warn!(report = %br.name_any(), %error, "report reconcile failed");
    ctx.metrics
        .reconcile_errors
        .with_label_values(&[error.metric_label()])
        .inc();
    Action::requeue(Duration::from_secs(5))
}

/// Creates the BillingReport of the latest closed month, named after it, unless a
/// report of that month (other than a correction) exists. Returns the name created.
pub async fn ensure_closed_month_report(
    client: &kube::Client,
    ledger: &Ledger,
) -> Result<Option<String>, ReportsError> {
    let Some(month) = ledger.closed_through().await? else {
        return Ok(None);
    };
    let period = month.to_string();
    let api = Api::<BillingReport>::all(client.clone());
    let exists = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .any(|r| (r.spec.period == period && r.spec.corrects.is_none()) || r.name_any() == period);
    if exists {
        return Ok(None);
    }
    let br = BillingReport {
        metadata: ObjectMeta {
            name: Some(period.clone()),
            ..ObjectMeta::default()
        },
        spec: BillingReportSpec {
            period: period.clone(),
            deliver: true,
            corrects: None,
        },
        status: None,
    };
    match api.create(&PostParams::default(), &br).await {
        Ok(_) => Ok(Some(period)),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Runs the controller and the closed-month creator until the stream ends.
pub async fn run(ctx: Arc<Context>) {
    let creator = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                match ensure_closed_month_report(&ctx.client, &ctx.ledger).await {
                    Ok(Some(name)) => {
                        tracing::info!(report = %name, "created the BillingReport of a closed month")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("creating the closed month's report failed: {e}"),
                }
                tokio::time::sleep(ctx.config.create_interval).await;
            }
        })
    };
    Controller::new(
        Api::<BillingReport>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .run(reconcile, error_policy, ctx)
    .for_each(|r| async move {
        if let Err(e) = r {
            tracing::debug!("report reconcile: {e}");
        }
    })
    .await;
    creator.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed() -> PhaseInputs {
        PhaseInputs {
            period_valid: true,
            month_closed: true,
            deliver: true,
            endpoint: true,
            ..PhaseInputs::default()
        }
    }

    #[test]
    fn r_bil_02_open_month_is_pending_and_bad_period_fails() {
        let open = PhaseInputs {
            month_closed: false,
            ..closed()
        };
        assert_eq!(decide(&open).phase, ReportPhase::Pending);
        assert!(!decide(&open).generate);
        let bad = PhaseInputs {
            period_valid: false,
            ..closed()
        };
        assert_eq!(decide(&bad).phase, ReportPhase::Failed);
    }

    #[test]
    fn r_bil_02_closed_month_is_generated_then_delivered() {
        let d = decide(&closed());
        assert_eq!(d.phase, ReportPhase::Collecting);
        assert!(d.generate);
        let signed = PhaseInputs {
            signed: true,
            ..closed()
        };
        assert!(decide(&signed).deliver);
        let delivered = PhaseInputs {
            delivered: true,
            attempts: 2,
            ..signed.clone()
        };
        assert_eq!(decide(&delivered).phase, ReportPhase::Delivered);
        assert!(!decide(&delivered).deliver, "never delivered twice");
        let failed = PhaseInputs {
            attempts: 1,
            ..signed.clone()
        };
        assert_eq!(decide(&failed).phase, ReportPhase::Failed);
        assert!(decide(&failed).deliver, "retried");
        let rejected = PhaseInputs {
            rejected: true,
            attempts: 1,
            ..signed
        };
        assert_eq!(decide(&rejected).phase, ReportPhase::Failed);
        assert!(!decide(&rejected).deliver);
    }

    #[test]
    fn r_bil_02_without_delivery_a_report_stays_signed() {
        for (deliver, endpoint) in [(false, true), (true, false), (false, false)] {
            let i = PhaseInputs {
                signed: true,
                deliver,
                endpoint,
                ..closed()
            };
            assert_eq!(decide(&i).phase, ReportPhase::Signed);
            assert!(!decide(&i).deliver);
        }
    }
}
