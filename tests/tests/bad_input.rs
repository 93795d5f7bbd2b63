//! The bad-input corpus (`examples/invalid/`) against a real kube-apiserver with the
//! operator's admission webhooks registered: every file is refused with the message it
//! names, by the layer it names, and nothing is written.
//!
//! A corpus file is one or two documents and header comments:
//! - `# refused-with: <text>`: the refusal contains the text (one line each; at least
//!   one names the field, `spec.…` or `metadata.…`);
//! - `# refused-by: webhook`: the operator's webhook refuses it (HTTP 403), not the
//!   schema (HTTP 422, CEL and OpenAPI);
//! - `# namespace: no-agency` or `# namespace: environment <env> <contour> <class>`:
//!   where a namespaced object goes; by default, the namespace of an Agency. An
//!   Agency whose `spec.namespace` is `@namespace` claims that same namespace.
//!
//! - `# as: <user> <group>…`: the refused document is sent by that user (a client
//!   certificate with those groups, RBAC allowing everything, so that only the rules
//!   that read the requester refuse it); by default an administrator sends it.
//!
//! Two documents mean the first is accepted and the second, an update, is refused; the
//! stored object must then be unchanged.
//!
//! The webhook server runs in this test's runtime, registered with the operator's own
//! Validating- and MutatingWebhookConfiguration: this binary has its own control plane,
//! so the fail-closed webhooks cannot disturb other tests.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use akp_operator::rules::naming::labels;
use akp_operator::webhook::{
    CertStore, Clock, ClusterLookup, PodPlacement, Validators, WebhookEndpoint, WebhookServer,
    apply_configuration, mutating_webhook_configuration, routes, validating_webhook_configuration,
};
use akp_test_support::fixtures;
use akp_test_support::operator::eventually;
use akp_test_support::{
    ControlPlane, Options, TestNamespace, api_resource, create_site_nodes, create_test_namespace,
    documents, repo_root, yaml_files,
};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

const MANAGER: &str = "akp-bad-input-tests";
/// "Today" for the R-SW-02 rules: every example catalog item is valid then.
const TODAY: &str = "2026-11-22";
/// The Agency that owns the default namespace of namespaced corpus objects.
const AGENCY: &str = "badinput";

fn control_plane() -> Result<&'static ControlPlane> {
    ControlPlane::shared(Options::default().with_crds())
        .context("control plane starts (run tools/build.sh first)")
}

/// Where a namespaced corpus object goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// The namespace of the Agency [`AGENCY`].
    Agency,
    /// A namespace no Agency owns.
    NoAgency,
    /// An environment namespace labelled as the operator labels them.
    Environment {
        env: String,
        contour: String,
        class: String,
    },
}

/// A file of the corpus.
struct BadInput {
    file: PathBuf,
    expected: Vec<String>,
    by_webhook: bool,
    place: Place,
    /// Who sends the refused document: user and groups.
    requester: Option<(String, Vec<String>)>,
    docs: Vec<Value>,
}

impl BadInput {
    fn name(&self) -> String {
        self.file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn header(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("# {key}:");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|s| s.trim().to_owned())
        .collect()
}

fn parse(file: PathBuf) -> Result<BadInput> {
    let text = std::fs::read_to_string(&file)?;
    let expected = header(&text, "refused-with");
    let docs = documents(&file)?;
    ensure!(
        !expected.is_empty() && !docs.is_empty() && docs.len() <= 2,
        "{}: needs refused-with lines and one or two documents",
        file.display()
    );
    ensure!(
        expected
            .iter()
            .any(|e| e.starts_with("spec") || e.starts_with("metadata")),
        "{}: no refused-with line names the field (spec.… or metadata.…)",
        file.display()
    );
    let by_webhook = match header(&text, "refused-by").as_slice() {
        [] => false,
        [by] if by == "webhook" => true,
        other => bail!("{}: refused-by {other:?}", file.display()),
    };
    let place = match header(&text, "namespace").first().map(String::as_str) {
        None => Place::Agency,
        Some("no-agency") => Place::NoAgency,
        Some(env) => match env.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["environment", env, contour, class] => Place::Environment {
                env: (*env).into(),
                contour: (*contour).into(),
                class: (*class).into(),
            },
            _ => bail!("{}: namespace {env:?}", file.display()),
        },
    };
    let requester = match header(&text, "as").first() {
        None => None,
        Some(line) => {
            let mut words = line.split_whitespace().map(str::to_owned);
            let user = words
                .next()
                .with_context(|| format!("{}: `# as:` names no user", file.display()))?;
            Some((user, words.collect()))
        }
    };
    Ok(BadInput {
        file,
        expected,
        by_webhook,
        place,
        requester,
        docs,
    })
}

