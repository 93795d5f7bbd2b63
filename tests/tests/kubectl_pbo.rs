//! `kubectl pbo` end to end: the real plugin binary run by the real kubectl (plugin
//! discovery on PATH) against a real API server, the in-process operator, a real
//! SQLite ledger written by akp-billing, and report bundles signed by akp-billing.
//!
//! The plugin is built with `cargo build --workspace --bin kubectl-pbo` into this test's
//! own target directory and profile, so the test works on a fresh clone under `cargo
//! test --workspace` (cargo holds no lock while tests run).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use akp_billing::report::sign;
use akp_billing::report::{ReportMeta, build};
use akp_billing::{Calendar, Hour, Ledger};
use akp_crds::report::{Artifact, BillingReport, BillingReportStatus, ReportPhase};
use akp_crds::{PlatformSoftwareProduct, Tariff};
use akp_rules::billing::rating::{Contracts, RatingInput, TariffBook};
use akp_rules::billing::rows::EnvIdentity;
use akp_rules::billing::rows::LedgerRow;
use akp_test_support::fixtures::{example, is_ready};
use akp_test_support::operator::{cluster, eventually};
use akp_test_support::{
    Binaries, ControlPlane, Options, apply, documents, ensure_namespace, repo_root,
};
use anyhow::{Context, Result, bail, ensure};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const TESTER: &str = "akp-tests";

/// The directory holding the freshly built `kubectl-pbo`.
fn plugin_dir() -> Result<PathBuf> {
    let bin = akp_test_support::workspace_binary("kubectl-pbo")?;
    Ok(bin
        .parent()
        .context("the plugin binary has no directory")?
        .to_path_buf())
}

/// `kubectl pbo …` through the real kubectl, with the plugin on PATH.
struct Kubectl {
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    path: OsString,
}

/// What a run printed and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Result<String> {
        if self.code != 0 {
            bail!(
                "kubectl pbo failed ({}):\n{}\n{}",
                self.code,
                self.stdout,
                self.stderr
            );
        }
        Ok(self.stdout)
    }

    fn json(self) -> Result<Value> {
        let text = self.ok()?;
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
    }

    /// Fails unless the run exited with `code` and its stderr holds each of `messages`.
    fn failed(&self, code: i32, messages: &[&str]) -> Result<()> {
        ensure!(
            self.code == code && messages.iter().all(|m| self.stderr.contains(m)),
            "expected exit {code} with {messages:?}: {self:?}"
        );
        Ok(())
    }
}

impl Kubectl {
    fn new(kubeconfig: &Path) -> Result<Self> {
        let bins = Binaries::locate()?;
        Binaries::require(&bins.kubectl)?;
        let mut paths = vec![plugin_dir()?];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Ok(Self {
            kubectl: bins.kubectl,
            kubeconfig: kubeconfig.to_path_buf(),
            path: std::env::join_paths(paths)?,
        })
    }

