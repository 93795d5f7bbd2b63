//! R-MON-02 on a real SQLite database: the retention job (2 calendar months online,
//! older months archived, archives deleted after 3 years) with an injected "now",
//! interrupted runs (a simulated failure between the archive write and the delete, and
//! the real binary killed with SIGKILL), chain verification, queries, and the sink
//! when the database is unavailable. PostgreSQL and the operator's and billing's
//! records: tests/tests/audit.rs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use akp_audit::archive::{self, month_name, plan, write_archive};
use akp_audit::record::{ADMISSION_DECISION, BILLING_MONTH_CLOSED, STAGE_CHANGE};
use akp_audit::{
    Archive, Decision, Entry, Filter, Object, Policy, Record, RetainReport, Sink, SinkOptions,
    Store,
};
use jiff::Timestamp;

fn url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("audit.db").display())
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("an RFC 3339 time")
}

fn record(i: usize, time: Timestamp) -> Record {
    let (action, decision) = match i % 3 {
        0 => (ADMISSION_DECISION, Decision::Denied),
        1 => (STAGE_CHANGE, Decision::Done),
        _ => (BILLING_MONTH_CLOSED, Decision::Done),
    };
    Record::new(
        &format!("user-{}", i % 4),
        action,
        Object::namespaced("PlatformSoftwareProduct", "agency-mon", &format!("p{i}")),
        decision,
    )
    .reason(format!("record {i}"))
    .details(serde_json::json!({"i": i}))
    .at(time)
}

/// The default filter changed by `edit`.
fn filter(edit: impl FnOnce(&mut Filter)) -> Filter {
    let mut f = Filter::default();
    edit(&mut f);
    f
}

/// One record at noon UTC on the 10th of every month from `from` (YYYY-MM), `n` months.
async fn monthly(store: &Store, from: &str, n: usize, per_month: usize) -> Vec<Entry> {
    let mut start: jiff::civil::Date = format!("{from}-10").parse().expect("a date");
    let mut all = Vec::new();
    let mut i = 0;
    for _ in 0..n {
        let records: Vec<Record> = (0..per_month)
            .map(|k| {
                i += 1;
                let time = start
                    .at(12, 0, 0, 0)
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .expect("a time")
                    .timestamp()
                    .checked_add(jiff::Span::new().seconds(k as i64))
                    .expect("a time");
                record(i, time)
            })
            .collect();
        all.extend(store.append(&records).await.expect("append"));
        start = start
            .checked_add(jiff::Span::new().months(1))
            .expect("next month");
    }
    all
}

/// Every record once, by sequence: archived and online together.
async fn everything(store: &Store, archive: &Archive) -> BTreeMap<i64, Entry> {
    let mut seen = BTreeMap::new();
    for month in archive.months().expect("months") {
        for e in archive.read_month(month).expect("read") {
            assert!(
                seen.insert(e.seq, e.clone()).is_none(),
                "record {} archived twice",
                e.seq
            );
        }
    }
    for e in store.page(0, i64::MAX).await.expect("online") {
        assert!(
            seen.insert(e.seq, e.clone()).is_none(),
            "record {} both archived and online",
            e.seq
        );
    }
    seen
}

/// The retention job at `now` with the default policy.
async fn retain_at(store: &Store, archive: &Archive, now: &str) -> RetainReport {
    akp_audit::retain(store, archive, &Policy::default(), t(now))
        .await
        .expect("retain")
}

/// Fails unless the chain (and `archive`, if given) verifies without a problem.
async fn assert_verifies(store: &Store, archive: Option<&Archive>) {
    let report = akp_audit::verify(store, archive).await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
}

/// Fails unless verification reports a problem for which `found` holds.
async fn assert_problem(store: &Store, archive: Option<&Archive>, found: impl Fn(&str) -> bool) {
    let report = akp_audit::verify(store, archive).await.expect("verify");
    assert!(
        report.problems.iter().any(|p| found(p)),
        "{:?}",
        report.problems
    );
}

