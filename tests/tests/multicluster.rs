//! Multi-cluster: the reserve site of a class 1 product may be another cluster; the
//! operator creates the reserve environment there too, with the same quota, roles and
//! policies, and removes it when the product leaves production (R-PLC-02); the admission
//! rules that need no outside data hold there as at home.

use std::time::Duration;

use akp_crds::PlatformSoftwareProduct;
use akp_test_support::fixtures::example;
use akp_test_support::operator::{cluster, eventually};
use akp_test_support::{
    ControlPlane, Options, apply, documents, ensure_namespace, list_all, names, repo_root,
};
use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn r_plc_02_class_1_production_gets_its_reserve_environment_in_a_second_cluster() -> Result<()>
{
    let c = cluster()?;
    let reserve = ControlPlane::start(Options::default())?;
    let admin = c.cp.admin_client().await?;
    let remote = reserve.admin_client().await?;
    let operator = c.operator_now().await?;

    ensure_namespace(&admin, "akp-system").await?;
    let kubeconfig = std::fs::read_to_string(reserve.kubeconfig_path())?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "almaty-2", "namespace": "akp-system"},
        "stringData": {"kubeconfig": kubeconfig}
    }))?;
    Api::<Secret>::namespaced(admin.clone(), "akp-system")
        .create(&PostParams::default(), &secret)
        .await?;
    apply(
        &admin,
        &example("sites.yaml", "astana-1")?,
        None,
        "akp-tests",
    )
    .await?;
    let almaty2 = json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Site", "metadata": {"name": "almaty-2"},
        "spec": {"country": "KZ", "city": "Almaty", "role": "reserve", "contours": ["internal", "external"],
                 "nodeSelector": {"topology.kubernetes.io/zone": "almaty-2"},
                 "cluster": {"kubeconfigSecretRef": {"namespace": "akp-system", "name": "almaty-2"}}}
    });
    apply(&admin, &almaty2, None, "akp-tests").await?;
    apply(&admin, &example("agencies.yaml", "mz")?, None, "akp-tests").await?;
    eventually("agency namespace", Duration::from_secs(30), || async {
        Ok(Api::<Namespace>::all(admin.clone())
            .get_opt("agency-mz")
            .await?
            .map(|_| ()))
    })
    .await?;
    let mut product =
        documents(&repo_root().join("examples/products/e-health-records.yaml"))?.remove(0);
    apply(&admin, &product, None, "akp-tests").await?;

    let ns = "mz-e-health-records-production";
    eventually(
        "the reserve environment in the second cluster",
        Duration::from_secs(60),
        || async {
            Ok(Api::<ResourceQuota>::namespaced(remote.clone(), ns)
                .get_opt("akp-requested")
                .await?
                .map(|_| ()))
        },
    )
    .await?;
    let quota = Api::<ResourceQuota>::namespaced(remote.clone(), ns)
        .get("akp-requested")
        .await?;
    assert_eq!(
        quota.spec.and_then(|s| s.hard).unwrap_or_default()["requests.cpu"].0,
        "64"
    );
    // The quota comes first; the policies follow within the same reconcile.
    let policies: Vec<String> = eventually(
        "the reserve environment's network policies",
        Duration::from_secs(60),
        || async {
            let policies = names(&Api::<NetworkPolicy>::namespaced(remote.clone(), ns)).await?;
            Ok((policies.len() >= 2).then_some(policies))
        },
    )
    .await?;
    assert!(
        policies.contains(&"akp-default-deny".to_owned())
            && policies.contains(&"akp-contour".to_owned()),
        "{policies:?}"
    );
    let bindings = Api::<RoleBinding>::namespaced(remote.clone(), ns)
        .list(&ListParams::default())
        .await?;
    // The agency, the head, and the four project roles.
    assert_eq!(bindings.items.len(), 6);
    assert!(
        Api::<ClusterRole>::all(remote.clone())
            .get_opt("akp:environment-viewer")
            .await?
            .is_some(),
        "the roles exist there too"
    );
    // The same rules hold there: the reserve cluster's own API server runs the policies
    // the operator applied and Pod Security Admission on the namespace's labels
    // (docs/security.md W2, W3; R-SEG-04, R-PLC-01). Made by a project administrator
    // with a certificate of that cluster.
    let tenant = reserve
        .client_for(
            "ops@dsm.gov.kz",
            &["agency-mz:e-health-records:administrator"],
        )
        .await?;
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": "registry.akp.kz/platform/postgresql:16", "securityContext": {"privileged": true}}]}
    }))?;
    match Api::<Pod>::namespaced(tenant.clone(), ns)
        .create(&PostParams::default(), &privileged)
        .await
    {
        Err(kube::Error::Api(s)) => assert!(
            s.message
                .contains("violates PodSecurity \"restricted:v1.36\"")
                && s.message.contains("privileged"),
            "{}",
            s.message
        ),
        other => panic!("a privileged pod in the reserve cluster: {other:?}"),
    }
    for (name, spec, says) in [
        (
            "host-network",
            json!({"hostNetwork": true, "containers": [{"name": "c", "image": "registry.akp.kz/platform/postgresql:16"}]}),
            "spec.template.spec.hostNetwork: true is refused",
        ),
        (
            "nfs",
            json!({"containers": [{"name": "c", "image": "registry.akp.kz/platform/postgresql:16"}], "volumes": [{"name": "data", "nfs": {"server": "203.0.113.7", "path": "/"}}]}),
            "spec.template.spec.volumes \"data\" (nfs): this volume type is refused",
        ),
    ] {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}
        }))?;
        // The API server loads new policies within moments, not at once: dry runs
        // until the refusal comes, then the real create is refused.
        let deployments = Api::<Deployment>::namespaced(tenant.clone(), ns);
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let message = eventually(
            &format!("the reserve cluster's policy refusing {name}"),
            Duration::from_secs(30),
            || async {
                match deployments.create(&dry_run, &deployment).await {
                    Err(kube::Error::Api(s)) => Ok(Some(s.message)),
                    Err(e) => Err(e.into()),
                    Ok(_) => Ok(None),
                }
            },
        )
        .await?;
        assert!(message.contains(says), "{message}");
        match deployments
            .create(&PostParams::default(), &deployment)
            .await
        {
            Err(kube::Error::Api(s)) => assert!(s.message.contains(says), "{}", s.message),
            other => panic!("{name} in the reserve cluster: {other:?}"),
        }
    }
    assert!(
        list_all(&Api::<Deployment>::namespaced(remote.clone(), ns))
            .await?
            .is_empty(),
        "nothing was stored"
    );
    // Only production of a class 1 product goes to the reserve site.
    assert!(
        Api::<Namespace>::all(remote.clone())
            .get_opt("mz-e-health-records-development")
            .await?
            .is_none()
    );
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mz");
    eventually(
        "status lists both sites",
        Duration::from_secs(30),
        || async {
            let s = api
                .get("e-health-records")
                .await?
                .status
                .unwrap_or_default();
            Ok(s.environments
                .iter()
                .any(|e| e.namespace == ns && e.sites == ["almaty-2", "astana-1"])
                .then_some(()))
        },
    )
    .await?;

    // Decommissioned: the remote environment goes too.
    product["spec"]["stage"] = "decommissioned".into();
    apply(&admin, &product, None, "akp-tests").await?;
    eventually(
        "the remote environment deleted",
        Duration::from_secs(60),
        || async {
            let live = Api::<Namespace>::all(remote.clone()).get_opt(ns).await?;
            Ok(live
                .is_none_or(|n| n.metadata.deletion_timestamp.is_some())
                .then_some(()))
        },
    )
    .await?;
    operator.stop().await;
    Ok(())
}
