//! Attacks on the life of a product record (docs/security.md), made by the real
//! subjects with client certificates against a real API server running the chart's
//! RBAC (`helm template`), the operator and the product webhook with its audit trail:
//!
//! - R-LC-07: a product that reached trial operation leaves through `decommissioned`;
//!   deleting its record is an SRE's act, recorded with the SRE's name. Delete by each
//!   actor of a product in development, trial operation, production, decommissioned,
//!   and after a rework that took it back to development;
//! - R-LC-08: roles are assigned, not taken: self-appointment, appointment by someone
//!   who is not the head or a project head, appointing an outsider, a group or
//!   `system:anonymous` are refused; the head appoints a valid user;
//! - R-LC-10: the legal-regime fields past development are the SREs' act;
//! - R-MON-02: the stage-change record names the requester, not the field manager;
//! - R-LC-09, R-LC-03: a return for rework: the old acts do not reopen the trial gate,
//!   acts that opened a gate are not removed, no act is dated in the future; new acts
//!   dated after the return do, and the trial clock runs from the new transfer act.
//!
//! Every refusal is checked for its message and for nothing stored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::sync::Arc;
use std::time::Duration;

use akp_audit::record::{RECORD_DELETE, RESOURCES_REVISION, STAGE_CHANGE};
use akp_audit::{Decision, Entry, Filter, Sink, SinkOptions, Store};
use akp_crds::PlatformSoftwareProduct;
use akp_operator::clock::ManualClock;
use akp_operator::webhook::{
    CertStore, Clock, ClusterLookup, Validators, WebhookEndpoint, WebhookServer,
    apply_configuration, router, validating_webhook_configuration,
};
use akp_test_support::fixtures::{self, ALL_ACTS, GATE2};
use akp_test_support::operator::{Operator, eventually};
use akp_test_support::{ControlPlane, Options, apply, documents, repo_root};
use anyhow::{Context, Result, anyhow, bail, ensure};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

const TESTER: &str = "akp-tests";
const NS: &str = "agency-mon";
/// The actors. The digitalization head of agency mon (examples/agencies.yaml).
const HEAD: &str = "alice@mon.gov.kz";
/// A member of the agency's group, in no role.
const MEMBER: &str = "bolat@mon.gov.kz";
/// The project head of every product here, an agency employee.
const PROJECT_HEAD: &str = "aigerim@mon.gov.kz";
/// A developer of the product, of the developer organisation.
const DEVELOPER: &str = "dev1@digital-solutions.kz";
/// A developer of the product who is an agency employee (in the agency's group).
const AGENCY_DEVELOPER: &str = "ernar@mon.gov.kz";
const SRE: &str = "sre@akp.kz";
const AUDITOR: &str = "auditor@mdai.gov.kz";
/// The chart's default groups (values.yaml users.*.groups).
const AGENCY_GROUP: &str = "agency-mon";
const SRE_GROUP: &str = "akp:sre";
const BODY_GROUP: &str = "akp:authorized-body";
/// The webhook's name, as the API server quotes it in a refusal.
const HOOK: &str = "platformsoftwareproducts.validate.akp.egov.kz";

/// The control plane, the chart's RBAC, the operator and the webhook with its audit
/// trail in SQLite.
struct World {
    cp: ControlPlane,
    admin: Client,
    store: Store,
    sink: Sink,
    operator: Operator,
    /// The operator's clock.
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

/// The ClusterRoles and ClusterRoleBindings of `helm template` with default values:
/// the project roles, the SREs', the authorized body's.
fn chart_cluster_rbac() -> Result<Vec<Value>> {
    let docs = akp_test_support::chart_documents("akp", "akp-system")?;
    Ok(docs
        .into_iter()
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some("ClusterRole" | "ClusterRoleBinding")
            )
        })
        .collect())
}

/// Server-side applies a ClusterRole or ClusterRoleBinding.
async fn apply_rbac(admin: &Client, doc: Value) -> Result<()> {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let name = doc["metadata"]["name"]
        .as_str()
        .context("no name")?
        .to_owned();
    let params = PatchParams::apply(TESTER).force();
    if doc["kind"] == "ClusterRole" {
        let role: ClusterRole = serde_json::from_value(doc)?;
        Api::<ClusterRole>::all(admin.clone())
            .patch(&name, &params, &Patch::Apply(&role))
            .await?;
    } else {
        let binding: ClusterRoleBinding = serde_json::from_value(doc)?;
        Api::<ClusterRoleBinding>::all(admin.clone())
            .patch(&name, &params, &Patch::Apply(&binding))
            .await?;
    }
    Ok(())
}

impl World {
    async fn start() -> Result<Self> {
        Self::start_at(jiff::Timestamp::now()).await
    }