/// Runs `sql` on the store's database, which must accept it.
async fn execute(store: &Store, sql: &str) {
    sqlx::query(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn r_mon_02_two_months_online_older_archived_and_deleted_after_three_years() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url(dir.path())).await.expect("open");
    let appended = monthly(&store, "2023-01", 47, 3).await; // 2023-01 .. 2026-11
    let archive = Archive::new(dir.path().join("archive"));
    let now = "2026-11-22T06:00:00Z";

    let report = retain_at(&store, &archive, now).await;
    // now - 2 months = 2026-09-22: September stays online with October and November.
    let online = store.page(0, i64::MAX).await.expect("online");
    let months_online: std::collections::BTreeSet<String> = online
        .iter()
        .filter(|e| e.record.action != akp_audit::record::AUDIT_ARCHIVED)
        .filter(|e| e.record.action != akp_audit::record::AUDIT_PURGED)
        .map(|e| month_name(archive::month_of(e.record.time)))
        .collect();
    assert_eq!(
        months_online.into_iter().collect::<Vec<_>>(),
        ["2026-09", "2026-10", "2026-11"]
    );
    // now - 3 years = 2023-11-22: months that ended by 2023-11-01 are gone.
    let archived: Vec<String> = archive
        .months()
        .expect("months")
        .into_iter()
        .map(month_name)
        .collect();
    assert_eq!(archived.first().map(String::as_str), Some("2023-11"));
    assert_eq!(archived.last().map(String::as_str), Some("2026-08"));
    assert_eq!(archived.len(), 34);
    assert_eq!(
        report.purged.len(),
        10,
        "2023-01..2023-10 purged: {:?}",
        report.purged
    );
    assert_eq!(
        report.deleted,
        44 * 3,
        "everything before September left the database"
    );
    for month in archive.months().expect("months") {
        let m = archive.manifest(month).expect("manifest").expect("written");
        assert_eq!(m.records, 3);
    }
    // Every record not purged is exactly once in the archive or online.
    let all = everything(&store, &archive).await;
    let kept: Vec<&Entry> = appended
        .iter()
        .filter(|e| e.record.time >= t("2023-10-31T19:00:00Z"))
        .collect();
    for e in &kept {
        assert_eq!(
            all.get(&e.seq),
            Some(*e),
            "record {} kept as appended",
            e.seq
        );
    }
    assert_verifies(&store, Some(&archive)).await;

    // Queries reach the archive.
    let filter = Filter {
        since: Some(t("2024-03-01T00:00:00Z")),
        until: Some(t("2024-04-01T00:00:00Z")),
        ..Filter::default()
    };
    assert!(
        akp_audit::query(&store, None, &filter)
            .await
            .expect("q")
            .is_empty()
    );
    assert_eq!(
        akp_audit::query(&store, Some(&archive), &filter)
            .await
            .expect("q")
            .len(),
        3
    );

    // Again at the same time: nothing moves; a month later September goes.
    let again = retain_at(&store, &archive, now).await;
    assert!(again.archived.is_empty() && again.deleted == 0, "{again:?}");
    let later = retain_at(&store, &archive, "2026-12-22T06:00:00Z").await;
    assert_eq!(
        later
            .archived
            .iter()
            .map(|m| m.month.as_str())
            .collect::<Vec<_>>(),
        ["2026-09"]
    );
    assert_eq!(later.purged, ["2023-11"]);
    assert_verifies(&store, Some(&archive)).await;
}

#[tokio::test]
async fn r_mon_02_a_failure_between_archive_write_and_delete_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url(dir.path())).await.expect("open");
    let appended = monthly(&store, "2026-01", 11, 5).await;
    let archive = Archive::new(dir.path().join("archive"));
    let now = t("2026-11-22T06:00:00Z");
    let policy = Policy {
        gzip: true,
        ..Policy::default()
    };
    // The run dies after the files are renamed into place, before the delete.
    let p = plan(&store, &policy, now).await.expect("plan");
    let written = write_archive(&store, &archive, &p, true)
        .await
        .expect("write");
    assert_eq!(written.len(), 8, "2026-01..2026-08");
    assert_eq!(
        store.page(0, i64::MAX).await.expect("online").len(),
        55,
        "nothing deleted yet"
    );
    // Meanwhile the query shows each record once.
    let all = akp_audit::query(&store, Some(&archive), &Filter::default())
        .await
        .expect("q");
    assert_eq!(all.len(), 55);
    // The verifier sees the interrupted state for what it is.
    let report = akp_audit::verify(&store, Some(&archive))
        .await
        .expect("verify");
    assert!(!report.ok());

    // The next run (now without gzip) finishes the job.
    let report = retain_at(&store, &archive, "2026-11-22T06:00:00Z").await;
    assert_eq!(report.deleted, 40);
    assert!(
        std::fs::read_dir(archive.dir()).expect("dir").all(|f| !f
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .ends_with(".gz")),
        "the gzip files were replaced"
    );
    let all = everything(&store, &archive).await;
    for e in &appended {
        assert_eq!(all.get(&e.seq), Some(e));
    }
    assert_verifies(&store, Some(&archive)).await;
}

