//! The validating admission webhook against a real kube-apiserver: the webhook server
//! runs in the test process on 127.0.0.1, the API server calls it over TLS, and
//! refusals reach the client with the field, the value, the rule id and the fix.
//! Also the self-managed certificate: created, reused, renewed, and trusted through
//! the patched caBundle.
//!
//! Every test registers its own configuration, scoped by a namespace label to its own
//! namespaces, so tests run in parallel without calling each other's servers; Agencies
//! and catalog items are cluster-scoped, so their names are unique per test.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use akp_crds::{Agency, PlatformSoftwareProduct, SoftwareCatalogItem};
use akp_operator::rules::naming::max_product_name_len;
use akp_operator::webhook::certs::{CA_CRT, TLS_CRT, TLS_KEY, ensure_serving_cert_at};
use akp_operator::webhook::{
    AdmissionMetrics, CertStore, Clock, SelfManagedCerts, ServingCert, Validators, WebhookEndpoint,
    WebhookServer, apply_configuration, ensure_serving_cert, patch_ca_bundle, router,
    validating_webhook_configuration,
};
use akp_test_support::{ControlPlane, Options, TestNamespace};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The label that scopes a test's webhook configuration to its namespaces.
const SCOPE_LABEL: &str = "akp.test/webhook";
/// The name of the one webhook of the configuration, as the API server quotes it.
const HOOK: &str = "platformsoftwareproducts.validate.akp.egov.kz";

fn control_plane() -> Result<&'static ControlPlane> {
    ControlPlane::shared(Options::default().with_crds())
        .context("control plane starts (run tools/build.sh first)")
}

/// "Today" for the R-SW-02 checks, fixed so that expiry does not depend on the day
/// the tests run.
fn today() -> Result<Clock> {
    Ok(Clock::fixed("2026-10-01".parse()?))
}

/// A webhook server in this process and its configuration in the API server.
struct Webhook {
    client: Client,
    /// Unique per test: the scope label's value and a suffix for cluster-scoped names.
    id: String,
    configuration: String,
    /// A namespace in scope that no Agency owns.
    unowned: TestNamespace,
    port: u16,
    metrics: AdmissionMetrics,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<()>>>,
}