fn bad_inputs() -> Result<Vec<BadInput>> {
    yaml_files(&repo_root().join("examples/invalid"))?
        .into_iter()
        .map(parse)
        .collect()
}

/// The API resource of a corpus document: the project's kinds, Pods and claims.
fn resource(doc: &Value) -> Result<(ApiResource, bool)> {
    match doc["kind"].as_str().context("document has no kind")? {
        "Pod" => Ok((ApiResource::erase::<Pod>(&()), true)),
        "PersistentVolumeClaim" => Ok((ApiResource::erase::<PersistentVolumeClaim>(&()), true)),
        kind => api_resource(kind),
    }
}

fn dynamic_api(client: &Client, doc: &Value, ns: &str) -> Result<(Api<DynamicObject>, String)> {
    let (ar, namespaced) = resource(doc)?;
    let name = doc["metadata"]["name"]
        .as_str()
        .context("document has no name")?
        .to_owned();
    Ok(if namespaced {
        (Api::namespaced_with(client.clone(), ns, &ar), name)
    } else {
        (Api::all_with(client.clone(), &ar), name)
    })
}

/// Server-side applies `doc` (in `ns` if namespaced) with strict field validation.
async fn apply(client: &Client, doc: &Value, ns: &str) -> Result<DynamicObject, kube::Error> {
    let (api, name) = dynamic_api(client, doc, ns).map_err(|e| kube::Error::Service(e.into()))?;
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).validation_strict(),
        &Patch::Apply(&in_namespace(doc, ns)),
    )
    .await
}

/// Creates `doc` (in `ns` if namespaced) with strict field validation, as `kubectl
/// create` does. Server-side apply cannot show a list with duplicate keys as invalid
/// (it fails to build its typed patch, HTTP 500), so new objects are created.
async fn create(client: &Client, doc: &Value, ns: &str) -> Result<DynamicObject, kube::Error> {
    let (api, _) = dynamic_api(client, doc, ns).map_err(|e| kube::Error::Service(e.into()))?;
    let body = serde_json::to_vec(&in_namespace(doc, ns)).map_err(kube::Error::SerdeError)?;
    // PostParams cannot ask for strict field validation: build the request.
    let request = kube::core::Request::new(api.resource_url())
        .create(
            &PostParams {
                field_manager: Some(MANAGER.into()),
                ..PostParams::default()
            },
            body,
        )
        .map_err(kube::Error::BuildRequest)?;
    let (mut parts, body) = request.into_parts();
    let strict = format!("{}&fieldValidation=Strict", parts.uri);
    parts.uri = strict
        .parse()
        .map_err(|e: http::uri::InvalidUri| kube::Error::Service(e.into()))?;
    client.request(http::Request::from_parts(parts, body)).await
}

fn in_namespace(doc: &Value, ns: &str) -> Value {
    let mut doc = doc.clone();
    if resource(&doc).is_ok_and(|(_, namespaced)| namespaced) {
        doc["metadata"]["namespace"] = ns.into();
    }
    if doc["kind"] == "Agency" && doc["spec"]["namespace"] == "@namespace" {
        doc["spec"]["namespace"] = ns.into();
    }
    doc
}

/// The namespaces of the corpus, made once each.
struct Namespaces {
    agency: String,
    no_agency: String,
    environments: BTreeMap<Place, String>,
}

impl Namespaces {
    async fn get(&mut self, client: &Client, place: &Place) -> Result<String> {
        Ok(match place {
            Place::Agency => self.agency.clone(),
            Place::NoAgency => self.no_agency.clone(),
            Place::Environment {
                env,
                contour,
                class,
            } => {
                if let Some(ns) = self.environments.get(place) {
                    return Ok(ns.clone());
                }
                let labels = BTreeMap::from([
                    (labels::AGENCY.to_owned(), AGENCY.to_owned()),
                    (labels::PRODUCT.to_owned(), "sample".to_owned()),
                    (labels::PRODUCT_NAMESPACE.to_owned(), self.agency.clone()),
                    (labels::ENVIRONMENT.to_owned(), env.clone()),
                    (labels::CONTOUR.to_owned(), contour.clone()),
                    (labels::CLASS.to_owned(), class.clone()),
                ]);
                let ns = create_test_namespace(client, env, labels).await?;
                self.environments.insert(place.clone(), ns.clone());
                ns
            }
        })
    }
}