fn akp_audit_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_akp-audit"))
}

#[tokio::test]
async fn r_mon_02_retention_killed_with_sigkill_then_rerun_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());
    let store = Store::open(&db).await.expect("open");
    let appended = monthly(&store, "2025-12", 12, 400).await;
    store.close().await;
    let archive_dir = dir.path().join("archive");
    let retain = |now: &str| {
        let mut c = akp_audit_cmd();
        c.args(["retain", "--db", &db, "--archive"])
            .arg(&archive_dir)
            .args(["--now", now]);
        c
    };
    // Kill it as soon as the first month's manifest is in place: files written, the
    // database not yet touched (or partly through: any moment must be safe).
    let mut child = retain("2026-11-22T06:00:00Z").spawn().expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let manifests = std::fs::read_dir(&archive_dir)
            .map(|d| {
                d.filter(|f| {
                    f.as_ref()
                        .is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".manifest.json"))
                })
                .count()
            })
            .unwrap_or(0);
        if manifests > 0 || child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no archive file within 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().expect("wait");
    eprintln!("first run ended: {status:?}");

    let out = retain("2026-11-22T06:00:00Z").output().expect("rerun");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&db).await.expect("open");
    let archive = Archive::new(&archive_dir);
    let all = everything(&store, &archive).await;
    for e in &appended {
        assert_eq!(all.get(&e.seq), Some(e), "record {} lost or changed", e.seq);
    }
    let online_months: std::collections::BTreeSet<String> = store
        .page(0, i64::MAX)
        .await
        .expect("online")
        .iter()
        .filter(|e| {
            e.record.action.starts_with("admission")
                || e.record.action.starts_with("stage")
                || e.record.action.starts_with("billing")
        })
        .map(|e| month_name(archive::month_of(e.record.time)))
        .collect();
    assert_eq!(
        online_months.into_iter().collect::<Vec<_>>(),
        ["2026-09", "2026-10", "2026-11"]
    );
    let out = akp_audit_cmd()
        .args(["verify", "--db", &db, "--archive"])
        .arg(&archive_dir)
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("ok: "), "{text}");
}

#[tokio::test]
async fn r_mon_02_verification_catches_a_modified_deleted_or_replaced_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());
    let store = Store::open(&db).await.expect("open");
    monthly(&store, "2026-01", 11, 4).await;
    let archive = Archive::new(dir.path().join("archive"));
    retain_at(&store, &archive, "2026-11-22T06:00:00Z").await;
    assert_verifies(&store, Some(&archive)).await;

    // The database refuses changes outright.
    let pool = store.pool();
    let update = sqlx::query("UPDATE audit_records SET actor = 'mallory' WHERE seq = 40")
        .execute(pool)
        .await;
    assert!(
        update.is_err_and(|e| e.to_string().contains("append-only")),
        "an UPDATE must be refused"
    );
    let delete = sqlx::query("DELETE FROM audit_records WHERE seq = 41")
        .execute(pool)
        .await;
    assert!(
        delete.is_err(),
        "a DELETE outside retention must be refused"
    );

    // Someone with the rights to drop the triggers changes a record: verify names it.
    execute(&store, "DROP TRIGGER audit_records_no_update").await;
    execute(
        &store,
        "UPDATE audit_records SET decision = 'allowed' WHERE seq = 40",
    )
    .await;
    assert_problem(&store, None, |p| {
        p.starts_with("record 40 ") && p.contains("modified")
    })
    .await;
    let out = akp_audit_cmd()
        .args(["verify", "--db", &db])
        .output()
        .expect("cli");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Recomputing the hash does not help: the next record's link breaks.
    let e = store.page(39, 1).await.expect("page").remove(0);
    let fixed = Entry::chain(e.seq, e.record.clone(), &e.prev_hash);
    sqlx::query("UPDATE audit_records SET hash = $1 WHERE seq = 40")
        .bind(fixed.hash)
        .execute(pool)
        .await
        .expect("tamper");
    assert_problem(&store, None, |p| {
        p.starts_with("record 41 ") && p.contains("does not chain")
    })
    .await;

    // A deleted record is a gap.
    execute(&store, "DROP TRIGGER audit_records_no_delete").await;
    execute(&store, "DELETE FROM audit_records WHERE seq = 42").await;
    assert_problem(&store, None, |p| p.contains("record 42 is missing")).await;

    // An archive file changed after the fact no longer matches its manifest.
    let month = archive.months().expect("months")[2];
    let file = archive
        .dir()
        .join(archive.manifest(month).expect("m").expect("m").file);
    let text = std::fs::read_to_string(&file)
        .expect("read")
        .replace("user-1", "user-9");
    std::fs::write(&file, text).expect("write");
    assert_problem(&store, Some(&archive), |p| p.contains("SHA-256 differs")).await;
}

