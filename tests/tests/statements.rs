//! The agencies' statements and the cost metrics against a real API server and a real
//! SQLite ledger (issue 20; R-BIL-01, R-BIL-03): billing writes each agency's
//! UsageStatement in the agency's namespace, with the figures of the rating of the
//! same rows, provisional until the month closes; the agency's own users read theirs
//! with their client certificates and are refused the other agencies' and every write.

use std::time::Duration;

use akp_billing::Metrics;
use akp_billing::statement::{CostMetrics, StatementsConfig, update};
use akp_crds::{Agency, UsageStatement};
use akp_test_support::operator::{cluster, eventually};
use akp_test_support::reports::october_production_ledger;
use akp_test_support::{apply_examples, workspace_binary};
use anyhow::{Context, Result, ensure};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

/// A request the API server refused as forbidden.
fn forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) -> Result<()> {
    match result {
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(()),
        other => anyhow::bail!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn r_bil_03_an_agency_reads_its_own_statement_only_and_its_figures_are_the_ratings()
-> Result<()> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    apply_examples(&admin, &["agencies.yaml", "tariffs.yaml"], "test").await?;
    let agencies = Api::<Agency>::all(admin.clone());
    for (agency, budget) in [("mon", "500.00"), ("mz", "1000.00")] {
        agencies
            .patch(
                agency,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"budget": {"monthly": budget}}})),
            )
            .await?;
    }
    // The operator prepares the agencies' namespaces and their users' RoleBindings.
    let operator = c.operator_now().await?;
    for ns in ["agency-mon", "agency-mz"] {
        let bindings = Api::<RoleBinding>::namespaced(admin.clone(), ns);
        eventually(
            &format!("RoleBindings in {ns}"),
            Duration::from_secs(60),
            || {
                let bindings = bindings.clone();
                async move {
                    Ok((bindings.list(&Default::default()).await?.items.len() >= 2).then_some(()))
                }
            },
        )
        .await?;
    }

    // mon's e-license production: 10 hours of October at 320.00 KZT (akp-2026).
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let (ledger, _) = october_production_ledger(&url).await?;
    let metrics = Metrics::new()?;
    let cost = CostMetrics::register(metrics.registry())?;
    let config = StatementsConfig::default();
    let now: jiff::Timestamp = "2026-10-20T12:00:00Z".parse()?;
    let written = update(&admin, &ledger, &cost, &config, now).await?;
    ensure!(
        written == 2,
        "statements of mon and mz (budgets), got {written}"
    );
    let later = now + jiff::SignedDuration::from_hours(1);
    let again = update(&admin, &ledger, &cost, &config, later).await?;
    ensure!(
        again == 0,
        "unchanged figures are not written again, got {again}"
    );

    let mon = Api::<UsageStatement>::namespaced(admin.clone(), "agency-mon")
        .get("mon-2026-10")
        .await?;
    let s = &mon.spec;
    ensure!(s.totals.billed == "320.00", "billed {:?}", s.totals);
    ensure!(!s.final_, "October is open");
    let budget = s.budget.as_ref().context("mon's budget")?;
    ensure!(
        budget.used == "64.00%" && budget.reached == [50],
        "{budget:?}"
    );
    let lines: Vec<_> = s.products.iter().flat_map(|p| &p.lines).collect();
    ensure!(
        lines.len() == 2 && lines.iter().all(|l| l.environment == "production"),
        "{lines:?}"
    );
    let text = metrics.encode();
    for expected in [
        r#"akp_billing_month_to_date_amount{agency="mon",category="compute",product="e-license"} 320"#,
        r#"akp_billing_budget_threshold_reached{agency="mon",threshold="50"} 1"#,
        r#"akp_billing_budget_threshold_reached{agency="mon",threshold="90"} 0"#,
        r#"akp_billing_budget_used_ratio{agency="mz"} 0"#,
    ] {
        ensure!(text.contains(expected), "no {expected} in\n{text}");
    }

    // mon's digitalization head and a member of its group, with client certificates.
    let head = c.cp.client_for("alice@mon.gov.kz", &[]).await?;
    let member = c.cp.client_for("erlan@mon.gov.kz", &["agency-mon"]).await?;
    for (who, client) in [("head", &head), ("member", &member)] {
        let own = Api::<UsageStatement>::namespaced(client.clone(), "agency-mon");
        let read = own.get("mon-2026-10").await?;
        ensure!(
            read.spec == mon.spec,
            "{who} reads the statement as written"
        );
        ensure!(
            own.list(&Default::default()).await?.items.len() == 1,
            "{who} lists it"
        );
        let other = Api::<UsageStatement>::namespaced(client.clone(), "agency-mz");
        forbidden(&format!("{who} reads mz's"), other.get("mz-2026-10").await)?;
        forbidden(
            &format!("{who} lists mz's"),
            other.list(&Default::default()).await,
        )?;
        forbidden(
            &format!("{who} lists every namespace's"),
            Api::<UsageStatement>::all(client.clone())
                .list(&Default::default())
                .await,
        )?;
        let lowered = serde_json::json!({"spec": {"totals": {"billed": "0.00"}}});
        forbidden(
            &format!("{who} patches its own"),
            own.patch(
                "mon-2026-10",
                &PatchParams::default(),
                &Patch::Merge(&lowered),
            )
            .await,
        )?;
        forbidden(
            &format!("{who} deletes its own"),
            own.delete("mon-2026-10", &DeleteParams::default()).await,
        )?;
        let mut forged = read.clone();
        forged.metadata = kube::api::ObjectMeta {
            name: Some("mon-2026-10-forged".into()),
            ..Default::default()
        };
        forbidden(
            &format!("{who} creates one"),
            own.create(&PostParams::default(), &forged).await,
        )?;
    }
    // `kubectl pbo usage` as mon's head: the statement, with no ledger credentials.
    let kubeconfig = dir.path().join("alice.kubeconfig");
    c.cp.write_kubeconfig_for("alice@mon.gov.kz", &[], &kubeconfig)?;
    let usage = |agency: &str, namespace: &str| {
        std::process::Command::new(workspace_binary("kubectl-pbo")?)
            .args(["usage", "e-license", "--month", "2026-10", "-o", "json"])
            .args(["--agency", agency, "-n", namespace])
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("AKP_LEDGER_URL")
            .output()
            .context("running kubectl-pbo")
    };
    let out = usage("mon", "agency-mon")?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        v["rated"]["billed"] == "320.00" && v["closed"] == false,
        "kubectl pbo usage from the statement: {v}"
    );
    let out = usage("mz", "agency-mz")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success() && stderr.contains("forbidden"),
        "mz's statement through kubectl pbo: {stderr}"
    );

    let unchanged = Api::<UsageStatement>::namespaced(admin.clone(), "agency-mon")
        .get("mon-2026-10")
        .await?;
    ensure!(
        unchanged.spec == mon.spec,
        "nothing the agency tried changed it"
    );

    // October closes: its statement becomes final, through the month's end.
    let november: jiff::Timestamp = "2026-11-03T12:00:00Z".parse()?;
    let end = ledger
        .calendar()
        .month_end(akp_billing::Month::parse("2026-10")?);
    ledger.commit("cpu", end.plus(24), &[], &[]).await?;
    let closed = ledger
        .close_due_months(november.as_second(), 86_400, end.plus(24))
        .await?;
    ensure!(closed.len() == 1, "October closed: {closed:?}");
    update(&admin, &ledger, &cost, &config, november).await?;
    let last = Api::<UsageStatement>::namespaced(admin.clone(), "agency-mon")
        .get("mon-2026-10")
        .await?;
    ensure!(last.spec.final_, "October's statement is final");
    ensure!(
        last.spec.totals.billed == "320.00",
        "{:?}",
        last.spec.totals
    );
    ensure!(
        last.spec.through == "2026-10-31T19:00:00Z",
        "through the month's end, got {}",
        last.spec.through
    );
    ledger.close().await;
    operator.stop().await;
    Ok(())
}
