//! R-MON-03 (000 App.2 p.6.10): the times in the audit trail (and the ledger's hours)
//! come from the system clock of the process that acted, so that clock must agree with
//! the cluster's. Every minute the process reads its offset from the API server's clock
//! (the `Date` of a `GET /version`, [`akp_rules::time::ClockReading`]), exports it, and
//! flags it beyond a bound: `clock_offset_seconds`, `clock_offset_uncertainty_seconds`
//! and `clock_out_of_sync` (alert `AkpClockOutOfSync`). It measures, it does not set
//! the clock: that is the node's NTP (docs/audit.md).

use std::sync::Arc;
use std::time::Duration;

use akp_rules::time::ClockReading;
use jiff::{SignedDuration, Timestamp};
use prometheus::{Gauge, IntGauge, Registry};

/// How often the daemons read their offset.
pub const READING_INTERVAL: Duration = Duration::from_secs(60);

/// What went wrong reading the API server's clock.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// The request failed.
    #[error("asking the API server for its time: {0}")]
    Request(#[from] kube::Error),
    /// The answer had no usable `Date`.
    #[error("the API server's answer has no usable Date header: {0}")]
    Date(String),
}

/// Reads and reports this process's clock offset from the API server's.
#[derive(Clone)]
pub struct ClockWatch {
    client: kube::Client,
    bound: SignedDuration,
    now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    metrics: Option<ClockMetrics>,
}

#[derive(Clone)]
struct ClockMetrics {
    offset: Gauge,
    uncertainty: Gauge,
    out_of_sync: IntGauge,
}

impl ClockWatch {
    /// A watch of this process's system clock, flagged beyond `bound`.
    pub fn new(client: kube::Client, bound: Duration) -> Self {
        Self {
            client,
            bound: SignedDuration::try_from(bound).unwrap_or(SignedDuration::MAX),
            now: Arc::new(Timestamp::now),
            metrics: None,
        }
    }

    /// Reads `now` instead of the system clock (tests shift it).
    pub fn with_clock(mut self, now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.now = Arc::new(now);
        self
    }

    /// Registers `clock_offset_seconds`, `clock_offset_uncertainty_seconds` and
    /// `clock_out_of_sync` in `registry`.
    pub fn register(mut self, registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = ClockMetrics {
            offset: Gauge::new(
                "clock_offset_seconds",
                "This process's clock minus the API server's, at the last reading (R-MON-03).",
            )?,
            uncertainty: Gauge::new(
                "clock_offset_uncertainty_seconds",
                "How far the true offset can be from clock_offset_seconds: half the round trip plus half a second (R-MON-03).",
            )?,
            out_of_sync: IntGauge::new(
                "clock_out_of_sync",
                "1 when the clock offset, less its uncertainty, exceeds the configured bound (R-MON-03).",
            )?,
        };
        registry.register(Box::new(m.offset.clone()))?;
        registry.register(Box::new(m.uncertainty.clone()))?;
        registry.register(Box::new(m.out_of_sync.clone()))?;
        self.metrics = Some(m);
        Ok(self)
    }

    /// One reading, reported in the metrics.
    pub async fn read(&self) -> Result<ClockReading, ClockError> {
        let request = http::Request::get("/version")
            .body(kube::client::Body::empty())
            .map_err(|e| ClockError::Date(e.to_string()))?;
        let sent = (self.now)();
        let response = self.client.send(request).await?;
        let received = (self.now)();
        let date = response
            .headers()
            .get(http::header::DATE)
            .ok_or_else(|| ClockError::Date("missing".into()))?
            .to_str()
            .map_err(|e| ClockError::Date(e.to_string()))?;
        let peer = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(date)
            .map_err(|e| ClockError::Date(format!("{date:?}: {e}")))?;
        let reading = ClockReading::new(sent, received, peer);
        if let Some(m) = &self.metrics {
            m.offset.set(reading.offset.as_secs_f64());
            m.uncertainty.set(reading.uncertainty.as_secs_f64());
            m.out_of_sync.set(i64::from(self.out_of_sync(&reading)));
        }
        Ok(reading)
    }

    /// Whether `reading` is beyond this watch's bound.
    pub fn out_of_sync(&self, reading: &ClockReading) -> bool {
        reading.beyond(self.bound)
    }

    /// Reads every `interval`, logging a warning while the clock is out of sync.
    pub async fn run(self, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.read().await {
                Ok(r) if self.out_of_sync(&r) => tracing::warn!(
                    target: crate::TRACING_TARGET,
                    offset_ms = r.offset.as_millis(),
                    uncertainty_ms = r.uncertainty.as_millis(),
                    bound_ms = self.bound.as_millis(),
                    "this clock is out of sync with the API server's (R-MON-03): audit and billing times are off by about the offset; fix the node's NTP"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: crate::TRACING_TARGET, "clock offset not read (R-MON-03): {e}")
                }
            }
        }
    }
}