#[tokio::test]
async fn r_mon_02_query_filters_by_time_actor_object_action_and_decision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = url(dir.path());
    let store = Store::open(&db).await.expect("open");
    let base = t("2026-11-01T00:00:00Z");
    let at = |m: i64| {
        base.checked_add(jiff::Span::new().minutes(m))
            .expect("time")
    };
    // Minute by minute; the first has a reason, the others none.
    let records: Vec<Record> = [
        (
            "alice",
            ADMISSION_DECISION,
            Object::namespaced("Pod", "mon-a-dev", "web"),
            Decision::Denied,
            "R-PLC-01",
        ),
        (
            "alice",
            ADMISSION_DECISION,
            Object::namespaced("Pod", "mon-a-dev", "api"),
            Decision::Allowed,
            "",
        ),
        (
            "kubectl",
            STAGE_CHANGE,
            Object::namespaced("PlatformSoftwareProduct", "agency-mon", "a"),
            Decision::Done,
            "",
        ),
        (
            "akp-billing",
            BILLING_MONTH_CLOSED,
            Object::cluster("LedgerMonth", "2026-10"),
            Decision::Done,
            "",
        ),
        (
            "akp-billing",
            akp_audit::record::BILLING_REPORT_DELIVERY,
            Object::cluster("BillingReport", "2026-10"),
            Decision::Failed,
            "",
        ),
    ]
    .into_iter()
    .zip(0..)
    .map(|((actor, action, object, decision, reason), m)| {
        Record::new(actor, action, object, decision)
            .reason(reason)
            .at(at(m))
    })
    .collect();
    store.append(&records).await.expect("append");
    let cases: [(Filter, &[i64]); 10] = [
        (Filter::default(), &[1, 2, 3, 4, 5]),
        (filter(|f| f.actor = Some("alice".into())), &[1, 2]),
        (filter(|f| f.decision = Some(Decision::Denied)), &[1]),
        (filter(|f| f.action = Some("billing".into())), &[4, 5]),
        (filter(|f| f.action = Some("bill".into())), &[]),
        (filter(|f| f.action = Some(STAGE_CHANGE.into())), &[3]),
        (filter(|f| f.object = Some("Pod/mon-a-dev".into())), &[1, 2]),
        (
            filter(|f| f.object = Some("Pod/mon-a-dev/api".into())),
            &[2],
        ),
        (filter(|f| f.object = Some("2026-10".into())), &[4, 5]),
        (
            filter(|f| {
                f.since = Some(at(1));
                f.until = Some(at(3));
            }),
            &[2, 3],
        ),
    ];
    for (filter, want) in cases {
        let seqs: Vec<i64> = akp_audit::query(&store, None, &filter)
            .await
            .expect("query")
            .into_iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, want, "{filter:?}");
    }

    let out = akp_audit_cmd()
        .args([
            "query",
            "--db",
            &db,
            "--actor",
            "alice",
            "--decision",
            "denied",
            "-o",
            "json",
        ])
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Vec<Entry> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].record.object.path(), "Pod/mon-a-dev/web");
    assert_eq!(json[0].record.reason, "R-PLC-01");
    let out = akp_audit_cmd()
        .args(["query", "--db", &db, "--action", "billing"])
        .output()
        .expect("cli");
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table.lines().next().is_some_and(|h| h.starts_with("TIME")),
        "{table}"
    );
    assert!(
        table.contains("BillingReport/2026-10") && table.contains("failed"),
        "{table}"
    );
}

