//! The operator against a real control plane: a product walks its stages and gets the
//! right environments; agencies are kept apart; the legal clocks; a resync writes
//! nothing; a restart converges; of two replicas only the leader writes.
//!
//! Each test has its own control plane (a few seconds to start), because an operator
//! acts on the whole cluster and two tests' operators must not meet.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_operator::clock::ManualClock;
use akp_test_support::apply;
use akp_test_support::fixtures::{ALL_ACTS, GATE2, example, is_ready, product};
use akp_test_support::operator::{
    Cluster, OPERATOR_USER, Operator, cluster, eventually, wait_for_event,
};
use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

const TESTER: &str = "akp-tests";

async fn create_agency(client: &Client, name: &str) -> Result<Agency> {
    let doc = example("agencies.yaml", name)?;
    apply(client, &doc, None, TESTER).await?;
    let api = Api::<Agency>::all(client.clone());
    eventually(
        &format!("agency {name} Ready"),
        Duration::from_secs(30),
        || async {
            let a = api.get(name).await?;
            let ready = a.status.as_ref().is_some_and(|s| is_ready(&s.conditions));
            Ok(ready.then_some(a))
        },
    )
    .await
}

/// A cluster of its own, its admin client and an operator running on `clock`, with
/// agency mon Ready.
async fn start_cluster(clock: &ManualClock) -> Result<(Cluster, Client, Operator)> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let operator = c.operator(clock).await?;
    create_agency(&admin, "mon").await?;
    Ok((c, admin, operator))
}

/// The environment namespaces of a product, terminating or not.
async fn environment_namespaces(client: &Client, product: &str) -> Result<Vec<Namespace>> {
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().labels(&format!("akp.egov.kz/product={product}")))
        .await?;
    Ok(list.items)
}

/// Environment namespaces of a product that exist and are not terminating.
async fn live_environments(client: &Client, product: &str) -> Result<BTreeSet<String>> {
    Ok(environment_namespaces(client, product)
        .await?
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .map(|n| n.name_any())
        .collect())
}

/// Environment namespaces of a product at all, terminating or not.
async fn any_environments(client: &Client, product: &str) -> Result<usize> {
    Ok(environment_namespaces(client, product).await?.len())
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Waits until product `name` is Ready at `stage`, observed at its generation, with
/// exactly the environment namespaces `mon-<name>-<env>` of `envs`.
async fn wait_for_stage(
    client: &Client,
    name: &str,
    stage: &str,
    envs: &[&str],
) -> Result<PlatformSoftwareProduct> {
    let api = Api::<PlatformSoftwareProduct>::namespaced(client.clone(), "agency-mon");
    let want: BTreeSet<String> = envs.iter().map(|e| format!("mon-{name}-{e}")).collect();
    eventually(
        &format!("{name} ready at {stage} with {want:?}"),
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await?;
            let s = p.status.clone().unwrap_or_default();
            let ready = is_ready(&s.conditions);
            let at_stage = serde_json::to_value(s.stage)? == json!(stage);
            let live = live_environments(client, name).await?;
            Ok((ready
                && at_stage
                && live == want
                && s.observed_generation == p.metadata.generation)
                .then_some(p))
        },
    )
    .await
}

/// Sets product `name` to `stage` with `acts` and waits for it as [`wait_for_stage`].
async fn walk_to(
    client: &Client,
    name: &str,
    stage: &str,
    acts: &[&str],
    envs: &[&str],
) -> Result<PlatformSoftwareProduct> {
    set_stage(client, name, stage, acts).await?;
    wait_for_stage(client, name, stage, envs).await
}

/// What an environment namespace of the fixture product must hold: the quota it
/// requests (`fixtures::product`) and the role its developers get.
struct Environment {
    env: &'static str,
    cpu: &'static str,
    memory: &'static str,
    developer_role: &'static str,
}

/// The environments of a product before trial operation, in trial operation and in
/// production (R-ENV-01).
const DEV_TEST: &[&str] = &["development", "testing"];
const WITH_TRIAL: &[&str] = &["development", "testing", "trial"];
const WITH_PRODUCTION: &[&str] = &["development", "testing", "production"];

