//! `akp-audit`: the audit trail's retention job, queries and chain verification.
//!
//! ```text
//! akp-audit retain --db URL --archive DIR [--online 2months] [--retain 3years] [--gzip] [--now T]
//! akp-audit query  --db URL [--archive DIR] [--since T] [--until T] [--actor A] [--object O]
//!                  [--action A] [--decision D] [-o table|json]
//! akp-audit verify --db URL [--archive DIR]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use akp_audit::{Archive, Decision, Entry, Filter, Policy, Store};
use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand, ValueEnum};
use jiff::{Span, Timestamp};

#[derive(Parser)]
#[command(
    name = "akp-audit",
    version,
    about = "The audit trail (R-MON-02): retention, queries, chain verification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Db {
    /// The audit database: sqlite:///path/audit.db or postgres://user@host/db.
    #[arg(long, env = "AKP_AUDIT_DB")]
    db: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Move records older than the online period into monthly archive files, then
    /// delete archive months older than the retention period. Safe to re-run, and to
    /// kill: nothing is lost or duplicated.
    Retain {
        #[command(flatten)]
        db: Db,
        /// The archive directory (a persistent volume).
        #[arg(long, env = "AKP_AUDIT_ARCHIVE")]
        archive: PathBuf,
        /// How long records stay online, at least (whole calendar months, UTC+5, are moved).
        #[arg(long, default_value = "2months", value_parser = parse_span)]
        online: Span,
        /// How long records are kept in all.
        #[arg(long, default_value = "3years", value_parser = parse_span)]
        retain: Span,
        /// Gzip the archive files.
        #[arg(long)]
        gzip: bool,
        /// Act as of this time (RFC 3339); default: now.
        #[arg(long, value_parser = parse_time)]
        now: Option<Timestamp>,
    },
    /// Print the records that match, online and (with --archive) archived, by time.
    Query {
        #[command(flatten)]
        db: Db,
        /// Also search the archive in this directory.
        #[arg(long, env = "AKP_AUDIT_ARCHIVE")]
        archive: Option<PathBuf>,
        /// At or after (RFC 3339, or a date YYYY-MM-DD: its start in UTC+5).
        #[arg(long, value_parser = parse_time)]
        since: Option<Timestamp>,
        /// Before (RFC 3339, or a date YYYY-MM-DD: its start in UTC+5).
        #[arg(long, value_parser = parse_time)]
        until: Option<Timestamp>,
        /// The actor (a user, a field manager, akp-billing).
        #[arg(long)]
        actor: Option<String>,
        /// kind/namespace/name, kind/namespace, kind, or a bare name.
        #[arg(long)]
        object: Option<String>,
        /// An action (admission.decision) or its prefix (billing).
        #[arg(long)]
        action: Option<String>,
        /// allowed, denied, done or failed.
        #[arg(long, value_parser = parse_decision)]
        decision: Option<Decision>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Check the hash chain: every record's hash, every link, no gap, the archive files
    /// against their manifests. Exits 1 on any problem.
    Verify {
        #[command(flatten)]
        db: Db,
        /// Also check the archive in this directory.
        #[arg(long, env = "AKP_AUDIT_ARCHIVE")]
        archive: Option<PathBuf>,
    },
}

fn parse_span(s: &str) -> Result<Span, String> {
    s.parse::<Span>()
        .map_err(|e| format!("{s:?} is not a duration such as 2months or 3years: {e}"))
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(akp_audit::archive::zone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 time or a date YYYY-MM-DD"))
}

fn parse_decision(s: &str) -> Result<Decision, String> {
    s.parse()
        .map_err(|e: akp_audit::record::UnknownDecision| e.to_string())
}

fn table(entries: &[Entry]) -> String {
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            let r = &e.record;
            [
                r.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                e.seq.to_string(),
                r.actor.clone(),
                r.action.clone(),
                r.object.path(),
                r.decision.to_string(),
                r.reason.replace('\n', " "),
            ]
        })
        .collect();
    let header = [
        "TIME", "SEQ", "ACTOR", "ACTION", "OBJECT", "DECISION", "REASON",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Retain {
            db,
            archive,
            online,
            retain,
            gzip,
            now,
        } => {
            let store = Store::open(&db.db).await?;
            let policy = Policy {
                online,
                retain,
                gzip,
            };
            let now = now.unwrap_or_else(Timestamp::now);
            let report = akp_audit::retain(&store, &Archive::new(&archive), &policy, now)
                .await
                .context("retention")?;
            let records: u64 = report.archived.iter().map(|m| m.records).sum();
            println!(
                "archived={} records={records} deleted_online={} through_seq={} purged={:?}",
                report
                    .archived
                    .iter()
                    .map(|m| m.month.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                report.deleted,
                report.through_seq,
                report.purged,
            );
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            db,
            archive,
            since,
            until,
            actor,
            object,
            action,
            decision,
            output,
        } => {
            let store = Store::open(&db.db).await?;
            let filter = Filter {
                since,
                until,
                actor,
                object,
                action,
                decision,
            };
            let archive = archive.map(Archive::new);
            let entries = akp_audit::query(&store, archive.as_ref(), &filter).await?;
            match output {
                Output::Table => print!("{}", table(&entries)),
                Output::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { db, archive } => {
            let store = Store::open(&db.db).await?;
            let archive = archive.map(Archive::new);
            let report = akp_audit::verify(&store, archive.as_ref()).await?;
            store.close().await;
            let range = match (report.first, report.last) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "none".into(),
            };
            if report.ok() {
                println!(
                    "ok: {} records, sequence {range}, chain intact",
                    report.records
                );
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &report.problems {
                    println!("problem: {p}");
                }
                println!(
                    "FAILED: {} problem(s) in {} records, sequence {range}",
                    report.problems.len(),
                    report.records
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    akp_audit::cli::main("akp-audit", async {
        run(cli).await.map_err(|e| anyhow!(e))
    })
}