    fn pbo(&self, args: &[&str]) -> Result<Run> {
        let out = Command::new(&self.kubectl)
            .arg("pbo")
            .args(args)
            .env("PATH", &self.path)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("AKP_LEDGER_URL")
            .env_remove("NO_COLOR")
            .output()
            .context("running kubectl pbo")?;
        Ok(Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `kubectl pbo <args> -o json`, which must succeed.
    fn pbo_json(&self, args: &[&str]) -> Result<Value> {
        self.pbo(&[args, &["-o", "json"]].concat())?.json()
    }
}

/// Applies the document `name` of `examples/<path>`.
async fn apply_example(client: &kube::Client, path: &str, name: &str) -> Result<()> {
    apply(client, &example(path, name)?, None, TESTER).await?;
    Ok(())
}

/// The first hour of 10 October 2026 (UTC), where the ledger rows start.
fn october_10() -> Result<Hour> {
    let t: jiff::Timestamp = "2026-10-10T00:00:00Z".parse()?;
    Ok(Hour::containing(t.as_second()))
}

/// `kubectl pbo status` of the example product.
const STATUS: [&str; 4] = ["status", "e-license", "-n", "agency-mon"];

fn sha256sum(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum").arg(path).output()?;
    ensure!(out.status.success(), "sha256sum failed");
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The shared control plane (API server and CRDs, no operator) for the tests that need
/// only objects, with agency mon, its namespace, the example tariffs and e-license;
/// kubectl pointed at it and its admin client.
async fn shared() -> Result<(Kubectl, kube::Client)> {
    let cp = ControlPlane::shared(Options::default().with_crds())?;
    let client = cp.admin_client().await?;
    apply_example(&client, "agencies.yaml", "mon").await?;
    ensure_namespace(&client, "agency-mon").await?;
    for name in ["akp-2026", "akp-2027"] {
        apply_example(&client, "tariffs.yaml", name).await?;
    }
    apply_example(&client, "products/e-license.yaml", "e-license").await?;
    Ok((Kubectl::new(cp.kubeconfig_path())?, client))
}

/// R-LC-02, R-LC-03, R-LC-04, R-ENV-03: `status` of an example product reconciled by
/// the operator names the closed gate and its missing acts, the trial deadline and the
/// environments; `promote` is refused with the API server's own message while acts
/// are missing, changes nothing on a server dry run, and then writes the acts with the
/// SHA-256 of their files and the stage in one patch of field manager kubectl-pbo.
/// R-ENV-04: the free period `status` shows is the published Tariff's (one month here,
/// not the CRD's default three), the one billing rates the same hours with.
#[tokio::test]
async fn r_lc_02_r_lc_04_status_and_promote_through_kubectl() -> Result<()> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let _operator = c.operator_now().await?;
    apply_example(&admin, "agencies.yaml", "mon").await?;
    let mut tariff = example("tariffs.yaml", "akp-2026")?;
    tariff["spec"]["nonProduction"]["freeMonthsFromContract"] = json!(1);
    apply(&admin, &tariff, None, TESTER).await?;
    // The operator creates the agency's namespace; the product lives in it.
    let agencies = Api::<akp_crds::Agency>::all(admin.clone());
    eventually("agency mon Ready", Duration::from_secs(60), || async {
        let a = agencies.get("mon").await?;
        Ok(a.status
            .is_some_and(|s| is_ready(&s.conditions))
            .then_some(()))
    })
    .await?;
    apply_example(&admin, "products/e-license.yaml", "e-license").await?;
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    let reconciled = eventually(
        "e-license reconciled at trialOperation with its environments ready",
        Duration::from_secs(90),
        || async {
            let p = api.get("e-license").await?;
            let s = p.status.clone().unwrap_or_default();
            let ready = is_ready(&s.conditions);
            Ok((ready && s.trial.is_some() && s.environments.len() == 3).then_some(p))
        },
    )
    .await?;
    let k = Kubectl::new(c.cp.kubeconfig_path())?;

    // status, as a table: no colour when not on a terminal.
    let text = k.pbo(&STATUS)?.ok()?;
    ensure!(
        !text.contains('\x1b'),
        "colour codes off a terminal:\n{text}"
    );
    for want in [
        "agency-mon/e-license",
        "trialOperation",
        "production: gate closed (R-LC-01, R-LC-04), missing trialCompletionAct, infoSecTestProtocol, commissioningOrder, resourceConfirmation",
        "trial deadline",
        "R-LC-03",
        "mon-e-license-trial",
        "non-production free until",
        "2026-04-02",
    ] {
        ensure!(text.contains(want), "status lacks {want:?}:\n{text}");
    }
    // status -o json: the clocks are the operator's status, the gates the rules'.
    let v = k.pbo_json(&STATUS)?;
    let status = reconciled.status.clone().unwrap_or_default();
    // The bill's free period: the first hour rating no longer treats as free, for the
    // agency's contract of 2026-03-02 under the Tariff as the cluster has it.
    let published: Tariff = Api::<Tariff>::all(admin.clone()).get("akp-2026").await?;
    let book = TariffBook::new(std::slice::from_ref(&published))?;
    let contract = jiff::civil::date(2026, 3, 2);
    let months = book
        .in_force_on(contract)
        .map(|t| t.free_months)
        .context("akp-2026 in force")?;
    let billed_from = akp_rules::billing::rating::kz_date_of(
        akp_rules::billing::rating::free_until(contract, months)?,
    );
    ensure!(
        status.non_production_free_until == Some(billed_from)
            && billed_from == jiff::civil::date(2026, 4, 2),
        "status free until {:?}, billing free until {billed_from}",
        status.non_production_free_until
    );
    let deadline = status.trial.as_ref().map(|t| t.deadline.0.to_string());
    ensure!(
        v["clocks"]["trial"]["deadline"].as_str() == deadline.as_deref(),
        "trial deadline {} vs {deadline:?}",
        v["clocks"]["trial"]
    );
    ensure!(v["next"]["stage"] == "production" && v["next"]["open"] == false);
    ensure!(
        v["next"]["missingActs"]
            == json!([
                "trialCompletionAct",
                "infoSecTestProtocol",
                "commissioningOrder",
                "resourceConfirmation"
            ]),
        "{}",
        v["next"]
    );
    ensure!(v["gates"][0]["open"] == true && v["gates"][1]["open"] == false);
    let envs: Vec<&str> = v["environments"]
        .as_array()
        .context("environments")?
        .iter()
        .filter_map(|e| e["namespace"].as_str())
        .collect();
    ensure!(
        envs == [
            "mon-e-license-development",
            "mon-e-license-testing",
            "mon-e-license-trial"
        ],
        "{envs:?}"
    );
    ensure!(
        v["clocks"]["provisioning"]
            .as_array()
            .is_some_and(|p| p.len() == 3 && p.iter().all(|c| c["state"] == "met")),
        "R-ENV-03 clocks: {}",
        v["clocks"]["provisioning"]
    );
    // -o yaml carries the same view.
    let yaml = k.pbo(&[&STATUS[..], &["-o", "yaml"]].concat())?.ok()?;
    ensure!(
        yaml.contains("missingActs:") && yaml.contains("trialCompletionAct"),
        "{yaml}"
    );

    // The signed documents.
    let docs = tempfile::tempdir()?;
    let file = |name: &str, body: &str| -> Result<PathBuf> {
        let p = docs.path().join(name);
        std::fs::write(&p, body)?;
        Ok(p)
    };
    let completion = file(
        "completion-5.pdf",
        "act of completion of trial operation No 5",
    )?;
    let infosec = file("infosec.pdf", "positive information-security test protocol")?;
    let order = file("order-17.pdf", "commissioning order 17")?;
    let resources = file("resources.pdf", "confirmed production resources")?;
    let act = |t: &str, p: &Path, extra: &str| format!("type={t},file={}{extra}", p.display());

    let promote = [
        "promote",
        "e-license",
        "-n",
        "agency-mon",
        "--to",
        "production",
    ];
    let completion_act = act(
        "trialCompletionAct",
        &completion,
        ",number=5,date=2026-10-02",
    );
    // A closed gate: the API server refuses, and its message is shown verbatim.
    k.pbo(&[&promote[..], &["--act", &completion_act]].concat())?
        .failed(1, &[
            "Error from server (Invalid)",
            "stage production needs the trial completion act, a positive information-security test protocol, the commissioning order and the confirmed production resources (R-LC-04, 000 p.34.4-38); missing: infoSecTestProtocol (result: positive) commissioningOrder resourceConfirmation. Add them to spec.acts with number, date and sha256",
        ])
        .context("refused promotion exits 1 with the gate's message")?;
    let p = api.get("e-license").await?;
    ensure!(p.spec.acts.len() == 2 && p.spec.stage == akp_crds::Stage::TrialOperation);

    let all_acts = [
        "--act".to_string(),
        completion_act.clone(),
        "--act".to_string(),
        act(
            "infoSecTestProtocol",
            &infosec,
            ",number=ИБ-3,date=2026-10-05,result=positive",
        ),
        "--act".to_string(),
        act("commissioningOrder", &order, ",date=2026-10-06"),
        "--act".to_string(),
        act(
            "resourceConfirmation",
            &resources,
            ",number=R-1,date=2026-10-06",
        ),
    ];
    let mut args: Vec<&str> = promote.to_vec();
    args.extend(all_acts.iter().map(String::as_str));

    // A server dry run passes the gate and persists nothing.
    let mut dry = args.clone();
    dry.push("--dry-run=server");
    let out = k.pbo(&dry)?.ok()?;
    ensure!(out.contains("server dry run: nothing was changed"), "{out}");
    let p = api.get("e-license").await?;
    ensure!(p.spec.acts.len() == 2 && p.spec.stage == akp_crds::Stage::TrialOperation);

    let out = k.pbo(&args)?.ok()?;
    ensure!(
        out.contains(
            "platformsoftwareproduct.akp.egov.kz/e-license promoted: trialOperation → production"
        ),
        "{out}"
    );
    let p = api.get("e-license").await?;
    ensure!(p.spec.stage == akp_crds::Stage::Production);
    ensure!(p.spec.acts.len() == 6, "{:?}", p.spec.acts);
    for (t, path, number) in [
        ("trialCompletionAct", &completion, "5"),
        ("infoSecTestProtocol", &infosec, "ИБ-3"),
        ("commissioningOrder", &order, "order-17"),
        ("resourceConfirmation", &resources, "R-1"),
    ] {
        let a = p
            .spec
            .acts
            .iter()
            .find(|a| serde_json::to_value(a.type_).is_ok_and(|v| v == t))
            .with_context(|| format!("act {t}"))?;
        ensure!(a.sha256 == sha256sum(path)?, "{t}: sha256 {}", a.sha256);
        ensure!(a.number == number, "{t}: number {}", a.number);
    }
    let managers: Vec<String> = p
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    ensure!(managers.iter().any(|m| m == "kubectl-pbo"), "{managers:?}");

    // The operator takes it to production; status shows the warranty (R-LC-06).
    eventually("warranty in status", Duration::from_secs(60), || async {
        let v = k.pbo_json(&STATUS)?;
        Ok(v["clocks"]["warranty"]["until"]
            .as_str()
            .map(str::to_string))
    })
    .await?;
    // A product that does not exist: exit 1 with what to do.
    k.pbo(&["status", "nope", "-n", "agency-mon"])?
        .failed(1, &["not found in namespace \"agency-mon\""])?;
    Ok(())
}

/// R-BIL-04: the estimate of an example product at the cluster's tariffs and its
/// agency's contract, computed by hand; the same from files without a cluster; and an
/// item without a rate refused with the tariff and the item named.
#[tokio::test]
async fn r_bil_04_estimate_of_the_requested_resources() -> Result<()> {
    let (k, _client) = shared().await?;
    let file = repo_root().join("examples/products/school-enrolment.yaml");
    let file = file.to_string_lossy();
    let at_cluster = ["estimate", "-f", &file, "--as-of", "2026-10-15"];
    let v = k.pbo_json(&at_cluster)?;
    ensure!(
        v["tariff"] == "akp-2026" && v["tariffSource"] == "cluster",
        "{v}"
    );
    ensure!(v["contractDate"] == "2026-03-02", "from Agency mon: {v}");
    let env = |v: &Value, name: &str| {
        v["environments"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["environment"] == name))
            .cloned()
            .with_context(|| format!("{name} in {v}"))
    };
    // 2 cores × 730 h × 10.80 + 4 GiB × 730 h × 1.30 + 20 GiB × 730 h × 0.020
    // = 15768.00 + 3796.00 + 292.00; development adds postgresql-16: 730 h × 38.50.
    // The free period ended 2026-06-02 and akp-2026 flags non-production usage.
    let testing = env(&v, "testing")?;
    ensure!(testing["monthly"] == "19856.00", "{testing}");
    ensure!(
        testing["policy"] == "flag" && testing["billedNow"] == "0.00",
        "{testing}"
    );
    ensure!(testing["freeUntil"] == "2026-06-02", "{testing}");
    ensure!(env(&v, "development")?["monthly"] == "47961.00");
    ensure!(
        v["monthly"] == "67817.00" && v["billedNow"] == "0.00",
        "{v}"
    );

    // From files, no cluster: the 2027 tariff bills non-production after the period.
    let tariffs = repo_root().join("examples/tariffs.yaml");
    let tariffs = tariffs.to_string_lossy();
    let v = k.pbo_json(&[
        "estimate",
        "-f",
        &file,
        "--tariff",
        &tariffs,
        "--as-of",
        "2027-02-01",
        "--contract-date",
        "2026-03-02",
        "--kubeconfig",
        "/nonexistent",
    ])?;
    // 2 × 730 × 11.20 + 4 × 730 × 1.35 + 20 × 730 × 0.021 = 16352 + 3942 + 306.60.
    let testing = env(&v, "testing")?;
    ensure!(
        testing["monthly"] == "20600.60" && testing["billedNow"] == "20600.60",
        "{testing}"
    );
    ensure!(
        v["tariff"] == "akp-2027" && testing["policy"] == "bill",
        "{v}"
    );
    let table = k.pbo(&at_cluster)?.ok()?;
    ensure!(
        table.contains("testing (flag, free until 2026-06-02)") && table.contains("19856.00"),
        "{table}"
    );
    // A requested item without a rate (the agency's own portal) is listed as unpriced
    // at 0, never dropped; the rest is priced as usual.
    let e_license = repo_root().join("examples/products/e-license.yaml");
    let r = k.pbo(&[
        "estimate",
        "-f",
        &e_license.to_string_lossy(),
        "--tariff",
        &tariffs,
        "--contract-date",
        "2026-03-02",
        "--as-of",
        "2026-10-15",
    ])?;
    ensure!(
        r.code == 0
            && r.stdout.lines().any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols == [
                    "software",
                    "software/e-license-portal",
                    "2190.000000",
                    "instance-hour",
                    "unpriced",
                    "0.00",
                ]
            })
            && r.stdout.contains("software/postgresql-16      1460.000000")
            && r.stdout.contains("List value:  447217.40 KZT"),
        "{r:?}"
    );
    Ok(())
}

