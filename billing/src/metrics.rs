//! The billing daemon's own metrics (`akp_billing_*`) and the `/metrics` endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Query duration buckets, seconds.
const QUERY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Errors of defining or serving metrics.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A metric definition was refused.
    #[error("defining metric {name}: {source}")]
    Define {
        /// The metric.
        name: &'static str,
        /// The cause.
        source: prometheus::Error,
    },
    /// The endpoint could not bind.
    #[error("binding the metrics endpoint to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The endpoint failed.
    #[error("serving the metrics endpoint: {0}")]
    Serve(std::io::Error),
}

/// The daemon's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    last_collected_hour: IntGaugeVec,
    lag: IntGaugeVec,
    gap_hours: IntGauge,
    lost_hours: IntGauge,
    query_duration: HistogramVec,
    query_errors: IntCounterVec,
    queries_per_cycle: IntGauge,
    database_errors: IntCounterVec,
    rows: IntCounter,
    adjustments: IntCounter,
    months_closed: IntCounter,
    cycles: IntCounterVec,
}

fn define<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    name: &'static str,
    metric: Result<T, prometheus::Error>,
) -> Result<T, MetricsError> {
    let metric = metric.map_err(|source| MetricsError::Define { name, source })?;
    registry
        .register(Box::new(metric.clone()))
        .map_err(|source| MetricsError::Define { name, source })?;
    Ok(metric)
}

impl Metrics {
    /// A fresh registry with every metric defined.
    pub fn new() -> Result<Self, MetricsError> {
        let registry =
            Registry::new_custom(Some("akp_billing".into()), None).map_err(|source| {
                MetricsError::Define {
                    name: "registry",
                    source,
                }
            })?;
        let r = &registry;
        let inner = Inner {
            last_collected_hour: define(
                r,
                "last_collected_hour_seconds",
                IntGaugeVec::new(
                    Opts::new(
                        "last_collected_hour_seconds",
                        "Start (Unix seconds) of the last hour a meter collected.",
                    ),
                    &["meter"],
                ),
            )?,
            lag: define(
                r,
                "lag_seconds",
                IntGaugeVec::new(
                    Opts::new(
                        "lag_seconds",
                        "Seconds between now and the end of the last hour a meter collected.",
                    ),
                    &["meter"],
                ),
            )?,
            gap_hours: define(
                r,
                "gap_hours",
                IntGauge::new(
                    "gap_hours",
                    "Environment-hours of the current and previous month not fully covered by samples.",
                ),
            )?,
            lost_hours: define(
                r,
                "lost_hours",
                IntGauge::new(
                    "lost_hours",
                    "Meter-hours that fell out of Prometheus' retention before they were collected.",
                ),
            )?,
            query_duration: define(
                r,
                "query_duration_seconds",
                HistogramVec::new(
                    HistogramOpts::new("query_duration_seconds", "Duration of Prometheus queries.")
                        .buckets(QUERY_BUCKETS.to_vec()),
                    &["meter"],
                ),
            )?,
            query_errors: define(
                r,
                "query_errors_total",
                IntCounterVec::new(
                    Opts::new("query_errors_total", "Failed Prometheus queries."),
                    &["meter", "error"],
                ),
            )?,
            queries_per_cycle: define(
                r,
                "queries_per_window",
                IntGauge::new(
                    "queries_per_window",
                    "Prometheus queries of the last collected window (independent of the number of environments).",
                ),
            )?,
            database_errors: define(
                r,
                "database_errors_total",
                IntCounterVec::new(
                    Opts::new("database_errors_total", "Failed ledger operations."),
                    &["error"],
                ),
            )?,
            rows: define(
                r,
                "rows_written_total",
                IntCounter::new("rows_written_total", "Ledger rows upserted."),
            )?,
            adjustments: define(
                r,
                "adjustments_total",
                IntCounter::new("adjustments_total", "Adjustments booked for closed months."),
            )?,
            months_closed: define(
                r,
                "months_closed_total",
                IntCounter::new("months_closed_total", "Months closed."),
            )?,
            cycles: define(
                r,
                "cycles_total",
                IntCounterVec::new(
                    Opts::new("cycles_total", "Collection cycles by result."),
                    &["result"],
                ),
            )?,
            registry,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Records a meter's progress.
    pub fn collected(&self, meter: &str, next_hour_secs: i64, now_secs: i64) {
        let i = &self.inner;
        i.last_collected_hour
            .with_label_values(&[meter])
            .set(next_hour_secs - 3600);
        i.lag
            .with_label_values(&[meter])
            .set((now_secs - next_hour_secs).max(0));
    }

    /// Records a query.
    pub fn query(&self, meter: &str, took: Duration, error: Option<&str>) {
        let i = &self.inner;
        i.query_duration
            .with_label_values(&[meter])
            .observe(took.as_secs_f64());
        if let Some(error) = error {
            i.query_errors.with_label_values(&[meter, error]).inc();
        }
    }

    /// Records a window's query count.
    pub fn queries_per_window(&self, n: u64) {
        self.inner
            .queries_per_cycle
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records a database error.
    pub fn database_error(&self, label: &str) {
        self.inner.database_errors.with_label_values(&[label]).inc();
    }

    /// Records written rows and adjustments.
    pub fn written(&self, rows: u64, adjustments: u64) {
        self.inner.rows.inc_by(rows);
        self.inner.adjustments.inc_by(adjustments);
    }

    /// Records closed months.
    pub fn months_closed(&self, n: u64) {
        self.inner.months_closed.inc_by(n);
    }

    /// Records gap and lost hours.
    pub fn gaps(&self, gap_hours: i64, lost_hours: i64) {
        self.inner.gap_hours.set(gap_hours);
        self.inner.lost_hours.set(lost_hours);
    }

    /// Records a cycle's result (`ok` or the error's label).
    pub fn cycle(&self, result: &str) {
        self.inner.cycles.with_label_values(&[result]).inc();
    }

    /// The registry, for other parts of the daemon that define metrics.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.inner.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

async fn metrics_handler(State(metrics): State<Metrics>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.encode(),
    )
        .into_response()
}

/// Serves `/metrics` and `/healthz` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: Metrics) -> Result<(), MetricsError> {
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    axum::serve(listener, app)
        .await
        .map_err(MetricsError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_daemon_metrics() -> Result<(), MetricsError> {
        let m = Metrics::new()?;
        m.collected("cpu", 7200, 9000);
        m.query("cpu", Duration::from_millis(5), Some("unreachable"));
        m.database_error("database");
        let text = m.encode();
        for name in [
            "akp_billing_last_collected_hour_seconds{meter=\"cpu\"} 3600",
            "akp_billing_lag_seconds{meter=\"cpu\"} 1800",
            "akp_billing_query_duration_seconds_bucket",
            "akp_billing_query_errors_total{error=\"unreachable\",meter=\"cpu\"} 1",
            "akp_billing_database_errors_total{error=\"database\"} 1",
            "akp_billing_gap_hours 0",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
        Ok(())
    }
}
