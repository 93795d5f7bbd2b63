//! Telemetry: Prometheus metrics, the health and metrics HTTP endpoint, and tracing.
//!
//! The shape follows kube-rs/controller-rs: one [`Metrics`] shared by every controller
//! and webhook (cheap to clone), a drop-guard [`ReconcileTimer`], and error counts
//! labelled by a short stable `metric_label()` of the controller's error enum.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramTimer, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::task::JoinHandle;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Prefix of every metric name (the registry adds the `_`).
pub const METRIC_PREFIX: &str = "akp_operator";

/// Histogram buckets of reconcile durations, in seconds: 1 ms to 30 s.
const RECONCILE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Errors of telemetry setup and serving.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A metric could not be defined or registered.
    #[error("defining metric {name}: {source}")]
    Metric {
        /// The metric's name, without the prefix.
        name: &'static str,
        /// What the prometheus crate said.
        #[source]
        source: prometheus::Error,
    },
    /// The registry could not be encoded in the text exposition format.
    #[error("encoding metrics: {0}")]
    Encode(#[source] prometheus::Error),
    /// The health and metrics endpoint could not bind its address.
    #[error("binding the metrics endpoint to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The health and metrics endpoint failed while serving.
    #[error("serving the metrics endpoint: {0}")]
    Serve(#[source] std::io::Error),
    /// `RUST_LOG` is set but is not a valid filter.
    #[error("invalid RUST_LOG filter: {0}")]
    LogFilter(#[from] tracing_subscriber::filter::FromEnvError),
    /// A global tracing subscriber was already installed.
    #[error("installing the tracing subscriber: {0}")]
    TracingInit(#[from] tracing_subscriber::util::TryInitError),
}

/// The operator's metrics in one registry whose names start with `akp_operator_`.
///
/// Cloning is cheap (an `Arc`); every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    // `None` only if the constant metric definitions were invalid, see `Default`.
    inner: Option<Arc<Inner>>,
}

struct Inner {
    registry: Registry,
    reconciles: IntCounterVec,
    reconcile_errors: IntCounterVec,
    reconcile_duration: HistogramVec,
    watch_errors: IntCounterVec,
    products: IntGaugeVec,
    trials_overdue: IntGauge,
    provisioning_sla_breaches: IntGauge,
    provisioning_sla_at_risk: IntGauge,
    calendar_unknown_deadlines: IntGauge,
    catalog_item_expiry: IntGaugeVec,
    product_sla_availability: GaugeVec,
    product_sla_response_time: GaugeVec,
    leader: IntGauge,
    nodes_outside_country: IntGaugeVec,
    pods_outside_country: IntGauge,
}

impl Metrics {
    /// Defines and registers every metric in a fresh registry.
    pub fn new() -> Result<Self, TelemetryError> {
        let registry =
            Registry::new_custom(Some(METRIC_PREFIX.to_string()), None).map_err(|source| {
                TelemetryError::Metric {
                    name: "registry",
                    source,
                }
            })?;
        let inner = Inner {
            reconciles: register(
                &registry,
                "reconciles_total",
                IntCounterVec::new(
                    Opts::new("reconciles_total", "Reconciliations started"),
                    &["controller"],
                ),
            )?,
            reconcile_errors: register(
                &registry,
                "reconcile_errors_total",
                IntCounterVec::new(
                    Opts::new("reconcile_errors_total", "Reconciliations that failed"),
                    &["controller", "error"],
                ),
            )?,
            reconcile_duration: register(
                &registry,
                "reconcile_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new("reconcile_duration_seconds", "Duration of reconciliations")
                        .buckets(RECONCILE_BUCKETS.to_vec()),
                    &["controller"],
                ),
            )?,
            watch_errors: register(
                &registry,
                "watch_errors_total",
                IntCounterVec::new(
                    Opts::new(
                        "watch_errors_total",
                        "Failed watch requests and watch error events, by resource; each watch retries on its own backoff",
                    ),
                    &["resource"],
                ),
            )?,
            products: register(
                &registry,
                "products",
                IntGaugeVec::new(
                    Opts::new("products", "Platform software products by stage"),
                    &["stage"],
                ),
            )?,
            trials_overdue: register(
                &registry,
                "trials_overdue",
                IntGauge::new(
                    "trials_overdue",
                    "Products in trial operation past their legal deadline",
                ),
            )?,
            provisioning_sla_breaches: register(
                &registry,
                "provisioning_sla_breaches",
                IntGauge::new(
                    "provisioning_sla_breaches",
                    "Environments not provisioned within their deadline",
                ),
            )?,
            provisioning_sla_at_risk: register(
                &registry,
                "provisioning_sla_at_risk",
                IntGauge::new(
                    "provisioning_sla_at_risk",
                    "Environments not ready with at most two working days left before their deadline",
                ),
            )?,
            calendar_unknown_deadlines: register(
                &registry,
                "calendar_unknown_deadlines",
                IntGauge::new(
                    "calendar_unknown_deadlines",
                    "Environments whose provisioning deadline runs through a year whose movable holidays are unknown (R-ENV-03)",
                ),
            )?,
            catalog_item_expiry: register(
                &registry,
                "catalog_item_expiry_timestamp_seconds",
                IntGaugeVec::new(
                    Opts::new(
                        "catalog_item_expiry_timestamp_seconds",
                        "When each trusted-software catalog item's register documents expire (end of the last valid day, UTC+5), Unix seconds",
                    ),
                    &["item"],
                ),
            )?,
            product_sla_availability: register(
                &registry,
                "product_sla_availability_ratio",
                GaugeVec::new(
                    Opts::new(
                        "product_sla_availability_ratio",
                        "The availability a production product promised (spec.sla.availabilityPercent / 100), by its production namespace (R-MON-01)",
                    ),
                    &["namespace", "product"],
                ),
            )?,
            product_sla_response_time: register(
                &registry,
                "product_sla_response_time_seconds",
                GaugeVec::new(
                    Opts::new(
                        "product_sla_response_time_seconds",
                        "The response time a production product promised (spec.capacity.responseTimeMs), by its production namespace (R-MON-01)",
                    ),
                    &["namespace", "product"],
                ),
            )?,
            leader: register(
                &registry,
                "leader",
                IntGauge::new("leader", "1 while this replica holds the leader Lease"),
            )?,
            nodes_outside_country: register(
                &registry,
                "nodes_outside_country",
                IntGaugeVec::new(
                    Opts::new(
                        "nodes_outside_country",
                        "Nodes of a site not attested in the home country (R-PLC-01)",
                    ),
                    &["site"],
                ),
            )?,
            pods_outside_country: register(
                &registry,
                "pods_outside_country",
                IntGauge::new(
                    "pods_outside_country",
                    "Pods of environments on nodes not attested in the home country (R-PLC-01)",
                ),
            )?,
            registry,
        };
        Ok(Self {
            inner: Some(Arc::new(inner)),
        })
    }

    /// The registry, for components that define metrics of their own.
    ///
    /// `None` only for a [`Metrics::default`] whose definitions failed (never in
    /// practice: the definitions are constants, checked by a unit test).
    pub fn registry(&self) -> Option<&Registry> {
        self.inner.as_deref().map(|i| &i.registry)
    }

    /// Counts a reconciliation of `controller` and times it until the guard drops.
    ///
    /// ```ignore
    /// let _timer = ctx.metrics.reconcile_timer("product");
    /// ```
    #[must_use = "the duration is observed when the timer is dropped"]
    pub fn reconcile_timer(&self, controller: &str) -> ReconcileTimer {
        let timer = self.inner.as_deref().map(|i| {
            i.reconciles.with_label_values(&[controller]).inc();
            i.reconcile_duration
                .with_label_values(&[controller])
                .start_timer()
        });
        ReconcileTimer { _timer: timer }
    }

    /// Counts a failed reconciliation; `error` is the error's stable `metric_label()`.
    pub fn set_failure(&self, controller: &str, error: &str) {
        if let Some(i) = self.inner.as_deref() {
            i.reconcile_errors
                .with_label_values(&[controller, error])
                .inc();
        }
    }

    /// Counts a failed watch of `resource` (its plural, e.g. `resourcequotas`).
    pub fn watch_error(&self, resource: &str) {
        if let Some(i) = self.inner.as_deref() {
            i.watch_errors.with_label_values(&[resource]).inc();
        }
    }

    /// Sets the number of products in every stage at once; stages absent from
    /// `counts` drop out, so a stage that empties does not linger at its last value.
    pub fn set_products<'a>(&self, counts: impl IntoIterator<Item = (&'a str, i64)>) {
        if let Some(i) = self.inner.as_deref() {
            i.products.reset();
            for (stage, count) in counts {
                i.products.with_label_values(&[stage]).set(count);
            }
        }
    }

    /// Sets the number of products whose trial operation is past its deadline.
    pub fn set_trials_overdue(&self, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.trials_overdue.set(count);
        }
    }

    /// Sets the number of environments not provisioned within their deadline.
    pub fn set_provisioning_sla_breaches(&self, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.provisioning_sla_breaches.set(count);
        }
    }

    /// R-ENV-03: sets the number of environments whose provisioning deadline runs
    /// through a year whose movable holidays are unknown.
    pub fn set_calendar_unknown_deadlines(&self, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.calendar_unknown_deadlines.set(count);
        }
    }

    /// Sets the number of environments at risk of missing their provisioning deadline.
    pub fn set_provisioning_sla_at_risk(&self, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.provisioning_sla_at_risk.set(count);
        }
    }

    /// Sets when each catalog item's documents expire; items absent from `expiries`
    /// drop out.
    pub fn set_catalog_expiries<'a>(&self, expiries: impl IntoIterator<Item = (&'a str, i64)>) {
        if let Some(i) = self.inner.as_deref() {
            i.catalog_item_expiry.reset();
            for (item, at) in expiries {
                i.catalog_item_expiry.with_label_values(&[item]).set(at);
            }
        }
    }

    /// Sets the service-quality targets of the production products (R-MON-01); products
    /// that left production drop out.
    pub fn set_product_slas<'a>(
        &self,
        targets: impl IntoIterator<Item = &'a crate::rules::quality::Targets>,
    ) {
        if let Some(i) = self.inner.as_deref() {
            i.product_sla_availability.reset();
            i.product_sla_response_time.reset();
            for t in targets {
                let labels = [t.namespace.as_str(), t.product.as_str()];
                if let Some(ratio) = t.availability_ratio {
                    i.product_sla_availability
                        .with_label_values(&labels)
                        .set(ratio);
                }
                if let Some(seconds) = t.response_time_seconds {
                    i.product_sla_response_time
                        .with_label_values(&labels)
                        .set(seconds);
                }
            }
        }
    }

    /// Sets how many nodes of `site` are not attested in the home country.
    pub fn set_nodes_outside_country(&self, site: &str, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.nodes_outside_country
                .with_label_values(&[site])
                .set(count);
        }
    }

    /// Sets how many environment pods run on nodes outside the home country.
    pub fn set_pods_outside_country(&self, count: i64) {
        if let Some(i) = self.inner.as_deref() {
            i.pods_outside_country.set(count);
        }
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        if let Some(i) = self.inner.as_deref() {
            i.leader.set(i64::from(leading));
        }
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, TelemetryError> {
        let Some(i) = self.inner.as_deref() else {
            return Ok(String::new());
        };
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&i.registry.gather(), &mut buf)
            .map_err(TelemetryError::Encode)?;
        // The text encoder writes only UTF-8 (names are ASCII, label values are &str).
        String::from_utf8(buf).map_err(|e| {
            TelemetryError::Encode(prometheus::Error::Msg(format!("non-UTF-8 output: {e}")))
        })
    }
}