impl Webhook {
    /// Serves with a certificate signed by the control plane's CA and registers a
    /// configuration that trusts it; waits until the API server enforces it.
    async fn start(client: &Client, test: &str) -> Result<Self> {
        let cp = control_plane()?;
        let (cert, key) =
            cp.sign_serving_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)])?;
        let store = Arc::new(CertStore::from_pem(&cert, &key)?);
        let webhook = Self::serve(client, test, store).await?;
        webhook.register(Some(cp.ca_cert_pem())).await?;
        webhook.wait_until_enforced().await?;
        Ok(webhook)
    }

    /// Serves with the certificate of `store`; registers nothing yet.
    async fn serve(client: &Client, test: &str, store: Arc<CertStore>) -> Result<Self> {
        let unowned = TestNamespace::new(client, &format!("wh-{test}")).await?;
        let id = unowned.name().to_owned();
        label_namespace(client, &id, &id).await?;
        let metrics = AdmissionMetrics::unregistered()?;
        let validators = Validators::with_lookup(
            Arc::new(akp_operator::webhook::ClusterLookup::new(client.clone())),
            today()?,
        )
        .with_metrics(metrics.clone());
        // Mutual TLS, as in production: only the API server's calls get in.
        let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await?
            .with_client_ca(control_plane()?.webhook_client_ca()?);
        let port = server.local_addr()?.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let tls = store.clone();
        let handle = tokio::spawn(async move {
            server
                .run(tls, router(validators), async {
                    let _ = stopped.await;
                })
                .await?;
            Ok(())
        });
        Ok(Self {
            client: client.clone(),
            configuration: format!("akp-operator-{id}"),
            id,
            unowned,
            port,
            metrics,
            stop: Some(stop),
            server: Some(handle),
        })
    }

    /// The operator's configuration, renamed and scoped to this test's namespaces.
    async fn register(&self, ca_pem: Option<&str>) -> Result<()> {
        let endpoint = WebhookEndpoint::Url(format!("https://127.0.0.1:{}", self.port));
        let mut config = validating_webhook_configuration(&endpoint, ca_pem);
        config.metadata.name = Some(self.configuration.clone());
        let scope = LabelSelector {
            match_labels: Some(BTreeMap::from([(SCOPE_LABEL.into(), self.id.clone())])),
            ..LabelSelector::default()
        };
        for hook in config.webhooks.iter_mut().flatten() {
            hook.namespace_selector = Some(scope.clone());
            // A namespace selector does not apply to cluster-scoped objects (Agencies):
            // select by the object's own label, so that this test's hook never judges
            // the Agencies of the other tests sharing the control plane.
            let cluster_scoped = hook
                .rules
                .iter()
                .flatten()
                .any(|r| r.scope.as_deref() == Some("Cluster"));
            if cluster_scoped {
                hook.object_selector = Some(scope.clone());
            }
        }
        apply_configuration(&self.client, &config)
            .await
            .context("registering the webhook configuration")?;
        Ok(())
    }

    /// The API server picks configurations up from a watch: probe with dry-run
    /// creates in the unowned namespace until our refusal comes back.
    async fn wait_until_enforced(&self) -> Result<()> {
        self.wait_for_refusal(|m| m.contains("(R-LC-08)")).await
    }

    /// Probes until a dry-run create in the unowned namespace fails with a message
    /// that `expected` accepts; returns the last message on timeout.
    async fn wait_for_refusal(&self, expected: impl Fn(&str) -> bool) -> Result<()> {
        let api = self.unowned.api::<PlatformSoftwareProduct>();
        let probe = product("probe", self.unowned.name(), &[])?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        loop {
            let outcome = match api.create(&dry_run, &probe).await {
                Ok(_) => "allowed".to_owned(),
                Err(e) => e.to_string(),
            };
            if expected(&outcome) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the webhook was not enforced as expected within 30s; last: {outcome}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A namespace in scope, owned by a new Agency (unique name): `(namespace, agency)`.
    async fn agency_namespace(&self, agency: &str) -> Result<(TestNamespace, String)> {
        let ns = TestNamespace::new(&self.client, &format!("agency-{agency}")).await?;
        label_namespace(&self.client, ns.name(), &self.id).await?;
        // Agency names hold no hyphen (R-LC-08, the CEL rule on metadata.name).
        let name = format!("{agency}{}", suffix(&self.id)).replace('-', "");
        create_agency(&self.client, &name, ns.name()).await?;
        Ok((ns, name))
    }

    /// A catalog item named `<base>-<suffix>`; returns the name.
    async fn catalog_item(&self, base: &str, envs: &[&str], valid_until: &str) -> Result<String> {
        let name = format!("{base}-{}", suffix(&self.id));
        let item: SoftwareCatalogItem = serde_json::from_value(json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "SoftwareCatalogItem",
            "metadata": {"name": name},
            "spec": {
                "displayName": base, "category": "system",
                "images": [format!("registry.akp.kz/platform/{base}")],
                "allowedEnvironments": envs,
                "trustedRegister": {"entry": "RU-2025-0113", "documentsValidUntil": valid_until},
                "license": {"metric": "instance"}
            }
        }))?;
        Api::<SoftwareCatalogItem>::all(self.client.clone())
            .create(&PostParams::default(), &item)
            .await
            .with_context(|| format!("creating SoftwareCatalogItem {name}"))?;
        Ok(name)
    }

    /// Unregisters, stops the server and deletes the cluster-scoped objects of the test.
    async fn stop(mut self) -> Result<()> {
        Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .delete(&self.configuration, &DeleteParams::default())
            .await?;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        let suffix = suffix(&self.id);
        let agencies = Api::<Agency>::all(self.client.clone());
        for agency in agencies.list(&Default::default()).await? {
            if agency.name_any().ends_with(&suffix) {
                agencies
                    .delete(&agency.name_any(), &DeleteParams::default())
                    .await?;
            }
        }
        let items = Api::<SoftwareCatalogItem>::all(self.client.clone());
        for item in items.list(&Default::default()).await? {
            if item.name_any().ends_with(&suffix) {
                items
                    .delete(&item.name_any(), &DeleteParams::default())
                    .await?;
            }
        }
        Ok(())
    }
}

/// The generated part of a test namespace name (`wh-test-x7k2p` → `x7k2p`).
fn suffix(id: &str) -> String {
    id.rsplit('-').next().unwrap_or(id).to_owned()
}