fn row(env: &str, product: &str, resource: &str, unit: &str, hour: Hour, q: i64) -> LedgerRow {
    LedgerRow {
        namespace: format!("mon-{product}-{env}"),
        resource: resource.into(),
        hour,
        identity: EnvIdentity {
            agency: "mon".into(),
            product: product.into(),
            product_namespace: "agency-mon".into(),
            environment: env.into(),
            contour: "external".into(),
            class: "1".into(),
        },
        unit: unit.into(),
        quantity: q,
    }
}

/// R-BIL-01, R-ENV-04: `usage` reads the product's rows of a month from a SQLite ledger
/// written by akp-billing's Ledger, leaves other products out, and rates them at the
/// cluster's tariffs: production billed, trial flagged after the free period.
#[tokio::test]
async fn r_bil_01_usage_of_a_month_from_a_sqlite_ledger() -> Result<()> {
    let (k, _client) = shared().await?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let first = october_10()?;
    let ledger = Ledger::open(&url, Calendar::kazakhstan()).await?;
    let mut rows = Vec::new();
    for h in 0..3 {
        // Two cores and 16 GiB for an hour, in ledger micro-units; another product's
        // core.
        for (product, resource, unit, q) in [
            ("e-license", "cpu", "core_second", 7_200_000_000),
            ("e-license", "memory", "gib_hour", 16_000_000),
            ("tax-check", "cpu", "core_second", 3_600_000_000),
        ] {
            rows.push(row("production", product, resource, unit, first.plus(h), q));
        }
    }
    for h in 0..2 {
        rows.push(row(
            "trial",
            "e-license",
            "cpu",
            "core_second",
            first.plus(h),
            3_600_000_000,
        ));
    }
    ledger.commit("test", first.plus(3), &rows, &[]).await?;
    ledger.close().await;

    let usage_args = [
        "usage",
        "e-license",
        "-n",
        "agency-mon",
        "--month",
        "2026-10",
        "--ledger",
    ];
    let v = k.pbo_json(&[&usage_args[..], &[&url]].concat())?;
    ensure!(v["agency"] == "mon" && v["closed"] == false, "{v}");
    let usage = v["usage"].as_array().context("usage")?;
    ensure!(usage.len() == 3, "other products left out: {usage:?}");
    let find = |env: &str, res: &str| {
        usage
            .iter()
            .find(|u| u["environment"] == env && u["resource"] == res)
            .cloned()
            .unwrap_or(Value::Null)
    };
    ensure!(find("production", "cpu")["quantity"] == "21600.000000");
    ensure!(find("production", "cpu")["hours"] == 3);
    ensure!(find("production", "memory")["quantity"] == "48.000000");
    ensure!(find("trial", "cpu")["quantity"] == "7200.000000");
    let rated = &v["rated"];
    // 6 core-hours × 10.80 + 48 GiB-hours × 1.30 = 64.80 + 62.40; the trial's 2
    // core-hours (21.60) are flagged: free until 2026-06-02, then akp-2026 flags.
    ensure!(
        rated["billed"] == "127.20" && rated["list"] == "148.80",
        "{rated}"
    );
    let trial = rated["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["environment"] == "trial"))
        .context("trial line")?;
    ensure!(
        trial["treatment"] == "flagged" && trial["listAmount"] == "21.60",
        "{trial}"
    );
    let table = k.pbo(&[&usage_args[..], &[&url]].concat())?.ok()?;
    ensure!(
        table.contains("127.20 KZT") && table.contains("mon-e-license-production"),
        "{table}"
    );
    ensure!(table.contains("not closed in the ledger"), "{table}");

    k.pbo(&[&usage_args[..], &["sqlite:///nonexistent/ledger.db"]].concat())?
        .failed(1, &["does not exist"])?;
    // The ledger is read, never migrated: an empty database stays empty (B4).
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"")?;
    let empty_url = format!("sqlite://{}", empty.display());
    let run = k.pbo(&[&usage_args[..], &[&empty_url]].concat())?;
    ensure!(
        run.code != 0,
        "an empty database is no ledger: {}",
        run.stdout
    );
    ensure!(
        std::fs::metadata(&empty)?.len() == 0,
        "kubectl pbo usage wrote to the database (a migration)"
    );
    Ok(())
}

