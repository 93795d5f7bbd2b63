//! The archive and the retention job: records older than the online period move into
//! one file per calendar month (JSON Lines, optionally gzip), each with a manifest
//! holding its SHA-256; files older than the retention period are deleted.
//!
//! Crash safety: a month's file and manifest are written to a temporary file, synced
//! and renamed; only then are the records deleted from the database, in one
//! transaction. A run killed in between leaves the records online and the file
//! written; the next run merges them by sequence number (no duplicate) and deletes
//! (no loss).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::ChainCheck;
use crate::record::{AUDIT_ARCHIVED, AUDIT_PURGED, Decision, Entry, Object, Record};
use crate::store::{AuditError, Filter, Store, us};

/// Months are civil months in Kazakhstan time, UTC+5 (the whole country since
/// 2024-03-01, no daylight saving time), as billing months are.
pub fn zone() -> TimeZone {
    akp_rules::time::kazakhstan()
}

/// The first day of the month `t` falls in.
pub fn month_of(t: Timestamp) -> Date {
    t.to_zoned(zone()).date().first_of_month()
}

/// When `month` starts.
pub fn month_start(month: Date) -> Timestamp {
    month
        .first_of_month()
        .to_zoned(zone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MIN)
}

/// The month after.
pub fn next_month(month: Date) -> Date {
    month
        .first_of_month()
        .checked_add(1.month())
        .unwrap_or(month)
}

/// `YYYY-MM`.
pub fn month_name(month: Date) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// The manifest of one month's file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// `YYYY-MM` (UTC+5).
    pub month: String,
    /// The data file's name, in the same directory.
    pub file: String,
    /// SHA-256 (hex) of the data file's bytes.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// How many records it holds.
    pub records: u64,
    /// The smallest sequence number in it.
    pub first_seq: i64,
    /// The largest.
    pub last_seq: i64,
}

/// A directory of monthly archive files.
#[derive(Clone, Debug)]
pub struct Archive {
    dir: PathBuf,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> AuditError {
    AuditError::Archive {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never
/// a part: a temporary file, synced, renamed, and the directory synced.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, e))?;
    }
    Ok(())
}

impl Archive {
    /// The archive in `dir` (created when written to).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_path(&self, month: Date, gzip: bool) -> PathBuf {
        let ext = if gzip { "jsonl.gz" } else { "jsonl" };
        self.dir.join(format!("audit-{}.{ext}", month_name(month)))
    }

    fn manifest_path(&self, month: Date) -> PathBuf {
        self.dir
            .join(format!("audit-{}.manifest.json", month_name(month)))
    }