async fn label_namespace(client: &Client, namespace: &str, id: &str) -> Result<()> {
    Api::<Namespace>::all(client.clone())
        .patch(
            namespace,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {SCOPE_LABEL: id}}})),
        )
        .await
        .with_context(|| format!("labelling namespace {namespace}"))?;
    Ok(())
}

async fn create_agency(client: &Client, name: &str, namespace: &str) -> Result<()> {
    let agency: Agency = serde_json::from_value(json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Agency",
        "metadata": {"name": name},
        "spec": {
            "displayName": {
                "kk": "Қазақстан Республикасы Оқу-ағарту министрлігі",
                "ru": "Министерство просвещения Республики Казахстан"
            },
            "bin": "040340004434",
            "namespace": namespace,
            "digitalizationHead": {"user": "alice@mon.gov.kz"},
            "contracts": [{"id": "Д-2026/17", "signedOn": "2026-03-02"}]
        }
    }))?;
    Api::<Agency>::all(client.clone())
        .create(&PostParams::default(), &agency)
        .await
        .with_context(|| format!("creating Agency {name}"))?;
    Ok(())
}

/// A product in development, after examples/products/e-license.yaml, whose
/// environments run `software` (environment, catalog item).
fn product(
    name: &str,
    namespace: &str,
    software: &[(&str, &str)],
) -> Result<PlatformSoftwareProduct> {
    let mut environments = json!({
        "development": {"cpu": "4", "memory": "8Gi", "storage": "50Gi", "egress": "20Gi"},
        "testing": {"cpu": "4", "memory": "8Gi", "storage": "50Gi"},
    });
    for (env, item) in software {
        let request = environments
            .as_object_mut()
            .context("environments")?
            .entry(*env)
            .or_insert_with(|| json!({"cpu": "8", "memory": "16Gi", "storage": "200Gi"}));
        let list = request
            .as_object_mut()
            .context("request")?
            .entry("software")
            .or_insert_with(|| json!([]));
        list.as_array_mut()
            .context("software")?
            .push(json!({"item": item, "instances": 1}));
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "displayName": "Е-лицензиялау / Е-лицензирование",
            "ictProjectCode": "AKT-2026-0042",
            "purpose": "Issuing licences for educational activity online.",
            "developer": {"name": "ТОО «Цифровые решения»", "bin": "180940012345"},
            "class": 1,
            "informationCategory": "restrictedPersonalData",
            "scale": "republican",
            "capacity": {"concurrentUsers": 2000, "peakTransactionsPerHour": 50000, "responseTimeMs": 800},
            "contour": "external",
            "internetFacing": true,
            "integrations": [{"target": "agency-mf/tax-check", "via": "gateway"}],
            "stage": "development",
            "environments": environments,
        }
    }))?)
}

/// Creates `product`; on refusal returns the API server's status code and message.
async fn create(
    api: &Api<PlatformSoftwareProduct>,
    product: &PlatformSoftwareProduct,
) -> Result<Result<PlatformSoftwareProduct, (u16, String)>> {
    let started = Instant::now();
    let result = api.create(&PostParams::default(), product).await;
    eprintln!(
        "create {} in {}: {:?}",
        product.name_any(),
        product.namespace().unwrap_or_default(),
        started.elapsed()
    );
    match result {
        Ok(created) => Ok(Ok(created)),
        Err(kube::Error::Api(status)) => Ok(Err((status.code, status.message))),
        Err(e) => Err(e.into()),
    }
}

/// Asserts `product` is refused by our webhook with `reasons` (the whole message
/// after the API server's prefix), and that nothing was stored.
async fn assert_refused(
    api: &Api<PlatformSoftwareProduct>,
    product: &PlatformSoftwareProduct,
    reasons: &str,
) -> Result<()> {
    match create(api, product).await? {
        Ok(_) => bail!("{} was admitted", product.name_any()),
        Err((code, message)) => {
            ensure!(code == 403, "code {code}: {message}");
            let expected = format!("admission webhook \"{HOOK}\" denied the request: {reasons}");
            ensure!(message == expected, "\n got: {message}\nwant: {expected}");
        }
    }
    ensure!(
        api.get_opt(&product.name_any()).await?.is_none(),
        "{} was stored despite the refusal",
        product.name_any()
    );
    Ok(())
}