/// R-BIL-02: `report verify` accepts a bundle signed with akp-billing's sign module
/// and refuses it, with exit code 3 and the file named, once a byte is changed or the
/// key is not the signer's; `report get` shows the BillingReport and its files.
#[tokio::test]
async fn r_bil_02_report_verify_and_get() -> Result<()> {
    let (k, client) = shared().await?;
    // A report of real rated lines.
    let tariffs: Vec<Tariff> = documents(&repo_root().join("examples/tariffs.yaml"))?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    let book = TariffBook::new(&tariffs)?;
    let rows = vec![row(
        "production",
        "e-license",
        "cpu",
        "core_second",
        october_10()?,
        7_200_000_000,
    )];
    let calendar = Calendar::kazakhstan();
    let rated = akp_rules::billing::rating::rate(
        &RatingInput {
            tariffs: &book,
            contracts: &Contracts::new(),
            calendar: &calendar,
        },
        &rows,
        &[],
    )?;
    let doc = build(
        &ReportMeta {
            name: "2026-10".into(),
            period: "2026-10".into(),
            generated_at: "2026-11-01T00:00:00Z".into(),
            period_start: "2026-09-30T19:00:00Z".into(),
            period_end: "2026-10-31T19:00:00Z".into(),
            ..ReportMeta::default()
        },
        &rated,
        &book,
    );
    let key = sign::signing_key_from_bytes(&[7u8; 32])?;
    let bundle = sign::sign(&doc, &key)?;
    let reports = tempfile::tempdir()?;
    let bundle_dir = reports.path().join("2026-10");
    sign::write_bundle(&bundle, &bundle_dir)?;
    let public = reports.path().join("operator.pub");
    // The raw 32 bytes; `verify` also reads 64 hex digits.
    std::fs::write(&public, key.verifying_key().as_bytes())?;
    let dir = reports.path().to_string_lossy().to_string();
    let public_s = public.to_string_lossy().to_string();

    let verify = ["report", "verify", "2026-10", "--dir", &dir];
    let with_key = [&verify[..], &["--public-key", &public_s]].concat();

    let out = k.pbo(&with_key)?.ok()?;
    ensure!(out.starts_with("OK: report 2026-10 (2026-10)"), "{out}");
    ensure!(
        out.contains("report.csv") && out.contains("4 file(s) verified"),
        "{out}"
    );
    let v = k.pbo_json(&with_key)?;
    ensure!(
        v["ok"] == true && v["signerAuthenticated"] == true && v["totals"]["KZT"] == "21.60",
        "{v}"
    );
    // Without a key: integrity only, and it says so.
    let out = k.pbo(&verify)?.ok()?;
    ensure!(out.contains("pass --public-key"), "{out}");

    // Another key: refused.
    let other = reports.path().join("other.pub");
    let other_key = sign::signing_key_from_bytes(&[8u8; 32])?;
    std::fs::write(&other, other_key.verifying_key().as_bytes())?;
    k.pbo(&[&verify[..], &["--public-key", &other.to_string_lossy()]].concat())?
        .failed(3, &["does not verify with the given public key"])?;

    // One byte changed: refused, naming the file.
    let csv = bundle_dir.join("report.csv");
    let mut bytes = std::fs::read(&csv)?;
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&csv, &bytes)?;
    k.pbo(&with_key)?
        .failed(3, &["does NOT verify", "report.csv was changed"])
        .context("tampered bundle exits 3")?;
    bytes[i] ^= 0x01;
    std::fs::write(&csv, &bytes)?;
    // A wrong month.
    k.pbo(&[
        "report",
        "verify",
        "2026-09",
        "--dir",
        &bundle_dir.to_string_lossy(),
        "--public-key",
        &public_s,
    ])?
    .failed(3, &["the manifest is for period 2026-10, not 2026-09"])?;

    // report get: the BillingReport's status and the files in the reports directory.
    let api = Api::<BillingReport>::all(client.clone());
    let br: BillingReport = serde_json::from_value(json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "BillingReport",
        "metadata": {"name": "2026-10"}, "spec": {"period": "2026-10"}
    }))?;
    match api.create(&PostParams::default(), &br).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let status = BillingReportStatus {
        phase: ReportPhase::Signed,
        totals: [("KZT".to_string(), "21.60".to_string())].into(),
        artifacts: sign::status_artifacts(&bundle, &bundle_dir)
            .into_iter()
            .collect::<Vec<Artifact>>(),
        tariffs: vec!["akp-2026".into()],
        ..BillingReportStatus::default()
    };
    api.patch_status(
        "2026-10",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await?;
    let get = ["report", "get", "2026-10", "--dir", &dir];
    let out = k.pbo(&get)?.ok()?;
    ensure!(
        out.contains("Signed") && out.contains("21.60 KZT") && out.contains("akp-2026"),
        "{out}"
    );
    ensure!(
        out.contains("report.csv") && out.contains("as listed"),
        "{out}"
    );
    ensure!(!out.contains("DIFFERS"), "{out}");
    let csv_text = k
        .pbo(&[&get[..], &["--print", "report.csv"]].concat())?
        .ok()?;
    ensure!(csv_text.starts_with("record,period,agency"), "{csv_text}");
    k.pbo(&["report", "get", "2031-01"])?
        .failed(1, &["no BillingReport for 2031-01"])?;
    Ok(())
}

