//! Placement against the real control plane with kwok nodes in Kazakhstan and abroad
//! (R-PLC-01, R-PLC-02).

use std::time::Duration;

use akp_crds::Site;
use akp_crds::site::COUNTRY_LABEL;
use akp_test_support::fixtures::example;
use akp_test_support::operator::{cluster, eventually, wait_for_event};
use akp_test_support::{apply, apply_examples, create_site_nodes, documents, repo_root};
use anyhow::Result;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// Sets (or with `None` removes) a node's country label, as an SRE's tooling would.
async fn set_country(nodes: &Api<Node>, node: &str, country: Option<&str>) -> Result<()> {
    let patch = Patch::Merge(json!({"metadata": {"labels": {COUNTRY_LABEL: country}}}));
    nodes.patch(node, &PatchParams::default(), &patch).await?;
    Ok(())
}

/// Agency mon, once the operator has made its namespace (products go there).
async fn agency_mon(admin: &kube::Client) -> Result<()> {
    apply(admin, &example("agencies.yaml", "mon")?, None, "akp-tests").await?;
    eventually("agency namespace", Duration::from_secs(30), || async {
        Ok(
            Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone())
                .get_opt("agency-mon")
                .await?
                .map(|_| ()),
        )
    })
    .await
}

/// R-PLC-01: a node relabelled to another country is found and reported on its site:
/// status, condition, a Warning event and the metric.
#[tokio::test]
async fn r_plc_01_a_node_relabelled_abroad_is_detected_and_reported() -> Result<()> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let operator = c.operator_now().await?;
    create_site_nodes(
        &admin,
        &[
            ("astana-1-a", "astana-1", "KZ"),
            ("astana-1-b", "astana-1", "KZ"),
            ("almaty-1-a", "almaty-1", "KZ"),
        ],
    )
    .await?;
    let nodes = Api::<Node>::all(admin.clone());
    apply_examples(&admin, &["sites.yaml"], "akp-tests").await?;
    let sites = Api::<Site>::all(admin.clone());
    let resident = |name: &'static str, nodes: i32, abroad: i32, status: &'static str| {
        let sites = sites.clone();
        async move {
            let s = sites.get(name).await?.status.unwrap_or_default();
            let cond = s
                .conditions
                .iter()
                .any(|c| c.type_ == "Resident" && c.status == status);
            Ok((s.nodes == nodes && s.nodes_outside_country == abroad && cond).then_some(()))
        }
    };
    eventually(
        "astana-1 resident with 2 nodes",
        Duration::from_secs(30),
        || resident("astana-1", 2, 0, "True"),
    )
    .await?;
    eventually(
        "frankfurt-1 never resident",
        Duration::from_secs(30),
        || resident("frankfurt-1", 0, 0, "False"),
    )
    .await?;

    set_country(&nodes, "astana-1-b", Some("RU")).await?;
    eventually(
        "astana-1 reports the node abroad",
        Duration::from_secs(30),
        || resident("astana-1", 2, 1, "False"),
    )
    .await?;
    let site = sites.get("astana-1").await?;
    let message = &site.status.unwrap_or_default().conditions[0].message;
    assert!(
        message.contains("astana-1-b (RU)") && message.contains("R-PLC-01"),
        "{message}"
    );
    wait_for_event(&admin, None, "NodeOutsideCountry", true).await?;
    let metrics = operator.metrics.render()?;
    assert!(
        metrics
            .lines()
            .any(|l| l == "akp_operator_nodes_outside_country{site=\"astana-1\"} 1"),
        "{metrics}"
    );

    // Removing the label is as bad as a foreign one.
    set_country(&nodes, "astana-1-a", None).await?;
    eventually("both nodes reported", Duration::from_secs(30), || {
        resident("astana-1", 2, 2, "False")
    })
    .await?;
    operator.stop().await;
    Ok(())
}

