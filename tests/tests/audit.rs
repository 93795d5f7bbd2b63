//! R-MON-02, the audit trail, against real servers: the store on PostgreSQL (chain,
//! concurrent appenders, append-only triggers, retention, queries); admission decisions
//! of the webhook called by a real kube-apiserver and stage changes observed by the
//! operator, stored in PostgreSQL, including while PostgreSQL is down; and the billing
//! daemon's month close and report actions. The SQLite and CLI side (SIGKILL during
//! retention, tampering) is in audit/tests/retention.rs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use akp_audit::record::{
    ADMISSION_DECISION, BILLING_MONTH_CLOSED, BILLING_REPORT_DELIVERY, BILLING_REPORT_GENERATED,
    BILLING_REPORT_SIGNED, STAGE_APPLIED, STAGE_CHANGE,
};
use akp_audit::{
    Archive, Decision, Entry, Filter, Object, Policy, Record, Sink, SinkOptions, Store,
};
use akp_billing::report::controller::{Context as ReportsContext, ReportsConfig};
use akp_billing::report::delivery::DeliveryConfig;
use akp_billing::{Calendar, Catalog, Collector, Ledger, Metrics as BillingMetrics};
use akp_crds::PlatformSoftwareProduct;
use akp_operator::clock::ManualClock;
use akp_operator::webhook::{
    CertStore, Clock, ClusterLookup, Validators, WebhookEndpoint, WebhookServer,
    apply_configuration, router, validating_webhook_configuration,
};
use akp_test_support::fixtures::{self, example};
use akp_test_support::operator::{cluster, eventually};
use akp_test_support::usage::{Twists, env_series, environments, test_config};
use akp_test_support::{
    ControlPlane, OpenMetrics, Options, TestNamespace, TestPostgres, TestPrometheus, apply,
    apply_examples,
};
use anyhow::{Context as _, Result, anyhow, ensure};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

const TESTER: &str = "akp-tests";
const ALICE: &str = "alice@mon.gov.kz";
/// The field manager of Alice's applies.
const KUBECTL: &str = "kubectl-alice";

fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn records(store: &Store, filter: Filter) -> Result<Vec<Entry>> {
    Ok(akp_audit::query(store, None, &filter).await?)
}

