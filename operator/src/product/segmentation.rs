//! The network policies of an environment: contour segmentation (R-SEG-01 to R-SEG-04).
//!
//! - Every environment starts isolated: default deny in and out, then its own pods,
//!   cluster DNS and the platform's monitoring.
//! - Internal contour (R-SEG-03, its addressing hidden): accepts only the gateway and
//!   monitoring from outside its namespace, and calls out only through the gateway.
//! - External contour (R-SEG-02, a dedicated segment): also accepts the ingress
//!   namespace; reaches the internal contour only through the gateway (or a screened
//!   subnet when configured); reaches the Internet only when `internetFacing`, and
//!   never the cluster's own address ranges, so an IP rule cannot bypass the above.
//! - Non-production never reaches production (R-SEG-04): no rule admits another
//!   product's or another environment's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ObjectMeta;
use serde::{Deserialize, Serialize};

use akp_crds::Contour;

/// The platform namespaces segmentation refers to; operator configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Segmentation {
    /// The e-government gateway (ЭҮІШ): the only way between contours (R-SEG-02).
    pub gateway_namespace: String,
    /// The ingress controller of the external contour.
    pub ingress_namespace: String,
    /// The platform's monitoring, which scrapes every environment (R-MON-01).
    pub monitoring_namespace: String,
    /// A screened subnet (DMZ) namespace, if the platform has one (R-SEG-02).
    pub screened_subnet_namespace: Option<String>,
    /// The cluster's own address ranges (pods, services, nodes): Internet egress
    /// excludes them (R-SEG-03).
    pub cluster_cidrs: Vec<String>,
}

impl Default for Segmentation {
    fn default() -> Self {
        Self {
            gateway_namespace: "egov-gateway".into(),
            ingress_namespace: "akp-ingress".into(),
            monitoring_namespace: "monitoring".into(),
            screened_subnet_namespace: None,
            cluster_cidrs: vec![
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
                "192.168.0.0/16".into(),
            ],
        }
    }
}

/// What the policies of one environment depend on.
pub struct Placement<'a> {
    /// The contour of the product.
    pub contour: Contour,
    /// Whether the product talks to the Internet.
    pub internet_facing: bool,
    /// The configuration.
    pub config: &'a Segmentation,
}

fn namespace(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                name.to_owned(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn own_pods() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..Default::default()
    }
}

fn ingress_from(peers: Vec<NetworkPolicyPeer>) -> Vec<NetworkPolicyIngressRule> {
    vec![NetworkPolicyIngressRule {
        from: Some(peers),
        ports: None,
    }]
}

fn egress_to(
    peers: Vec<NetworkPolicyPeer>,
    ports: Option<Vec<NetworkPolicyPort>>,
) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(peers),
        ports,
    }
}

fn port(number: i32, protocol: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(number)),
        protocol: Some(protocol.into()),
        ..Default::default()
    }
}

/// The policies of one environment namespace; `meta(name)` gives each its metadata.
pub fn policies(p: &Placement, meta: &dyn Fn(&str) -> ObjectMeta) -> Vec<NetworkPolicy> {
    let c = p.config;
    let policy = |name: &str, spec: NetworkPolicySpec| NetworkPolicy {
        metadata: meta(name),
        spec: Some(spec),
    };
    let both = Some(vec!["Ingress".to_owned(), "Egress".to_owned()]);
    let all_pods = Some(LabelSelector::default());

    let mut inbound = vec![
        own_pods(),
        namespace(&c.monitoring_namespace),
        namespace(&c.gateway_namespace),
    ];
    let mut outbound = vec![egress_to(
        vec![own_pods(), namespace(&c.gateway_namespace)],
        None,
    )];
    if let Some(dmz) = &c.screened_subnet_namespace {
        inbound.push(namespace(dmz));
        outbound.push(egress_to(vec![namespace(dmz)], None));
    }
    if p.contour == Contour::External {
        inbound.push(namespace(&c.ingress_namespace));
        if p.internet_facing {
            outbound.push(egress_to(
                vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: "0.0.0.0/0".into(),
                        except: Some(c.cluster_cidrs.clone()),
                    }),
                    ..Default::default()
                }],
                None,
            ));
        }
    }
    let dns = egress_to(
        vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    "kube-system".to_owned(),
                )])),
                ..Default::default()
            }),
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "k8s-app".to_owned(),
                    "kube-dns".to_owned(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }],
        Some(vec![port(53, "UDP"), port(53, "TCP")]),
    );
    outbound.push(dns);

    vec![
        policy(
            "akp-default-deny",
            NetworkPolicySpec {
                pod_selector: all_pods.clone(),
                policy_types: both.clone(),
                ..Default::default()
            },
        ),
        policy(
            "akp-contour",
            NetworkPolicySpec {
                pod_selector: all_pods,
                ingress: Some(ingress_from(inbound)),
                egress: Some(outbound),
                policy_types: both,
            },
        ),
    ]
}