    /// With the operator's clock at `now` (the webhook's "today" is 2026-10-01).
    async fn start_at(now: jiff::Timestamp) -> Result<Self> {
        let cp = ControlPlane::start(Options {
            crds: true,
            ..Options::default()
        })
        .context("control plane starts (run tools/build.sh first)")?;
        let admin = cp.admin_client().await?;
        for doc in chart_cluster_rbac()? {
            apply_rbac(&admin, doc).await?;
        }
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        let store = Store::open(&url).await?;
        let sink = Sink::start(&url, SinkOptions::default());
        let clock = ManualClock::new(now);
        let operator = Operator::start_audited(
            cp.client_for("akp-operator", &["system:masters"]).await?,
            &clock,
            None,
        );
        // The product webhook in this process, registered with the API server.
        let (cert, key) =
            cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
        let certs = Arc::new(CertStore::from_pem(&cert, &key)?);
        let validators = Validators::with_lookup(
            Arc::new(ClusterLookup::new(admin.clone())),
            Clock::fixed("2026-10-01".parse()?),
        )
        .with_sre_groups(vec![SRE_GROUP.into()])
        .with_audit(sink.clone());
        // Mutual TLS, as in production: only the API server's calls are recorded.
        let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await?
            .with_client_ca(cp.webhook_client_ca()?);
        let port = server.local_addr()?.port();
        tokio::spawn(async move {
            let _ = server
                .run(certs, router(validators), std::future::pending::<()>())
                .await;
        });
        apply_configuration(
            &admin,
            &validating_webhook_configuration(
                &WebhookEndpoint::Url(format!("https://127.0.0.1:{port}")),
                Some(cp.ca_cert_pem()),
            ),
        )
        .await?;
        let agency = documents(&repo_root().join("examples/agencies.yaml"))?
            .into_iter()
            .find(|d| d["metadata"]["name"] == "mon")
            .context("agency mon")?;
        apply(&admin, &agency, None, TESTER).await?;
        // The operator has bound the agency's group and head in the agency namespace.
        eventually("agency-mon bound", Duration::from_secs(60), || {
            let admin = admin.clone();
            async move {
                let bindings =
                    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin, NS)
                        .list(&Default::default())
                        .await?;
                Ok((!bindings.items.is_empty()).then_some(()))
            }
        })
        .await?;
        // Until the API server calls the webhook: a dry-run product where no Agency is.
        eventually("the webhook enforced", Duration::from_secs(30), || {
            let admin = admin.clone();
            async move {
                let mut stray = fixtures::product("stray", "development", &[]);
                stray["metadata"]["namespace"] = json!("default");
                let stray: PlatformSoftwareProduct = serde_json::from_value(stray)?;
                let got = outcome(
                    Api::<PlatformSoftwareProduct>::namespaced(admin, "default")
                        .create(
                            &kube::api::PostParams {
                                dry_run: true,
                                ..Default::default()
                            },
                            &stray,
                        )
                        .await,
                )?;
                Ok(got.err().filter(|m| m.contains("(R-LC-08)")))
            }
        })
        .await?;
        Ok(Self {
            cp,
            admin,
            store,
            sink,
            operator,
            clock,
            _dir: dir,
        })
    }

    async fn client(&self, user: &str, groups: &[&str]) -> Result<Client> {
        self.cp.client_for(user, groups).await
    }

    /// Creates, as the admin, product `name` at `stage` with `acts`, its project head,
    /// its two developers and the developer's user domain.
    async fn product(&self, name: &str, stage: &str, acts: &[&str]) -> Result<()> {
        let mut doc = fixtures::product(name, stage, acts);
        doc["spec"]["developer"] = json!({
            "name": "ТОО «Цифровые решения»", "bin": "180940012345",
            "userDomains": ["digital-solutions.kz"]
        });
        doc["spec"]["participants"] = json!({
            "projectHeads": [PROJECT_HEAD],
            "developers": [DEVELOPER, AGENCY_DEVELOPER]
        });
        apply(&self.admin, &doc, None, TESTER).await?;
        Ok(())
    }

    async fn stored(&self, name: &str) -> Result<Option<PlatformSoftwareProduct>> {
        Ok(
            Api::<PlatformSoftwareProduct>::namespaced(self.admin.clone(), NS)
                .get_opt(name)
                .await?,
        )
    }

    /// The records of `action` about product `name`, once the sink has written them.
    async fn records(&self, action: &str, name: &str) -> Result<Vec<Entry>> {
        ensure!(
            self.sink.flush(Duration::from_secs(30)).await,
            "audit flush"
        );
        Ok(akp_audit::query(
            &self.store,
            None,
            &Filter {
                action: Some(action.into()),
                object: Some(format!("PlatformSoftwareProduct/{NS}/{name}")),
                ..Filter::default()
            },
        )
        .await?)
    }
}

/// The API server's answer to a request: allowed, or the refusal's message.
fn outcome<T>(result: Result<T, kube::Error>) -> Result<Result<(), String>> {
    match result {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(e)) => Ok(Err(format!("{} ({})", e.message, e.code))),
        Err(other) => Err(other.into()),
    }
}

/// What a delete by an actor must come to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Admitted (checked as a dry run, so every actor sees the same record).
    Allowed,
    /// Refused by RBAC before any admission.
    NoRbac,
    /// Refused by the product webhook: R-LC-07.
    Stays,
}

async fn delete_dry(client: &Client, name: &str) -> Result<Result<(), String>> {
    outcome(
        Api::<PlatformSoftwareProduct>::namespaced(client.clone(), NS)
            .delete(
                name,
                &DeleteParams {
                    dry_run: true,
                    ..DeleteParams::default()
                },
            )
            .await,
    )
}

