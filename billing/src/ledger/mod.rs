//! The ledger: SQLite (embedded default) or PostgreSQL, through sqlx.
//!
//! One row per (environment, resource, hour), upserted: writing the same hour again
//! replaces it, so a re-collection never doubles. A meter's rows for a window and its
//! watermark are written in one transaction, so a crash loses at most the window in
//! flight and the next run redoes it. Closed months are immutable: a changed quantity
//! of a closed month is written as an adjustment row booked in the first open month.
//!
//! Rating (issue 6) reads `ledger` by `month` and `adjustments` by `booked_month`; both
//! carry the environment's agency, product and environment name of that hour.

use std::collections::{BTreeMap, BTreeSet};

use akp_audit::store::{connect_pool, hide_password, with_sqlite_mode};
use sqlx::AnyPool;
use sqlx::{Any, Row, Transaction};

use akp_rules::billing::rows::{
    Adjustment, DayUsage, EnvCoverage, EnvIdentity, LedgerRow, QualityRow,
};

use crate::metering::identity::WindowIdentity;
use akp_rules::billing::period::{Calendar, Hour, Month};

/// Why the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database cannot be opened.
    #[error("cannot open the ledger database {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("ledger migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A statement failed.
    #[error("ledger database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A quantity does not fit the ledger's 64-bit integers.
    #[error("quantity {quantity} of {resource} for {namespace} does not fit a 64-bit integer")]
    Overflow {
        /// The namespace.
        namespace: String,
        /// The resource.
        resource: String,
        /// The quantity, in micro-units.
        quantity: i128,
    },
    /// Stored data that cannot be read back.
    #[error("ledger holds an unreadable value: {0}")]
    Corrupt(String),
}

impl LedgerError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            LedgerError::Connect { .. } => "connect",
            LedgerError::Migrate(_) => "migrate",
            LedgerError::Database(_) => "database",
            LedgerError::Overflow { .. } => "overflow",
            LedgerError::Corrupt(_) => "corrupt",
        }
    }
}

/// The ledger's SQLite journal: a write-ahead log, synced at checkpoints rather than at
/// every commit. A crash of the process loses nothing; a power loss can undo the last
/// commits, and since each commit moves its meters' watermarks with their rows, those
/// windows are metered again from Prometheus, not lost or counted twice
/// (docs/metering.md).
const SQLITE_PRAGMAS: &[&str] = &["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"];

/// One meter's window to commit: its rows and data-quality lines, and the hour its
/// watermark moves to.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The meter.
    pub meter: &'a str,
    /// Where its watermark moves.
    pub next_hour: Hour,
    /// Its rows.
    pub rows: &'a [LedgerRow],
    /// Its data-quality lines.
    pub quality: &'a [QualityRow],
}

/// What a commit did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Rows upserted in open months.
    pub rows: u64,
    /// Adjustments booked for closed months.
    pub adjustments: u64,
}

/// The ledger database.
#[derive(Clone, Debug)]
pub struct Ledger {
    pool: AnyPool,
    calendar: Calendar,
}

impl Ledger {
    /// Opens (creating a SQLite file if needed) and migrates the ledger at `url`:
    /// `sqlite:///path/ledger.db` or `postgres://user@host/db`.
    pub async fn open(url: &str, calendar: Calendar) -> Result<Self, LedgerError> {
        let (pool, sqlite) =
            connect_pool(url, SQLITE_PRAGMAS)
                .await
                .map_err(|source| LedgerError::Connect {
                    url: hide_password(url),
                    source,
                })?;
        if sqlite {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        } else {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        }
        Ok(Self { pool, calendar })
    }

    /// Opens the ledger at `url` to read it: no migration, so read-only credentials
    /// suffice (`kubectl pbo usage --ledger`); a SQLite file is opened read only.
    pub async fn open_read_only(url: &str, calendar: Calendar) -> Result<Self, LedgerError> {
        let url = with_sqlite_mode(url, "ro");
        let (pool, _) = connect_pool(&url, &[])
            .await
            .map_err(|source| LedgerError::Connect {
                url: hide_password(&url),
                source,
            })?;
        Ok(Self { pool, calendar })
    }

