//! `kubectl pbo report get <month>`: the BillingReport of a month, its status and where
//! its files are; `kubectl pbo report verify <month> --dir <reports dir>`: checks the
//! signed bundle with `akp_billing::report::sign` (R-BIL-02).

use std::path::{Path, PathBuf};

use akp_billing::report::sign::{self, MANIFEST, Manifest, SIGNATURE, VerifyError};
use akp_crds::report::{BillingReport, ReportPhase};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::cluster::{ClusterArgs, server_error};
use crate::error::CliError;
use crate::inputs::parse_month;
use crate::output::{Cell, Color, Fields, Output, Style, Table, heading, plain};

/// `kubectl pbo report …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The BillingReport of a month: phase, totals, coverage, delivery and its files.
    Get(GetArgs),
    /// Verifies a signed report bundle: the manifest's Ed25519 signature, then the
    /// SHA-256 of every file it lists.
    Verify(VerifyArgs),
}

/// Arguments of `report get`.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The month, YYYY-MM.
    #[arg(value_parser = month_text)]
    pub month: String,
    /// The billing daemon's reports directory: list the report's files found there.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// With --dir: print this file of the report (for example report.csv).
    #[arg(long, value_name = "FILE", requires = "dir")]
    pub print: Option<String>,
}

/// Arguments of `report verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The month, YYYY-MM.
    #[arg(value_parser = month_text)]
    pub month: String,
    /// The reports directory (the bundle is in <DIR>/<report name>/), or the bundle's
    /// own directory.
    #[arg(long, value_name = "DIR", env = "AKP_BILLING_REPORTS_DIR")]
    pub dir: PathBuf,
    /// The report's name when it is not the month (a correction).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The signer's Ed25519 public key: a file of 32 raw bytes or 64 hex digits. Without
    /// it only the integrity is checked, against the key the manifest names.
    #[arg(long = "public-key", value_name = "FILE")]
    pub public_key: Option<PathBuf>,
}

fn month_text(text: &str) -> Result<String, String> {
    parse_month(text).map(|m| m.to_string())
}

fn phase_name(p: ReportPhase) -> &'static str {
    match p {
        ReportPhase::Pending => "Pending",
        ReportPhase::Collecting => "Collecting",
        ReportPhase::Rated => "Rated",
        ReportPhase::Signed => "Signed",
        ReportPhase::Delivered => "Delivered",
        ReportPhase::Failed => "Failed",
    }
}

/// One file found in the reports directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
    /// Whether the status lists this file with the same SHA-256 (`None`: not listed).
    pub matches_status: Option<bool>,
}

/// A report as `report get` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    pub name: String,
    pub period: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    pub deliver: bool,
    pub phase: String,
    pub totals: std::collections::BTreeMap<String, String>,
    pub coverage: Option<String>,
    pub tariffs: Vec<String>,
    pub generated_at: Option<String>,
    pub delivered_at: Option<String>,
    pub delivery_attempts: i32,
    pub artifacts: Vec<akp_crds::report::Artifact>,
    pub conditions: Vec<crate::status::ConditionView>,
    /// The directory looked in with --dir, and what is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileView>,
}

fn view(br: &BillingReport) -> ReportView {
    let s = br.status.clone().unwrap_or_default();
    ReportView {
        name: br.name_any(),
        period: br.spec.period.clone(),
        corrects: br.spec.corrects.clone(),
        deliver: br.spec.deliver,
        phase: phase_name(s.phase).to_string(),
        totals: s.totals.clone(),
        coverage: s.data_quality.as_ref().map(|d| d.coverage.clone()),
        tariffs: s.tariffs.clone(),
        generated_at: s.generated_at.as_ref().map(|t| t.0.to_string()),
        delivered_at: s.delivered_at.as_ref().map(|t| t.0.to_string()),
        delivery_attempts: s.delivery_attempts,
        artifacts: s.artifacts.clone(),
        conditions: s
            .conditions
            .iter()
            .map(|c| crate::status::ConditionView {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: c.last_transition_time.0.to_string(),
            })
            .collect(),
        dir: None,
        files: Vec::new(),
    }
}