/// R-LC-07: delete by each actor of a product in development, trial operation,
/// production, decommissioned and back in development after trial operation; then the
/// SRE's real deletion, recorded with the SRE's name; the agencies' refusals recorded
/// too, and nothing deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_07_products_leave_through_their_stages_and_only_sres_delete_a_record() -> Result<()> {
    let w = World::start().await?;
    w.product("in-dev", "development", &[]).await?;
    w.product("in-trial", "trialOperation", GATE2).await?;
    w.product("in-prod", "production", ALL_ACTS).await?;
    w.product("retired", "decommissioned", ALL_ACTS).await?;
    // Reworked: in trial operation (the operator records it), then back to development.
    w.product("reworked", "trialOperation", GATE2).await?;
    eventually(
        "trialReachedAt recorded",
        Duration::from_secs(60),
        || async {
            Ok(w.stored("reworked")
                .await?
                .and_then(|p| p.status?.trial_reached_at))
        },
    )
    .await?;
    let head = w.client(HEAD, &[]).await?;
    // The head takes it back for rework, under a field manager of her choosing.
    Api::<PlatformSoftwareProduct>::namespaced(head.clone(), NS)
        .patch(
            "reworked",
            &PatchParams {
                field_manager: Some("forged-manager".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"stage": "development"}})),
        )
        .await
        .context("the head takes the product back to development")?;

    let actors = [
        ("agency member", w.client(MEMBER, &[AGENCY_GROUP]).await?),
        ("digitalization head", head.clone()),
        (
            "project head",
            w.client(PROJECT_HEAD, &[AGENCY_GROUP]).await?,
        ),
        ("developer", w.client(DEVELOPER, &[]).await?),
        ("SRE", w.client(SRE, &[SRE_GROUP]).await?),
        ("authorized body", w.client(AUDITOR, &[BODY_GROUP]).await?),
    ];
    use Expect::{Allowed, NoRbac, Stays};
    // Rows: actors as above; columns: in-dev, in-trial, in-prod, retired, reworked.
    let products = ["in-dev", "in-trial", "in-prod", "retired", "reworked"];
    let expected: [[Expect; 5]; 6] = [
        [Allowed, Stays, Stays, Stays, Stays],         // agency member
        [Allowed, Stays, Stays, Stays, Stays],         // digitalization head
        [Allowed, Stays, Stays, Stays, Stays],         // project head (in the agency group)
        [NoRbac, NoRbac, NoRbac, NoRbac, NoRbac],      // developer: no right on the record
        [Allowed, Allowed, Allowed, Allowed, Allowed], // SRE
        [NoRbac, NoRbac, NoRbac, NoRbac, NoRbac],      // authorized body: reads only
    ];
    let mut mismatches = Vec::new();
    for ((actor, client), row) in actors.iter().zip(expected) {
        for (name, want) in products.iter().zip(row) {
            let got = delete_dry(client, name).await?;
            let ok = match (want, &got) {
                (Allowed, Ok(())) => true,
                (NoRbac, Err(m)) => {
                    m.contains("cannot delete resource \"platformsoftwareproducts\"")
                        && m.contains("(403)")
                }
                (Stays, Err(m)) => {
                    m.starts_with(&format!("admission webhook \"{HOOK}\" denied the request: spec.stage"))
                        && m.contains("is the stage of a product that reached trial operation")
                        && m.contains("its record stays and")
                        && m.contains("(R-LC-07): take it out of service through the stages (production, then spec.stage: decommissioned")
                        && m.contains("deleting the record is an act of the platform's SREs (groups akp:sre), written to the audit trail")
                        && m.contains("(403)")
                }
                _ => false,
            };
            if !ok {
                mismatches.push(format!(
                    "{actor} deleting {name}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    ensure!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // The fact is the operator's: the agency cannot erase it from the status, nor
    // delete its records wholesale.
    let erased = outcome(
        Api::<PlatformSoftwareProduct>::namespaced(head.clone(), NS)
            .patch_status(
                "reworked",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"trialReachedAt": null, "trial": null}})),
            )
            .await,
    )?;
    ensure!(
        erased.as_ref().is_err_and(|m| m
            .contains("cannot patch resource \"platformsoftwareproducts/status\"")
            && m.contains("(403)")),
        "{erased:?}"
    );
    let wholesale = outcome(
        Api::<PlatformSoftwareProduct>::namespaced(head.clone(), NS)
            .delete_collection(&DeleteParams::default(), &Default::default())
            .await,
    )?;
    ensure!(
        wholesale.as_ref().is_err_and(
            |m| m.contains("cannot deletecollection resource \"platformsoftwareproducts\"")
        ),
        "{wholesale:?}"
    );
    ensure!(
        w.stored("reworked")
            .await?
            .and_then(|p| p.status?.trial_reached_at)
            .is_some(),
        "the status keeps trialReachedAt"
    );
    // The reworked product's refusal says when it reached trial operation.
    let refused = delete_dry(&actors[0].1, "reworked").await?;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|m| m.contains("(trial operation reached at ")
                && m.contains("may not delete it")
                && m.contains("spec.stage \"development\"")),
        "{refused:?}"
    );
    // Real (not dry-run) deletes by the agency: refused, and nothing deleted.
    for name in ["in-trial", "in-prod", "retired", "reworked"] {
        let got = outcome(
            Api::<PlatformSoftwareProduct>::namespaced(head.clone(), NS)
                .delete(name, &DeleteParams::default())
                .await,
        )?;
        ensure!(
            got.as_ref().is_err_and(|m| m.contains("R-LC-07")),
            "{name}: {got:?}"
        );
        let stored = w.stored(name).await?.context("the record stays")?;
        ensure!(
            stored.metadata.deletion_timestamp.is_none(),
            "{name} is not being deleted"
        );
    }
    // The agency's refused deletion is in the audit trail with the head's name.
    let refusals = w.records(RECORD_DELETE, "in-prod").await?;
    ensure!(
        refusals.iter().any(|e| e.record.actor == HEAD
            && e.record.decision == Decision::Denied
            && e.record
                .reason
                .contains("refused: spec.stage \"production\"")),
        "{refusals:#?}"
    );
    // Dry runs are not acts: only the real requests are recorded.
    ensure!(
        refusals.iter().all(|e| e.record.details["dryRun"] == false),
        "{refusals:#?}"
    );

    // The SRE deletes the decommissioned record: gone, and recorded with the SRE's name.
    let sre = &actors[4].1;
    Api::<PlatformSoftwareProduct>::namespaced(sre.clone(), NS)
        .delete("retired", &DeleteParams::default())
        .await
        .context("the SRE deletes the record")?;
    eventually("the record gone", Duration::from_secs(60), || async {
        Ok(w.stored("retired").await?.is_none().then_some(()))
    })
    .await?;
    let deleted = w.records(RECORD_DELETE, "retired").await?;
    let by_sre: Vec<&Entry> = deleted
        .iter()
        .filter(|e| e.record.decision == Decision::Allowed)
        .collect();
    ensure!(by_sre.len() == 1, "{deleted:#?}");
    let record = &by_sre[0].record;
    ensure!(record.actor == SRE, "{record:?}");
    ensure!(
        record.details["groups"] == json!([SRE_GROUP, "system:authenticated"]),
        "{record:?}"
    );
    ensure!(record.details["stage"] == "decommissioned", "{record:?}");
    ensure!(
        record.details["reachedTrialOperation"] == true,
        "{record:?}"
    );
    ensure!(record.details["operation"] == "Delete", "{record:?}");
    ensure!(record.object.uid.is_some(), "{record:?}");

    // R-MON-02: the stage change is recorded with the head's name, not the manager's.
    let changes = w.records(STAGE_CHANGE, "reworked").await?;
    let rework = changes
        .iter()
        .find(|e| e.record.details["to"] == "development")
        .with_context(|| format!("no stage.change record to development: {changes:#?}"))?;
    ensure!(rework.record.actor == HEAD, "{rework:?}");
    ensure!(
        rework.record.details["from"] == "trialOperation",
        "{rework:?}"
    );
    ensure!(
        !serde_json::to_string(&rework.record)?.contains("forged-manager"),
        "{rework:?}"
    );
    w.operator.stop().await;
    Ok(())
}