#[tokio::test]
async fn r_lc_08_a_product_outside_every_agency_namespace_is_refused() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let webhook = Webhook::start(&client, "lc08").await?;
    let ns = webhook.unowned.name().to_owned();
    let api = webhook.unowned.api::<PlatformSoftwareProduct>();
    assert_refused(
        &api,
        &product("e-license", &ns, &[])?,
        &format!(
            "metadata.namespace \"{ns}\" belongs to no Agency (R-LC-08): create products in your agency's namespace (kubectl get agencies shows it)"
        ),
    )
    .await?;
    ensure!(webhook.metrics.decisions("PlatformSoftwareProduct", false) >= 1);
    webhook.stop().await
}

#[tokio::test]
async fn r_env_01_a_name_too_long_for_the_agency_is_refused() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let webhook = Webhook::start(&client, "env01").await?;
    let (ns, agency) = webhook.agency_namespace("ministryoflongnames").await?;
    let api = ns.api::<PlatformSoftwareProduct>();
    let limit = max_product_name_len(&agency);
    let too_long = "e".repeat(limit + 1);
    let namespace = format!("{agency}-{too_long}-production");
    assert_refused(
        &api,
        &product(&too_long, ns.name(), &[])?,
        &format!(
            "metadata.name \"{too_long}\" is {} characters, too long for agency {agency}: its environment namespace {namespace} would be 64 characters, over the 63 a namespace name may have (R-ENV-01): choose a name of at most {limit} characters (the limit for agency {agency})",
            limit + 1
        ),
    )
    .await?;
    // The longest allowed name is admitted.
    let longest = "e".repeat(limit);
    ensure!(
        create(&api, &product(&longest, ns.name(), &[])?)
            .await?
            .is_ok()
    );
    webhook.stop().await?;
    ns.delete().await
}

#[tokio::test]
async fn r_sw_01_r_env_02_unknown_and_misplaced_software_are_refused_together() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let webhook = Webhook::start(&client, "sw01").await?;
    let (ns, _) = webhook.agency_namespace("mon").await?;
    let api = ns.api::<PlatformSoftwareProduct>();
    let portal = webhook
        .catalog_item("e-license-portal", &["trial", "production"], "2027-12-31")
        .await?;
    let unknown = format!("no-such-software-{}", suffix(&webhook.id));
    let bad = product(
        "e-license",
        ns.name(),
        &[("development", &unknown), ("development", &portal)],
    )?;
    assert_refused(
        &api,
        &bad,
        &format!(
            "2 problems: spec.environments.development.software[0].item \"{unknown}\" names no SoftwareCatalogItem (R-SW-01): request software of the catalog (kubectl get swc), or ask the platform operator to register it; spec.environments.development.software[1].item \"{portal}\" may not run in the development environment, only in trial, production (R-ENV-02): remove it from spec.environments.development.software, or request it only where it may run"
        ),
    )
    .await?;
    // Where it may run, the same item is admitted.
    let good = product("e-license", ns.name(), &[("trial", &portal)])?;
    ensure!(create(&api, &good).await?.is_ok());
    webhook.stop().await?;
    ns.delete().await
}