    /// The calendar months are computed with.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Per meter, the first hour not yet collected.
    pub async fn watermarks(&self) -> Result<BTreeMap<String, Hour>, LedgerError> {
        let rows = sqlx::query("SELECT meter, next_hour FROM watermarks")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, hour(r.try_get::<i64, _>(1)?)?)))
            .collect()
    }

    /// The latest closed month; every month up to it is closed.
    pub async fn closed_through(&self) -> Result<Option<Month>, LedgerError> {
        let row = sqlx::query("SELECT MAX(month) FROM months")
            .fetch_one(&self.pool)
            .await?;
        let month: Option<String> = row.try_get(0)?;
        month
            .map(|m| Month::parse(&m).map_err(|e| LedgerError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Environments the ledger has seen, with their last identity.
    pub async fn known_identities(&self) -> Result<BTreeMap<String, EnvIdentity>, LedgerError> {
        let rows = sqlx::query(
            "SELECT namespace, agency, product, product_namespace, environment, contour, class FROM environments",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0)?,
                    EnvIdentity {
                        agency: r.try_get(1)?,
                        product: r.try_get(2)?,
                        product_namespace: r.try_get(3)?,
                        environment: r.try_get(4)?,
                        contour: r.try_get(5)?,
                        class: r.try_get(6)?,
                    },
                ))
            })
            .collect()
    }

    /// Records the environments and coverage seen in a window (idempotent).
    pub async fn write_identity(&self, seen: &WindowIdentity) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        let mut envs = Vec::new();
        for (namespace, (id, first, last)) in seen.environments() {
            envs.extend([
                Value::Text(namespace),
                Value::Text(id.agency),
                Value::Text(id.product),
                Value::Text(id.product_namespace),
                Value::Text(id.environment),
                Value::Text(id.contour),
                Value::Text(id.class),
                Value::Int(first.start()),
                Value::Int(last.start()),
            ]);
        }
        // The identity of the latest hour wins; first and last hour only widen.
        let newer = |col: &str| {
            format!(
                "{col} = CASE WHEN excluded.last_hour >= environments.last_hour THEN excluded.{col} ELSE environments.{col} END"
            )
        };
        let update = [
            "agency",
            "product",
            "product_namespace",
            "environment",
            "contour",
            "class",
        ]
        .map(newer)
        .join(", ");
        insert_many(
            &mut tx,
            "INSERT INTO environments (namespace, agency, product, product_namespace, environment, contour, class, first_hour, last_hour)",
            9,
            &format!(
                "ON CONFLICT (namespace) DO UPDATE SET {update}, \
                 first_hour = CASE WHEN excluded.first_hour < environments.first_hour THEN excluded.first_hour ELSE environments.first_hour END, \
                 last_hour = CASE WHEN excluded.last_hour > environments.last_hour THEN excluded.last_hour ELSE environments.last_hour END"
            ),
            envs,
        )
        .await?;
        let mut coverage = Vec::new();
        for ((namespace, h), ms) in &seen.coverage {
            let ms = i64::try_from(*ms).map_err(|_| LedgerError::Corrupt("coverage".into()))?;
            coverage.extend([
                Value::Text(namespace.clone()),
                Value::Int(h.start()),
                Value::Text(self.calendar.month_of(*h).to_string()),
                Value::Int(ms),
            ]);
        }
        insert_many(
            &mut tx,
            "INSERT INTO coverage (namespace, hour, month, covered_ms)",
            4,
            "ON CONFLICT (namespace, hour) DO UPDATE SET covered_ms = excluded.covered_ms",
            coverage,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a meter's rows for a window and moves its watermark to `next_hour`, in one
    /// transaction. Rows of closed months become adjustments.
    pub async fn commit(
        &self,
        meter: &str,
        next_hour: Hour,
        rows: &[LedgerRow],
        quality: &[QualityRow],
    ) -> Result<CommitStats, LedgerError> {
        let batch = Batch {
            meter,
            next_hour,
            rows,
            quality,
        };
        let stats = self.commit_batches(&[batch]).await?;
        Ok(stats[0])
    }

    /// [`Ledger::commit`] of several meters' windows in one transaction: one commit (one
    /// sync of the database) per window, not one per meter; all or none are written.
    pub async fn commit_batches(
        &self,
        batches: &[Batch<'_>],
    ) -> Result<Vec<CommitStats>, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let closed = closed_through(&mut tx).await?;
        let mut all = Vec::with_capacity(batches.len());
        for batch in batches {
            all.push(self.write_batch(&mut tx, closed, batch).await?);
        }
        tx.commit().await?;
        Ok(all)
    }

    async fn write_batch(
        &self,
        tx: &mut Transaction<'_, Any>,
        closed: Option<Month>,
        batch: &Batch<'_>,
    ) -> Result<CommitStats, LedgerError> {
        let Batch {
            meter,
            next_hour,
            rows,
            quality,
        } = *batch;
        let is_closed =
            |row: &&LedgerRow| closed.is_some_and(|c| self.calendar.month_of(row.hour) <= c);
        let (late, open): (Vec<&LedgerRow>, Vec<&LedgerRow>) = rows.iter().partition(is_closed);
        let mut values = Vec::with_capacity(open.len() * 9);
        for row in &open {
            values.extend([
                Value::Text(row.namespace.clone()),
                Value::Text(row.resource.clone()),
                Value::Int(row.hour.start()),
                Value::Text(self.calendar.month_of(row.hour).to_string()),
                Value::Text(row.identity.agency.clone()),
                Value::Text(row.identity.product.clone()),
                Value::Text(row.identity.environment.clone()),
                Value::Text(row.unit.clone()),
                Value::Int(row.quantity),
            ]);
        }
        insert_many(
            &mut *tx,
            "INSERT INTO ledger (namespace, resource, hour, month, agency, product, environment, unit, quantity)",
            9,
            "ON CONFLICT (namespace, resource, hour) DO UPDATE SET \
               quantity = excluded.quantity, agency = excluded.agency, product = excluded.product, \
               environment = excluded.environment, unit = excluded.unit",
            values,
        )
        .await?;
        let mut stats = CommitStats {
            rows: open.len() as u64,
            adjustments: 0,
        };
        if let Some(closed) = closed.filter(|_| !late.is_empty()) {
            stats.adjustments = self.adjust(tx, &late, closed.next()).await?;
        }
        let mut values = Vec::with_capacity(quality.len() * 7);
        for q in quality {
            values.extend([
                Value::Text(q.reason.clone()),
                Value::Text(q.resource.clone()),
                Value::Int(q.hour.start()),
                Value::Text(self.calendar.month_of(q.hour).to_string()),
                Value::Text(q.unit.clone()),
                Value::Int(q.quantity),
                Value::Int(q.namespaces),
            ]);
        }
        insert_many(
            &mut *tx,
            "INSERT INTO data_quality (reason, resource, hour, month, unit, quantity, namespaces)",
            7,
            "ON CONFLICT (reason, resource, hour) DO UPDATE SET quantity = excluded.quantity, namespaces = excluded.namespaces",
            values,
        )
        .await?;
        advance_watermark(tx, meter, next_hour).await?;
        Ok(stats)
    }

    /// Books, for rows of closed months, `quantity - (closed row + earlier
    /// adjustments)` in `booked`; returns how many differed. Late data already booked
    /// differs by nothing, so collecting it again books nothing.
    async fn adjust(
        &self,
        tx: &mut Transaction<'_, Any>,
        rows: &[&LedgerRow],
        booked: Month,
    ) -> Result<u64, LedgerError> {
        let (Some(lo), Some(hi)) = (
            rows.iter().map(|r| r.hour).min(),
            rows.iter().map(|r| r.hour).max(),
        ) else {
            return Ok(0);
        };
        let resources: BTreeSet<&str> = rows.iter().map(|r| r.resource.as_str()).collect();
        let list = (0..resources.len())
            .map(|i| format!("${}", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let mut billed: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
        let sums = [
            format!(
                "SELECT namespace, resource, hour, quantity FROM ledger WHERE hour >= $1 AND hour <= $2 AND resource IN ({list})"
            ),
            format!(
                "SELECT namespace, resource, hour, CAST(SUM(quantity) AS BIGINT) FROM adjustments \
                 WHERE hour >= $1 AND hour <= $2 AND resource IN ({list}) GROUP BY namespace, resource, hour"
            ),
        ];
        for sql in &sums {
            let mut query = sqlx::query(sql).bind(lo.start()).bind(hi.start());
            for resource in &resources {
                query = query.bind(*resource);
            }
            for r in query.fetch_all(&mut **tx).await? {
                *billed
                    .entry((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
                    .or_default() += r.try_get::<i64, _>(3)?;
            }
        }
        let mut values = Vec::new();
        let mut count = 0;
        for row in rows {
            let key = (
                row.namespace.clone(),
                row.resource.clone(),
                row.hour.start(),
            );
            let delta = row.quantity - billed.get(&key).copied().unwrap_or(0);
            if delta == 0 {
                continue;
            }
            count += 1;
            values.extend([
                Value::Text(row.namespace.clone()),
                Value::Text(row.resource.clone()),
                Value::Int(row.hour.start()),
                Value::Text(booked.to_string()),
                Value::Text(self.calendar.month_of(row.hour).to_string()),
                Value::Text(row.identity.agency.clone()),
                Value::Text(row.identity.product.clone()),
                Value::Text(row.identity.environment.clone()),
                Value::Text(row.unit.clone()),
                Value::Int(delta),
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO adjustments (namespace, resource, hour, booked_month, month, agency, product, environment, unit, quantity)",
            10,
            "ON CONFLICT (namespace, resource, hour, booked_month) DO UPDATE SET quantity = adjustments.quantity + excluded.quantity",
            values,
        )
        .await?;
        Ok(count)
    }

    /// Records hours a meter can no longer collect, and moves its watermark past them.
    pub async fn record_lost(&self, meter: &str, from: Hour, to: Hour) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO lost_hours (meter, from_hour, to_hour) VALUES ($1, $2, $3) \
             ON CONFLICT (meter, from_hour) DO UPDATE SET to_hour = excluded.to_hour",
        )
        .bind(meter)
        .bind(from.start())
        .bind(to.start())
        .execute(&mut *tx)
        .await?;
        advance_watermark(&mut tx, meter, to).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Hours lost per meter, summed.
    pub async fn lost_hours(&self) -> Result<i64, LedgerError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(to_hour - from_hour), 0) AS BIGINT) FROM lost_hours",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? / 3600)
    }

    /// Closes, in order, every month that ended at least `grace_secs` before `now` and
    /// that every meter has collected (`collected_until`: the lowest watermark).
    /// Returns the months closed.
    pub async fn close_due_months(
        &self,
        now_secs: i64,
        grace_secs: i64,
        collected_until: Hour,
    ) -> Result<Vec<Month>, LedgerError> {
        let closed = self.closed_through().await?;
        let first = match closed {
            Some(m) => Some(m.next()),
            None => {
                let row = sqlx::query("SELECT MIN(hour) FROM ledger")
                    .fetch_one(&self.pool)
                    .await?;
                let min: Option<i64> = row.try_get(0)?;
                min.map(|h| self.calendar.month_of(Hour::containing(h)))
            }
        };
        let mut out = Vec::new();
        let Some(mut month) = first else {
            return Ok(out);
        };
        loop {
            let end = self.calendar.month_end(month);
            if end.start() + grace_secs > now_secs || end > collected_until {
                break;
            }
            sqlx::query("INSERT INTO months (month, closed_at) VALUES ($1, $2) ON CONFLICT (month) DO NOTHING")
                .bind(month.to_string())
                .bind(now_secs)
                .execute(&self.pool)
                .await?;
            out.push(month);
            month = month.next();
        }
        if !out.is_empty() {
            self.sync().await?;
        }
        Ok(out)
    }

    /// Makes every commit so far durable: a closed month is signed into a report, so its
    /// closing must survive a power loss ([`SQLITE_PRAGMAS`] syncs only at checkpoints).
    async fn sync(&self) -> Result<(), LedgerError> {
        let mut conn = self.pool.acquire().await?;
        if conn.backend_name() == "SQLite" {
            sqlx::query("PRAGMA wal_checkpoint(FULL)")
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The rows of a month, sorted.
    pub async fn rows(&self, month: Month) -> Result<Vec<LedgerRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT namespace, resource, hour, agency, product, environment, unit, quantity FROM ledger WHERE month = $1 \
             ORDER BY namespace, resource, hour",
        )
        .bind(month.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_row).collect::<Result<Vec<_>, _>>()
    }

    /// The rows of a month summed per (namespace, resource, civil day, agency, product,
    /// environment), the civil day taken at `utc_offset_secs`. Within a group the hours
    /// are distinct (the primary key), so the sum of `1 << hour-of-day` is the set of
    /// hours. Unordered.
    pub async fn daily_usage(
        &self,
        month: Month,
        utc_offset_secs: i64,
    ) -> Result<Vec<DayUsage>, LedgerError> {
        let day = format!("(hour + {utc_offset_secs}) / 86400");
        let sql = format!(
            "SELECT namespace, resource, agency, product, environment, {day}, \
               CAST(SUM(CAST(1 AS BIGINT) << CAST(((hour + {utc_offset_secs}) % 86400) / 3600 AS INTEGER)) AS BIGINT), \
               CAST(SUM(quantity) AS BIGINT) \
             FROM ledger WHERE month = $1 \
             GROUP BY namespace, resource, {day}, agency, product, environment"
        );
        let mut tx = self.pool.begin().await?;
        if self
            .pool
            .connect_options()
            .database_url
            .scheme()
            .starts_with("postgres")
        {
            // About 500,000 groups for 2,000 environments: let the hash aggregate keep
            // them in memory instead of spilling batches to disk (default 4 MB).
            sqlx::query("SET LOCAL work_mem = '128MB'")
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query(&sql)
            .bind(month.to_string())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let day: i64 = r.try_get(5)?;
                let mask: i64 = r.try_get(6)?;
                Ok(DayUsage {
                    namespace: r.try_get(0)?,
                    resource: r.try_get(1)?,
                    agency: r.try_get(2)?,
                    product: r.try_get(3)?,
                    environment: r.try_get(4)?,
                    day_start: hour(day * 86_400 - utc_offset_secs)?,
                    hours: u32::try_from(mask)
                        .map_err(|_| LedgerError::Corrupt(format!("hour set {mask}")))?,
                    quantity: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// The adjustments booked in a month, sorted.
    pub async fn adjustments(&self, booked_month: Month) -> Result<Vec<Adjustment>, LedgerError> {
        let rows = sqlx::query(
            "SELECT namespace, resource, hour, agency, product, environment, unit, quantity FROM adjustments \
             WHERE booked_month = $1 ORDER BY namespace, resource, hour",
        )
        .bind(booked_month.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Adjustment {
                    row: read_row(r)?,
                    booked_month: booked_month.to_string(),
                })
            })
            .collect()
    }

    /// Unbilled usage of a month, sorted.
    pub async fn data_quality(&self, month: Month) -> Result<Vec<QualityRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT reason, resource, hour, unit, quantity, namespaces FROM data_quality WHERE month = $1 \
             ORDER BY reason, resource, hour",
        )
        .bind(month.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QualityRow {
                    reason: r.try_get(0)?,
                    resource: r.try_get(1)?,
                    hour: hour(r.try_get(2)?)?,
                    unit: r.try_get(3)?,
                    quantity: r.try_get(4)?,
                    namespaces: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Coverage of every environment that existed in a month.
    pub async fn coverage(&self, month: Month) -> Result<Vec<EnvCoverage>, LedgerError> {
        let (start, end) = (
            self.calendar.month_start(month),
            self.calendar.month_end(month),
        );
        let envs = sqlx::query(
            "SELECT namespace, first_hour, last_hour FROM environments WHERE first_hour < $1 AND last_hour >= $2 ORDER BY namespace",
        )
        .bind(end.start())
        .bind(start.start())
        .fetch_all(&self.pool)
        .await?;
        // Per environment, its coverage rows within its first..last hours, summed in
        // the database (a month has an environment-hour row each).
        let covered = sqlx::query(
            "SELECT c.namespace, COUNT(*), CAST(SUM(c.covered_ms) AS BIGINT), \
               CAST(SUM(CASE WHEN c.covered_ms < 3600000 THEN 1 ELSE 0 END) AS BIGINT) \
             FROM coverage c JOIN environments e ON e.namespace = c.namespace \
             WHERE c.month = $1 AND c.hour >= e.first_hour AND c.hour <= e.last_hour \
             GROUP BY c.namespace",
        )
        .bind(month.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut by_env: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for r in &covered {
            by_env.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
        }
        let mut out = Vec::new();
        for r in &envs {
            let namespace: String = r.try_get(0)?;
            let first = hour(r.try_get(1)?)?.max(start);
            let last = hour(r.try_get(2)?)?.min(end.plus(-1));
            let (rows, covered_ms, short) = by_env.get(&namespace).copied().unwrap_or_default();
            let hours = (first.hours_until(last) + 1).max(0);
            out.push(EnvCoverage {
                namespace,
                hours,
                covered_ms,
                // Hours without a row are gaps too.
                gap_hours: hours - rows + short,
            });
        }
        Ok(out)
    }

    /// A canonical text of everything billing depends on (rows, adjustments,
    /// watermarks, closed months, data quality), for comparing two ledgers.
    pub async fn dump(&self) -> Result<String, LedgerError> {
        let mut out = String::new();
        let tables = [
            "SELECT namespace, resource, hour, month, agency, product, environment, unit, quantity FROM ledger ORDER BY namespace, resource, hour",
            "SELECT namespace, resource, hour, booked_month, month, agency, product, environment, unit, quantity FROM adjustments ORDER BY namespace, resource, hour, booked_month",
            "SELECT meter, next_hour FROM watermarks ORDER BY meter",
            "SELECT month FROM months ORDER BY month",
            "SELECT reason, resource, hour, month, unit, quantity, namespaces FROM data_quality ORDER BY reason, resource, hour",
            "SELECT namespace, hour, month, covered_ms FROM coverage ORDER BY namespace, hour",
            "SELECT namespace, agency, product, product_namespace, environment, contour, class, first_hour, last_hour FROM environments ORDER BY namespace",
        ];
        for sql in tables {
            let table = sql
                .split(" FROM ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .unwrap_or("");
            out.push_str(&format!("# {table}\n"));
            for row in sqlx::query(sql).fetch_all(&self.pool).await? {
                let mut fields = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let field = match row.try_get::<String, _>(i) {
                        Ok(s) => s,
                        Err(_) => row.try_get::<i64, _>(i)?.to_string(),
                    };
                    fields.push(field);
                }
                out.push_str(&fields.join("\t"));
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// The sum of a resource's quantities per namespace in a month, adjustments booked
    /// in it included.
    pub async fn totals(
        &self,
        month: Month,
    ) -> Result<BTreeMap<(String, String), i64>, LedgerError> {
        let mut out: BTreeMap<(String, String), i64> = BTreeMap::new();
        for row in self.rows(month).await? {
            *out.entry((row.namespace, row.resource)).or_default() += row.quantity;
        }
        for adj in self.adjustments(month).await? {
            *out.entry((adj.row.namespace, adj.row.resource))
                .or_default() += adj.row.quantity;
        }
        Ok(out)
    }
}

/// (hours, covered ms, gap hours) of an environment from `first` to `last` inclusive:
/// the definition the database aggregate of [`Ledger::coverage`] computes.
#[cfg(test)]
fn coverage_of(covered: Option<&BTreeMap<i64, i64>>, first: Hour, last: Hour) -> (i64, i64, i64) {
    let (mut hours, mut total, mut gaps) = (0, 0, 0);
    let mut h = first;
    while h <= last {
        let ms = covered
            .and_then(|c| c.get(&h.start()).copied())
            .unwrap_or(0);
        hours += 1;
        total += ms;
        if ms < 3_600_000 {
            gaps += 1;
        }
        h = h.plus(1);
    }
    (hours, total, gaps)
}

fn hour(secs: i64) -> Result<Hour, LedgerError> {
    Hour::starting_at(secs)
        .ok_or_else(|| LedgerError::Corrupt(format!("hour {secs} is not aligned")))
}

fn read_row(r: &sqlx::any::AnyRow) -> Result<LedgerRow, LedgerError> {
    Ok(LedgerRow {
        namespace: r.try_get(0)?,
        resource: r.try_get(1)?,
        hour: hour(r.try_get(2)?)?,
        identity: EnvIdentity {
            agency: r.try_get(3)?,
            product: r.try_get(4)?,
            environment: r.try_get(5)?,
            ..EnvIdentity::default()
        },
        unit: r.try_get(6)?,
        quantity: r.try_get(7)?,
    })
}

/// Moves `meter`'s watermark to `next`, never back: a replayed window leaves it.
async fn advance_watermark(
    tx: &mut Transaction<'_, Any>,
    meter: &str,
    next: Hour,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO watermarks (meter, next_hour) VALUES ($1, $2) \
         ON CONFLICT (meter) DO UPDATE SET next_hour = \
           CASE WHEN excluded.next_hour > watermarks.next_hour THEN excluded.next_hour ELSE watermarks.next_hour END",
    )
    .bind(meter)
    .bind(next.start())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn closed_through(tx: &mut Transaction<'_, Any>) -> Result<Option<Month>, LedgerError> {
    let row = sqlx::query("SELECT MAX(month) FROM months")
        .fetch_one(&mut **tx)
        .await?;
    let month: Option<String> = row.try_get(0)?;
    month
        .map(|m| Month::parse(&m).map_err(|e| LedgerError::Corrupt(e.to_string())))
        .transpose()
}

/// A bound value of a batched statement.
enum Value {
    Int(i64),
    Text(String),
}

/// Rows per statement: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const BATCH_ROWS: usize = 500;

/// `{insert} VALUES (…), (…) {conflict}` for `values` in rows of `width`, in batches.
/// Placeholders are `?` on SQLite: it reads `$N` as named parameters, which sqlx binds
/// one by one by name, a cost quadratic in their number (issue 18, P3: 27.7 ms of name
/// lookups per 4,500-parameter statement, and 62.6 ms to prepare it, against 0.9 ms).
async fn insert_many(
    tx: &mut Transaction<'_, Any>,
    insert: &str,
    width: usize,
    conflict: &str,
    values: Vec<Value>,
) -> Result<(), LedgerError> {
    let positional = tx.backend_name() == "SQLite";
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let batch: Vec<Value> = values.by_ref().take(width * BATCH_ROWS).collect();
        let mut sql = String::with_capacity(insert.len() + conflict.len() + batch.len() * 6);
        sql.push_str(insert);
        sql.push_str(" VALUES ");
        for row in 0..batch.len() / width {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for col in 0..width {
                if col > 0 {
                    sql.push_str(", ");
                }
                if positional {
                    sql.push('?');
                } else {
                    sql.push('$');
                    sql.push_str(&(row * width + col + 1).to_string());
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(conflict);
        let mut query = sqlx::query(&sql);
        for v in batch {
            query = match v {
                Value::Int(i) => query.bind(i),
                Value::Text(t) => query.bind(t),
            };
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords() {
        assert_eq!(
            hide_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(hide_password("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[test]
    fn coverage_counts_gap_hours() {
        let h = Hour::containing(1_790_000_000);
        let covered = BTreeMap::from([(h.start(), 3_600_000), (h.plus(1).start(), 1_800_000)]);
        assert_eq!(coverage_of(Some(&covered), h, h.plus(2)), (3, 5_400_000, 2));
        let c = EnvCoverage {
            namespace: "x".into(),
            hours: 3,
            covered_ms: 5_400_000,
            gap_hours: 2,
        };
        assert_eq!(c.ppm(), 500_000);
    }
}