/// R-MON-02: the sink drops nothing. While the database is down, records wait in
/// memory up to the bound; past it an admission record waits [`SinkOptions::wait`] and
/// is refused to its caller (who refuses the request: fail closed), and a controller's
/// record waits for room. Once the database is back every record that was taken is
/// stored, once, in order, and the refusals are exactly the ones the callers were told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_mon_02_sink_past_its_bound_loses_nothing_refuses_admissions_and_blocks_controllers() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The database's directory does not exist yet: the store cannot be opened.
    let db_dir = dir.path().join("later");
    let db = url(&db_dir);
    let sink = Sink::start(
        &db,
        SinkOptions {
            bound: 5,
            batch: 2,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            wait: Duration::from_millis(50),
        },
    );
    let mut taken = Vec::new();
    let mut refused = Vec::new();
    // Each admission is a decision and its act: both are queued or neither is.
    for i in 0..10 {
        let pair = vec![
            record(2 * i, Timestamp::now()),
            record(2 * i + 1, Timestamp::now()),
        ];
        match sink.admit(pair).await {
            Ok(()) => taken.extend([2 * i, 2 * i + 1]),
            Err(e) => {
                assert!(e.to_string().contains("(R-MON-02)"), "{e}");
                refused.extend([2 * i, 2 * i + 1]);
            }
        }
    }
    // The bound (5) and the writer's batch (2) take records, in whole admissions; the
    // rest are refused.
    assert!((4..=7).contains(&taken.len()), "taken {taken:?}");
    assert!(!refused.is_empty());
    // A pair finds no room while one slot is free: single records fill it.
    for i in 50..60 {
        if sink.admit(vec![record(i, Timestamp::now())]).await.is_ok() {
            taken.push(i);
        } else {
            refused.push(i);
        }
    }
    assert_eq!(sink.refused(), refused.len() as u64);
    assert!(sink.errors() > 0);
    // A controller's record waits for room instead of being refused.
    let blocked = tokio::spawn({
        let sink = sink.clone();
        async move { sink.record(record(100, Timestamp::now())).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "the controller's record waits for room"
    );
    assert!(
        !sink.flush(Duration::from_millis(100)).await,
        "nothing can be stored yet"
    );

    std::fs::create_dir_all(&db_dir).expect("mkdir");
    tokio::time::timeout(Duration::from_secs(20), blocked)
        .await
        .expect("the controller's record is taken once there is room")
        .expect("join");
    assert!(
        sink.flush(Duration::from_secs(20)).await,
        "stored once the database is there"
    );
    let store = Store::open(&db).await.expect("open");
    let stored = store.page(0, 100).await.expect("page");
    let reasons: Vec<String> = stored.iter().map(|e| e.record.reason.clone()).collect();
    let mut expected: Vec<String> = taken.iter().map(|i| format!("record {i}")).collect();
    expected.push("record 100".into());
    // Every record taken is stored once, in the order taken; none refused is.
    assert_eq!(reasons, expected);
    assert_eq!(sink.written(), expected.len() as u64);
    assert!(akp_audit::verify(&store, None).await.expect("verify").ok());
}

/// R-MON-02: a retention shorter than 2 months online or 3 years in all is refused,
/// naming the flag, the rule and the fix, before anything is moved or deleted.
#[tokio::test]
async fn r_mon_02_retention_below_two_months_online_or_three_years_is_refused() {
    use jiff::ToSpan;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&url(dir.path())).await.expect("store");
    let archive = Archive::new(dir.path().join("archive"));
    monthly(&store, "2022-01", 40, 2).await;
    let before = everything(&store, &archive).await;
    let now = t("2025-06-01T00:00:00Z");
    for (policy, flag) in [
        (
            Policy {
                online: 1.month(),
                ..Policy::default()
            },
            "--online 1mo",
        ),
        (
            Policy {
                online: 59.days(),
                ..Policy::default()
            },
            "--online 59d",
        ),
        (
            Policy {
                retain: 2.years(),
                ..Policy::default()
            },
            "--retain 2y",
        ),
    ] {
        let e = akp_audit::retain(&store, &archive, &policy, now)
            .await
            .expect_err("a retention below the law's");
        let message = e.to_string();
        assert!(
            message.starts_with(flag)
                && message.contains("(R-MON-02")
                && message.contains("or longer"),
            "{message}"
        );
    }
    assert_eq!(everything(&store, &archive).await, before, "nothing moved");
    assert!(
        archive.months().expect("months").is_empty(),
        "nothing archived"
    );
    // The law's own spans pass.
    akp_audit::retain(&store, &archive, &Policy::default(), now)
        .await
        .expect("the default policy");
}
