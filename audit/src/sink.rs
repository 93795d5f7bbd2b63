//! The non-blocking sink the operator and the billing daemon hand records to.
//!
//! No record is dropped (R-MON-02). Records wait on a bounded channel; a writer task
//! connects to the store (retrying until it can), appends them in batches, and while
//! the database is down keeps the batch it holds and retries with backoff, so records
//! wait in memory (the channel plus one batch) and arrive once it is back.
//!
//! When the channel is full the sender waits for room: the controllers' records
//! ([`Sink::record`]) block their reconcile until the database takes records again,
//! and an admission decision ([`Sink::admit`]) waits at most [`SinkOptions::wait`] and
//! then fails: the webhook refuses the request it could not record (fail closed). A
//! decision that cannot be recorded is not made; the refusal is counted
//! (`audit_records_refused_total`) and logged, and the API server's own audit log has
//! the request (docs/decisions.md D-AUD-2).

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
    /// How long an admission decision waits for room before its request is refused;
    /// well under the webhook's `timeoutSeconds` (10).
    pub wait: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            bound: 10_000,
            batch: 256,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            wait: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    written: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
}

/// Prometheus metrics of a sink (`<prefix>_audit_*`).
#[derive(Clone, Debug)]
struct SinkMetrics {
    written: IntCounter,
    refused: IntCounter,
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
    wait: Duration,
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
            wait: options.wait,
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

    /// Registers `audit_records_written_total`, `audit_records_refused_total`,
    /// `audit_write_errors_total` and `audit_records_pending` in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        let m = SinkMetrics {
            written: IntCounter::new(
                "audit_records_written_total",
                "Audit records stored (R-MON-02).",
            )?,
            refused: IntCounter::new(
                "audit_records_refused_total",
                "Audit records of admission requests refused (and the requests with them) because they found no room within the wait while the audit database was unavailable (fail closed).",
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
        registry.register(Box::new(m.refused.clone()))?;
        registry.register(Box::new(m.errors.clone()))?;
        registry.register(Box::new(m.pending.clone()))?;
        m.written.inc_by(self.written());
        m.refused.inc_by(self.refused());
        m.errors.inc_by(self.errors());
        let _ = self.metrics.set(m);
        Ok(())
    }

    /// Logs `record` on the tracing target and queues it, waiting for room while the
    /// database is down: a controller's act is not done before it is recorded.
    pub async fn record(&self, record: Record) {
        record.log();
        if self
            .tx
            .send(Message::Record(Box::new(record)))
            .await
            .is_ok()
        {
            self.queued();
        } else {
            // Only when the writer task is gone, which ends the process's audit trail.
            tracing::error!(target: crate::TRACING_TARGET, "audit record not stored: the audit writer has stopped");
        }
    }

    /// Logs `records` (a decision and the acts it admits) and queues them together,
    /// waiting at most [`SinkOptions::wait`] for room for all of them: either every
    /// one is queued or none is, so a refused request leaves no record saying it was
    /// allowed. On `Err` the caller refuses what the records decided (fail closed).
    pub async fn admit(&self, records: Vec<Record>) -> Result<(), Unrecorded> {
        for r in &records {
            r.log();
        }
        // More than the bound can never be queued at once: refused, never truncated.
        if records.len() > self.tx.max_capacity() {
            return Err(self.refuse(records.len()));
        }
        match tokio::time::timeout(self.wait, self.tx.reserve_many(records.len())).await {
            Ok(Ok(permits)) => {
                for (permit, r) in permits.zip(records) {
                    permit.send(Message::Record(Box::new(r)));
                    self.queued();
                }
                Ok(())
            }
            Ok(Err(_closed)) => {
                tracing::error!(target: crate::TRACING_TARGET, "audit records not stored: the audit writer has stopped; the request is refused");
                Err(self.refuse(records.len()))
            }
            Err(_elapsed) => {
                for r in &records {
                    tracing::error!(
                        target: crate::TRACING_TARGET,
                        actor = %r.actor,
                        action = %r.action,
                        object = %r.object.path(),
                        "audit record found no room: the audit database is unavailable; the request is refused"
                    );
                }
                Err(self.refuse(records.len()))
            }
        }
    }

    fn refuse(&self, records: usize) -> Unrecorded {
        self.counts
            .refused
            .fetch_add(records as u64, Ordering::Relaxed);
        if let Some(m) = self.metrics.get() {
            m.refused.inc_by(records as u64);
        }
        Unrecorded {
            waited: self.wait,
            pending: self.tx.max_capacity() - self.tx.capacity(),
        }
    }

    fn queued(&self) {
        if let Some(m) = self.metrics.get() {
            m.pending.inc();
        }
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

    /// Admission records refused for want of room so far.
    pub fn refused(&self) -> u64 {
        self.counts.refused.load(Ordering::Relaxed)
    }

    /// Failed write attempts so far.
    pub fn errors(&self) -> u64 {
        self.counts.errors.load(Ordering::Relaxed)
    }
}

/// An admission record the sink could not take within its wait (R-MON-02).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unrecorded {
    /// How long it waited.
    pub waited: Duration,
    /// Records waiting for the database.
    pub pending: usize,
}

impl std::fmt::Display for Unrecorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the audit trail cannot record this decision (R-MON-02): the audit database is unavailable and {} records wait for it (waited {} ms), and the request is refused",
            self.pending,
            self.waited.as_millis()
        )
    }
}

/// Logs `record` on the tracing target, and stores it when there is a sink, waiting
/// for room (see [`Sink::record`]).
pub async fn emit(sink: Option<&Sink>, record: Record) {
    match sink {
        Some(s) => s.record(record).await,
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