/// A merge patch of `spec` on product `name` as `client`.
async fn patch_spec(client: &Client, name: &str, spec: Value) -> Result<Result<(), String>> {
    outcome(
        Api::<PlatformSoftwareProduct>::namespaced(client.clone(), NS)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": spec})),
            )
            .await,
    )
}

/// `spec.participants` and the regime fields of the stored product.
async fn snapshot(w: &World, name: &str) -> Result<Value> {
    let p = w.stored(name).await?.context("stored")?;
    Ok(json!({
        "participants": p.spec.participants,
        "class": p.spec.class,
        "contour": p.spec.contour,
        "internetFacing": p.spec.internet_facing,
        "informationCategory": p.spec.information_category,
        "generation": p.metadata.generation,
    }))
}

/// R-LC-08, R-LC-10: who may change `spec.participants` and the legal-regime fields,
/// each refusal with its message and nothing stored; the head's valid appointment and
/// the project head's are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_08_r_lc_10_roles_are_assigned_not_taken_and_the_regime_is_not_the_agencys()
-> Result<()> {
    let w = World::start().await?;
    w.product("roles", "development", &[]).await?;
    w.product("regime", "preliminaryTesting", &[]).await?;
    let head = w.client(HEAD, &[]).await?;
    let member = w.client(MEMBER, &[AGENCY_GROUP]).await?;
    let project_head = w.client(PROJECT_HEAD, &[AGENCY_GROUP]).await?;
    let agency_developer = w.client(AGENCY_DEVELOPER, &[AGENCY_GROUP]).await?;
    let developer = w.client(DEVELOPER, &[]).await?;
    let before = snapshot(&w, "roles").await?;
    let developers = json!([DEVELOPER, AGENCY_DEVELOPER]);
    let refusal = |field: &str, value: &str| {
        format!("admission webhook \"{HOOK}\" denied the request: {field} \"{value}\" ")
    };
    // (actor, patch of spec.participants, what the refusal must hold).
    let cases: Vec<(&str, &Client, Value, Vec<String>)> = vec![
        (
            "the project head appoints himself administrator",
            &project_head,
            json!({"administrators": [PROJECT_HEAD]}),
            vec![
                refusal("spec.participants.administrators[0]", PROJECT_HEAD)
                    + "is you: nobody appoints himself (R-LC-08): ask the digitalization head or a project head of the product to appoint you (000 p.27-28)",
            ],
        ),
        (
            "the head makes himself project head",
            &head,
            json!({"projectHeads": [PROJECT_HEAD, HEAD]}),
            vec![
                refusal("spec.participants.projectHeads[1]", HEAD)
                    + "is you: nobody appoints himself (R-LC-08)",
            ],
        ),
        (
            "an agency member appoints himself",
            &member,
            json!({"administrators": [MEMBER]}),
            vec![
                format!(
                    "2 problems: spec.participants.administrators \"{MEMBER}\" may be appointed or removed only by the digitalization head of agency mon ({HEAD}) or a project head of the product ({PROJECT_HEAD}), not by {MEMBER} (R-LC-08)"
                ),
                format!(
                    "spec.participants.administrators[0] \"{MEMBER}\" is you: nobody appoints himself (R-LC-08)"
                ),
            ],
        ),
        (
            "a developer of the product (an agency employee) appoints a colleague",
            &agency_developer,
            json!({"developers": [DEVELOPER, AGENCY_DEVELOPER, "dev2@digital-solutions.kz"]}),
            vec![
                refusal("spec.participants.developers", "dev2@digital-solutions.kz")
                    + &format!(
                        "may be appointed or removed only by the digitalization head of agency mon ({HEAD}) or a project head of the product ({PROJECT_HEAD}), not by {AGENCY_DEVELOPER} (R-LC-08): ask"
                    ),
            ],
        ),
        (
            "a project head appoints a project head",
            &project_head,
            json!({"projectHeads": [PROJECT_HEAD, MEMBER]}),
            vec![
                refusal("spec.participants.projectHeads", MEMBER)
                    + &format!(
                        "may be appointed or removed only by the digitalization head of agency mon ({HEAD}), not by {PROJECT_HEAD} (R-LC-08)"
                    ),
            ],
        ),
        (
            "the head appoints an outsider",
            &head,
            json!({"administrators": ["mallory@evil.example"]}),
            vec![
                refusal(
                    "spec.participants.administrators[0]",
                    "mallory@evil.example",
                ) + "is not a user of the agency, the developer or the service integrator of the product (agency mon: mon.gov.kz; the developer ТОО «Цифровые решения»: digital-solutions.kz) (R-LC-08): appoint a person of one of them by the user name the identity provider gives (user@domain); a group or an outsider cannot be appointed",
            ],
        ),
        (
            "the head appoints a group",
            &head,
            json!({"administrators": [AGENCY_GROUP]}),
            vec![
                refusal("spec.participants.administrators[0]", AGENCY_GROUP)
                    + "is not a user of the agency, the developer or the service integrator",
            ],
        ),
        (
            "the head appoints a user of another agency",
            &head,
            json!({"administrators": ["berik@dsm.gov.kz"]}),
            vec![
                refusal("spec.participants.administrators[0]", "berik@dsm.gov.kz")
                    + "is not a user of the agency",
            ],
        ),
    ];
    for (what, client, participants, wanted) in &cases {
        let mut spec = json!({"participants": participants});
        if participants.get("developers").is_none() {
            spec["participants"]["developers"] = developers.clone();
        }
        let got = patch_spec(client, "roles", spec).await?;
        let Err(message) = &got else {
            bail!("{what}: admitted");
        };
        for w in wanted {
            ensure!(
                message.contains(w.as_str()),
                "{what}: {message}\nwanted: {w}"
            );
        }
        ensure!(message.ends_with("(403)"), "{what}: {message}");
        ensure!(
            snapshot(&w, "roles").await? == before,
            "{what}: something was stored"
        );
    }
    // system:anonymous and service accounts: the CRD refuses them before any webhook.
    for name in [
        "system:anonymous",
        "system:serviceaccount:agency-mon:default",
    ] {
        let got = patch_spec(
            &head,
            "roles",
            json!({"participants": {"administrators": [name]}}),
        )
        .await?;
        ensure!(
            got.as_ref().is_err_and(|m| m.contains(&format!(
                "\"{name}\" is a name the API server reserves for its own users and groups (system:...), not a person (R-LC-08): name the person, as user@domain of the agency, the developer or the service integrator"
            )) && m.contains("is invalid: spec.participants.administrators[0]: Invalid value")),
            "{name}: {got:?}"
        );
        ensure!(
            snapshot(&w, "roles").await? == before,
            "{name}: something was stored"
        );
    }
    // The developer of the developer organisation has no right on the record at all.
    let got = patch_spec(
        &developer,
        "roles",
        json!({"participants": {"developers": [DEVELOPER, "dev2@digital-solutions.kz"]}}),
    )
    .await?;
    ensure!(
        got.as_ref()
            .is_err_and(|m| m.contains("cannot patch resource \"platformsoftwareproducts\"")),
        "{got:?}"
    );

    // Allowed: the head appoints an administrator of the developer, a project head a
    // security officer of the agency; both stored.
    patch_spec(
        &head,
        "roles",
        json!({"participants": {"administrators": ["ops@digital-solutions.kz"]}}),
    )
    .await?
    .map_err(|m| anyhow!("the head's appointment: {m}"))?;
    patch_spec(
        &project_head,
        "roles",
        json!({"participants": {"securityOfficers": ["infosec@mon.gov.kz"]}}),
    )
    .await?
    .map_err(|m| anyhow!("the project head's appointment: {m}"))?;
    let stored = w.stored("roles").await?.context("stored")?;
    ensure!(stored.spec.participants.administrators == ["ops@digital-solutions.kz"]);
    ensure!(stored.spec.participants.security_officers == ["infosec@mon.gov.kz"]);

    // R-LC-10: past development the agency does not move the product between regimes.
    let before = snapshot(&w, "regime").await?;
    let regime = [
        ("spec.class", json!({"class": 1}), "1", "2"),
        (
            "spec.contour",
            json!({"contour": "external"}),
            "external",
            "internal",
        ),
        (
            "spec.internetFacing",
            json!({"contour": "external", "internetFacing": true}),
            "true",
            "false",
        ),
        (
            "spec.informationCategory",
            json!({"informationCategory": "restrictedPersonalData"}),
            "restrictedPersonalData",
            "public",
        ),
    ];
    for (field, patch, value, was) in regime {
        for client in [&head, &member] {
            let got = patch_spec(client, "regime", patch.clone()).await?;
            let wanted = format!(
                "{field} \"{value}\" would change the legal regime of a product past development (it was {was}, the stage is preliminaryTesting) (R-LC-10): only the platform's SREs (groups akp:sre) change it, on the authorized body's decision: send them the decision, or keep {was}"
            );
            ensure!(
                got.as_ref()
                    .is_err_and(|m| m.contains(HOOK) && m.contains(&wanted)),
                "{field}: {got:?}\nwanted: {wanted}"
            );
            ensure!(
                snapshot(&w, "regime").await? == before,
                "{field}: something was stored"
            );
        }
    }
    // In development the agency still decides its regime.
    patch_spec(&head, "roles", json!({"class": 1}))
        .await?
        .map_err(|m| anyhow!("a regime change in development: {m}"))?;
    ensure!(w.stored("roles").await?.context("stored")?.spec.class == 1);
    w.operator.stop().await;
    Ok(())
}

