//! The non-blocking sink the operator and the billing daemon hand records to.
//!
//! [`Sink::send`] never waits: it puts the record on a bounded channel, or, when the
//! channel is full, drops it, counts the drop and logs at error. A writer task
//! connects to the store (retrying until it can), appends records in batches, and
//! while the database is down keeps the batch it holds and retries with backoff, so
//! records wait in memory (the channel plus one batch) and arrive once it is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{IntCounter, IntGauge, Registry};
use tokio::sync::{mpsc, oneshot};

use crate::record::Record;
use crate::store::{Store, hide_password};

/// How the sink buffers and retries.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// Records waiting in memory at most (the channel's capacity).
    pub bound: usize,
    /// Records appended per transaction at most.
    pub batch: usize,
    /// First wait after a failure; doubled up to `max_backoff`.
    pub backoff: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            bound: 10_000,
            batch: 256,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    written: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

/// Prometheus metrics of a sink (`<prefix>_audit_*`).
#[derive(Clone, Debug)]
struct SinkMetrics {
    written: IntCounter,
    dropped: IntCounter,
    errors: IntCounter,
    pending: IntGauge,
}

enum Message {
    Record(Box<Record>),
    Flush(oneshot::Sender<()>),
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sink {
    tx: mpsc::Sender<Message>,
    counts: Arc<Counts>,
    metrics: Arc<std::sync::OnceLock<SinkMetrics>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Sink {
    /// Starts the writer task for the store at `url` on the current runtime; returns at
    /// once (the task connects, and reconnects, by itself).
    pub fn start(url: &str, options: SinkOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.bound.max(1));
        let sink = Self {
            tx,
            counts: Arc::default(),
            metrics: Arc::default(),
        };
        let writer = Writer {
            url: url.to_owned(),
            options,
            counts: sink.counts.clone(),
            metrics: sink.metrics.clone(),
        };
        tokio::spawn(writer.run(rx));
        sink
    }

    /// Registers `audit_records_written_total`, `audit_records_dropped_total`,
    /// `audit_write_errors_total` and `audit_records_pending` in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let m = SinkMetrics {
            written: IntCounter::new(
                "audit_records_written_total",
                "Audit records stored (R-MON-02).",
            )?,
            dropped: IntCounter::new(
                "audit_records_dropped_total",
                "Audit records dropped because the in-memory bound was exceeded while the audit database was unavailable.",
            )?,
            errors: IntCounter::new(
                "audit_write_errors_total",
                "Failed attempts to write audit records (retried).",
            )?,
            pending: IntGauge::new(
                "audit_records_pending",
                "Audit records waiting in memory for the audit database.",
            )?,
        };
        registry.register(Box::new(m.written.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.pending.clone()))?;
        m.written.inc_by(self.written());
        m.dropped.inc_by(self.dropped());
        m.errors.inc_by(self.errors());
        let _ = self.metrics.set(m);
        Ok(())
    }

    /// Hands `record` to the writer without waiting. When the bound is exceeded the
    /// record is dropped, counted and logged at error: admission never waits on it.
    pub fn send(&self, record: Record) {
        match self.tx.try_send(Message::Record(Box::new(record))) {
            Ok(()) => {
                if let Some(m) = self.metrics.get() {
                    m.pending.inc();
                }
            }
            Err(e) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = self.metrics.get() {
                    m.dropped.inc();
                }
                let record = match e.into_inner() {
                    Message::Record(r) => Some(r),
                    Message::Flush(_) => None,
                };
                if let Some(r) = record {
                    tracing::error!(
                        target: crate::TRACING_TARGET,
                        actor = %r.actor,
                        action = %r.action,
                        object = %r.object.path(),
                        decision = %r.decision,
                        "audit record dropped: the audit database is unavailable and the in-memory bound is full"
                    );
                }
            }
        }
    }

    /// Logs `record` on the tracing target and sends it.
    pub fn record(&self, record: Record) {
        record.log();
        self.send(record);
    }

    /// Waits until everything sent before is stored (or `timeout` passes: false).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let work = async { self.tx.send(Message::Flush(tx)).await.is_ok() && rx.await.is_ok() };
        tokio::time::timeout(timeout, work).await.unwrap_or(false)
    }

    /// Records stored so far.
    pub fn written(&self) -> u64 {
        self.counts.written.load(Ordering::Relaxed)
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }

    /// Failed write attempts so far.
    pub fn errors(&self) -> u64 {
        self.counts.errors.load(Ordering::Relaxed)
    }
}

/// Logs `record` on the tracing target, and sends it when there is a sink.
pub fn emit(sink: Option<&Sink>, record: Record) {
    match sink {
        Some(s) => s.record(record),
        None => record.log(),
    }
}

struct Writer {
    url: String,
    options: SinkOptions,
    counts: Arc<Counts>,
    metrics: Arc<std::sync::OnceLock<SinkMetrics>>,
}

impl Writer {
    fn failed(&self, attempt: &mut u32, what: &str, e: &dyn std::fmt::Display) -> Duration {
        self.counts.errors.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = self.metrics.get() {
            m.errors.inc();
        }
        *attempt = attempt.saturating_add(1);
        // Warn on the first failure of a streak, then every 10th, to keep logs readable.
        if *attempt == 1 || attempt.is_multiple_of(10) {
            tracing::warn!(url = %hide_password(&self.url), attempt = *attempt, "audit database: {what}: {e}; records wait in memory");
        }
        let factor = 2u32.saturating_pow((*attempt).min(16) - 1);
        (self.options.backoff * factor).min(self.options.max_backoff)
    }

    async fn connect(&self) -> Store {
        let mut attempt = 0;
        loop {
            match Store::open(&self.url).await {
                Ok(store) => return store,
                Err(e) => {
                    let wait = self.failed(&mut attempt, "cannot connect", &e);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut store: Option<Store> = None;
        let mut batch: Vec<Record> = Vec::new();
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        let mut open = true;
        while open || !batch.is_empty() {
            if batch.is_empty() {
                match rx.recv().await {
                    Some(Message::Record(r)) => batch.push(*r),
                    Some(Message::Flush(done)) => {
                        let _ = done.send(());
                        continue;
                    }
                    None => open = false,
                }
            }
            // Take what else is waiting, up to a batch; a flush waits for this batch.
            while batch.len() < self.options.batch.max(1) && flushes.is_empty() {
                match rx.try_recv() {
                    Ok(Message::Record(r)) => batch.push(*r),
                    Ok(Message::Flush(done)) => flushes.push(done),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if batch.is_empty() {
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
                continue;
            }
            let mut attempt = 0;
            loop {
                let s = match &store {
                    Some(s) => s.clone(),
                    None => {
                        let s = self.connect().await;
                        store = Some(s.clone());
                        s
                    }
                };
                match s.append(&batch).await {
                    Ok(_) => break,
                    Err(e) => {
                        let wait = self.failed(&mut attempt, "cannot append", &e);
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            if attempt > 0 {
                tracing::info!(
                    records = batch.len(),
                    "audit database: records stored after a failure"
                );
            }
            let n = batch.len() as u64;
            self.counts.written.fetch_add(n, Ordering::Relaxed);
            if let Some(m) = self.metrics.get() {
                m.written.inc_by(n);
                m.pending.sub(i64::try_from(n).unwrap_or(i64::MAX));
            }
            batch.clear();
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
        if let Some(s) = store {
            s.close().await;
        }
    }
}
