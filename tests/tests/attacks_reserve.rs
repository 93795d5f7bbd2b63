//! Attacks in the cluster of a reserve Site (docs/security.md W9): the reserve
//! environment of a class 1 product lives in another cluster, and its tenants try
//! there what the webhooks refuse at home: a pod on a node abroad, a node name that
//! exists only at home, an untrusted image. The real akp-operator binary registers its
//! webhooks in that cluster, whose own API server calls them back (with its own
//! webhook client certificate) and enforces the answers (R-PLC-01, R-SW-01, R-PLC-02).

use std::process::Child;
use std::time::Duration;

use akp_test_support::fixtures::example;
use akp_test_support::operator::{eventually, operator_command};
use akp_test_support::{
    ControlPlane, Options, apply, apply_examples, create_site_nodes, documents, ensure_namespace,
    free_port, list_all, repo_root,
};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

const MANAGER: &str = "akp-tests";
const NS: &str = "mz-e-health-records-production";
const TRUSTED: &str = "registry.akp.kz/platform/postgresql:16";

/// The real operator binary with its webhooks at home and for remote Sites, requiring
/// the client certificate of either cluster's API server.
fn spawn_operator(home: &ControlPlane, reserve: &ControlPlane) -> Result<Child> {
    let dir = repo_root().join("target/attacks-reserve");
    std::fs::create_dir_all(&dir)?;
    let client_ca = dir.join("webhook-client-ca.pem");
    std::fs::write(
        &client_ca,
        format!(
            "{}{}",
            home.webhook_client_ca_pem().context("home client CA")?,
            reserve
                .webhook_client_ca_pem()
                .context("reserve client CA")?
        ),
    )?;
    let port = free_port()?;
    operator_command(home, &dir, port)?
        .arg("--remote-webhook-endpoint")
        .arg(format!("https://127.0.0.1:{port}"))
        .arg("--webhook-client-ca")
        .arg(&client_ca)
        .spawn()
        .context("starting akp-operator")
}

fn pod(name: &str, spec: Value) -> Result<Pod> {
    Ok(serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": spec}),
    )?)
}

/// The refusal of creating `pod` as `tenant`, once the reserve cluster's API server
/// calls the webhooks (dry runs until then, so the real create is the one judged).
async fn refused(tenant: &Client, pod: &Pod, says: &[&str]) -> Result<String> {
    let pods = Api::<Pod>::namespaced(tenant.clone(), NS);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    eventually(
        &format!("the reserve cluster refusing {name} with {says:?}"),
        Duration::from_secs(30),
        || async {
            match pods.create(&dry_run, pod).await {
                Err(kube::Error::Api(s)) => {
                    Ok(says.iter().all(|w| s.message.contains(w)).then_some(()))
                }
                Err(e) => Err(e.into()),
                Ok(_) => Ok(None),
            }
        },
    )
    .await?;
    match pods.create(&PostParams::default(), pod).await {
        Err(kube::Error::Api(s)) => {
            for w in says {
                ensure!(s.message.contains(w), "{name}: {:?} lacks {w:?}", s.message);
            }
            Ok(s.message)
        }
        Err(e) => Err(e.into()),
        Ok(_) => bail!("{name} was admitted in the reserve cluster"),
    }
}

