//! Admission metrics: how many requests were allowed or refused, how long the
//! decision took (the API server waits on it, with a 5 s timeout), and how often
//! software whose register documents expire soon was admitted (R-SW-02).

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Counters and a latency histogram of admission decisions, labelled by kind.
#[derive(Clone, Debug)]
pub struct AdmissionMetrics {
    decisions: IntCounterVec,
    duration: HistogramVec,
    catalog_expiring: IntCounterVec,
}

impl AdmissionMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::unregistered()?;
        registry.register(Box::new(metrics.decisions.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.catalog_expiring.clone()))?;
        Ok(metrics)
    }

    /// Creates the metrics without registering them (tests).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "webhook_decisions_total",
                "Admission requests judged, by kind and decision (allowed or refused).",
            ),
            &["kind", "decision"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "webhook_duration_seconds",
                "Time to judge an admission request, lookups included.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["kind"],
        )?;
        let catalog_expiring = IntCounterVec::new(
            Opts::new(
                "akp_admission_catalog_expiring_total",
                "Workloads admitted with catalog software whose register documents expire within 30 days (R-SW-02), by catalog item.",
            ),
            &["item"],
        )?;
        Ok(Self {
            decisions,
            duration,
            catalog_expiring,
        })
    }

    /// Records one decision.
    pub fn observe(&self, kind: &str, allowed: bool, elapsed: Duration) {
        let decision = if allowed { "allowed" } else { "refused" };
        self.decisions.with_label_values(&[kind, decision]).inc();
        self.duration
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// How many requests of `kind` ended in `allowed`.
    pub fn decisions(&self, kind: &str, allowed: bool) -> u64 {
        let decision = if allowed { "allowed" } else { "refused" };
        self.decisions.with_label_values(&[kind, decision]).get()
    }

    /// Counts one admitted use of `item`, whose documents expire soon.
    pub fn observe_expiring(&self, item: &str) {
        self.catalog_expiring.with_label_values(&[item]).inc();
    }

    /// How many admitted uses of `item` had documents expiring soon.
    pub fn catalog_expiring(&self, item: &str) -> u64 {
        self.catalog_expiring.with_label_values(&[item]).get()
    }
}
