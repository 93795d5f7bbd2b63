//! The audit trail (R-MON-02): every admission decision, stage change and billing action,
//! with time, actor, object and decision; queryable; 2 months online, 3 years retained.
//!
//! - [`record`]: what a record holds, and the hash chaining it to the previous one;
//! - [`store`]: the online store (SQLite or PostgreSQL), append-only, and queries;
//! - [`sink`]: the non-blocking hand-off the operator and the billing daemon use;
//! - [`archive`]: monthly archive files and the retention job;
//! - [`chain`]: verification of the chain across the archive and the database;
//! - [`cli`]: the start the command-line tools share;
//! - [`clock`]: this process's clock offset from the API server's (R-MON-03).
//!
//! See docs/audit.md.

pub mod archive;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod record;
pub mod sink;
pub mod store;

pub use archive::{Archive, Manifest, Policy, RetainReport, retain};
pub use chain::{ChainCheck, VerifyReport};
pub use clock::{ClockError, ClockWatch};
pub use record::{Decision, Entry, Object, Record};
pub use sink::{Sink, SinkOptions, Unrecorded, emit};
/// The database library, for callers that act on [`Store::pool`] directly.
pub use sqlx;
pub use store::{AuditError, Filter, Store};

/// The tracing target of audit records: every record is logged there too, with or
/// without a database.
pub const TRACING_TARGET: &str = "akp::audit";

/// Verifies the chain of the online store and, when given, the archive.
pub async fn verify(store: &Store, archive: Option<&Archive>) -> Result<VerifyReport, AuditError> {
    let mut check = ChainCheck::new();
    if let Some(a) = archive {
        a.verify_into(&mut check)?;
    }
    store.verify_into(&mut check).await?;
    Ok(check.finish())
}

/// The records `filter` wants, online and, when given, archived; by time.
pub async fn query(
    store: &Store,
    archive: Option<&Archive>,
    filter: &Filter,
) -> Result<Vec<Entry>, AuditError> {
    let mut out = match archive {
        Some(a) => a.query(filter)?,
        None => Vec::new(),
    };
    let online = store.query(filter).await?;
    // A record can be in both while a retention run is interrupted: keep one.
    let archived: std::collections::BTreeSet<i64> = out.iter().map(|e| e.seq).collect();
    out.extend(online.into_iter().filter(|e| !archived.contains(&e.seq)));
    out.sort_by_key(|e| (e.record.time, e.seq));
    Ok(out)
}