    /// The months with a data file or a manifest, oldest first.
    pub fn months(&self) -> Result<Vec<Date>, AuditError> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir, e)),
        };
        let mut months = std::collections::BTreeSet::new();
        for item in read {
            let name = item
                .map_err(|e| io_err(&self.dir, e))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            let Some(rest) = name.strip_prefix("audit-") else {
                continue;
            };
            let Some(ym) = rest.get(..7) else { continue };
            if let Ok(d) = format!("{ym}-01").parse::<Date>() {
                months.insert(d);
            }
        }
        Ok(months.into_iter().collect())
    }

    /// The manifest of `month`, if written.
    pub fn manifest(&self, month: Date) -> Result<Option<Manifest>, AuditError> {
        let path = self.manifest_path(month);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|e| io_err(&path, e))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn read_file(path: &Path) -> Result<Vec<Entry>, AuditError> {
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut out = Vec::new();
        for (n, line) in BufReader::new(reader).lines().enumerate() {
            let line = line.map_err(|e| io_err(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(&line)
                    .map_err(|e| io_err(path, format!("line {}: {e}", n + 1)))?,
            );
        }
        Ok(out)
    }

    /// Every record archived for `month` (from either file format), by sequence.
    pub fn read_month(&self, month: Date) -> Result<Vec<Entry>, AuditError> {
        let mut by_seq: BTreeMap<i64, Entry> = BTreeMap::new();
        for gzip in [false, true] {
            let path = self.data_path(month, gzip);
            if path.exists() {
                for e in Self::read_file(&path)? {
                    by_seq.insert(e.seq, e);
                }
            }
        }
        Ok(by_seq.into_values().collect())
    }

    /// Writes `month`'s file (entries by sequence) and then its manifest, atomically;
    /// removes a file of the other format left from an earlier run.
    pub fn write_month(
        &self,
        month: Date,
        entries: &[Entry],
        gzip: bool,
    ) -> Result<Manifest, AuditError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let mut text = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut text, e).map_err(|e| io_err(&self.dir, e))?;
            text.push(b'\n');
        }
        let path = self.data_path(month, gzip);
        let bytes = if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&text).map_err(|e| io_err(&path, e))?;
            enc.finish().map_err(|e| io_err(&path, e))?
        } else {
            text
        };
        write_atomic(&path, &bytes)?;
        let manifest = Manifest {
            month: month_name(month),
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
            records: entries.len() as u64,
            first_seq: entries.first().map_or(0, |e| e.seq),
            last_seq: entries.last().map_or(0, |e| e.seq),
        };
        let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| io_err(&path, e))?;
        json.push(b'\n');
        write_atomic(&self.manifest_path(month), &json)?;
        let other = self.data_path(month, !gzip);
        if other.exists() {
            std::fs::remove_file(&other).map_err(|e| io_err(&other, e))?;
        }
        Ok(manifest)
    }

    /// Deletes the data files and manifest of `month`.
    pub fn delete_month(&self, month: Date) -> Result<(), AuditError> {
        for path in [
            self.data_path(month, false),
            self.data_path(month, true),
            self.manifest_path(month),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Ok(())
    }

    /// The archived records `filter` wants, of the months it touches.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        let mut out = Vec::new();
        for month in self.months()? {
            let (from, to) = (month_start(month), month_start(next_month(month)));
            if filter.until.is_some_and(|u| u <= from) || filter.since.is_some_and(|s| s >= to) {
                continue;
            }
            out.extend(
                self.read_month(month)?
                    .into_iter()
                    .filter(|e| filter.matches(e)),
            );
        }
        Ok(out)
    }

    /// Checks every month's file against its manifest and feeds its records to `check`.
    pub fn verify_into(&self, check: &mut ChainCheck) -> Result<(), AuditError> {
        for month in self.months()? {
            let name = month_name(month);
            let Some(manifest) = self.manifest(month)? else {
                check.problem(format!(
                    "archive {name}: no manifest (a retention run was interrupted: run it again)"
                ));
                continue;
            };
            let path = self.dir.join(&manifest.file);
            let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
            if hex::encode(Sha256::digest(&bytes)) != manifest.sha256 {
                check.problem(format!(
                    "archive {}: its SHA-256 differs from the manifest: the file was modified",
                    manifest.file
                ));
            }
            let entries = Self::read_file(&path)?;
            if entries.len() as u64 != manifest.records {
                check.problem(format!(
                    "archive {}: {} records, the manifest says {}",
                    manifest.file,
                    entries.len(),
                    manifest.records
                ));
            }
            let mut run = check.run(&manifest.file);
            for e in &entries {
                run.push(e);
            }
            run.finish(check);
        }
        Ok(())
    }
}

/// How long records stay online and in the archive.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Calendar months online, at least (R-MON-02: 2).
    pub online: jiff::Span,
    /// How long records are kept in all (R-MON-02: 3 years).
    pub retain: jiff::Span,
    /// Gzip the archive files.
    pub gzip: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            online: 2.months(),
            retain: 3.years(),
            gzip: false,
        }
    }
}

impl Policy {
    /// R-MON-02 (App.2 p.6.11): records stay online for 2 months at least and are kept
    /// 3 years at least; a shorter span is refused before anything is moved or deleted.
    pub fn check(&self, now: Timestamp) -> Result<(), AuditError> {
        let at = now.to_zoned(zone());
        let shorter = |span: jiff::Span, floor: jiff::Span| {
            span.compare((floor, &at))
                .map(|o| o == std::cmp::Ordering::Less)
                .unwrap_or(true)
        };
        let refuse = |flag: &str, span: jiff::Span, floor: &str, arg: &str| {
            AuditError::Policy(format!(
                "--{flag} {span:#} is shorter than the {floor} the audit trail must be kept (R-MON-02, 000 App.2 p.6.11): pass --{flag} {arg} or longer"
            ))
        };
        if shorter(self.online, 2.months()) {
            return Err(refuse("online", self.online, "2 months online", "2months"));
        }
        if shorter(self.retain, 3.years()) {
            return Err(refuse("retain", self.retain, "3 years", "3years"));
        }
        Ok(())
    }
}

/// What a retention run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetainReport {
    /// Months written to the archive (`YYYY-MM`).
    pub archived: Vec<Manifest>,
    /// Records deleted from the database after archiving.
    pub deleted: u64,
    /// Every record through this sequence number is in the archive.
    pub through_seq: i64,
    /// Months deleted from the archive (older than the retention period).
    pub purged: Vec<String>,
}