const DEVELOPER: &str = "akp:environment-developer";
const VIEWER: &str = "akp:environment-viewer";
const DEVELOPMENT: Environment = Environment {
    env: "development",
    cpu: "2",
    memory: "4Gi",
    developer_role: DEVELOPER,
};
const TESTING: Environment = Environment {
    env: "testing",
    cpu: "1",
    memory: "2Gi",
    developer_role: DEVELOPER,
};
const TRIAL: Environment = Environment {
    env: "trial",
    cpu: "4",
    memory: "8Gi",
    developer_role: VIEWER,
};
const PRODUCTION: Environment = Environment {
    env: "production",
    cpu: "8",
    memory: "16Gi",
    developer_role: VIEWER,
};

/// Checks the namespace `mon-<product>-<env>`: labels, quota, limits, bindings and the
/// default deny.
async fn check_environment(client: &Client, product: &str, want: &Environment) -> Result<()> {
    let Environment {
        env,
        cpu,
        memory,
        developer_role,
    } = want;
    let ns = &format!("mon-{product}-{env}");
    let namespace = Api::<Namespace>::all(client.clone()).get(ns).await?;
    let labels = namespace.labels();
    assert_eq!(labels["akp.egov.kz/agency"], "mon", "{ns}");
    assert_eq!(labels["akp.egov.kz/environment"], *env, "{ns}");
    assert_eq!(labels["akp.egov.kz/contour"], "internal", "{ns}");
    assert_eq!(labels["akp.egov.kz/class"], "2", "{ns}");
    let quota = Api::<ResourceQuota>::namespaced(client.clone(), ns)
        .get("akp-requested")
        .await?;
    let hard = quota.spec.and_then(|s| s.hard).unwrap_or_default();
    assert_eq!(hard["requests.cpu"].0, *cpu, "{ns} quota cpu");
    assert_eq!(hard["limits.memory"].0, *memory, "{ns} quota memory");
    Api::<LimitRange>::namespaced(client.clone(), ns)
        .get("akp-defaults")
        .await?;
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    let names: BTreeSet<String> = bindings.items.iter().map(|b| b.name_any()).collect();
    assert_eq!(
        names,
        set(&[
            "akp-agency",
            "akp-digitalization-head",
            "akp-project-head",
            "akp-administrator",
            "akp-security-officer",
            "akp-developer"
        ]),
        "{ns}"
    );
    let dev = bindings
        .items
        .iter()
        .find(|b| b.name_any() == "akp-developer")
        .context("developer binding")?;
    assert_eq!(dev.role_ref.name, *developer_role, "{ns}");
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    assert!(
        policies
            .items
            .iter()
            .any(|p| p.name_any() == "akp-default-deny"),
        "{ns} has a default deny"
    );
    Ok(())
}

async fn set_stage(client: &Client, name: &str, stage: &str, acts: &[&str]) -> Result<()> {
    apply(client, &product(name, stage, acts), None, TESTER).await?;
    Ok(())
}

/// A replica `akp-operator-<identity>` (a cluster admin) that writes while it leads.
async fn replica(c: &Cluster, clock: &ManualClock, identity: &str) -> Result<Operator> {
    let user = format!("akp-operator-{identity}");
    let client = c.cp.client_for(&user, &["system:masters"]).await?;
    Ok(Operator::start_elected(client, clock, identity))
}

/// Fails unless `result` is the API server's 403 Forbidden.
fn assert_forbidden<T: Debug>(result: kube::Result<T>, what: &str) -> Result<()> {
    match result {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403, "{what}: {}", s.message);
            Ok(())
        }
        other => bail!("{what} must be forbidden: {other:?}"),
    }
}