/// Waits until a query returns a record that `want` accepts.
async fn wait_record(
    store: &Store,
    what: &str,
    filter: Filter,
    want: impl Fn(&Entry) -> bool,
) -> Result<Entry> {
    eventually(what, Duration::from_secs(60), || {
        let (store, filter) = (store.clone(), filter.clone());
        let want = &want;
        async move { Ok(records(&store, filter).await?.into_iter().find(|e| want(e))) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_mon_02_postgres_store_chains_concurrent_appends_refuses_changes_and_retains()
-> Result<()> {
    let pg = TestPostgres::start()?;
    let url = pg.create_database("audit")?;
    let store = Store::open(&url).await?;
    // Two "processes" append at once: the head row serializes them into one chain.
    let other = Store::open(&url).await?;
    let at = |month: &str, i: usize| {
        Record::new(
            &format!("user-{}", i % 3),
            if i.is_multiple_of(2) {
                ADMISSION_DECISION
            } else {
                STAGE_CHANGE
            },
            Object::namespaced("Pod", "agency-mon", &format!("p{i}")),
            if i.is_multiple_of(5) {
                Decision::Denied
            } else {
                Decision::Allowed
            },
        )
        .at(t(&format!("{month}-15T00:00:{:02}Z", i % 60)))
    };
    // June..August, one appender; then two at once in November.
    for (m, month) in ["2026-06", "2026-07", "2026-08"].iter().enumerate() {
        for i in 0..10 {
            store.append(&[at(month, m * 10 + i)]).await?;
        }
    }
    let mut tasks = Vec::new();
    for (n, s) in [store.clone(), other.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..45 {
                s.append(&[at("2026-11", 100 + n * 100 + i)]).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let all = store.page(0, 1000).await?;
    ensure!(all.len() == 120, "{} records", all.len());
    ensure!(all.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1));
    let report = akp_audit::verify(&store, None).await?;
    ensure!(report.ok(), "{:?}", report.problems);

    // Append-only.
    let update = akp_audit::sqlx::query("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3")
        .execute(store.pool())
        .await;
    ensure!(
        update
            .as_ref()
            .is_err_and(|e| e.to_string().contains("append-only")),
        "{update:?}"
    );
    let delete = akp_audit::sqlx::query("DELETE FROM audit_records WHERE seq = 3")
        .execute(store.pool())
        .await;
    ensure!(
        delete
            .as_ref()
            .is_err_and(|e| e.to_string().contains("retention")),
        "{delete:?}"
    );

    // Queries.
    let denied = records(
        &store,
        Filter {
            decision: Some(Decision::Denied),
            actor: Some("user-0".into()),
            since: Some(t("2026-07-01T00:00:00Z")),
            until: Some(t("2026-08-01T00:00:00Z")),
            ..Filter::default()
        },
    )
    .await?;
    ensure!(!denied.is_empty());
    ensure!(denied.iter().all(|e| e.record.decision == Decision::Denied
        && e.record.actor == "user-0"
        && e.record.time.to_string().starts_with("2026-07")));

    // Retention at 2026-11-22: June..August archived, interrupted once, then finished.
    let dir = tempfile::tempdir()?;
    let archive = Archive::new(dir.path());
    let now = t("2026-11-22T06:00:00Z");
    let plan = akp_audit::archive::plan(&store, &Policy::default(), now).await?;
    akp_audit::archive::write_archive(&store, &archive, &plan, false).await?;
    let report = akp_audit::retain(&store, &archive, &Policy::default(), now).await?;
    ensure!(report.deleted == 30, "{report:?}");
    ensure!(
        report
            .archived
            .iter()
            .map(|m| m.month.as_str())
            .collect::<Vec<_>>()
            == ["2026-06", "2026-07", "2026-08"],
        "{report:?}"
    );
    let online = store.page(0, 1000).await?;
    ensure!(
        online.first().is_some_and(|e| e.seq == 31),
        "the online chain continues at 31"
    );
    let everything = akp_audit::query(&store, Some(&archive), &Filter::default()).await?;
    ensure!(
        everything
            .iter()
            .filter(|e| e.record.action == ADMISSION_DECISION || e.record.action == STAGE_CHANGE)
            .count()
            == 120
    );
    let report = akp_audit::verify(&store, Some(&archive)).await?;
    ensure!(report.ok(), "{:?}", report.problems);
    Ok(())
}

fn product(name: &str, namespace: &str, stage: &str) -> Value {
    let mut doc = fixtures::product(name, stage, &["preliminaryTestProtocol"]);
    doc["metadata"]["namespace"] = namespace.into();
    doc["spec"]["displayName"] = "Audited".into();
    // Only the environments before trial operation.
    if let Some(envs) = doc["spec"]["environments"].as_object_mut() {
        envs.retain(|env, _| env == "development" || env == "testing");
    }
    doc
}

/// Creates `doc` as `client`'s user; the API server's answer (allowed or the refusal).
async fn create(client: &Client, doc: &Value, dry_run: bool) -> Result<Result<(), String>> {
    let p: PlatformSoftwareProduct = serde_json::from_value(doc.clone())?;
    let ns = p.metadata.namespace.clone().unwrap_or_default();
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(client.clone(), &ns);
    let params = PostParams {
        dry_run,
        ..PostParams::default()
    };
    Ok(api
        .create(&params, &p)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string()))
}

/// Serves the validating webhook in this process with `sink`, registered with the API
/// server of `cp`.
async fn webhook(
    cp: &ControlPlane,
    admin: &Client,
    sink: Sink,
) -> Result<tokio::task::JoinHandle<()>> {
    let (cert, key) = cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
    let certs = Arc::new(CertStore::from_pem(&cert, &key)?);
    let validators = Validators::with_lookup(
        Arc::new(ClusterLookup::new(admin.clone())),
        Clock::fixed("2026-10-01".parse()?),
    )
    .with_audit(sink);
    // Mutual TLS: a review over an unauthenticated connection is not recorded.
    let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await?
        .with_client_ca(cp.webhook_client_ca()?);
    let port = server.local_addr()?.port();
    let handle = tokio::spawn(async move {
        let _ = server
            .run(certs, router(validators), std::future::pending::<()>())
            .await;
    });
    let endpoint = WebhookEndpoint::Url(format!("https://127.0.0.1:{port}"));
    apply_configuration(
        admin,
        &validating_webhook_configuration(&endpoint, Some(cp.ca_cert_pem())),
    )
    .await?;
    Ok(handle)
}

/// Waits until the API server calls the webhook: a dry-run product `name` in
/// `namespace`, which no Agency owns, is refused (R-LC-08); returns the refusal.
async fn enforced(client: &Client, name: &str, namespace: &str) -> Result<String> {
    eventually("the webhook enforced", Duration::from_secs(30), || {
        let client = client.clone();
        let doc = product(name, namespace, "development");
        async move {
            Ok(create(&client, &doc, true)
                .await?
                .err()
                .filter(|m| m.contains("(R-LC-08)")))
        }
    })
    .await
}

/// Admission decisions (from a real API server) and stage changes (observed by the
/// operator) land in PostgreSQL with time, actor, object and decision; while
/// PostgreSQL is down admission answers as fast as before and the records arrive once
/// it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_mon_02_admission_decisions_and_stage_changes_are_stored_even_across_a_database_outage()
-> Result<()> {
    let mut pg = TestPostgres::start()?;
    let url = pg.create_database("audit")?;
    let store = Store::open(&url).await?;
    let sink = Sink::start(
        &url,
        SinkOptions {
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            ..SinkOptions::default()
        },
    );
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let alice = c.cp.client_for(ALICE, &["system:masters"]).await?;
    let operator = c
        .operator_audited(
            &ManualClock::new(jiff::Timestamp::now()),
            Some(sink.clone()),
        )
        .await?;
    let server = webhook(&c.cp, &admin, sink.clone()).await?;
    apply(&admin, &example("agencies.yaml", "mon")?, None, TESTER).await?;
    let unowned = TestNamespace::new(&admin, "audit-unowned").await?;

    // A refusal: a product in a namespace no Agency owns (R-LC-08). Wait for the API
    // server to call the webhook.
    let refused = enforced(&alice, "stray", unowned.name()).await?;
    let denied = wait_record(
        &store,
        "the refusal stored",
        Filter {
            action: Some(ADMISSION_DECISION.into()),
            decision: Some(Decision::Denied),
            ..Filter::default()
        },
        |e| e.record.object.name == "stray",
    )
    .await?;
    ensure!(denied.record.actor == ALICE, "{denied:?}");
    ensure!(
        denied.record.object.path() == format!("PlatformSoftwareProduct/{}/stray", unowned.name())
            && denied.record.object.uid.is_some(),
        "{denied:?}"
    );
    ensure!(
        denied.record.reason.contains("(R-LC-08)"),
        "{denied:?} vs {refused}"
    );
    ensure!(denied.record.details["dryRun"] == true, "{denied:?}");
    let age = jiff::Timestamp::now().duration_since(denied.record.time);
    ensure!(
        age.as_secs() < 120,
        "recorded at the time of the decision: {age:?}"
    );

    // An allowed create, then a stage change by a field manager.
    eventually("agency-mon exists", Duration::from_secs(30), || {
        let admin = admin.clone();
        async move {
            let ns = Api::<k8s_openapi::api::core::v1::Namespace>::all(admin)
                .get_opt("agency-mon")
                .await?;
            Ok(ns.map(|_| ()))
        }
    })
    .await?;
    let walker = product("walker", "agency-mon", "development");
    eventually("walker created", Duration::from_secs(30), || {
        let (alice, walker) = (alice.clone(), walker.clone());
        async move { Ok(apply(&alice, &walker, None, KUBECTL).await.ok().map(|_| ())) }
    })
    .await?;
    let allowed = wait_record(
        &store,
        "the allowed create stored",
        Filter {
            actor: Some(ALICE.into()),
            object: Some("PlatformSoftwareProduct/agency-mon/walker".into()),
            decision: Some(Decision::Allowed),
            ..Filter::default()
        },
        |e| e.record.details["operation"] == "Create" && e.record.details["dryRun"] == false,
    )
    .await?;
    ensure!(allowed.record.reason.is_empty(), "{allowed:?}");
    let first = wait_record(
        &store,
        "the first stage observed",
        Filter {
            action: Some(STAGE_CHANGE.into()),
            object: Some("PlatformSoftwareProduct/agency-mon/walker".into()),
            ..Filter::default()
        },
        |e| e.record.details["to"] == "development",
    )
    .await?;
    ensure!(first.record.details["from"] == "none", "{first:?}");
    // The person from the AdmissionReview's userInfo, not the field manager she chose.
    ensure!(first.record.actor == ALICE, "{first:?}");
    ensure!(first.record.decision == Decision::Allowed, "{first:?}");
    let applied = wait_record(
        &store,
        "the first stage applied by the operator",
        Filter {
            action: Some(STAGE_APPLIED.into()),
            object: Some("PlatformSoftwareProduct/agency-mon/walker".into()),
            ..Filter::default()
        },
        |e| e.record.details["to"] == "development",
    )
    .await?;
    ensure!(applied.record.actor == "akp-operator", "{applied:?}");
    ensure!(applied.record.decision == Decision::Done, "{applied:?}");
    ensure!(
        applied.record.details["fieldManager"] == KUBECTL,
        "the client-chosen manager is kept as a detail: {applied:?}"
    );

    let mut next = product("walker", "agency-mon", "preliminaryTesting");
    next["metadata"]["namespace"] = json!("agency-mon");
    apply(&alice, &next, None, KUBECTL).await?;
    let change = wait_record(
        &store,
        "the stage change stored",
        Filter {
            action: Some(STAGE_CHANGE.into()),
            object: Some("PlatformSoftwareProduct/agency-mon/walker".into()),
            ..Filter::default()
        },
        |e| e.record.details["to"] == "preliminaryTesting",
    )
    .await?;
    ensure!(
        change.record.actor == ALICE,
        "the requester of the admission that changed spec.stage: {change:?}"
    );
    ensure!(
        change.record.details["groups"] == json!(["system:masters", "system:authenticated"]),
        "{change:?}"
    );
    ensure!(change.record.details["from"] == "development", "{change:?}");
    ensure!(
        change
            .record
            .reason
            .contains("development → preliminaryTesting"),
        "{change:?}"
    );
    ensure!(change.record.object.uid.is_some(), "{change:?}");

    // PostgreSQL goes down: admission answers without waiting on it.
    ensure!(sink.flush(Duration::from_secs(30)).await);
    let written = sink.written();
    pg.stop();
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let started = Instant::now();
        let answer = create(
            &alice,
            &product(&format!("down-{i}"), unowned.name(), "development"),
            true,
        )
        .await?;
        slowest = slowest.max(started.elapsed());
        ensure!(
            answer.is_err_and(|m| m.contains("(R-LC-08)")),
            "refused as before"
        );
    }
    ensure!(
        slowest < Duration::from_secs(3),
        "admission waited on the database: {slowest:?}"
    );
    ensure!(sink.refused() == 0, "nothing refused within the bound");
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        sink.written() == written,
        "nothing can be stored while it is down"
    );
    pg.restart()?;
    ensure!(
        sink.flush(Duration::from_secs(90)).await,
        "records stored after the outage"
    );
    let during = records(
        &store,
        Filter {
            object: Some(format!("PlatformSoftwareProduct/{}", unowned.name())),
            decision: Some(Decision::Denied),
            ..Filter::default()
        },
    )
    .await?;
    for i in 0..5 {
        ensure!(
            during
                .iter()
                .any(|e| e.record.object.name == format!("down-{i}")),
            "the decision on down-{i} was kept and stored"
        );
    }
    let report = akp_audit::verify(&store, None).await?;
    ensure!(report.ok(), "{:?}", report.problems);

    operator.stop().await;
    server.abort();
    Ok(())
}

/// R-MON-02: past the sink's bound no decision is lost: while the audit database is
/// unavailable and the bound is full, the webhook refuses the requests it cannot
/// record (fail closed, naming R-MON-02), and once the database is back every decision
/// it did make is stored. Made by a real user through the real API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_mon_02_admission_past_the_audit_bound_fails_closed_and_loses_no_decision() -> Result<()>
{
    let tmp = tempfile::tempdir()?;
    // The database's directory does not exist yet: the store cannot be opened.
    let db_dir = tmp.path().join("later");
    let url = format!("sqlite://{}", db_dir.join("audit.db").display());
    let sink = Sink::start(
        &url,
        SinkOptions {
            bound: 3,
            batch: 1,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            wait: Duration::from_millis(300),
        },
    );
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let alice = c.cp.client_for(ALICE, &["system:masters"]).await?;
    let server = webhook(&c.cp, &admin, sink.clone()).await?;
    let unowned = TestNamespace::new(&admin, "audit-bound").await?;
    enforced(&alice, "probe", unowned.name()).await?;

    let mut judged = Vec::new();
    let mut closed = Vec::new();
    for i in 0..12 {
        let name = format!("bound-{i}");
        match create(
            &alice,
            &product(&name, unowned.name(), "development"),
            false,
        )
        .await?
        {
            Err(m) if m.contains("(R-LC-08)") => judged.push(name),
            Err(m) if m.contains("(R-MON-02)") && m.contains("cannot record") => closed.push(name),
            other => anyhow::bail!("{name}: neither judged nor closed: {other:?}"),
        }
    }
    ensure!(
        !closed.is_empty(),
        "past the bound the webhook fails closed"
    );
    ensure!(
        sink.refused() >= closed.len() as u64,
        "each closed request counted: {} < {}",
        sink.refused(),
        closed.len()
    );

    std::fs::create_dir_all(&db_dir)?;
    ensure!(
        sink.flush(Duration::from_secs(60)).await,
        "stored once the database is there"
    );
    let store = Store::open(&url).await?;
    let stored = records(
        &store,
        Filter {
            action: Some(ADMISSION_DECISION.into()),
            ..Filter::default()
        },
    )
    .await?;
    for name in &judged {
        ensure!(
            stored.iter().any(|e| &e.record.object.name == name),
            "the decision on {name} was made and is stored"
        );
    }
    for name in &closed {
        let kept: Vec<_> = stored
            .iter()
            .filter(|e| &e.record.object.name == name)
            .map(|e| (&e.record.decision, &e.record.reason, &e.record.details))
            .collect();
        ensure!(
            kept.is_empty(),
            "{name} was refused unrecorded, not decided: {kept:?}"
        );
    }
    // The trail takes decisions again.
    ensure!(
        create(
            &alice,
            &product("after", unowned.name(), "development"),
            false
        )
        .await?
        .is_err_and(|m| m.contains("(R-LC-08)")),
        "judged again once the database is back"
    );
    server.abort();
    Ok(())
}

/// The billing daemon's actions: the month closed in the ledger, the report generated,
/// signed and its delivery (failing here: the endpoint refuses connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_mon_02_billing_month_close_and_report_actions_are_stored() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let url = format!("sqlite://{}", tmp.path().join("audit.db").display());
    let sink = Sink::start(&url, SinkOptions::default());

    // Two days of one environment around the end of September (UTC+5), collected after
    // the grace period: September closes.
    let start = t("2026-09-29T00:00:00Z").as_second();
    let env = environments(1).remove(0);
    let mut data = OpenMetrics::new();
    env_series(&mut data, &env, start, 0..(2 * 96), &Twists::default());
    let prom = TestPrometheus::start(&data)?;
    let ledger = Ledger::open(
        &format!("sqlite://{}", tmp.path().join("ledger.db").display()),
        Calendar::kazakhstan(),
    )
    .await?;
    let collector = Collector::new(
        test_config(&prom.url(), start),
        ledger.clone(),
        Catalog::default(),
        BillingMetrics::new()?,
    )?
    .with_audit(sink.clone());
    let now = t("2026-10-05T00:00:00Z").as_second();
    let report = collector.collect(now).await?;
    ensure!(
        report
            .months_closed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            == ["2026-09"],
        "{report:?}"
    );

    // The report controller makes September's report and tries to deliver it.
    let cp = ControlPlane::start(Options::default().with_crds())?;
    let client = cp.admin_client().await?;
    apply_examples(&client, &["tariffs.yaml", "agencies.yaml"], TESTER).await?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = closed.local_addr()?.port();
    drop(closed);
    let config = ReportsConfig {
        dir: tmp.path().join("reports"),
        delivery: Some(DeliveryConfig {
            endpoint: format!("https://127.0.0.1:{port}/reports"),
            timeout: Duration::from_secs(2),
            max_attempts: 1,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
            ..DeliveryConfig::default()
        }),
        pending_requeue: Duration::from_millis(500),
        create_interval: Duration::from_millis(300),
        instance: Some("test".into()),
        document: akp_test_support::reports::report_document()?,
        ..ReportsConfig::default()
    };
    let key = akp_billing::report::sign::signing_key_from_bytes(&[9; 32])?;
    let ctx = Arc::new(
        ReportsContext::new(client.clone(), ledger.clone(), key, config)?.with_audit(sink.clone()),
    );
    let running = tokio::spawn(akp_billing::report::controller::run(ctx));

    let store = Store::open(&url).await?;
    let billing = |action: &str| Filter {
        actor: Some("akp-billing".into()),
        action: Some(action.into()),
        ..Filter::default()
    };
    let closed = wait_record(&store, "month closed", billing(BILLING_MONTH_CLOSED), |e| {
        e.record.object == Object::cluster("LedgerMonth", "2026-09")
    })
    .await?;
    ensure!(closed.record.decision == Decision::Done, "{closed:?}");
    let generated = wait_record(
        &store,
        "report generated",
        billing(BILLING_REPORT_GENERATED),
        |e| e.record.object.kind == "BillingReport" && e.record.object.name == "2026-09",
    )
    .await?;
    ensure!(
        generated.record.details["period"] == "2026-09",
        "{generated:?}"
    );
    let signed = wait_record(
        &store,
        "report signed",
        billing(BILLING_REPORT_SIGNED),
        |e| e.record.object.name == "2026-09",
    )
    .await?;
    let sha = signed.record.details["manifestSha256"]
        .as_str()
        .ok_or_else(|| anyhow!("no manifest hash: {signed:?}"))?;
    let manifest = std::fs::read(tmp.path().join("reports/2026-09/manifest.json"))?;
    ensure!(
        sha == hex_sha256(&manifest),
        "the record names the signed manifest"
    );
    let failed = wait_record(
        &store,
        "delivery failed",
        billing(BILLING_REPORT_DELIVERY),
        |e| e.record.object.name == "2026-09",
    )
    .await?;
    ensure!(failed.record.decision == Decision::Failed, "{failed:?}");
    ensure!(
        failed.record.details["attempts"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{failed:?}"
    );
    // Generated and signed once, however often the controller looks again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(sink.flush(Duration::from_secs(10)).await);
    let signed_all = records(&store, billing(BILLING_REPORT_SIGNED)).await?;
    ensure!(signed_all.len() == 1, "{signed_all:?}");
    running.abort();
    let report = akp_audit::verify(&store, None).await?;
    ensure!(report.ok(), "{:?}", report.problems);
    Ok(())
}

fn hex_sha256(bytes: &[u8]) -> String {
    akp_billing::report::sign::sha256_hex(bytes)
}

/// R-MON-03: a daemon reads its clock's offset from the real API server's `Date`,
/// exports it and flags it past the bound: in sync here (the same machine), and 30 s
/// off when its clock is shifted by 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_mon_03_the_clock_offset_from_the_api_server_is_read_exported_and_flagged() -> Result<()>
{
    let c = cluster()?;
    let client = c.cp.admin_client().await?;
    let gauge = |registry: &prometheus::Registry, name: &str| -> Result<f64> {
        registry
            .gather()
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.get_metric()[0].get_gauge().get_value())
            .with_context(|| format!("{name} not exported"))
    };
    let bound = Duration::from_secs(1);

    let registry = prometheus::Registry::new_custom(Some("akp_operator".into()), None)?;
    let watch = akp_audit::ClockWatch::new(client.clone(), bound).register(&registry)?;
    let r = watch.read().await?;
    ensure!(r.offset.abs() <= r.uncertainty, "same clock: {r:?}");
    ensure!(!watch.out_of_sync(&r), "{r:?}");
    ensure!(gauge(&registry, "akp_operator_clock_out_of_sync")? == 0.0);
    ensure!(
        (gauge(&registry, "akp_operator_clock_offset_seconds")? - r.offset.as_secs_f64()).abs()
            < 1e-9
    );

    let registry = prometheus::Registry::new_custom(Some("akp_billing".into()), None)?;
    let ahead = jiff::SignedDuration::from_secs(30);
    let watch = akp_audit::ClockWatch::new(client, bound)
        .with_clock(move || jiff::Timestamp::now() + ahead)
        .register(&registry)?;
    let r = watch.read().await?;
    ensure!(
        (r.offset - ahead).abs() <= r.uncertainty,
        "30 s ahead: {r:?}"
    );
    ensure!(watch.out_of_sync(&r), "{r:?}");
    ensure!(gauge(&registry, "akp_billing_clock_out_of_sync")? == 1.0);
    let offset = gauge(&registry, "akp_billing_clock_offset_seconds")?;
    ensure!((29.0..=31.0).contains(&offset), "{offset}");
    ensure!(gauge(&registry, "akp_billing_clock_offset_uncertainty_seconds")? >= 0.5);
    Ok(())
}