/// The stored product once the operator has recorded it at `stage`.
async fn recorded_at(w: &World, name: &str, stage: &str) -> Result<PlatformSoftwareProduct> {
    eventually(
        &format!("{name} recorded at {stage}"),
        Duration::from_secs(60),
        || async {
            Ok(w.stored(name).await?.filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.stage)
                    .is_some_and(|s| s.as_str() == stage)
            }))
        },
    )
    .await
}

/// An act as the fixtures write it, of `date`.
fn act(type_: &str, number: &str, date: &str) -> Value {
    json!({"type": type_, "number": number, "date": date, "sha256": fixtures::SHA})
}

/// R-LC-09, R-LC-03: the digitalization head, with her own client certificate, walks a
/// product from trial operation back to development for rework and forward again.
/// The old acts (of 2026-09-01) do not reopen the trial gate after the return of
/// 2026-09-20; removing them, or an act dated after today, is refused, each with its
/// message and nothing stored; new acts dated after the return reopen it, and the
/// trial clock then runs from the new transfer act. Every trial period stays in
/// `status.stageHistory`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_09_rework_reopens_the_trial_gate_only_with_new_acts() -> Result<()> {
    let w = World::start_at("2026-09-03T10:00:00+05:00".parse()?).await?;
    w.product("rework", "trialOperation", GATE2).await?;
    let p = recorded_at(&w, "rework", "trialOperation").await?;
    let trial = p.status.and_then(|s| s.trial).context("trial clock")?;
    ensure!(trial.act.as_deref() == Some("1 of 2026-09-01"), "{trial:?}");
    ensure!(
        trial.deadline.0 == "2026-10-01T00:00:00+05:00".parse::<jiff::Timestamp>()?,
        "the trial runs from the transfer act: {trial:?}"
    );

    let head = w.client(HEAD, &[]).await?;
    // Back for rework on 20 September.
    w.clock.set("2026-09-20T10:00:00+05:00".parse()?);
    patch_spec(&head, "rework", json!({"stage": "development"}))
        .await?
        .map_err(|m| anyhow!("the head takes the product back: {m}"))?;
    let p = recorded_at(&w, "rework", "development").await?;
    let history = p.status.map(|s| s.stage_history).unwrap_or_default();
    ensure!(
        history.last().is_some_and(|h| h.rework),
        "the return is recorded: {history:?}"
    );
    w.clock.set("2026-09-21T10:00:00+05:00".parse()?);
    patch_spec(&head, "rework", json!({"stage": "preliminaryTesting"}))
        .await?
        .map_err(|m| anyhow!("to preliminary testing: {m}"))?;
    recorded_at(&w, "rework", "preliminaryTesting").await?;
    let before = w.stored("rework").await?.context("stored")?;

    let old_acts = [
        act("preliminaryTestProtocol", "1", "2026-09-01"),
        act("trialTransferAct", "1", "2026-09-01"),
    ];
    let refusals: [(&str, Value, &[&str]); 3] = [
        (
            "the old acts",
            json!({"stage": "trialOperation"}),
            &[
                "spec.acts[0].date \"2026-09-01\" is the date of preliminaryTestProtocol 1 of 2026-09-01, not after the return for rework on 2026-09-20 (status.stageHistory): a gate passed before the return opens again only with acts dated after it (R-LC-09): add a new preliminaryTestProtocol of the new test, dated after 2026-09-20, beside the old one",
                "spec.acts[1].date \"2026-09-01\" is the date of trialTransferAct 1 of 2026-09-01",
            ],
        ),
        (
            "the old acts removed and replaced",
            json!({"stage": "trialOperation", "acts": [
                act("preliminaryTestProtocol", "2", "2026-09-21"),
                act("trialTransferAct", "3", "2026-09-22"),
            ]}),
            &[
                "spec.acts \"preliminaryTestProtocol 1 of 2026-09-01\" is removed, and it opened a gate the product has passed (R-LC-09)",
                "spec.acts \"trialTransferAct 1 of 2026-09-01\" is removed",
            ],
        ),
        (
            "a transfer act dated after today",
            json!({"stage": "trialOperation", "acts": [
                old_acts[0].clone(), old_acts[1].clone(),
                act("preliminaryTestProtocol", "2", "2026-09-21"),
                act("trialTransferAct", "3", "2026-10-02"),
            ]}),
            &[
                "spec.acts[3].date \"2026-10-02\" is the date of trialTransferAct 3 of 2026-10-02, after today (2026-10-01 in Kazakhstan, UTC+5) (R-LC-09)",
            ],
        ),
    ];
    for (what, spec, expected) in refusals {
        let got = patch_spec(&head, "rework", spec).await?;
        let message = got.err().with_context(|| format!("{what}: admitted"))?;
        ensure!(
            message.contains(&format!("admission webhook \"{HOOK}\" denied the request")),
            "{what}: {message}"
        );
        for e in expected {
            ensure!(message.contains(e), "{what}: {message}\nlacks {e}");
        }
        let now = w.stored("rework").await?.context("stored")?;
        ensure!(
            now.spec == before.spec,
            "{what}: nothing is stored: {:?}",
            now.spec
        );
    }

    // New acts of the new test, dated after the return, beside the old ones.
    w.clock.set("2026-09-22T12:00:00+05:00".parse()?);
    patch_spec(
        &head,
        "rework",
        json!({"stage": "trialOperation", "acts": [
            old_acts[0].clone(), old_acts[1].clone(),
            act("preliminaryTestProtocol", "2", "2026-09-21"),
            act("trialTransferAct", "3", "2026-09-22"),
        ]}),
    )
    .await?
    .map_err(|m| anyhow!("new acts reopen the gate: {m}"))?;
    let p = recorded_at(&w, "rework", "trialOperation").await?;
    let status = p.status.context("status")?;
    let trial = status.trial.context("trial clock")?;
    ensure!(trial.act.as_deref() == Some("3 of 2026-09-22"), "{trial:?}");
    ensure!(
        trial.deadline.0 == "2026-10-22T00:00:00+05:00".parse::<jiff::Timestamp>()?,
        "the new trial runs from the new act: {trial:?}"
    );
    let trials: Vec<Option<&str>> = status
        .stage_history
        .iter()
        .filter(|h| h.stage == akp_crds::Stage::TrialOperation)
        .map(|h| h.act.as_deref())
        .collect();
    ensure!(
        trials
            == [
                Some("trialTransferAct 1 of 2026-09-01"),
                Some("trialTransferAct 3 of 2026-09-22")
            ],
        "every trial period is recorded: {:?}",
        status.stage_history
    );

    // R-LC-04: a negative protocol does not open production (the API server's CEL).
    let mut acts = vec![
        old_acts[0].clone(),
        old_acts[1].clone(),
        act("preliminaryTestProtocol", "2", "2026-09-21"),
        act("trialTransferAct", "3", "2026-09-22"),
        act("trialCompletionAct", "4", "2026-09-28"),
        act("resourceConfirmation", "5", "2026-09-28"),
        act("commissioningOrder", "6", "2026-09-30"),
    ];
    let mut negative = act("infoSecTestProtocol", "7", "2026-09-27");
    negative["result"] = json!("negative");
    acts.push(negative);
    let message = patch_spec(
        &head,
        "rework",
        json!({"stage": "production", "acts": acts}),
    )
    .await?
    .err()
    .context("production with a negative protocol admitted")?;
    ensure!(
        message.contains("missing: infoSecTestProtocol (result: positive)"),
        "{message}"
    );
    w.operator.stop().await;
    Ok(())
}