/// R-ENV-01, R-LC-01, R-LC-07: a product walks development → preliminaryTesting →
/// trialOperation → production → decommissioned, and at each step has exactly the
/// environments of its stage, with their quota, limits, bindings and labels.
#[tokio::test]
async fn r_lc_01_a_product_walks_its_stages_with_the_right_environments() -> Result<()> {
    let (_c, admin, operator) = start_cluster(&ManualClock::new(jiff::Timestamp::now())).await?;

    walk_to(&admin, "walker", "development", &[], DEV_TEST).await?;
    check_environment(&admin, "walker", &DEVELOPMENT).await?;
    check_environment(&admin, "walker", &TESTING).await?;

    walk_to(&admin, "walker", "preliminaryTesting", &[], DEV_TEST).await?;

    let p = walk_to(&admin, "walker", "trialOperation", GATE2, WITH_TRIAL).await?;
    check_environment(&admin, "walker", &TRIAL).await?;
    assert!(
        p.status.as_ref().and_then(|s| s.trial.as_ref()).is_some(),
        "the trial clock runs"
    );

    let p = walk_to(&admin, "walker", "production", ALL_ACTS, WITH_PRODUCTION).await?;
    check_environment(&admin, "walker", &PRODUCTION).await?;
    let status = p.status.clone().unwrap_or_default();
    let production = status.production.context("production status")?;
    assert_eq!(
        production.warranty_until,
        akp_operator::rules::clocks::warranty_until(production.since.0),
        "R-LC-06"
    );
    assert_eq!(
        status.request_history.len(),
        4,
        "R-LC-05: one record per stage: {:?}",
        status.request_history
    );
    // The controller manager finishes the retired trial namespace's deletion.
    eventually(
        "the trial namespace gone",
        Duration::from_secs(60),
        || async {
            let left = Api::<Namespace>::all(admin.clone())
                .get_opt("mon-walker-trial")
                .await?;
            Ok(left.is_none().then_some(()))
        },
    )
    .await?;

    walk_to(&admin, "walker", "decommissioned", ALL_ACTS, &[]).await?;
    eventually(
        "every environment namespace gone",
        Duration::from_secs(60),
        || async { Ok((any_environments(&admin, "walker").await? == 0).then_some(())) },
    )
    .await?;
    // R-LC-07: the record stays.
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    assert!(api.get_opt("walker").await?.is_some());

    // Deletion goes through the finalizer.
    walk_to(&admin, "second", "development", &[], DEV_TEST).await?;
    api.delete("second", &Default::default()).await?;
    eventually(
        "the product and its environments gone",
        Duration::from_secs(60),
        || async {
            Ok((api.get_opt("second").await?.is_none()
                && any_environments(&admin, "second").await? == 0)
                .then_some(()))
        },
    )
    .await?;

    // Events only on transitions, one per transition (issue 18, P1), naming every
    // environment it provisioned or retired. A series counts each time it was written.
    let events = Api::<Event>::namespaced(admin.clone(), "agency-mon")
        .list(&ListParams::default())
        .await?;
    let mut normal: Vec<(String, String, i32)> = events
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("walker"))
        .filter(|e| e.type_.as_deref() == Some("Normal"))
        .map(|e| {
            (
                e.reason.clone().unwrap_or_default(),
                e.note.clone().unwrap_or_default(),
                e.series.as_ref().map_or(1, |s| s.count),
            )
        })
        .collect();
    normal.sort();
    let ns = |env: &str| format!("{env} (namespace mon-walker-{env})");
    let mut want: Vec<(String, String, i32)> = [
        (
            "EnvironmentsProvisioned",
            format!(
                "stage development: provisioned {}, {}",
                ns("development"),
                ns("testing")
            ),
        ),
        (
            "StageChanged",
            "stage development → preliminaryTesting".to_owned(),
        ),
        (
            "StageChanged",
            format!(
                "stage preliminaryTesting → trialOperation: provisioned {}",
                ns("trial")
            ),
        ),
        (
            "StageChanged",
            format!(
                "stage trialOperation → production: provisioned {}; retired {}",
                ns("production"),
                ns("trial")
            ),
        ),
        (
            "StageChanged",
            format!(
                "stage production → decommissioned: retired {}, {}, {}",
                ns("development"),
                ns("testing"),
                ns("production")
            ),
        ),
    ]
    .into_iter()
    .map(|(reason, note)| (reason.to_owned(), note, 1))
    .collect();
    want.sort();
    assert_eq!(normal, want, "one Normal event per transition");
    operator.stop().await;
    Ok(())
}