/// Nodes in Kazakhstan and abroad, the example Sites and catalog, the Agency that owns
/// the default namespace, and a namespace of no agency.
async fn world(client: &Client) -> Result<Namespaces> {
    create_site_nodes(
        client,
        &[
            ("astana-1-a", "astana-1", "KZ"),
            ("almaty-1-a", "almaty-1", "KZ"),
            ("frankfurt-1-a", "frankfurt-1", "DE"),
        ],
    )
    .await?;
    for file in ["sites.yaml", "catalog.yaml"] {
        for doc in documents(&repo_root().join("examples").join(file))? {
            apply(client, &doc, "default")
                .await
                .with_context(|| format!("applying examples/{file}"))?;
        }
    }
    let agency_ns = TestNamespace::new(client, AGENCY).await?;
    let agency = fixtures::agency(AGENCY, agency_ns.name(), "head@bad-input.kz");
    apply(client, &agency, "default").await?;
    Ok(Namespaces {
        agency: agency_ns.name().to_owned(),
        no_agency: create_test_namespace(client, "no-agency", BTreeMap::new()).await?,
        environments: BTreeMap::new(),
    })
}

/// Starts the operator's webhook server on this runtime and registers its
/// configurations; returns once the API server enforces them.
async fn start_webhooks(cp: &ControlPlane, client: &Client, ns: &mut Namespaces) -> Result<()> {
    let (cert, key) = cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
    let store = Arc::new(CertStore::from_pem(&cert, &key)?);
    let validators = Validators::with_lookup(
        Arc::new(ClusterLookup::new(client.clone())),
        Clock::fixed(TODAY.parse()?),
    );
    let placement = PodPlacement::new(client.clone());
    let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let endpoint =
        WebhookEndpoint::Url(format!("https://127.0.0.1:{}", server.local_addr()?.port()));
    tokio::spawn(async move {
        if let Err(e) = server
            .run(store, routes(validators, placement), std::future::pending())
            .await
        {
            eprintln!("the webhook server stopped: {e:#}");
        }
    });
    apply_configuration(
        client,
        &validating_webhook_configuration(&endpoint, Some(cp.ca_cert_pem())),
    )
    .await
    .context("registering the validating configuration")?;
    apply_configuration(
        client,
        &mutating_webhook_configuration(&endpoint, Some(cp.ca_cert_pem())),
    )
    .await
    .context("registering the mutating configuration")?;

    // The API server picks configurations up from a watch: probe with dry runs.
    let env = ns
        .get(
            client,
            &Place::Environment {
                env: "development".into(),
                contour: "internal".into(),
                class: "2".into(),
            },
        )
        .await?;
    let pods = Api::<Pod>::namespaced(client.clone(), &env);
    let probe: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))?;
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    eventually(
        "the webhooks to be enforced",
        Duration::from_secs(30),
        || async {
            let refused = pods
                .create(&dry_run, &probe)
                .await
                .err()
                .is_some_and(|e| e.to_string().contains("(R-SW-01)"));
            Ok(refused.then_some(()))
        },
    )
    .await
}

/// One line of the report: the file and what went wrong.
struct Finding {
    file: String,
    problem: String,
}

/// The group bound to `cluster-admin` (not `system:masters`) for the `# as:` senders:
/// RBAC lets them do anything, and the webhook judges them as who they are.
const WRITERS: &str = "akp-bad-input:writers";

/// A client for the case's `# as:` requester, or the administrator's.
async fn sender(cp: &ControlPlane, admin: &Client, case: &BadInput) -> Result<Client> {
    let Some((user, groups)) = &case.requester else {
        return Ok(admin.clone());
    };
    let mut groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    groups.push(WRITERS);
    cp.client_for(user, &groups).await
}

/// Binds [`WRITERS`] to `cluster-admin`.
async fn bind_writers(admin: &Client) -> Result<()> {
    let binding: k8s_openapi::api::rbac::v1::ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "akp-bad-input-writers"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": WRITERS}]
    }))?;
    Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin.clone())
        .patch(
            "akp-bad-input-writers",
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&binding),
        )
        .await?;
    Ok(())
}