/// A merge patch `body` of product `name` as `client`.
async fn merge(client: &Client, name: &str, body: Value) -> Result<Result<(), String>> {
    outcome(
        Api::<PlatformSoftwareProduct>::namespaced(client.clone(), NS)
            .patch(name, &PatchParams::default(), &Patch::Merge(body))
            .await,
    )
}

/// R-LC-10 (000 p.18-19, p.34.3): the confirmation of production resources is the
/// authorized body's act. The agency's head, a member and an SRE adding it are refused
/// (the requester is checked, not the field), each with the message and nothing
/// stored; the authorized body's user adds it with her own client certificate, and
/// changes nothing else (another act, the spec, a label, creating a product); the
/// agency then removes or changes it in vain, and promotes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_10_only_the_authorized_body_confirms_production_resources() -> Result<()> {
    let w = World::start().await?;
    w.product("confirm", "trialOperation", GATE2).await?;
    let head = w.client(HEAD, &[AGENCY_GROUP]).await?;
    let member = w.client(MEMBER, &[AGENCY_GROUP]).await?;
    let sre = w.client(SRE, &[SRE_GROUP]).await?;
    let auditor = w.client(AUDITOR, &[BODY_GROUP]).await?;
    let acts =
        || -> Result<Vec<Value>> { Ok(GATE2.iter().map(|t| act(t, "1", "2026-09-01")).collect()) };
    let confirmation = act("resourceConfirmation", "R-7", "2026-09-25");
    let stored_acts = || async {
        Ok::<_, anyhow::Error>(
            w.stored("confirm")
                .await?
                .context("stored")?
                .spec
                .acts
                .len(),
        )
    };

    for (who, client) in [("head", &head), ("member", &member), ("SRE", &sre)] {
        let mut with = acts()?;
        with.push(confirmation.clone());
        let got = patch_spec(client, "confirm", json!({"acts": with})).await?;
        ensure!(
            got.as_ref().is_err_and(|m| m.contains(HOOK)
                && m.contains("spec.acts[2] \"resourceConfirmation R-7 of 2026-09-25\" confirms the production resources, which is the authorized body's act")
                && m.contains("(R-LC-10)")
                && m.contains("groups akp:authorized-body")),
            "{who}: {got:?}"
        );
        ensure!(stored_acts().await? == 2, "{who}: something was stored");
    }

    // The authorized body changes nothing but its confirmations.
    let refused = |got: &Result<(), String>, field: &str| {
        got.as_ref().is_err_and(|m| {
            m.contains(HOOK)
                && m.contains(&format!("{field} "))
                && m.contains("is not the authorized body's to change (R-LC-10)")
        })
    };
    let with = |extra: Value| -> Result<Value> {
        let mut a = acts()?;
        a.push(extra);
        Ok(json!(a))
    };
    let got = patch_spec(
        &auditor,
        "confirm",
        json!({"acts": with(act("commissioningOrder", "9", "2026-09-25"))?}),
    )
    .await?;
    ensure!(refused(&got, "spec.acts"), "another act: {got:?}");
    let got = patch_spec(
        &auditor,
        "confirm",
        json!({"acts": with(confirmation.clone())?, "displayName": "Renamed"}),
    )
    .await?;
    ensure!(
        refused(&got, "spec"),
        "a confirmation and a rename: {got:?}"
    );
    let got = merge(
        &auditor,
        "confirm",
        json!({"metadata": {"labels": {"akp.egov.kz/x": "y"}}}),
    )
    .await?;
    ensure!(refused(&got, "metadata.labels"), "a label: {got:?}");
    let stray: PlatformSoftwareProduct =
        serde_json::from_value(fixtures::product("by-the-body", "development", &[]))?;
    let got = outcome(
        Api::<PlatformSoftwareProduct>::namespaced(auditor.clone(), NS)
            .create(&Default::default(), &stray)
            .await,
    )?;
    ensure!(
        got.as_ref().is_err_and(|m| m.contains("(403)")),
        "RBAC: the body creates no product: {got:?}"
    );
    ensure!(stored_acts().await? == 2, "something was stored");

    patch_spec(
        &auditor,
        "confirm",
        json!({"acts": with(confirmation.clone())?}),
    )
    .await?
    .map_err(|m| anyhow!("the authorized body's confirmation: {m}"))?;
    ensure!(stored_acts().await? == 3);

    // The agency neither removes nor rewrites it, and promotes with it.
    let got = patch_spec(&head, "confirm", json!({"acts": acts()?})).await?;
    ensure!(
        got.as_ref()
            .is_err_and(|m| m.contains("removes or changes the authorized body's confirmation")),
        "removed: {got:?}"
    );
    let mut rewritten = acts()?;
    rewritten.push(act("resourceConfirmation", "R-8", "2026-09-25"));
    let got = patch_spec(&head, "confirm", json!({"acts": rewritten})).await?;
    ensure!(got.is_err(), "rewritten: {got:?}");
    ensure!(stored_acts().await? == 3, "something was stored");
    // R-LC-05: a revision during trial is kept in full, with who asked for it.
    patch_spec(
        &head,
        "confirm",
        json!({"environments": {"production": {"cpu": "16"}}}),
    )
    .await?
    .map_err(|m| anyhow!("the head's revision: {m}"))?;
    let revisions = w.records(RESOURCES_REVISION, "confirm").await?;
    let revision = revisions
        .iter()
        .find(|e| e.record.actor == HEAD)
        .with_context(|| format!("the head's revision is recorded: {revisions:?}"))?;
    let details = &revision.record.details;
    ensure!(
        details["stage"] == "trialOperation"
            && details["from"]["production"]["cpu"] == "8"
            && details["to"]["production"]["cpu"] == "16"
            && details["to"]["trial"]["cpu"] == "4",
        "{details}"
    );
    ensure!(
        revisions.iter().any(|e| e.record.details["from"].is_null()),
        "the first request is recorded too: {revisions:?}"
    );
    let mut production = acts()?;
    production.extend([
        confirmation.clone(),
        act("trialCompletionAct", "4", "2026-09-28"),
        {
            let mut p = act("infoSecTestProtocol", "5", "2026-09-27");
            p["result"] = json!("positive");
            p
        },
        act("commissioningOrder", "6", "2026-09-30"),
    ]);
    patch_spec(
        &head,
        "confirm",
        json!({"stage": "production", "acts": production}),
    )
    .await?
    .map_err(|m| anyhow!("the head promotes with the body's confirmation: {m}"))?;
    w.operator.stop().await;
    Ok(())
}