/// R-LC-08: an agency's users manage products in their own namespace only.
#[tokio::test]
async fn r_lc_08_agencies_are_kept_apart() -> Result<()> {
    let (c, admin, operator) = start_cluster(&ManualClock::new(jiff::Timestamp::now())).await?;
    create_agency(&admin, "mz").await?;
    let mon_user =
        c.cp.client_for("aigerim@mon.gov.kz", &["agency-mon"])
            .await?;
    let mut own = product("own", "development", &[]);
    own["metadata"]["namespace"] = json!("agency-mon");
    apply(&mon_user, &own, None, TESTER)
        .await
        .context("an agency user creates a product in its own namespace")?;
    Api::<PlatformSoftwareProduct>::namespaced(mon_user.clone(), "agency-mon")
        .list(&ListParams::default())
        .await?;
    let mut foreign = own.clone();
    foreign["metadata"]["namespace"] = json!("agency-mz");
    assert_forbidden(
        apply(&mon_user, &foreign, None, TESTER).await,
        "creating in another agency's namespace",
    )?;
    assert_forbidden(
        Api::<PlatformSoftwareProduct>::namespaced(mon_user.clone(), "agency-mz")
            .list(&ListParams::default())
            .await,
        "reading another agency's products",
    )?;
    // The agency reads its own environments, not another's.
    wait_for_stage(&admin, "own", "development", DEV_TEST).await?;
    Api::<ResourceQuota>::namespaced(mon_user.clone(), "mon-own-development")
        .list(&ListParams::default())
        .await?;
    let mz_user = c.cp.client_for("berik@dsm.gov.kz", &["agency-mz"]).await?;
    assert_forbidden(
        Api::<ResourceQuota>::namespaced(mz_user, "mon-own-development")
            .list(&ListParams::default())
            .await,
        "another agency reading the environment",
    )?;
    // The digitalization head administers the agency namespace.
    let head = c.cp.client_for("alice@mon.gov.kz", &[]).await?;
    Api::<RoleBinding>::namespaced(head, "agency-mon")
        .list(&ListParams::default())
        .await?;
    operator.stop().await;
    Ok(())
}

/// R-LC-03 with an injected clock: the trial becomes overdue one calendar month after
/// it started: condition, Warning event, metric.
#[tokio::test]
async fn r_lc_03_trial_overdue_with_an_injected_clock() -> Result<()> {
    let clock = ManualClock::new("2026-09-03T10:00:00+05:00".parse()?);
    let (_c, admin, operator) = start_cluster(&clock).await?;
    set_stage(&admin, "trial", "development", &[]).await?;
    set_stage(&admin, "trial", "preliminaryTesting", &[]).await?;
    set_stage(&admin, "trial", "trialOperation", GATE2).await?;
    let p = wait_for_stage(&admin, "trial", "trialOperation", WITH_TRIAL).await?;
    let trial = p
        .status
        .as_ref()
        .and_then(|s| s.trial.clone())
        .context("trial status")?;
    // R-LC-03: the clock runs from the transfer act (the fixture's, of 2026-09-01), not
    // from when the operator saw the stage.
    assert_eq!(
        trial.deadline.0,
        "2026-10-01T00:00:00+05:00".parse::<jiff::Timestamp>()?
    );
    assert_eq!(trial.act.as_deref(), Some("1 of 2026-09-01"));

    clock.set("2026-10-04T09:00:00+05:00".parse()?);
    // Any change wakes the reconcile; an annotation is the lightest.
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    api.patch(
        "trial",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": "1"}}})),
    )
    .await?;
    eventually(
        "TrialWithinLimit=False",
        Duration::from_secs(30),
        || async {
            let p = api.get("trial").await?;
            let overdue = p.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "TrialWithinLimit" && c.status == "False" && c.reason == "Overdue"
                })
            });
            Ok(overdue.then_some(()))
        },
    )
    .await?;
    wait_for_event(&admin, Some("agency-mon"), "TrialOverdue", true).await?;
    eventually("the overdue metric", Duration::from_secs(30), || async {
        Ok(operator
            .metrics
            .render()?
            .lines()
            .any(|l| l == "akp_operator_trials_overdue 1")
            .then_some(()))
    })
    .await?;
    // Nothing is deleted (R-LC-03).
    assert_eq!(live_environments(&admin, "trial").await?.len(), 3);
    operator.stop().await;
    Ok(())
}

