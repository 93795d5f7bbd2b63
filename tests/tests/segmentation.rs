//! The NetworkPolicies the operator generates, checked against a table of
//! (from, to, port) → allowed or denied by a NetworkPolicy evaluator (no CNI runs here),
//! covering every rule of R-SEG. The same policies are applied to a real API server by
//! the operator tests.

use std::net::Ipv4Addr;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_operator::product::build::{Child, plan};
use akp_operator::product::segmentation::Segmentation;
use akp_operator::product::validate::validate;
use akp_test_support::netpol::{Endpoint, World};
use akp_test_support::repo_root;

fn load<T: serde::de::DeserializeOwned>(path: &str) -> Vec<T> {
    let text = std::fs::read_to_string(repo_root().join("examples").join(path)).expect("example");
    serde_saphyr::from_multiple(&text).expect("yaml")
}

/// The platform: the example products' environments plus the gateway, ingress,
/// monitoring, DMZ, kube-system and a namespace of no product.
fn world(config: &Segmentation) -> World {
    let agencies: Vec<Agency> = load("agencies.yaml");
    let mut w = World::default();
    for file in [
        "products/e-license.yaml",
        "products/e-health-records.yaml",
        "products/tax-check.yaml",
    ] {
        let mut product: Vec<PlatformSoftwareProduct> = load(file);
        let product = product.remove(0);
        let v = validate(&product, agencies.iter()).expect("valid example");
        for env in plan(&v, config).environments {
            let name = env.namespace.metadata.name.clone().expect("name");
            w.namespace(
                &name,
                env.namespace.metadata.labels.clone().unwrap_or_default(),
            );
            for child in env.objects {
                if let Child::Policy(p) = child {
                    w.policies.push(p);
                }
            }
        }
    }
    for ns in [
        "egov-gateway",
        "akp-ingress",
        "monitoring",
        "kube-system",
        "dmz",
        "default",
    ] {
        w.namespace(ns, Default::default());
    }
    w
}

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, 0, n)
}