#[tokio::test]
async fn r_sw_02_expired_software_is_refused_for_new_use_and_kept_where_used() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let webhook = Webhook::start(&client, "sw02").await?;
    let (ns, _) = webhook.agency_namespace("mz").await?;
    let api = ns.api::<PlatformSoftwareProduct>();
    let items = Api::<SoftwareCatalogItem>::all(client.clone());
    let expired = webhook
        .catalog_item(
            "redis-7",
            &["development", "testing", "trial", "production"],
            "2026-09-30",
        )
        .await?;
    assert_refused(
        &api,
        &product("e-health", ns.name(), &[("development", &expired)])?,
        &format!(
            "spec.environments.development.software[0].item \"{expired}\" is trusted software whose register documents (entry RU-2025-0113) were valid until 2026-09-30 only (R-SW-02): new uses of expired software are refused: request other catalog software, or ask the platform operator to renew the register entry"
        ),
    )
    .await?;

    // Software that expires after the product was admitted keeps running there.
    let kafka = webhook
        .catalog_item(
            "kafka-3",
            &["development", "testing", "trial", "production"],
            "2027-09-01",
        )
        .await?;
    let created = create(
        &api,
        &product("e-records", ns.name(), &[("development", &kafka)])?,
    )
    .await?
    .map_err(|(code, m)| anyhow::anyhow!("{code}: {m}"))?;
    items
        .patch(
            &kafka,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"trustedRegister": {"documentsValidUntil": "2026-09-15"}}}),
            ),
        )
        .await?;
    let mut changed = created.clone();
    changed.spec.capacity.concurrent_users = Some(3000);
    api.replace(&changed.name_any(), &PostParams::default(), &changed)
        .await
        .context("an update keeping expired software where it ran is admitted")?;
    // ... but it is not admitted into another environment.
    let mut spread = api.get(&changed.name_any()).await?;
    if let Some(testing) = spread.spec.environments.testing.as_mut() {
        testing.software.push(akp_crds::product::SoftwareRequest {
            item: kafka.clone(),
            instances: 1,
        });
    }
    match api.replace(&spread.name_any(), &PostParams::default(), &spread).await {
        Err(kube::Error::Api(status)) => ensure!(
            status.code == 403
                && status.message.contains(&format!(
                    "spec.environments.testing.software[0].item \"{kafka}\" is trusted software whose register documents (entry RU-2025-0113) were valid until 2026-09-15 only (R-SW-02)"
                )),
            "{status:?}"
        ),
        other => bail!("spreading expired software was not refused: {other:?}"),
    }
    webhook.stop().await?;
    ns.delete().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_product_is_admitted_and_admission_latency_is_measured() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let webhook = Webhook::start(&client, "valid").await?;
    let (ns, _) = webhook.agency_namespace("mf").await?;
    let api = ns.api::<PlatformSoftwareProduct>();
    let pg = webhook
        .catalog_item(
            "postgresql-16",
            &["development", "testing", "trial", "production"],
            "2027-04-30",
        )
        .await?;
    let valid = product(
        "tax-check",
        ns.name(),
        &[("development", &pg), ("testing", &pg), ("trial", &pg)],
    )?;
    let created = create(&api, &valid)
        .await?
        .map_err(|(code, m)| anyhow::anyhow!("{code}: {m}"))?;
    ensure!(created.spec == valid.spec);
    ensure!(api.get_opt("tax-check").await?.is_some());

    // Round trips of dry-run creates through the webhook (three lookups each) and,
    // for comparison, of the same in a namespace outside the webhook's scope.
    let unscoped = TestNamespace::new(&client, "wh-unscoped").await?;
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut through = Vec::new();
    let mut without = Vec::new();
    for i in 0..20 {
        let mut p = valid.clone();
        p.metadata.name = Some(format!("latency-{i}"));
        let started = Instant::now();
        api.create(&dry_run, &p).await?;
        through.push(started.elapsed());
        p.metadata.namespace = Some(unscoped.name().to_owned());
        let started = Instant::now();
        unscoped
            .api::<PlatformSoftwareProduct>()
            .create(&dry_run, &p)
            .await?;
        without.push(started.elapsed());
    }
    through.sort();
    without.sort();
    eprintln!(
        "admission round trip with the webhook: median {:?}, max {:?}; without: median {:?}, max {:?}",
        through[10], through[19], without[10], without[19]
    );
    ensure!(
        through[19] < Duration::from_secs(5),
        "an admission took {:?}, over the webhook's timeout",
        through[19]
    );
    ensure!(webhook.metrics.decisions("PlatformSoftwareProduct", true) >= 21);
    webhook.stop().await?;
    unscoped.delete().await?;
    ns.delete().await
}

/// The Secret's content, for comparisons.
async fn stored(secrets: &Api<Secret>, name: &str) -> Result<(String, BTreeMap<String, Vec<u8>>)> {
    let secret = secrets.get(name).await?;
    ensure!(secret.type_.as_deref() == Some("kubernetes.io/tls"));
    let data = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Ok((secret.metadata.resource_version.unwrap_or_default(), data))
}

fn same_as_stored(cert: &ServingCert, data: &BTreeMap<String, Vec<u8>>) -> bool {
    data.get(TLS_CRT).map(Vec::as_slice) == Some(cert.cert_pem.as_bytes())
        && data.get(TLS_KEY).map(Vec::as_slice) == Some(cert.key_pem.as_bytes())
        && data.get(CA_CRT).map(Vec::as_slice) == Some(cert.ca_pem.as_bytes())
}