/// R-LC-05, R-LC-10: a revision of the requested resources reaches the authorized
/// body: the agency's head revises with her own client certificate, and the body's
/// user, with hers, reads the operator's `ResourcesRevised` event on the product (its
/// role reads events, nothing more; the monthly report's section is
/// `billing/tests/report_document.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_05_r_lc_10_a_revision_of_resources_reaches_the_authorized_body() -> Result<()> {
    use k8s_openapi::api::events::v1::Event;
    let w = World::start().await?;
    w.product("revise", "development", &[]).await?;
    let head = w.client(HEAD, &[AGENCY_GROUP]).await?;
    let auditor = w.client(AUDITOR, &[BODY_GROUP]).await?;
    let events = Api::<Event>::namespaced(auditor.clone(), NS);
    let revised = || async {
        Ok::<_, anyhow::Error>(
            events
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("ResourcesRevised")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("revise")
                })
                .collect::<Vec<_>>(),
        )
    };
    // The first request is no revision.
    let recorded = |p: &PlatformSoftwareProduct| {
        p.status
            .as_ref()
            .is_some_and(|s| !s.request_history.is_empty())
    };
    eventually(
        "the product reconciled",
        Duration::from_secs(30),
        || async { Ok(w.stored("revise").await?.filter(recorded)) },
    )
    .await?;
    ensure!(revised().await?.is_empty(), "an event before any revision");
    patch_spec(
        &head,
        "revise",
        json!({"environments": {"development": {"cpu": "3", "memory": "4Gi", "storage": "10Gi"}}}),
    )
    .await?
    .map_err(|m| anyhow!("the head revises the request: {m}"))?;
    let seen = eventually(
        "the authorized body reads the revision",
        Duration::from_secs(30),
        || async { Ok(Some(revised().await?).filter(|e| !e.is_empty())) },
    )
    .await?;
    let note = seen[0].note.clone().unwrap_or_default();
    ensure!(
        note.contains("requested resources revised at stage development")
            && note.contains("(R-LC-05, R-LC-10)"),
        "{note}"
    );
    w.operator.stop().await;
    Ok(())
}