/// Applies one corpus file and returns what misbehaved.
async fn judge(client: &Client, sender: &Client, case: &BadInput, ns: &str) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let (bad, before) = match case.docs.as_slice() {
        [bad] => (bad, None),
        [good, bad] => {
            let stored = apply(client, good, ns)
                .await
                .with_context(|| format!("{}: the first document must be accepted", case.name()))?;
            (bad, Some(stored))
        }
        _ => bail!("{}: one or two documents", case.name()),
    };
    let want_code = if case.by_webhook { 403 } else { 422 };
    let refusal = match before {
        None => create(sender, bad, ns).await,
        Some(_) => apply(sender, bad, ns).await,
    };
    match refusal {
        Ok(_) => problems.push("accepted".to_owned()),
        Err(kube::Error::Api(status)) => {
            let message = &status.message;
            for want in &case.expected {
                if !message.contains(want.as_str()) {
                    problems.push(format!("message lacks {want:?}"));
                }
            }
            if status.code != want_code {
                problems.push(format!("HTTP {} instead of {want_code}", status.code));
            }
            let from_webhook = message.contains("admission webhook");
            if from_webhook != case.by_webhook {
                problems.push(format!(
                    "refused by the {} instead of the {}",
                    if from_webhook { "webhook" } else { "schema" },
                    if case.by_webhook { "webhook" } else { "schema" }
                ));
            }
            if !problems.is_empty() {
                problems.push(format!("the message was: {message}"));
            }
        }
        Err(other) => problems.push(format!("unexpected error {other}")),
    }
    // Nothing persisted: no object after a refused create, the old one after a refused update.
    let (api, name) = dynamic_api(client, bad, ns)?;
    match (&before, api.get_opt(&name).await?) {
        (None, None) => {}
        (None, Some(_)) => problems.push("a refused create left an object".into()),
        (Some(b), Some(n)) => {
            if b.metadata.resource_version != n.metadata.resource_version || b.data != n.data {
                problems.push("a refused update changed the object".into());
            }
        }
        (Some(_), None) => problems.push("the accepted object disappeared".into()),
    }
    Ok(problems)
}

/// Every file of the corpus is refused with its message, by its layer, and nothing is
/// written. Rules: R-LC-01, R-LC-02, R-LC-04, R-LC-08, R-LC-10, R-ENV-01, R-ENV-02, R-ENV-04,
/// R-PLC-01, R-PLC-02, R-SEG-01, R-SEG-02, R-SW-01, R-SW-03, R-BIL-02, R-BIL-03,
/// R-BIL-04, R-MON-01 and the API's plain-text rule.
#[tokio::test]
async fn every_bad_input_is_refused_with_its_message_and_nothing_is_written() -> Result<()> {
    let cp = control_plane()?;
    let client = cp.admin_client().await?;
    let cases = bad_inputs()?;
    ensure!(cases.len() >= 60, "the corpus has {} files", cases.len());
    let kinds: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c.docs.last()?["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in [
        "Agency",
        "Site",
        "PlatformSoftwareProduct",
        "SoftwareCatalogItem",
        "Tariff",
        "BillingReport",
        "Pod",
        "PersistentVolumeClaim",
    ] {
        ensure!(kinds.contains(kind), "the corpus has no {kind}");
    }
    let mut namespaces = world(&client).await?;
    bind_writers(&client).await?;
    start_webhooks(cp, &client, &mut namespaces).await?;
    let mut findings = Vec::new();
    for case in &cases {
        let ns = namespaces.get(&client, &case.place).await?;
        let sender = sender(cp, &client, case).await?;
        for problem in judge(&client, &sender, case, &ns).await? {
            findings.push(Finding {
                file: case.name(),
                problem,
            });
        }
    }
    let width = findings.iter().map(|f| f.file.len()).max().unwrap_or(0);
    let table: Vec<String> = findings
        .iter()
        .map(|f| format!("{:width$}  {}", f.file, f.problem))
        .collect();
    let files: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.file.as_str()).collect();
    assert!(
        findings.is_empty(),
        "{} of {} bad inputs misbehaved:\n{}",
        files.len(),
        cases.len(),
        table.join("\n")
    );
    Ok(())
}