#[tokio::test]
async fn the_self_managed_certificate_is_created_reused_renewed_and_trusted() -> Result<()> {
    let client = control_plane()?.admin_client().await?;
    let system = TestNamespace::new(&client, "akp-system").await?;
    let secrets = system.api::<Secret>();
    let names = vec![
        format!("akp-operator-webhook.{}.svc", system.name()),
        "127.0.0.1".to_owned(),
    ];
    const DAY: Duration = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    // Issued 340 days ago: the serving certificate has 25 days left.
    let then = now - 340 * DAY;

    let first = ensure_serving_cert_at(&client, system.name(), "webhook-tls", &names, then).await?;
    let (version, data) = stored(&secrets, "webhook-tls").await?;
    ensure!(
        same_as_stored(&first, &data),
        "the Secret holds what was returned"
    );
    let again = ensure_serving_cert_at(&client, system.name(), "webhook-tls", &names, then).await?;
    ensure!(again == first, "a valid certificate is reused");
    ensure!(
        stored(&secrets, "webhook-tls").await?.0 == version,
        "reusing writes nothing"
    );

    // Served without a caBundle, the API server does not trust it; once patched, it does.
    let store = Arc::new(CertStore::from_pem(&first.cert_pem, &first.key_pem)?);
    let webhook = Webhook::serve(&client, "certs", store.clone()).await?;
    webhook.register(None).await?;
    webhook
        .wait_for_refusal(|m| m.contains("failed calling webhook") && m.contains("x509"))
        .await?;
    patch_ca_bundle(&client, &webhook.configuration, &first.ca_pem).await?;
    let config = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(&webhook.configuration)
        .await?;
    ensure!(
        config.webhooks.unwrap_or_default().iter().all(|w| w
            .client_config
            .ca_bundle
            .as_ref()
            .map(|b| b.0.as_slice())
            == Some(first.ca_pem.as_bytes())),
        "every webhook has the caBundle"
    );
    webhook.wait_until_enforced().await?;

    // Renewal within 30 days of expiry: a new serving certificate from the same CA,
    // swapped in without a restart and still trusted.
    let managed = SelfManagedCerts {
        namespace: system.name().to_owned(),
        secret_name: "webhook-tls".to_owned(),
        dns_names: names.clone(),
        configuration: webhook.configuration.clone(),
    };
    let configs = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let config_before = configs
        .get(&webhook.configuration)
        .await?
        .resource_version();
    let leaf_before = store.leaf_der();
    let renewed = managed.refresh(&client, &store).await?;
    ensure!(
        renewed.cert_pem != first.cert_pem,
        "the serving certificate is renewed"
    );
    ensure!(
        renewed.ca_pem == first.ca_pem,
        "the CA is kept, so caBundle stays"
    );
    ensure!(same_as_stored(
        &renewed,
        &stored(&secrets, "webhook-tls").await?.1
    ));
    ensure!(
        store.leaf_der() != leaf_before,
        "the server serves the renewed certificate"
    );
    ensure!(
        configs
            .get(&webhook.configuration)
            .await?
            .resource_version()
            == config_before,
        "an unchanged caBundle is not written again"
    );
    webhook.wait_until_enforced().await?;
    ensure!(
        ensure_serving_cert(&client, system.name(), "webhook-tls", &names).await? == renewed,
        "the renewed certificate is reused"
    );

    // Near the end of the CA's ten years, the CA is replaced too.
    let near_ca_end = now + (3650 - 20) * DAY;
    let new_ca =
        ensure_serving_cert_at(&client, system.name(), "webhook-tls", &names, near_ca_end).await?;
    ensure!(new_ca.ca_pem != renewed.ca_pem, "the CA is renewed");

    // Two replicas at once, on a new Secret and on one due for renewal: one writes,
    // the other reads what it wrote.
    let (a, b) = tokio::join!(
        ensure_serving_cert(&client, system.name(), "webhook-tls-race", &names),
        ensure_serving_cert(&client, system.name(), "webhook-tls-race", &names),
    );
    ensure!(a? == b?, "racing replicas agree on a new certificate");
    ensure_serving_cert_at(
        &client,
        system.name(),
        "webhook-tls-renew-race",
        &names,
        then,
    )
    .await?;
    let (a, b) = tokio::join!(
        ensure_serving_cert(&client, system.name(), "webhook-tls-renew-race", &names),
        ensure_serving_cert(&client, system.name(), "webhook-tls-renew-race", &names),
    );
    ensure!(a? == b?, "racing replicas agree on a renewed certificate");

    webhook.stop().await?;
    system.delete().await
}