/// R-LC-10: the agency cannot grow production on its own. Its head, with her own
/// client certificate, revises the production request of a product in production (the
/// webhook admits the edit: it is a request); the operator keeps allocating the
/// confirmed quota and flags the revision, until the authorized body's user, with her
/// own certificate, confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_lc_10_an_agency_cannot_grow_production_without_the_authorized_body() -> Result<()> {
    // The operator's day is the webhook's (2026-10-01), so the body can confirm today.
    let w = World::start_at("2026-10-01T10:00:00+05:00".parse()?).await?;
    w.product("grow", "production", ALL_ACTS).await?;
    let head = w.client(HEAD, &[AGENCY_GROUP]).await?;
    let auditor = w.client(AUDITOR, &[BODY_GROUP]).await?;
    let cpu = || akp_test_support::operator::quota_cpu(&w.admin, "mon-grow-production");
    let condition = |status: &'static str| {
        let w = &w;
        move || async move {
            Ok(w.stored("grow")
                .await?
                .and_then(|p| p.status)
                .and_then(|s| {
                    s.conditions
                        .into_iter()
                        .find(|c| c.type_ == "ResourcesConfirmed" && c.status == status)
                }))
        }
    };
    eventually("the confirmed quota", Duration::from_secs(30), || async {
        Ok(cpu().await?.filter(|c| c == "8"))
    })
    .await?;
    let mut production = w
        .stored("grow")
        .await?
        .context("stored")?
        .spec
        .environments
        .production
        .context("production")?;
    production.cpu = k8s_openapi::apimachinery::pkg::api::resource::Quantity("32".into());
    patch_spec(
        &head,
        "grow",
        json!({"environments": {"production": production}}),
    )
    .await?
    .map_err(|m| anyhow!("the head's revision is a request the webhook admits: {m}"))?;
    let waiting = eventually(
        "ResourcesConfirmed=False",
        Duration::from_secs(30),
        condition("False"),
    )
    .await?;
    ensure!(waiting.message.contains("(R-LC-10)"), "{waiting:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        cpu().await?.as_deref() == Some("8"),
        "the agency grew production on its own: {:?}",
        cpu().await?
    );
    // The authorized body confirms the revision with its own act of today.
    let mut acts: Vec<Value> = ALL_ACTS
        .iter()
        .map(|t| {
            let mut a = act(t, "1", "2026-09-01");
            if *t == "infoSecTestProtocol" {
                a["result"] = json!("positive");
            }
            a
        })
        .collect();
    acts.push(act("resourceConfirmation", "R-8", "2026-10-01"));
    patch_spec(&auditor, "grow", json!({"acts": acts}))
        .await?
        .map_err(|m| anyhow!("the authorized body confirms: {m}"))?;
    let confirmed = condition("True");
    eventually(
        "confirmed, the revised quota",
        Duration::from_secs(30),
        || async {
            let quota = cpu().await?;
            Ok(confirmed()
                .await?
                .filter(|_| quota.as_deref() == Some("32")))
        },
    )
    .await?;
    w.operator.stop().await;
    Ok(())
}