impl Default for Metrics {
    /// [`Metrics::new`]; should that ever fail (the definitions are constants, so
    /// only a programming error could), it logs the error and records nothing rather
    /// than panicking, as observability must not take the operator down.
    fn default() -> Self {
        Self::new().unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics disabled");
            Self { inner: None }
        })
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

fn register<C>(
    registry: &Registry,
    name: &'static str,
    collector: Result<C, prometheus::Error>,
) -> Result<C, TelemetryError>
where
    C: prometheus::core::Collector + Clone + 'static,
{
    let collector = collector.map_err(|source| TelemetryError::Metric { name, source })?;
    registry
        .register(Box::new(collector.clone()))
        .map_err(|source| TelemetryError::Metric { name, source })?;
    Ok(collector)
}

/// Observes the duration of a reconciliation into `reconcile_duration_seconds` when
/// dropped, so early returns and `?` are timed too.
#[derive(Debug)]
pub struct ReconcileTimer {
    _timer: Option<HistogramTimer>,
}

/// Whether the process is ready to serve (for example, its caches have synced).
///
/// Starts not ready; cloning shares the flag.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that is not ready yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the process ready: `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Marks the process not ready again: `/readyz` answers 503.
    pub fn set_not_ready(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// Whether the process is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The running health and metrics endpoint.
#[derive(Debug)]
pub struct Serving {
    /// The address bound, with the actual port when port 0 was asked for.
    pub local_addr: SocketAddr,
    /// The server; ends with `Ok(())` once the shutdown future resolves.
    pub task: JoinHandle<Result<(), TelemetryError>>,
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

/// Binds `addr` and serves, on a task of its own until `shutdown` resolves:
/// `/metrics` (text exposition), `/healthz` (200 while the process runs) and
/// `/readyz` (200 once `readiness` is set, 503 before).
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Serving, TelemetryError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| TelemetryError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| TelemetryError::Bind { addr, source })?;
    let app = router(AppState { metrics, readiness });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(TelemetryError::Serve)
    });
    tracing::info!(%local_addr, "serving /metrics, /healthz and /readyz");
    Ok(Serving { local_addr, task })
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz_handler))
        .with_state(state)
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "rendering metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