/// A restart of the operator over 50 converged products writes nothing; killing it
/// mid-walk and starting again converges with no orphan and no duplicate.
#[tokio::test]
async fn a_resync_of_fifty_products_writes_nothing_and_a_killed_operator_converges() -> Result<()> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let clock = ManualClock::new(jiff::Timestamp::now());
    let operator_client = c.cp.client_for(OPERATOR_USER, &["system:masters"]).await?;
    let operator = Operator::start(operator_client.clone(), &clock);
    create_agency(&admin, "mon").await?;
    for i in 0..50 {
        set_stage(&admin, &format!("p{i:02}"), "development", &[]).await?;
    }
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    eventually("50 products Ready", Duration::from_secs(180), || async {
        let list = api.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().is_some_and(|s| is_ready(&s.conditions)))
            .count();
        Ok((ready == 50).then_some(()))
    })
    .await?;
    operator.stop().await;

    let before = c.writes_by(OPERATOR_USER)?.len();
    let operator = Operator::start(operator_client.clone(), &clock);
    eventually(
        "every product reconciled after the restart",
        Duration::from_secs(120),
        || async { Ok((operator.product_reconciles() >= 50).then_some(())) },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = c.writes_by(OPERATOR_USER)?;
    assert_eq!(
        writes.len(),
        before,
        "a no-op resync wrote: {:?}",
        &writes[before..]
    );
    operator.stop().await;

    // Kill mid-walk: ten products move to preliminary testing and then trial; the
    // operator dies while applying, a new one finishes the job.
    let operator = Operator::start(operator_client.clone(), &clock);
    for i in 0..10 {
        set_stage(&admin, &format!("p{i:02}"), "preliminaryTesting", &[]).await?;
        set_stage(&admin, &format!("p{i:02}"), "trialOperation", GATE2).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    operator.kill();
    let operator = Operator::start(operator_client, &clock);
    for i in 0..10 {
        wait_for_stage(&admin, &format!("p{i:02}"), "trialOperation", WITH_TRIAL).await?;
    }
    // No orphan: every environment namespace belongs to an existing product's stage.
    let all = Api::<Namespace>::all(admin.clone())
        .list(&ListParams::default().labels("akp.egov.kz/environment"))
        .await?;
    assert_eq!(
        all.items.len(),
        50 * 2 + 10,
        "environments: development and testing for 50, trial for 10"
    );
    // No duplicate: each environment's objects exist once, under their fixed names.
    let quotas = Api::<ResourceQuota>::all(admin.clone())
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=akp-operator"))
        .await?;
    assert_eq!(quotas.items.len(), 110);
    operator.stop().await;
    Ok(())
}

/// Of two replicas only the leader writes; when it dies, the other takes over.
#[tokio::test]
async fn only_the_leader_writes() -> Result<()> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let clock = ManualClock::new(jiff::Timestamp::now());
    let a = replica(&c, &clock, "a").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = replica(&c, &clock, "b").await?;
    create_agency(&admin, "mon").await?;
    walk_to(&admin, "led", "development", &[], DEV_TEST).await?;
    let (wa, wb) = (
        c.writes_by("akp-operator-a")?,
        c.writes_by("akp-operator-b")?,
    );
    assert!(!wa.is_empty(), "the first replica leads and writes");
    assert!(wb.is_empty(), "the follower wrote: {wb:?}");

    // The leader dies without releasing; the follower takes over after the lease.
    a.kill();
    walk_to(&admin, "led", "preliminaryTesting", &[], DEV_TEST).await?;
    walk_to(&admin, "later", "development", &[], DEV_TEST).await?;
    assert!(
        !c.writes_by("akp-operator-b")?.is_empty(),
        "the new leader writes"
    );
    b.stop().await;
    Ok(())
}