/// `kubectl pbo <TAB>`: the real kubectl finds `kubectl_complete-pbo` (installed as a
/// symlink to the plugin, as docs/kubectl-pbo.md says) and shows its answers for
/// subcommands, flags and flag values.
#[test]
fn kubectl_completes_pbo_through_kubectl_complete_pbo() -> Result<()> {
    let bins = Binaries::locate()?;
    Binaries::require(&bins.kubectl)?;
    let plugin = akp_test_support::workspace_binary("kubectl-pbo")?;
    let dir = tempfile::tempdir()?;
    std::os::unix::fs::symlink(&plugin, dir.path().join("kubectl_complete-pbo"))?;
    let mut paths = vec![dir.path().to_path_buf(), plugin_dir()?];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(paths)?;
    let complete = |words: &[&str]| -> Result<Vec<String>> {
        let out = Command::new(&bins.kubectl)
            .args(["__complete", "pbo"])
            .args(words)
            .env("PATH", &path)
            .env("KUBECONFIG", dir.path().join("none"))
            .output()?;
        ensure!(out.status.success(), "{out:?}");
        Ok(String::from_utf8(out.stdout)?
            .lines()
            .map(str::to_owned)
            .collect())
    };
    let subcommands = complete(&[""])?;
    for sub in ["status", "promote", "usage", "report"] {
        ensure!(
            subcommands
                .iter()
                .any(|l| l.starts_with(&format!("{sub}\t"))),
            "{sub} missing: {subcommands:?}"
        );
    }
    ensure!(subcommands.last().map(String::as_str) == Some(":4"));
    let stages = complete(&["promote", "q00", "--to", "tri"])?;
    ensure!(stages == ["trialOperation", ":4"], "{stages:?}");
    let flags = complete(&["promote", "q00", "--dr"])?;
    ensure!(
        flags.first().is_some_and(|l| l.starts_with("--dry-run\t")),
        "{flags:?}"
    );
    Ok(())
}