#[tokio::test]
async fn r_plc_01_r_sw_01_r_plc_02_the_reserve_cluster_calls_the_webhooks_back() -> Result<()> {
    let home = ControlPlane::start(Options::default().with_crds())
        .context("control plane starts (run tools/build.sh first)")?;
    let reserve = ControlPlane::start(Options::default())?;
    let admin = home.admin_client().await?;
    let remote = reserve.admin_client().await?;
    ensure_namespace(&admin, "akp-system").await?;
    create_site_nodes(&admin, &[("astana-1-a", "astana-1", "KZ")]).await?;
    create_site_nodes(
        &remote,
        &[
            ("almaty-2-a", "almaty-2", "KZ"),
            ("frankfurt-1-a", "frankfurt-1", "DE"),
        ],
    )
    .await?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "almaty-2", "namespace": "akp-system"},
        "stringData": {"kubeconfig": std::fs::read_to_string(reserve.kubeconfig_path())?}
    }))?;
    Api::<Secret>::namespaced(admin.clone(), "akp-system")
        .create(&PostParams::default(), &secret)
        .await?;
    apply(&admin, &example("sites.yaml", "astana-1")?, None, MANAGER).await?;
    let almaty2 = json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Site", "metadata": {"name": "almaty-2"},
        "spec": {"country": "KZ", "city": "Almaty", "role": "reserve", "contours": ["internal", "external"],
                 "nodeSelector": {"topology.kubernetes.io/zone": "almaty-2"},
                 "cluster": {"kubeconfigSecretRef": {"namespace": "akp-system", "name": "almaty-2"}}}
    });
    apply(&admin, &almaty2, None, MANAGER).await?;
    apply_examples(&admin, &["catalog.yaml"], MANAGER).await?;
    let _operator = spawn_operator(&home, &reserve)?;
    apply(&admin, &example("agencies.yaml", "mz")?, None, MANAGER).await?;
    let product =
        documents(&repo_root().join("examples/products/e-health-records.yaml"))?.remove(0);
    // Through the home webhooks: the operator's own are in place when this passes.
    eventually("the product admitted", Duration::from_secs(60), || async {
        Ok(apply(&admin, &product, None, MANAGER).await.ok())
    })
    .await?;

    // The operator registers the reserve site's hooks in that cluster, at its own path.
    let hooks = eventually(
        "the webhooks registered in the reserve cluster",
        Duration::from_secs(90),
        || async {
            let validating = Api::<ValidatingWebhookConfiguration>::all(remote.clone())
                .get_opt("akp-operator")
                .await?;
            let mutating = Api::<MutatingWebhookConfiguration>::all(remote.clone())
                .get_opt("akp-operator")
                .await?;
            Ok(validating.zip(mutating))
        },
    )
    .await?;
    let urls: Vec<String> = hooks
        .0
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .chain(hooks.1.webhooks.unwrap_or_default().into_iter().map(|m| {
            k8s_openapi::api::admissionregistration::v1::ValidatingWebhook {
                name: m.name,
                client_config: m.client_config,
                ..Default::default()
            }
        }))
        .filter_map(|h| h.client_config.url)
        .collect();
    ensure!(
        urls.len() == 3 && urls.iter().all(|u| u.contains("/sites/almaty-2/")),
        "{urls:?}"
    );
    eventually(
        "the reserve environment there",
        Duration::from_secs(60),
        || async {
            Ok(
                Api::<k8s_openapi::api::core::v1::Namespace>::all(remote.clone())
                    .get_opt(NS)
                    .await?,
            )
        },
    )
    .await?;

    // A project administrator of the product, with that cluster's certificate.
    let tenant = reserve
        .client_for(
            "ops@dsm.gov.kz",
            &["agency-mz:e-health-records:administrator"],
        )
        .await?;
    let container = json!({"name": "c", "image": TRUSTED});
    // Each pod, and what its refusal says.
    let attacks: [(&str, Value, &[&str]); 3] = [
        (
            "abroad",
            json!({"nodeName": "frankfurt-1-a", "containers": [container]}),
            &[
                "spec.nodeName \"frankfurt-1-a\"",
                "attested in DE",
                "(R-PLC-01)",
            ],
        ),
        // A node of the home cluster's is no node here: the nodes are read where the
        // pod is.
        (
            "home-node",
            json!({"nodeName": "astana-1-a", "containers": [container]}),
            &[
                "spec.nodeName \"astana-1-a\"",
                "names no Node",
                "(R-PLC-01)",
            ],
        ),
        (
            "miner",
            json!({"containers": [{"name": "c", "image": "docker.io/evil/miner:latest"}]}),
            &["docker.io/evil/miner:latest", "(R-SW-01)"],
        ),
    ];
    for (name, spec, says) in attacks {
        refused(&tenant, &pod(name, spec)?, says).await?;
    }
    ensure!(
        list_all(&Api::<Pod>::namespaced(remote.clone(), NS))
            .await?
            .is_empty(),
        "nothing was stored"
    );

    // A trusted pod is admitted, confined to the reserve site's nodes by the placement
    // hook called from there.
    let created = Api::<Pod>::namespaced(tenant.clone(), NS)
        .create(
            &PostParams::default(),
            &pod("db", json!({"containers": [container]}))?,
        )
        .await
        .context("a trusted pod in the reserve environment")?;
    let affinity = serde_json::to_string(
        &created
            .spec
            .and_then(|s| s.affinity)
            .and_then(|a| a.node_affinity)
            .context("the placement hook gave the pod a node affinity")?,
    )?;
    ensure!(
        affinity.contains("almaty-2") && affinity.contains("KZ"),
        "{affinity}"
    );
    Ok(())
}