/// The records to move: the first online month kept, and the last sequence number to
/// archive. Records are archived as a prefix of the chain, so the online table always
/// holds its continuation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Records from this month on stay online.
    pub keep_from: Date,
    /// Records after the anchor and through this number are archived.
    pub through_seq: i64,
    /// The last record archived before.
    pub anchor: i64,
}

/// Computes what to move at `now`: every record before the first month that must stay
/// online (the month `now - online` falls in, so at least `online` stays), up to the
/// first record of a later month in the chain.
pub async fn plan(store: &Store, policy: &Policy, now: Timestamp) -> Result<Plan, AuditError> {
    let cut = now
        .to_zoned(zone())
        .checked_sub(policy.online)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MIN);
    let keep_from = month_of(cut);
    let (anchor, _) = store.retained().await?;
    let (head, _) = store.head().await?;
    let through = match store.first_seq_from(us(month_start(keep_from))).await? {
        Some(first_kept) => first_kept - 1,
        None => head,
    };
    Ok(Plan {
        keep_from,
        through_seq: through.max(anchor),
        anchor,
    })
}

/// Writes the archive files of `plan` (merged with what an interrupted run wrote).
/// Nothing is deleted from the database yet.
pub async fn write_archive(
    store: &Store,
    archive: &Archive,
    plan: &Plan,
    gzip: bool,
) -> Result<Vec<Manifest>, AuditError> {
    let mut written = Vec::new();
    if plan.through_seq <= plan.anchor {
        return Ok(written);
    }
    let Some(oldest) = store.oldest_time(plan.through_seq).await? else {
        return Ok(written);
    };
    let oldest = Timestamp::from_microsecond(oldest)
        .map_err(|e| AuditError::Corrupt(format!("time {oldest}: {e}")))?;
    let mut month = month_of(oldest);
    while month < plan.keep_from {
        let next = next_month(month);
        let online = store
            .range(
                plan.anchor,
                plan.through_seq,
                us(month_start(month)),
                us(month_start(next)),
            )
            .await?;
        if !online.is_empty() {
            let mut merged: BTreeMap<i64, Entry> = archive
                .read_month(month)?
                .into_iter()
                .map(|e| (e.seq, e))
                .collect();
            for e in online {
                if let Some(old) = merged.get(&e.seq)
                    && *old != e
                {
                    return Err(AuditError::Archive {
                        path: archive.dir().display().to_string(),
                        message: format!(
                            "record {} differs between the database and the archive of {}",
                            e.seq,
                            month_name(month)
                        ),
                    });
                }
                merged.insert(e.seq, e);
            }
            let entries: Vec<Entry> = merged.into_values().collect();
            written.push(archive.write_month(month, &entries, gzip)?);
        }
        month = next;
    }
    Ok(written)
}

/// Runs the retention job at `now`: archive, then delete from the database, then
/// delete archive months past the retention period; records what it did in the trail.
pub async fn retain(
    store: &Store,
    archive: &Archive,
    policy: &Policy,
    now: Timestamp,
) -> Result<RetainReport, AuditError> {
    policy.check(now)?;
    let plan = plan(store, policy, now).await?;
    let archived = write_archive(store, archive, &plan, policy.gzip).await?;
    let mut deleted = 0;
    if plan.through_seq > plan.anchor {
        let hash = store.hash_of(plan.through_seq).await?.ok_or_else(|| {
            AuditError::Corrupt(format!("record {} is not online", plan.through_seq))
        })?;
        deleted = store.delete_archived(plan.through_seq, &hash).await?;
    }
    let purge_before = month_of(
        now.to_zoned(zone())
            .checked_sub(policy.retain)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN),
    );
    let mut purged = Vec::new();
    for month in archive.months()? {
        // A month goes once all of it is older than the retention period.
        if next_month(month) <= purge_before {
            archive.delete_month(month)?;
            purged.push(month_name(month));
        }
    }
    let mut trail = Vec::new();
    for m in &archived {
        trail.push(
            Record::new(
                "akp-audit",
                AUDIT_ARCHIVED,
                Object::cluster("AuditArchive", &m.file),
                Decision::Done,
            )
            .reason(format!(
                "{} records of {} moved to the archive",
                m.records, m.month
            ))
            .details(serde_json::to_value(m).unwrap_or_default()),
        );
    }
    for month in &purged {
        trail.push(
            Record::new(
                "akp-audit",
                AUDIT_PURGED,
                Object::cluster("AuditArchive", &format!("audit-{month}")),
                Decision::Done,
            )
            .reason(format!(
                "archive of {month} deleted: older than the retention period"
            )),
        );
    }
    for r in &trail {
        r.log();
    }
    store.append(&trail).await?;
    Ok(RetainReport {
        archived,
        deleted,
        through_seq: plan.through_seq,
        purged,
    })
}