/// R-PLC-01: the continuous audit: a pod of an environment on a node that is
/// relabelled abroad sets `Placed=False` on its product, with a Warning event and the
/// metric; relabelled back, the product is placed again.
#[tokio::test]
async fn r_plc_01_a_pod_on_a_relabelled_node_sets_placed_false() -> Result<()> {
    use akp_crds::PlatformSoftwareProduct;
    use k8s_openapi::api::core::v1::Pod;
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let operator = c.operator_now().await?;
    create_site_nodes(&admin, &[("astana-1-a", "astana-1", "KZ")]).await?;
    let nodes = Api::<Node>::all(admin.clone());
    apply_examples(&admin, &["sites.yaml"], "akp-tests").await?;
    let product =
        documents(&repo_root().join("examples/products/school-enrolment.yaml"))?.remove(0);
    agency_mon(&admin).await?;
    apply(&admin, &product, None, "akp-tests").await?;
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    let placed = |status: &'static str| {
        let api = api.clone();
        async move {
            let p = api.get("school-enrolment").await?;
            let s = p.status.unwrap_or_default();
            let ok = s
                .conditions
                .iter()
                .any(|c| c.type_ == "Placed" && c.status == status);
            Ok(ok.then_some(s))
        }
    };
    eventually("environments ready", Duration::from_secs(30), || {
        placed("True")
    })
    .await?;
    // A pod bound straight to the node (the scheduler and webhooks are not the point here).
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "app", "namespace": "mon-school-enrolment-development"},
        "spec": {"nodeName": "astana-1-a", "containers": [{"name": "app", "image": "registry.akp.kz/platform/postgresql:16"}]}
    }))?;
    Api::<Pod>::namespaced(admin.clone(), "mon-school-enrolment-development")
        .create(&PostParams::default(), &pod)
        .await?;
    let s = eventually("placed at astana-1", Duration::from_secs(30), || async {
        let s = placed("True").await?;
        Ok(s.filter(|s| {
            let counted = s
                .conditions
                .iter()
                .any(|c| c.type_ == "Placed" && c.message.contains("1 pod(s)"));
            counted
                && s.environments
                    .iter()
                    .any(|e| e.sites == ["astana-1"] && e.namespace.ends_with("development"))
        }))
    })
    .await?;
    assert!(
        s.conditions
            .iter()
            .any(|c| c.type_ == "Placed" && c.status == "True")
    );

    set_country(&nodes, "astana-1-a", Some("RU")).await?;
    let s = eventually("Placed=False", Duration::from_secs(30), || placed("False")).await?;
    let message = &s
        .conditions
        .iter()
        .find(|c| c.type_ == "Placed")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("pod app on node astana-1-a (RU)") && message.contains("R-PLC-01"),
        "{message}"
    );
    wait_for_event(&admin, Some("agency-mon"), "PlacedOutsideCountry", true).await?;
    eventually(
        "the pods_outside_country metric",
        Duration::from_secs(30),
        || async {
            Ok(operator
                .metrics
                .render()?
                .lines()
                .any(|l| l == "akp_operator_pods_outside_country 1")
                .then_some(()))
        },
    )
    .await?;

    set_country(&nodes, "astana-1-a", Some("KZ")).await?;
    eventually("placed again", Duration::from_secs(30), || placed("True")).await?;
    operator.stop().await;
    Ok(())
}