async fn readyz_handler(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Installs the global tracing subscriber: the filter from `RUST_LOG` (default
/// `info`), and JSON lines when `json` is set (for log collectors), plain text
/// otherwise.
pub fn init_tracing(json: bool) -> Result<(), TelemetryError> {
    let filter = EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::INFO.into())
        .from_env()?;
    let fmt = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()?;
    Ok(())
}

/// The reporter name of the operator's events.
pub fn reporter(instance: Option<String>) -> kube::runtime::events::Reporter {
    kube::runtime::events::Reporter {
        controller: "akp-operator".into(),
        instance,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A plain HTTP/1.1 GET; the status code and the body.
    async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap();
        (status, body)
    }

    #[test]
    fn metrics_render_with_expected_names() {
        let metrics = Metrics::new().unwrap();
        // Vectors appear only once a label set is used.
        let _timer = metrics.reconcile_timer("product");
        metrics.set_failure("product", "kube");
        metrics.set_products([("development", 2), ("production", 1)]);
        metrics.set_trials_overdue(3);
        metrics.set_provisioning_sla_breaches(4);
        metrics.set_provisioning_sla_at_risk(5);
        metrics.set_calendar_unknown_deadlines(6);
        metrics.set_catalog_expiries([("postgresql-16", 1_798_657_200)]);
        metrics.set_product_slas(&[crate::rules::quality::Targets {
            namespace: "mon-e-license-production".into(),
            product: "e-license".into(),
            availability_ratio: Some(0.999),
            response_time_seconds: None,
        }]);
        metrics.set_leader(true);
        let text = metrics.render().unwrap();
        for line in [
            "akp_operator_reconciles_total{controller=\"product\"} 1",
            "akp_operator_reconcile_errors_total{controller=\"product\",error=\"kube\"} 1",
            "# TYPE akp_operator_reconcile_duration_seconds histogram",
            "akp_operator_products{stage=\"development\"} 2",
            "akp_operator_products{stage=\"production\"} 1",
            "akp_operator_trials_overdue 3",
            "akp_operator_provisioning_sla_breaches 4",
            "akp_operator_provisioning_sla_at_risk 5",
            "akp_operator_calendar_unknown_deadlines 6",
            "akp_operator_catalog_item_expiry_timestamp_seconds{item=\"postgresql-16\"} 1798657200",
            "akp_operator_leader 1",
            "akp_operator_product_sla_availability_ratio{namespace=\"mon-e-license-production\",product=\"e-license\"} 0.999",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn products_gauge_drops_stages_that_emptied() {
        let metrics = Metrics::default();
        metrics.set_products([("trial", 1)]);
        metrics.set_products([("production", 1)]);
        let text = metrics.render().unwrap();
        assert!(!text.contains("stage=\"trial\""), "{text}");
        assert!(text.contains("akp_operator_products{stage=\"production\"} 1"));
    }

    #[test]
    fn timer_observes_on_drop() {
        let metrics = Metrics::default();
        {
            let _timer = metrics.reconcile_timer("agency");
            std::thread::sleep(Duration::from_millis(5));
        }
        let text = metrics.render().unwrap();
        assert!(
            text.contains("akp_operator_reconcile_duration_seconds_count{controller=\"agency\"} 1"),
            "{text}"
        );
        // 5 ms or more: not in the 1 ms and 2.5 ms buckets, in the 30 s one.
        assert!(text.contains(
            "akp_operator_reconcile_duration_seconds_bucket{controller=\"agency\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "akp_operator_reconcile_duration_seconds_bucket{controller=\"agency\",le=\"30\"} 1"
        ));
        let sum_line = text
            .lines()
            .find(|l| l.starts_with("akp_operator_reconcile_duration_seconds_sum"))
            .unwrap();
        let sum: f64 = sum_line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(sum >= 0.005, "{sum_line}");
    }

    #[tokio::test]
    async fn endpoints_serve_health_readiness_and_metrics() {
        let metrics = Metrics::default();
        metrics.set_trials_overdue(7);
        let readiness = Readiness::new();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = serve(
            "127.0.0.1:0".parse().unwrap(),
            metrics.clone(),
            readiness.clone(),
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
        let addr = serving.local_addr;
        assert_ne!(addr.port(), 0);

        assert_eq!(http_get(addr, "/healthz").await.0, 200);
        assert_eq!(http_get(addr, "/readyz").await.0, 503);
        readiness.set_ready();
        assert_eq!(http_get(addr, "/readyz").await, (200, "ready".to_string()));

        // A value set after the server started is served: it reads the shared registry.
        metrics.set_leader(true);
        let (status, body) = http_get(addr, "/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("akp_operator_trials_overdue 7"), "{body}");
        assert!(body.contains("akp_operator_leader 1"), "{body}");
        assert_eq!(http_get(addr, "/nope").await.0, 404);

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), serving.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