#[test]
fn r_seg_the_generated_policies_admit_exactly_the_table() {
    let config = Segmentation::default();
    let w = world(&config);
    // e-license: external, Internet-facing, trial operation. e-health-records: internal,
    // production. tax-check: internal, preliminary testing.
    let ext_trial = Endpoint::pod("mon-e-license-trial", ip(1));
    let ext_trial_2 = Endpoint::pod("mon-e-license-trial", ip(2));
    let ext_dev = Endpoint::pod("mon-e-license-development", ip(3));
    let int_prod = Endpoint::pod("mz-e-health-records-production", ip(4));
    let int_dev = Endpoint::pod("mz-e-health-records-development", ip(5));
    let other_int = Endpoint::pod("mf-tax-check-testing", ip(6));
    let gateway = Endpoint::pod("egov-gateway", ip(7));
    let ingress = Endpoint::pod("akp-ingress", ip(8));
    let monitoring = Endpoint::pod("monitoring", ip(9));
    let dns = Endpoint::labelled("kube-system", &[("k8s-app", "kube-dns")], ip(10));
    let apiserver_like = Endpoint::pod("kube-system", ip(11));
    let stranger = Endpoint::pod("default", ip(12));
    let internet = Endpoint::External(Ipv4Addr::new(8, 8, 8, 8));
    let cluster_address = Endpoint::External(Ipv4Addr::new(10, 96, 0, 1));

    let table: Vec<(&str, &Endpoint, &Endpoint, i32, &str, bool)> = vec![
        (
            "R-SEG-01 own pods talk",
            &ext_trial,
            &ext_trial_2,
            8080,
            "TCP",
            true,
        ),
        (
            "R-SEG-02 the gateway reaches the internal contour",
            &gateway,
            &int_prod,
            8443,
            "TCP",
            true,
        ),
        (
            "R-SEG-02 the external contour reaches the gateway",
            &ext_trial,
            &gateway,
            443,
            "TCP",
            true,
        ),
        (
            "R-SEG-03 the external contour never reaches internal pods directly",
            &ext_trial,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        (
            "R-SEG-03 nor does its development environment",
            &ext_dev,
            &int_dev,
            5432,
            "TCP",
            false,
        ),
        (
            "R-SEG-02 the ingress reaches the external contour",
            &ingress,
            &ext_trial,
            8080,
            "TCP",
            true,
        ),
        (
            "R-SEG-03 the ingress does not reach the internal contour",
            &ingress,
            &int_prod,
            8080,
            "TCP",
            false,
        ),
        (
            "R-SEG-02 an Internet-facing product reaches the Internet",
            &ext_trial,
            &internet,
            443,
            "TCP",
            true,
        ),
        (
            "R-SEG-03 Internet egress excludes the cluster's addresses",
            &ext_trial,
            &cluster_address,
            443,
            "TCP",
            false,
        ),
        (
            "R-SEG-03 an internal product does not reach the Internet",
            &int_prod,
            &internet,
            443,
            "TCP",
            false,
        ),
        (
            "R-SEG-03 the Internet does not reach a pod directly",
            &internet,
            &ext_trial,
            8080,
            "TCP",
            false,
        ),
        (
            "R-SEG-04 non-production never reaches production",
            &int_dev,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        (
            "R-SEG-04 production does not reach non-production either",
            &int_prod,
            &int_dev,
            8443,
            "TCP",
            false,
        ),
        (
            "R-SEG-02 products meet only through the gateway",
            &other_int,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        (
            "R-SEG-02 and call the gateway",
            &other_int,
            &gateway,
            443,
            "TCP",
            true,
        ),
        (
            "R-MON-01 monitoring scrapes every environment",
            &monitoring,
            &int_prod,
            9090,
            "TCP",
            true,
        ),
        (
            "R-MON-01 monitoring scrapes the external contour too",
            &monitoring,
            &ext_trial,
            9090,
            "TCP",
            true,
        ),
        ("cluster DNS over UDP", &int_prod, &dns, 53, "UDP", true),
        ("cluster DNS over TCP", &ext_trial, &dns, 53, "TCP", true),
        (
            "DNS pods only on port 53",
            &int_prod,
            &dns,
            80,
            "TCP",
            false,
        ),
        (
            "no other kube-system pod",
            &int_prod,
            &apiserver_like,
            443,
            "TCP",
            false,
        ),
        (
            "a namespace of no product is outside",
            &stranger,
            &int_prod,
            8443,
            "TCP",
            false,
        ),
        (
            "and cannot be reached",
            &int_prod,
            &stranger,
            8443,
            "TCP",
            false,
        ),
    ];
    let wrong: Vec<String> = table
        .iter()
        .filter(|(_, from, to, port, proto, expected)| {
            w.allowed(from, to, *port, proto) != *expected
        })
        .map(|(what, _, _, _, _, expected)| {
            format!(
                "{what}: expected {}",
                if *expected { "allowed" } else { "denied" }
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        table.len(),
        wrong.join("\n")
    );
}

#[test]
fn r_seg_02_a_screened_subnet_is_the_other_way_between_contours() {
    let config = Segmentation {
        screened_subnet_namespace: Some("dmz".into()),
        ..Segmentation::default()
    };
    let w = world(&config);
    let dmz = Endpoint::pod("dmz", ip(20));
    let int_prod = Endpoint::pod("mz-e-health-records-production", ip(4));
    let ext_trial = Endpoint::pod("mon-e-license-trial", ip(1));
    assert!(w.allowed(&ext_trial, &dmz, 443, "TCP"));
    assert!(w.allowed(&dmz, &int_prod, 8443, "TCP"));
    assert!(
        !w.allowed(&ext_trial, &int_prod, 8443, "TCP"),
        "still not directly"
    );
    // Without the DMZ configured, the same namespace is a stranger.
    let w = world(&Segmentation::default());
    assert!(!w.allowed(&dmz, &int_prod, 8443, "TCP"));
}

#[test]
fn r_seg_02_an_external_product_that_is_not_internet_facing_has_no_internet() {
    let agencies: Vec<Agency> = load("agencies.yaml");
    let mut products: Vec<PlatformSoftwareProduct> = load("products/e-license.yaml");
    let mut product = products.remove(0);
    product.spec.internet_facing = false;
    let v = validate(&product, agencies.iter()).expect("valid");
    let mut w = World::default();
    for env in plan(&v, &Segmentation::default()).environments {
        w.namespace(
            env.namespace.metadata.name.as_deref().unwrap_or_default(),
            Default::default(),
        );
        w.policies
            .extend(env.objects.into_iter().filter_map(|c| match c {
                Child::Policy(p) => Some(p),
                _ => None,
            }));
    }
    let pod = Endpoint::pod("mon-e-license-trial", ip(1));
    assert!(!w.allowed(
        &pod,
        &Endpoint::External(Ipv4Addr::new(8, 8, 8, 8)),
        443,
        "TCP"
    ));
}