/// The `SoftwareTrusted` condition of every product in the agency's namespace.
async fn software_trusted(client: &Client) -> Result<Vec<(String, String, String)>> {
    let api = Api::<PlatformSoftwareProduct>::namespaced(client.clone(), "agency-mon");
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(|p| {
            let c = p
                .status
                .as_ref()?
                .conditions
                .iter()
                .find(|c| c.type_ == "SoftwareTrusted")?;
            Some((p.name_any(), c.status.clone(), c.message.clone()))
        })
        .collect())
}

/// R-SW-02, R-SW-03: software removed from the register, or depending on software
/// with no register entry, shows on every product that requests it, including those
/// that never name the dependency; running environments stay.
#[tokio::test]
async fn r_sw_02_r_sw_03_software_removed_from_the_register_shows_on_every_product_using_it()
-> Result<()> {
    let clock = ManualClock::new("2026-11-22T10:00:00+05:00".parse()?);
    let (_c, admin, operator) = start_cluster(&clock).await?;
    let item = |name: &str, register: serde_json::Value, depends: &[&str]| {
        let mut item = json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "SoftwareCatalogItem",
            "metadata": {"name": name},
            "spec": {
                "displayName": name, "category": "system",
                "images": [format!("registry.akp.kz/platform/{name}")],
                "allowedEnvironments": ["development", "testing", "trial", "production"],
                "trustedRegister": register, "dependsOn": depends
            }
        });
        // No entry at all, not a null one: the register does not have it.
        if let Some(spec) = item["spec"].as_object_mut()
            && spec["trustedRegister"].is_null()
        {
            spec.remove("trustedRegister");
        }
        item
    };
    let valid = json!({"entry": "RU-2026-0001", "documentsValidUntil": "2027-12-31"});
    apply(&admin, &item("base-os", valid.clone(), &[]), None, TESTER).await?;
    apply(
        &admin,
        &item("tool", valid.clone(), &["base-os"]),
        None,
        TESTER,
    )
    .await?;
    for name in ["uses-tool-a", "uses-tool-b"] {
        let mut p = product(name, "development", &[]);
        p["spec"]["environments"]["development"]["software"] = json!([{"item": "tool"}]);
        apply(&admin, &p, None, TESTER).await?;
    }
    let all = |status: &'static str, text: &'static str| {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            async move {
                let seen = software_trusted(&admin).await?;
                let ok =
                    seen.len() == 2 && seen.iter().all(|(_, s, m)| s == status && m.contains(text));
                Ok(ok.then_some(seen))
            }
        }
    };
    eventually(
        "SoftwareTrusted=True on both",
        Duration::from_secs(30),
        all("True", "trusted software"),
    )
    .await?;
    let running = live_environments(&admin, "uses-tool-a").await?;

    // The register removes the entry (004 p.10).
    let mut removed = valid.clone();
    removed["removed"] = json!({"on": "2026-11-20", "basis": "order 12 of 2026-11-19"});
    apply(&admin, &item("tool", removed, &["base-os"]), None, TESTER).await?;
    eventually(
        "SoftwareTrusted=False on both, naming the removal",
        Duration::from_secs(30),
        all(
            "False",
            "tool: register entry RU-2026-0001 was removed from the register on 2026-11-20 (order 12 of 2026-11-19) (R-SW-02)",
        ),
    )
    .await?;
    wait_for_event(&admin, Some("agency-mon"), "SoftwareUntrusted", true).await?;

    // Restored, but what it depends on loses its entry: the products never name
    // base-os, and still show it (R-SW-03).
    apply(&admin, &item("tool", valid, &["base-os"]), None, TESTER).await?;
    apply(
        &admin,
        &item("base-os", serde_json::Value::Null, &[]),
        None,
        TESTER,
    )
    .await?;
    eventually(
        "SoftwareTrusted=False on both, naming the unregistered dependency",
        Duration::from_secs(30),
        all(
            "False",
            "tool: depends on base-os, which has no entry in the register of trusted software (R-SW-03)",
        ),
    )
    .await?;
    // Nothing running is taken away.
    assert_eq!(live_environments(&admin, "uses-tool-a").await?, running);
    operator.stop().await;
    Ok(())
}