/// The files of a report directory, with their hashes checked against the status.
fn files_in(
    dir: &Path,
    artifacts: &[akp_crds::report::Artifact],
) -> Result<Vec<FileView>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::NotFound(format!(
            "cannot list {}: {e}: pass the billing daemon's reports directory (--reports-dir) as --dir",
            dir.display()
        ))
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        // Dot files are the daemon's temporaries (sign::write_bundle), not the report's.
        if !path.is_file() || name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| CliError::Other(anyhow::anyhow!("reading {}: {e}", path.display())))?;
        let sha256 = sign::sha256_hex(&bytes);
        let listed = artifacts.iter().find(|a| {
            Path::new(&a.path)
                .file_name()
                .is_some_and(|f| f.to_string_lossy() == name)
        });
        out.push(FileView {
            name,
            bytes: bytes.len() as u64,
            matches_status: listed.map(|a| a.sha256 == sha256),
            sha256,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Runs `report get`.
pub async fn get(
    args: &GetArgs,
    cluster: &ClusterArgs,
    output: Output,
) -> Result<String, CliError> {
    let c = cluster.connect().await?;
    let list = Api::<BillingReport>::all(c.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| server_error(e, "listing BillingReports"))?;
    let mut reports: Vec<&BillingReport> = list
        .items
        .iter()
        .filter(|r| r.spec.period == args.month || r.name_any() == args.month)
        .collect();
    // The month's report first, then its corrections.
    reports.sort_by_key(|r| (r.spec.corrects.is_some(), r.name_any()));
    if reports.is_empty() {
        return Err(CliError::NotFound(format!(
            "no BillingReport for {}: the billing daemon creates it once the month is closed in the ledger (kubectl get billingreports lists them)",
            args.month
        )));
    }
    let mut views = Vec::new();
    for br in &reports {
        let mut v = view(br);
        if let Some(dir) = &args.dir {
            let report_dir = dir.join(&v.name);
            v.files = files_in(&report_dir, &v.artifacts)?;
            v.dir = Some(report_dir.display().to_string());
        }
        views.push(v);
    }
    if let (Some(dir), Some(file)) = (&args.dir, &args.print) {
        if file.contains(['/', '\\']) || file == ".." || file == "." {
            return Err(CliError::Usage(format!(
                "--print {file:?}: give a file name of the report, such as report.csv"
            )));
        }
        let path = dir.join(&views[0].name).join(file);
        return std::fs::read_to_string(&path).map_err(|e| {
            CliError::NotFound(format!(
                "cannot read {}: {e}: `kubectl pbo report get {} --dir {}` lists the files",
                path.display(),
                args.month,
                dir.display()
            ))
        });
    }
    if let Some(text) = output.serialize(&views)? {
        return Ok(text);
    }
    let style = Style::detect(output);
    Ok(views
        .iter()
        .map(|v| render(v, style))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A report as text.
pub fn render(v: &ReportView, style: Style) -> String {
    let mut out = String::new();
    let mut f = Fields::new();
    f.add("Report", v.name.clone());
    f.add("Period", v.period.clone());
    if let Some(c) = &v.corrects {
        f.add("Corrects", c.clone());
    }
    let color = match v.phase.as_str() {
        "Delivered" | "Signed" => Color::Green,
        "Failed" => Color::Red,
        _ => Color::Yellow,
    };
    f.add_colored("Phase", v.phase.clone(), color);
    for (currency, total) in &v.totals {
        f.add("Total", format!("{total} {currency}"));
    }
    f.add("Coverage", v.coverage.clone().unwrap_or_else(|| "-".into()));
    f.add(
        "Tariffs",
        if v.tariffs.is_empty() {
            "-".into()
        } else {
            v.tariffs.join(", ")
        },
    );
    f.add(
        "Generated",
        v.generated_at.clone().unwrap_or_else(|| "-".into()),
    );
    f.add(
        "Delivered",
        match &v.delivered_at {
            Some(t) => format!("{t} ({} attempt(s))", v.delivery_attempts),
            None if v.deliver => format!("not yet ({} attempt(s))", v.delivery_attempts),
            None => "not to be delivered (spec.deliver: false)".into(),
        },
    );
    out.push_str(&f.render(style));
    out.push_str(&heading(style, "Files"));
    if v.artifacts.is_empty() {
        out.push_str("none yet: the report is signed once its month is closed and rated\n");
    } else {
        let mut t = Table::new(&["format", "path", "sha256"]);
        for a in &v.artifacts {
            t.row(plain(&[&a.format, &a.path, &a.sha256]));
        }
        out.push_str(&t.render(style));
    }
    if let Some(dir) = &v.dir {
        out.push_str(&heading(style, &format!("In {dir}")));
        let mut t = Table::new(&["file", "bytes", "sha256", "status"]);
        for file in &v.files {
            let state = match file.matches_status {
                Some(true) => Cell::colored("as listed", Color::Green),
                Some(false) => Cell::colored("DIFFERS from the status", Color::Red),
                None => Cell::plain("not listed"),
            };
            t.row(vec![
                file.name.clone().into(),
                file.bytes.to_string().into(),
                file.sha256.clone().into(),
                state,
            ]);
        }
        out.push_str(&t.render(style));
    }
    if !v.conditions.is_empty() {
        out.push_str(&heading(style, "Conditions"));
        let mut t = Table::new(&["type", "status", "reason", "message"]);
        for c in &v.conditions {
            t.row(plain(&[&c.type_, &c.status, &c.reason, &c.message]));
        }
        out.push_str(&t.render(style));
    }
    out
}

/// What `report verify` found, as `-o json|yaml` prints it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub ok: bool,
    pub dir: String,
    pub report: String,
    pub period: String,
    pub generated_at: String,
    pub totals: std::collections::BTreeMap<String, String>,
    /// The key that verified the signature.
    pub signer: String,
    /// Whether that key was given (`--public-key`) rather than read from the manifest.
    pub signer_authenticated: bool,
    pub artifacts: Vec<sign::ManifestEntry>,
}

/// The bundle directory: `<dir>/<name>/` if it has a manifest, else `dir` itself.
pub fn bundle_dir(dir: &Path, name: &str) -> Result<PathBuf, CliError> {
    let inner = dir.join(name);
    if inner.join(MANIFEST).is_file() {
        return Ok(inner);
    }
    if dir.join(MANIFEST).is_file() {
        return Ok(dir.to_path_buf());
    }
    Err(CliError::NotFound(format!(
        "no {MANIFEST} in {} nor in {}: pass the reports directory (the billing daemon's --reports-dir) or the report's own directory as --dir",
        inner.display(),
        dir.display()
    )))
}

/// Verifies a bundle (files only; no cluster).
pub fn verify(args: &VerifyArgs) -> Result<Verified, CliError> {
    let name = args.name.clone().unwrap_or_else(|| args.month.clone());
    let dir = bundle_dir(&args.dir, &name)?;
    let fail = |why: String| {
        CliError::Verify(format!(
            "report {name} in {} does NOT verify: {why}",
            dir.display()
        ))
    };
    let (key, authenticated) = match &args.public_key {
        Some(file) => {
            let bytes = std::fs::read(file).map_err(|e| {
                CliError::Usage(format!(
                    "cannot read the public key {}: {e}",
                    file.display()
                ))
            })?;
            let key = sign::verifying_key_from_bytes(&bytes)
                .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
            (key, true)
        }
        None => {
            // Without a key, the manifest's own key: proves the files are the ones
            // signed, not who signed them.
            let bytes = std::fs::read(dir.join(MANIFEST))
                .map_err(|e| fail(format!("cannot read {MANIFEST}: {e}")))?;
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| fail(format!("{MANIFEST} is not a billing manifest: {e}")))?;
            let key = sign::verifying_key_from_bytes(m.public_key.as_bytes())
                .map_err(|e| fail(format!("the manifest's publicKey: {e}")))?;
            (key, false)
        }
    };
    let manifest = sign::verify_dir(&dir, &key).map_err(|e| {
        fail(match e {
            VerifyError::BadSignature if authenticated => format!(
                "{e}: {SIGNATURE} was not made by this key over this {MANIFEST} (the manifest was edited, or signed by another key)"
            ),
            VerifyError::Tampered { .. } => format!("{e}: ask the billing operator for the original bundle"),
            other => other.to_string(),
        })
    })?;
    if manifest.period != args.month {
        return Err(fail(format!(
            "the manifest is for period {}, not {}",
            manifest.period, args.month
        )));
    }
    Ok(Verified {
        ok: true,
        dir: dir.display().to_string(),
        report: manifest.report.clone(),
        period: manifest.period.clone(),
        generated_at: manifest.generated_at.clone(),
        totals: manifest.totals.clone(),
        signer: hex::encode(key.as_bytes()),
        signer_authenticated: authenticated,
        artifacts: manifest.artifacts,
    })
}

/// Runs `report verify`.
pub fn run_verify(args: &VerifyArgs, output: Output) -> Result<String, CliError> {
    let v = verify(args)?;
    if let Some(text) = output.serialize(&v)? {
        return Ok(text);
    }
    let style = Style::detect(output);
    let mut out = format!(
        "{}: report {} ({}) in {}: signature and {} file(s) verified\n",
        style.paint("OK", Color::Green),
        v.report,
        v.period,
        v.dir,
        v.artifacts.len()
    );
    if v.signer_authenticated {
        out.push_str(&format!("signed by {} (the key given)\n", v.signer));
    } else {
        out.push_str(&format!(
            "{} the signature was checked with the key the manifest names ({}); pass --public-key with the operator's published key to check who signed it\n",
            style.paint("warning:", Color::Yellow),
            v.signer
        ));
    }
    let mut t = Table::new(&["file", "format", "bytes", "sha256"]);
    for a in &v.artifacts {
        t.row(vec![
            a.path.clone().into(),
            a.format.clone().into(),
            a.bytes.to_string().into(),
            a.sha256.clone().into(),
        ]);
    }
    out.push_str(&t.render(style));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_manifest_says_where_it_looked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = bundle_dir(dir.path(), "2026-10").expect_err("none");
        let text = err.to_string();
        assert!(text.contains("no manifest.json in"), "{text}");
        assert!(text.contains("2026-10"), "{text}");
    }
}
