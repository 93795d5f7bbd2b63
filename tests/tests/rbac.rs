//! Who may do what (R-LC-08 and least privilege), against a real API server: the RBAC
//! objects of the Helm chart rendered by the real `helm template` (the operator's and
//! billing daemon's ServiceAccounts and roles, the project ClusterRoles, the SRE, the
//! authorized body and the published catalog and tariffs), the agencies' bindings made
//! by the operator itself for Agencies A and B and their products, and then every
//! cell of subjects × objects × verbs requested for real: people with client
//! certificates, the two service accounts with TokenRequest tokens; writes as dry runs,
//! so every cell sees the same objects. A mismatch prints the whole matrix.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use akp_operator::clock::ManualClock;
use akp_test_support::operator::{Operator, eventually};
use akp_test_support::{Binaries, ControlPlane, Options, documents, ensure_namespace, repo_root};
use anyhow::{Context, Result, anyhow, bail, ensure};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::ApiResource;
use kube::{Client, Config};
use serde_json::{Value, json};

const RELEASE: &str = "akp";
const RELEASE_NAMESPACE: &str = "akp-system";
const MANAGER: &str = "akp-rbac-tests";
/// The chart's default names (values left at their defaults).
const OPERATOR_SA: &str = "akp-operator";
const BILLING_SA: &str = "akp-billing";
const WEBHOOK_SECRET: &str = "akp-operator-webhook-tls";
/// The groups rbac-users.yaml binds by default.
const SRE_GROUP: &str = "akp:sre";
const AUTHORIZED_BODY_GROUP: &str = "akp:authorized-body";

fn control_plane() -> Result<&'static ControlPlane> {
    // The controller manager aggregates the built-in admin ClusterRole, which the
    // operator binds to each agency's digitalization head.
    ControlPlane::shared(Options {
        crds: true,
        controller_manager: true,
        ..Options::default()
    })
    .context("control plane starts (run tools/build.sh first)")
}

/// The RBAC objects of `helm template` with the chart's default values.
fn chart_rbac() -> Result<Vec<Value>> {
    let helm = Binaries::locate()?.helm;
    Binaries::require(&helm)?;
    let out = Command::new(&helm)
        .args(["template", RELEASE])
        .arg(repo_root().join("charts/akp"))
        .args(["--namespace", RELEASE_NAMESPACE])
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    ensure!(
        out.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| anyhow!("parsing helm's output: {e}"))?;
    Ok(docs
        .into_iter()
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some(
                    "ServiceAccount"
                        | "ClusterRole"
                        | "ClusterRoleBinding"
                        | "Role"
                        | "RoleBinding"
                )
            )
        })
        .collect())
}

fn resource_of(kind: &str) -> Result<ApiResource> {
    Ok(match kind {
        "ServiceAccount" => ApiResource::erase::<ServiceAccount>(&()),
        "ClusterRole" => ApiResource::erase::<ClusterRole>(&()),
        "ClusterRoleBinding" => ApiResource::erase::<ClusterRoleBinding>(&()),
        "Role" => ApiResource::erase::<Role>(&()),
        "RoleBinding" => ApiResource::erase::<RoleBinding>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        "Namespace" => ApiResource::erase::<Namespace>(&()),
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        other => akp_test_support::api_resource(other)?.0,
    })
}

fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "ClusterRole"
            | "ClusterRoleBinding"
            | "Namespace"
            | "Agency"
            | "Site"
            | "SoftwareCatalogItem"
            | "Tariff"
            | "BillingReport"
    )
}

fn api(client: &Client, kind: &str, namespace: Option<&str>) -> Result<Api<DynamicObject>> {
    let ar = resource_of(kind)?;
    Ok(match namespace {
        Some(ns) if !cluster_scoped(kind) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    })
}

async fn apply(client: &Client, doc: &Value) -> Result<()> {
    let kind = doc["kind"].as_str().context("no kind")?;
    let name = doc["metadata"]["name"].as_str().context("no name")?;
    api(client, kind, doc["metadata"]["namespace"].as_str())?
        .patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(doc),
        )
        .await
        .with_context(|| format!("applying {kind} {name}"))?;
    Ok(())
}