/// The production quota's CPU of `product`.
async fn production_cpu(client: &Client, product: &str) -> Result<Option<String>> {
    akp_test_support::operator::quota_cpu(client, &format!("mon-{product}-production")).await
}

/// R-LC-10: in production the operator allocates the resources the authorized body
/// confirmed: a revision recorded after the latest confirmation keeps the confirmed
/// quota and says so (`ResourcesConfirmed=False`), until a confirmation of its day or
/// later.
#[tokio::test]
async fn r_lc_10_a_production_revision_waits_for_the_authorized_bodys_confirmation() -> Result<()> {
    let clock = ManualClock::new("2026-10-10T10:00:00+05:00".parse()?);
    let (_c, admin, operator) = start_cluster(&clock).await?;
    // Confirmed on 2026-09-01 (the fixture's acts) with 8 cores.
    apply(
        &admin,
        &product("confirmed", "production", ALL_ACTS),
        None,
        TESTER,
    )
    .await?;
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    let confirmed = |status: &'static str| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let p = api.get("confirmed").await?;
                Ok(p.status.and_then(|s| {
                    s.conditions
                        .into_iter()
                        .find(|c| c.type_ == "ResourcesConfirmed" && c.status == status)
                }))
            }
        }
    };
    eventually(
        "ResourcesConfirmed=True",
        Duration::from_secs(30),
        confirmed("True"),
    )
    .await?;
    assert_eq!(
        production_cpu(&admin, "confirmed").await?.as_deref(),
        Some("8")
    );

    // The agency revises production to 16 cores on 2026-10-10.
    let mut revised = product("confirmed", "production", ALL_ACTS);
    revised["spec"]["environments"]["production"]["cpu"] = json!("16");
    apply(&admin, &revised, None, TESTER).await?;
    let waiting = eventually(
        "ResourcesConfirmed=False",
        Duration::from_secs(30),
        confirmed("False"),
    )
    .await?;
    assert!(
        waiting.message.contains("spec.environments.production was revised on 2026-10-10 after the authorized body's confirmation of 2026-09-01 (R-LC-10)"),
        "{waiting:?}"
    );
    // Give the operator a moment to act on the revision: the quota stays confirmed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        production_cpu(&admin, "confirmed").await?.as_deref(),
        Some("8")
    );
    wait_for_event(
        &admin,
        Some("agency-mon"),
        "ResourcesAwaitingConfirmation",
        true,
    )
    .await?;

    // The authorized body confirms the revision: the new quota is applied.
    let acts = revised["spec"]["acts"].as_array_mut().context("acts")?;
    let mut confirmation = acts
        .iter()
        .find(|a| a["type"] == "resourceConfirmation")
        .cloned()
        .context("a confirmation")?;
    confirmation["number"] = json!("2");
    confirmation["date"] = json!("2026-10-10");
    acts.push(confirmation);
    apply(&admin, &revised, None, TESTER).await?;
    let again = confirmed("True");
    eventually(
        "confirmed again, the revised quota",
        Duration::from_secs(30),
        || async {
            let quota = production_cpu(&admin, "confirmed").await?;
            Ok(again().await?.filter(|_| quota.as_deref() == Some("16")))
        },
    )
    .await?;
    operator.stop().await;
    Ok(())
}
