//! The online audit store: SQLite (embedded default) or PostgreSQL, through sqlx.
//!
//! Append-only: an append takes the chain's head row first (serializing appenders,
//! across processes too), chains each record to the previous hash, and moves the head
//! in the same transaction. Triggers refuse UPDATE always and DELETE outside the
//! retention job's transaction.

use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::chain::ChainCheck;
use crate::record::{Decision, Entry, Object, Record, canonical_json};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database cannot be opened.
    #[error("cannot open the audit database {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("audit migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A statement failed.
    #[error("audit database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data that cannot be read back.
    #[error("the audit database holds an unreadable value: {0}")]
    Corrupt(String),
    /// A retention policy below what the law keeps.
    #[error("{0}")]
    Policy(String),
    /// An archive file cannot be read or written.
    #[error("audit archive {path}: {message}")]
    Archive {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Which records a query wants. Empty fields match everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// The actor, exactly.
    pub actor: Option<String>,
    /// `kind/namespace/name`, a prefix of it ending at a `/` boundary, or a bare name.
    pub object: Option<String>,
    /// The action exactly, or a prefix ending at a `.` boundary (`billing`).
    pub action: Option<String>,
    /// The decision.
    pub decision: Option<Decision>,
}

impl Filter {
    /// Whether `e` is wanted.
    pub fn matches(&self, e: &Entry) -> bool {
        let r = &e.record;
        self.since.is_none_or(|t| r.time >= t)
            && self.until.is_none_or(|t| r.time < t)
            && self.actor.as_ref().is_none_or(|a| &r.actor == a)
            && self.decision.is_none_or(|d| r.decision == d)
            && self.action.as_ref().is_none_or(|a| {
                r.action == *a
                    || r.action
                        .starts_with(&format!("{}.", a.trim_end_matches('.')))
            })
            && self.object.as_ref().is_none_or(|o| {
                let path = r.object.path();
                path == *o
                    || path.starts_with(&format!("{}/", o.trim_end_matches('/')))
                    || r.object.name == *o
            })
    }
}

/// The online store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

/// A URL with its password hidden, for messages.
pub fn hide_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `url` with SQLite's open `mode` (`rwc`: created if missing, `ro`: read only) unless
/// it names one already; other databases' URLs as they are.
pub fn with_sqlite_mode(url: &str, mode: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") {
        format!(
            "{url}{}mode={mode}",
            if url.contains('?') { '&' } else { '?' }
        )
    } else {
        url.to_string()
    }
}