/// R-PLC-03, R-PLC-04 against the real control plane: Sites say whose infrastructure
/// they are; class 1 stays off a provider's site, classes 2 and 3 use one only for a
/// contour nothing else hosts (recorded on the environment); class 2 production gets a
/// cold standby in a reserve building, class 3 backup storage near its main building,
/// and a missing one is flagged.
#[tokio::test]
async fn r_plc_03_r_plc_04_sites_by_owner_and_standby_by_class() -> Result<()> {
    use akp_crds::PlatformSoftwareProduct;
    use akp_crds::product::StandbyKind;
    use akp_test_support::fixtures::{ALL_ACTS, product};
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let operator = c.operator_now().await?;
    let site = |name: &str, city: &str, role: &str, owner: &str, contour: &str| {
        json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Site",
            "metadata": {"name": name},
            "spec": {"country": "KZ", "city": city, "role": role, "owner": owner,
                "contours": [contour], "nodeSelector": {"topology.kubernetes.io/zone": name},
                "storageClasses": [format!("{name}-ssd")]}
        })
    };
    for s in [
        site("astana-1", "Astana", "primary", "platform", "internal"),
        site("astana-2", "Astana", "reserve", "operator", "internal"),
        site("almaty-1", "Almaty", "reserve", "platform", "internal"),
        // The external contour only at an ICT-infrastructure provider's building.
        site("kt-astana", "Astana", "primary", "provider", "external"),
    ] {
        apply(&admin, &s, None, "akp-tests").await?;
    }
    agency_mon(&admin).await?;
    for (name, class, contour) in [
        ("cold", 2, "internal"),
        ("backup", 3, "internal"),
        ("provided", 3, "external"),
        ("provided-2", 2, "external"),
        ("first-class", 1, "external"),
    ] {
        let mut p = product(name, "production", ALL_ACTS);
        p["spec"]["class"] = json!(class);
        p["spec"]["contour"] = json!(contour);
        apply(&admin, &p, None, "akp-tests").await?;
    }
    let api = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), "agency-mon");
    let production = |name: &'static str| {
        let api = api.clone();
        async move {
            let s = api.get(name).await?.status.unwrap_or_default();
            let env = s
                .environments
                .iter()
                .find(|e| e.namespace.ends_with("-production"))
                .cloned();
            let standby = s
                .conditions
                .iter()
                .find(|c| c.type_ == "StandbyPlaced")
                .cloned();
            Ok(env.zip(standby).map(|(e, c)| (e, c, s.conditions)))
        }
    };
    let (env, standby, _) = eventually("class 2 production", Duration::from_secs(30), || {
        production("cold")
    })
    .await?;
    assert_eq!(env.sites, ["astana-1"]);
    let cold = env.standby.as_ref().map(|s| (s.kind, s.site.as_str()));
    assert_eq!(cold, Some((StandbyKind::Cold, "almaty-1")), "{env:?}");
    assert!(!env.at_provider);
    assert_eq!(standby.status, "True", "{standby:?}");

    let (env, _, _) = eventually("class 3 production", Duration::from_secs(30), || {
        production("backup")
    })
    .await?;
    let backup = env.standby.as_ref().map(|s| (s.kind, s.site.as_str()));
    assert_eq!(backup, Some((StandbyKind::Backup, "astana-2")), "{env:?}");

    // R-PLC-03: classes 2 and 3 at the provider's site, the only one of their contour,
    // recorded. Class 3's backups go to a site near it (storage has no contour); class
    // 2 has no reserve building of the external contour, and that is flagged.
    let (env, standby, _) = eventually("class 3 at a provider", Duration::from_secs(30), || {
        production("provided")
    })
    .await?;
    assert_eq!(env.sites, ["kt-astana"]);
    assert!(env.at_provider, "{env:?}");
    let backup = env.standby.as_ref().map(|s| (s.kind, s.site.as_str()));
    assert_eq!(backup, Some((StandbyKind::Backup, "astana-1")), "{env:?}");
    assert_eq!(standby.status, "True", "{standby:?}");
    let (env, standby, _) = eventually("class 2 at a provider", Duration::from_secs(30), || {
        production("provided-2")
    })
    .await?;
    assert!(env.at_provider && env.standby.is_none(), "{env:?}");
    assert_eq!(standby.status, "False");
    assert!(
        standby.message.contains(
            "class 2 production needs a cold standby in a reserve server building (R-PLC-04"
        ),
        "{standby:?}"
    );
    // Class 1 never goes there: no site, and the refusal names the rule.
    let placed = eventually("class 1 not placed", Duration::from_secs(30), || async {
        let s = api.get("first-class").await?.status.unwrap_or_default();
        Ok(s.conditions
            .into_iter()
            .find(|c| c.type_ == "Placed" && c.status == "False"))
    })
    .await?;
    assert!(
        placed.message.contains("class 1 objects are placed only on the platform's or the operator's infrastructure (R-PLC-03"),
        "{placed:?}"
    );
    wait_for_event(&admin, Some("agency-mon"), "NoStandbySite", true).await?;
    operator.stop().await;
    Ok(())
}