/// A client that authenticates with a TokenRequest token of a service account.
async fn service_account_client(cp: &ControlPlane, admin: &Client, name: &str) -> Result<Client> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), RELEASE_NAMESPACE)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("a token for {name}"))?
        .status
        .context("the TokenRequest has no status")?
        .token;
    // The control plane's kubeconfig, its client certificate swapped for the token.
    let mut kubeconfig = serde_json::to_value(cp.kubeconfig_for("unused", &[])?)?;
    for user in kubeconfig["users"].as_array_mut().into_iter().flatten() {
        user["user"] = json!({"token": token});
    }
    let kubeconfig: Kubeconfig = serde_json::from_value(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// What a cell is about.
#[derive(Clone, Debug)]
struct Target {
    label: &'static str,
    kind: &'static str,
    namespace: Option<String>,
    name: String,
}

const VERBS: [&str; 6] = ["get", "list", "create", "update", "patch", "delete"];

/// Requests `verb` on `target` as `client`; `Ok(true)` if authorized (writes are dry
/// runs), `Ok(false)` if forbidden, with the status of anything else.
async fn attempt(
    client: &Client,
    admin: &Client,
    target: &Target,
    verb: &str,
) -> Result<(bool, String)> {
    let ns = target.namespace.as_deref();
    let as_subject = api(client, target.kind, ns)?;
    let as_admin = api(admin, target.kind, ns)?;
    let dry = PostParams {
        dry_run: true,
        field_manager: Some(MANAGER.into()),
    };
    let result: Result<(), kube::Error> = match verb {
        "get" => as_subject.get(&target.name).await.map(drop),
        "list" => as_subject
            .list(&ListParams::default().limit(1))
            .await
            .map(drop),
        "create" => {
            let mut object = as_admin.get(&target.name).await?;
            object.metadata = kube::api::ObjectMeta {
                name: Some(format!("{}-new", target.name)),
                namespace: object.metadata.namespace.clone(),
                ..Default::default()
            };
            as_subject.create(&dry, &object).await.map(drop)
        }
        "update" => {
            let object = as_admin.get(&target.name).await?;
            as_subject
                .replace(&target.name, &dry, &object)
                .await
                .map(drop)
        }
        "patch" => {
            let patch = json!({"metadata": {"labels": {"akp.test/rbac": "patched"}}});
            let params = PatchParams {
                dry_run: true,
                ..PatchParams::default()
            };
            as_subject
                .patch(&target.name, &params, &Patch::Merge(&patch))
                .await
                .map(drop)
        }
        "delete" => {
            let params = DeleteParams {
                dry_run: true,
                ..DeleteParams::default()
            };
            as_subject.delete(&target.name, &params).await.map(drop)
        }
        other => bail!("unknown verb {other}"),
    };
    Ok(match result {
        Ok(()) => (true, String::new()),
        Err(kube::Error::Api(s)) if s.code == 403 => (false, String::new()),
        // Authorized: the request got past RBAC (a conflict or validation answer).
        Err(kube::Error::Api(s)) => (true, format!("{} {}", s.code, s.reason)),
        Err(other) => bail!("{verb} {}: {other}", target.label),
    })
}

/// Which cells each subject may do: `(target label, verbs)`; every other cell is denied.
fn expected(subject: &str) -> Vec<(&'static str, &'static [&'static str])> {
    const ALL: &[&str] = &["get", "list", "create", "update", "patch", "delete"];
    const READ: &[&str] = &["get", "list"];
    // Published to every authenticated user (R-BIL-04, R-SW-01).
    let published = vec![("catalog item", READ), ("tariff", READ)];
    let mut cells = match subject {
        // R-LC-08: an agency manages its own products and reads its own environments.
        "agency A user" => vec![("product of A", ALL), ("configmap in A's env", READ)],
        "agency B user" => vec![("product of B", ALL), ("configmap in B's env", READ)],
        // The digitalization head administers A's namespace (built-in admin).
        "head of A" => vec![
            ("product of A", ALL),
            ("secret of A", ALL),
            ("rolebinding of A", ALL),
            ("namespace of A", &["get"][..]),
            ("configmap in A's env", READ),
        ],
        "SRE" => vec![
            ("product of A", &["get", "list", "delete"][..]),
            ("product of B", &["get", "list", "delete"][..]),
            ("agency", ALL),
            ("site", ALL),
            ("catalog item", ALL),
            ("tariff", &["get", "list", "create", "update", "patch"][..]),
            ("billing report", &["get", "list", "create"][..]),
            ("namespace of A", READ),
            ("rolebinding of A", READ),
            ("configmap in A's env", READ),
            ("configmap in B's env", READ),
        ],
        "authorized body" => vec![
            ("product of A", READ),
            ("product of B", READ),
            ("agency", READ),
            ("billing report", READ),
        ],
        // Least privilege: what operator/src calls, nothing more.
        "operator SA" => vec![
            ("product of A", &["get", "list", "patch"][..]),
            ("product of B", &["get", "list", "patch"][..]),
            ("agency", READ),
            ("site", READ),
            // Secrets: only its webhook certificate by name; create cannot be limited
            // by name, and is limited to its own namespace.
            ("webhook secret", &["get", "create", "patch"][..]),
            ("other secret of akp-system", &["create"][..]),
            (
                "namespace of A",
                &["get", "list", "create", "patch", "delete"][..],
            ),
            ("rolebinding of A", &["list", "create", "patch"][..]),
        ],
        "billing SA" => vec![
            ("agency", &["list"][..]),
            ("billing report", &["list", "create"][..]),
        ],
        _ => vec![],
    };
    for (label, verbs) in published {
        if !cells.iter().any(|(l, _)| *l == label) {
            cells.push((label, verbs));
        }
    }
    cells
}

/// R-LC-08 and least privilege: the whole matrix, each cell a real request.
#[tokio::test]
async fn r_lc_08_rbac_matrix_of_people_and_service_accounts() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin_client().await?;
    ensure_namespace(&admin, RELEASE_NAMESPACE).await?;
    let rbac = chart_rbac()?;
    ensure!(
        rbac.iter().any(|d| d["metadata"]["name"] == "akp-sre"),
        "the chart renders the SRE role"
    );
    for doc in &rbac {
        apply(&admin, doc).await?;
    }

    // The world: sites, catalog, tariffs, a report, Agencies A and B with a product
    // each, secrets. The operator (as an admin) makes the agencies' bindings and the
    // products' environments.
    for file in [
        "sites.yaml",
        "catalog.yaml",
        "tariffs.yaml",
        "billing-report.yaml",
    ] {
        for doc in documents(&repo_root().join("examples").join(file))? {
            apply(&admin, &doc).await?;
        }
    }
    for agency in ["a", "b"] {
        apply(
            &admin,
            &json!({
                "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Agency",
                "metadata": {"name": agency},
                "spec": {
                    "displayName": {"kk": "Сынақ", "ru": "Тест"},
                    "bin": "040340004434",
                    "namespace": format!("agency-{agency}"),
                    "digitalizationHead": {"user": format!("head@{agency}.gov.kz")}
                }
            }),
        )
        .await?;
    }
    let operator = Operator::start(
        cp.client_for("akp-operator-in-test", &["system:masters"])
            .await?,
        &ManualClock::new(jiff::Timestamp::now()),
    );
    for agency in ["a", "b"] {
        let ns = format!("agency-{agency}");
        eventually(
            &format!("the bindings of agency {agency}"),
            Duration::from_secs(60),
            || {
                let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &ns);
                async move { Ok(bindings.get_opt("akp-agency-products").await?.map(drop)) }
            },
        )
        .await?;
        apply(
            &admin,
            &json!({
                "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
                "metadata": {"name": "portal", "namespace": ns},
                "spec": {
                    "displayName": "Portal", "ictProjectCode": "AKT-2026-0001",
                    "developer": {"name": "Dev", "bin": "180940012345"},
                    "class": 2, "informationCategory": "public", "scale": "local",
                    "capacity": {"concurrentUsers": 5}, "contour": "internal",
                    "environments": {"development": {"cpu": "1", "memory": "1Gi", "storage": "1Gi"}}
                }
            }),
        )
        .await?;
        apply(
            &admin,
            &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "namespace": ns}, "stringData": {"password": "x"}}),
        )
        .await?;
    }
    for agency in ["a", "b"] {
        let env = format!("{agency}-portal-development");
        eventually(
            &format!("the environment {env} and its bindings"),
            Duration::from_secs(60),
            || {
                let bindings = Api::<RoleBinding>::namespaced(admin.clone(), &env);
                async move { Ok(bindings.get_opt("akp-agency").await?.map(drop)) }
            },
        )
        .await?;
        apply(
            &admin,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": env}, "data": {"k": "v"}}),
        )
        .await?;
    }
    for name in [WEBHOOK_SECRET, "other"] {
        apply(
            &admin,
            &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": RELEASE_NAMESPACE}, "stringData": {"k": "v"}}),
        )
        .await?;
    }
    operator.stop().await;
    eventually(
        "the aggregated admin ClusterRole",
        Duration::from_secs(60),
        || {
            let roles = Api::<ClusterRole>::all(admin.clone());
            async move {
                let admin_role = roles.get("admin").await?;
                let aggregated = admin_role
                    .rules
                    .iter()
                    .flatten()
                    .any(|r| r.resources.iter().flatten().any(|x| x == "secrets"));
                Ok(aggregated.then_some(()))
            }
        },
    )
    .await?;

    let target = |label, kind, namespace: Option<&str>, name: &str| Target {
        label,
        kind,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    };
    let targets = [
        target(
            "product of A",
            "PlatformSoftwareProduct",
            Some("agency-a"),
            "portal",
        ),
        target(
            "product of B",
            "PlatformSoftwareProduct",
            Some("agency-b"),
            "portal",
        ),
        target("agency", "Agency", None, "a"),
        target("site", "Site", None, "astana-1"),
        target("catalog item", "SoftwareCatalogItem", None, "postgresql-16"),
        target("tariff", "Tariff", None, "akp-2027"),
        target("billing report", "BillingReport", None, "2026-10"),
        target("secret of A", "Secret", Some("agency-a"), "db"),
        target(
            "webhook secret",
            "Secret",
            Some(RELEASE_NAMESPACE),
            WEBHOOK_SECRET,
        ),
        target(
            "other secret of akp-system",
            "Secret",
            Some(RELEASE_NAMESPACE),
            "other",
        ),
        target("namespace of A", "Namespace", Some("agency-a"), "agency-a"),
        target(
            "rolebinding of A",
            "RoleBinding",
            Some("agency-a"),
            "akp-agency-products",
        ),
        target(
            "configmap in A's env",
            "ConfigMap",
            Some("a-portal-development"),
            "settings",
        ),
        target(
            "configmap in B's env",
            "ConfigMap",
            Some("b-portal-development"),
            "settings",
        ),
    ];
    let subjects: Vec<(&str, Client)> = vec![
        (
            "agency A user",
            cp.client_for("aigerim@a.gov.kz", &["agency-a"]).await?,
        ),
        (
            "agency B user",
            cp.client_for("bolat@b.gov.kz", &["agency-b"]).await?,
        ),
        (
            "head of A",
            cp.client_for("head@a.gov.kz", &["agency-a"]).await?,
        ),
        ("SRE", cp.client_for("sre@akp.kz", &[SRE_GROUP]).await?),
        (
            "authorized body",
            cp.client_for("auditor@mdai.gov.kz", &[AUTHORIZED_BODY_GROUP])
                .await?,
        ),
        (
            "operator SA",
            service_account_client(cp, &admin, OPERATOR_SA).await?,
        ),
        (
            "billing SA",
            service_account_client(cp, &admin, BILLING_SA).await?,
        ),
    ];

    let mut rows = Vec::new();
    let mut mismatches = 0;
    let mut cells = 0;
    for (subject, client) in &subjects {
        let allowed: BTreeMap<&str, &[&str]> = expected(subject).into_iter().collect();
        for target in &targets {
            let mut row = format!("{subject:16} {:28}", target.label);
            for verb in VERBS {
                let (got, note) = attempt(client, &admin, target, verb).await?;
                let want = allowed.get(target.label).is_some_and(|v| v.contains(&verb));
                cells += 1;
                let mark = match (got, want == got) {
                    (true, true) => "allow",
                    (false, true) => "-",
                    (true, false) => "ALLOW!",
                    (false, false) => "DENY!",
                };
                if want != got {
                    mismatches += 1;
                }
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!("({note})")
                };
                row.push_str(&format!(" {:>8}{note:6}", format!("{verb}:{mark}")));
            }
            rows.push(row);
        }
    }
    assert!(
        mismatches == 0,
        "{mismatches} of {cells} cells differ from the policy (ALLOW! = allowed but should not be, DENY! = denied but should be allowed):\n{}",
        rows.join("\n")
    );
    Ok(())
}