/// A pool on `url` (`sqlite:///path/x.db`, created if missing, or `postgres://…`) and
/// whether it is SQLite. SQLite gets one connection: one writer, no lock contention;
/// each SQLite connection first runs `sqlite_pragmas`. Shared by the audit store and
/// the billing ledger.
pub async fn connect_pool(
    url: &str,
    sqlite_pragmas: &'static [&'static str],
) -> Result<(AnyPool, bool), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let full = with_sqlite_mode(url, "rwc");
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 1 } else { 4 })
        .acquire_timeout(std::time::Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    for pragma in sqlite_pragmas {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
        .connect(&full)
        .await?;
    Ok((pool, sqlite))
}

const COLUMNS: &str = "seq, time_us, actor, action, object_kind, object_namespace, object_name, \
                       object_uid, decision, reason, details, prev_hash, hash";

fn entry(row: &AnyRow) -> Result<Entry, AuditError> {
    let corrupt = |what: &str, seq: i64| AuditError::Corrupt(format!("record {seq}: {what}"));
    let seq: i64 = row.try_get(0)?;
    let time_us: i64 = row.try_get(1)?;
    let time = Timestamp::from_microsecond(time_us).map_err(|_| corrupt("time", seq))?;
    let uid: String = row.try_get(7)?;
    let decision: String = row.try_get(8)?;
    let details: String = row.try_get(10)?;
    Ok(Entry {
        seq,
        record: Record {
            time,
            actor: row.try_get(2)?,
            action: row.try_get(3)?,
            object: Object {
                kind: row.try_get(4)?,
                namespace: row.try_get(5)?,
                name: row.try_get(6)?,
                uid: (!uid.is_empty()).then_some(uid),
            },
            decision: decision
                .parse()
                .map_err(|e: crate::record::UnknownDecision| corrupt(&e.to_string(), seq))?,
            reason: row.try_get(9)?,
            details: serde_json::from_str(&details).map_err(|e| corrupt(&e.to_string(), seq))?,
        },
        prev_hash: row.try_get(11)?,
        hash: row.try_get(12)?,
    })
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the store at `url`:
    /// `sqlite:///path/audit.db` or `postgres://user@host/db`.
    pub async fn open(url: &str) -> Result<Self, AuditError> {
        // The audit trail keeps SQLite's defaults: every commit synced (R-MON-02).
        let (pool, sqlite) =
            connect_pool(url, &[])
                .await
                .map_err(|source| AuditError::Connect {
                    url: hide_password(url),
                    source,
                })?;
        if sqlite {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Appends `records` in order, in one transaction; returns them as chained.
    pub async fn append(&self, records: &[Record]) -> Result<Vec<Entry>, AuditError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        // A write first: it locks the head (row lock in PostgreSQL, the write lock in
        // SQLite), so concurrent appenders queue here instead of forking the chain.
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let mut seq: i64 = head.try_get(0)?;
        let mut prev: String = head.try_get(1)?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            seq += 1;
            let e = Entry::chain(seq, record.clone(), &prev);
            sqlx::query(
                "INSERT INTO audit_records (seq, time_us, actor, action, object_kind, \
                 object_namespace, object_name, object_uid, decision, reason, details, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(e.seq)
            .bind(e.record.time_us())
            .bind(e.record.actor.clone())
            .bind(e.record.action.clone())
            .bind(e.record.object.kind.clone())
            .bind(e.record.object.namespace.clone())
            .bind(e.record.object.name.clone())
            .bind(e.record.object.uid.clone().unwrap_or_default())
            .bind(e.record.decision.as_str())
            .bind(e.record.reason.clone())
            .bind(canonical_json(&e.record.details))
            .bind(e.prev_hash.clone())
            .bind(e.hash.clone())
            .execute(&mut *tx)
            .await?;
            prev = e.hash.clone();
            out.push(e);
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(prev)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The online records `filter` wants, oldest first.
    pub async fn query(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        let since = filter.since.map_or(i64::MIN, us);
        let until = filter.until.map_or(i64::MAX, us);
        let mut sql =
            format!("SELECT {COLUMNS} FROM audit_records WHERE time_us >= $1 AND time_us < $2");
        let mut n = 2;
        let mut binds: Vec<String> = Vec::new();
        if let Some(a) = &filter.actor {
            n += 1;
            sql.push_str(&format!(" AND actor = ${n}"));
            binds.push(a.clone());
        }
        if let Some(d) = filter.decision {
            n += 1;
            sql.push_str(&format!(" AND decision = ${n}"));
            binds.push(d.as_str().into());
        }
        sql.push_str(" ORDER BY time_us, seq");
        let mut q = sqlx::query(&sql).bind(since).bind(until);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for row in &rows {
            let e = entry(row)?;
            if filter.matches(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Up to `limit` records after `after_seq`, by sequence.
    pub async fn page(&self, after_seq: i64, limit: i64) -> Result<Vec<Entry>, AuditError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }

    /// Records with `after_seq < seq <= through_seq` and time in `[from, to)`, by sequence.
    pub async fn range(
        &self,
        after_seq: i64,
        through_seq: i64,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<Entry>, AuditError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_records WHERE seq > $1 AND seq <= $2 \
             AND time_us >= $3 AND time_us < $4 ORDER BY seq"
        ))
        .bind(after_seq)
        .bind(through_seq)
        .bind(from_us)
        .bind(to_us)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry).collect()
    }

    /// The end of the chain: `(seq, hash)` of the last record appended (0, "" if none).
    pub async fn head(&self) -> Result<(i64, String), AuditError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The last record moved to the archive: `(seq, hash)` (0, "" if none).
    pub async fn retained(&self) -> Result<(i64, String), AuditError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_retained WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The smallest sequence number of an online record at or after `time_us`.
    pub async fn first_seq_from(&self, time_us: i64) -> Result<Option<i64>, AuditError> {
        let row = sqlx::query("SELECT MIN(seq) FROM audit_records WHERE time_us >= $1")
            .bind(time_us)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// The oldest time among online records with `seq <= through_seq`.
    pub async fn oldest_time(&self, through_seq: i64) -> Result<Option<i64>, AuditError> {
        let row = sqlx::query("SELECT MIN(time_us) FROM audit_records WHERE seq <= $1")
            .bind(through_seq)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// The hash of record `seq`, if it is online.
    pub async fn hash_of(&self, seq: i64) -> Result<Option<String>, AuditError> {
        let row = sqlx::query("SELECT hash FROM audit_records WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Deletes the records through `through_seq` (archived already) and remembers the
    /// last one's hash as the anchor of the online chain, in one transaction, under the
    /// retention permit the triggers ask for.
    pub async fn delete_archived(&self, through_seq: i64, hash: &str) -> Result<u64, AuditError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO audit_retention_permit (id) VALUES (1)")
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM audit_records WHERE seq <= $1")
            .bind(through_seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE audit_retained SET seq = $1, hash = $2 WHERE id = 1 AND seq < $1")
            .bind(through_seq)
            .bind(hash.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM audit_retention_permit")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Checks the online chain: every hash, every link, no gap, starting at the anchor
    /// the retention job left and ending at the head. Feeds `check` (which the archive
    /// may feed too).
    pub async fn verify_into(&self, check: &mut ChainCheck) -> Result<(), AuditError> {
        let (anchor_seq, anchor_hash) = self.retained().await?;
        let (head_seq, head_hash) = self.head().await?;
        check.anchor("online", anchor_seq, &anchor_hash);
        let mut after = anchor_seq;
        let mut run = check.run("online");
        loop {
            let page = self.page(after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                run.push(e);
            }
        }
        run.finish(check);
        check.head("online", head_seq, &head_hash);
        Ok(())
    }

    /// The pool, for tests that need to act on the database directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Microseconds since the epoch.
pub fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}
