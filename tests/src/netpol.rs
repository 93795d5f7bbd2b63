//! A NetworkPolicy evaluator with the semantics of the Kubernetes API (no CNI runs
//! here): whether traffic from one endpoint to another on a port is allowed by the
//! policies of both sides.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// One end of a connection.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// A pod: its namespace, labels and address.
    Pod {
        namespace: String,
        labels: BTreeMap<String, String>,
        ip: Ipv4Addr,
    },
    /// An address outside the cluster.
    External(Ipv4Addr),
}

impl Endpoint {
    /// A pod with no labels.
    pub fn pod(namespace: &str, ip: Ipv4Addr) -> Self {
        Endpoint::Pod {
            namespace: namespace.to_owned(),
            labels: BTreeMap::new(),
            ip,
        }
    }

    /// A pod with labels.
    pub fn labelled(namespace: &str, labels: &[(&str, &str)], ip: Ipv4Addr) -> Self {
        Endpoint::Pod {
            namespace: namespace.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ip,
        }
    }

    fn ip(&self) -> Ipv4Addr {
        match self {
            Endpoint::Pod { ip, .. } | Endpoint::External(ip) => *ip,
        }
    }
}

/// Namespaces (with their labels) and the policies in them.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Namespace labels by name; `kubernetes.io/metadata.name` is added automatically.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Every policy, each with its namespace in its metadata.
    pub policies: Vec<NetworkPolicy>,
}

/// The peers and ports of one ingress or egress rule.
type RuleParts<'a> = (
    Option<&'a Vec<NetworkPolicyPeer>>,
    Option<&'a Vec<NetworkPolicyPort>>,
);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl World {
    /// Adds a namespace with labels.
    pub fn namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        let mut labels = labels;
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
        self.namespaces.insert(name.into(), labels);
    }

    /// Whether `from` may open a connection to `to` on `port`/`protocol`.
    pub fn allowed(&self, from: &Endpoint, to: &Endpoint, port: i32, protocol: &str) -> bool {
        let egress_ok = match from {
            Endpoint::Pod { .. } => self.side_allows(from, to, port, protocol, Direction::Egress),
            Endpoint::External(_) => true,
        };
        let ingress_ok = match to {
            Endpoint::Pod { .. } => self.side_allows(to, from, port, protocol, Direction::Ingress),
            Endpoint::External(_) => true,
        };
        egress_ok && ingress_ok
    }

    /// For the pod `subject`, whether its policies of `direction` admit `peer`.
    fn side_allows(
        &self,
        subject: &Endpoint,
        peer: &Endpoint,
        port: i32,
        protocol: &str,
        direction: Direction,
    ) -> bool {
        let Endpoint::Pod {
            namespace, labels, ..
        } = subject
        else {
            return true;
        };
        let selecting: Vec<&NetworkPolicy> = self
            .policies
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(namespace.as_str()))
            .filter(|p| {
                p.spec.as_ref().is_some_and(|s| {
                    selects(s.pod_selector.as_ref(), labels) && has_type(s, direction)
                })
            })
            .collect();
        if selecting.is_empty() {
            return true; // not isolated in this direction
        }
        selecting.iter().any(|p| {
            let Some(spec) = &p.spec else { return false };
            let rules: Vec<RuleParts> = match direction {
                Direction::Ingress => spec
                    .ingress
                    .iter()
                    .flatten()
                    .map(|r| (r.from.as_ref(), r.ports.as_ref()))
                    .collect(),
                Direction::Egress => spec
                    .egress
                    .iter()
                    .flatten()
                    .map(|r| (r.to.as_ref(), r.ports.as_ref()))
                    .collect(),
            };
            rules.iter().any(|(peers, ports)| {
                ports_match(*ports, port, protocol)
                    && peers_match(*peers, namespace, peer, &self.namespaces)
            })
        })
    }
}

fn has_type(
    spec: &k8s_openapi::api::networking::v1::NetworkPolicySpec,
    direction: Direction,
) -> bool {
    match &spec.policy_types {
        Some(types) => types.iter().any(|t| {
            t == if direction == Direction::Ingress {
                "Ingress"
            } else {
                "Egress"
            }
        }),
        // The API's default: Ingress always, Egress when egress rules exist.
        None => direction == Direction::Ingress || spec.egress.is_some(),
    }
}

fn ports_match(ports: Option<&Vec<NetworkPolicyPort>>, port: i32, protocol: &str) -> bool {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|p| {
        let proto_ok = p.protocol.as_deref().unwrap_or("TCP") == protocol;
        let port_ok = match (&p.port, p.end_port) {
            (None, _) => true,
            (Some(IntOrString::Int(n)), None) => *n == port,
            (Some(IntOrString::Int(n)), Some(end)) => (*n..=end).contains(&port),
            // Named ports need the pod's container spec; the generated policies use none.
            (Some(IntOrString::String(_)), _) => false,
        };
        proto_ok && port_ok
    })
}

fn peers_match(
    peers: Option<&Vec<NetworkPolicyPeer>>,
    policy_namespace: &str,
    peer: &Endpoint,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    let Some(peers) = peers.filter(|p| !p.is_empty()) else {
        return true;
    };
    peers.iter().any(|p| {
        if let Some(block) = &p.ip_block {
            let ip = peer.ip();
            return in_cidr(ip, &block.cidr)
                && !block.except.iter().flatten().any(|e| in_cidr(ip, e));
        }
        let Endpoint::Pod {
            namespace, labels, ..
        } = peer
        else {
            return false;
        };
        let ns_ok = match &p.namespace_selector {
            Some(sel) => namespaces
                .get(namespace)
                .is_some_and(|l| selects(Some(sel), l)),
            None => namespace == policy_namespace,
        };
        let pod_ok = match &p.pod_selector {
            Some(sel) => selects(Some(sel), labels),
            None => true,
        };
        ns_ok && pod_ok
    })
}

/// Whether a label selector matches labels (an absent or empty selector matches all).
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector else { return true };
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_containment() {
        assert!(in_cidr(Ipv4Addr::new(10, 1, 2, 3), "10.0.0.0/8"));
        assert!(!in_cidr(Ipv4Addr::new(11, 1, 2, 3), "10.0.0.0/8"));
        assert!(in_cidr(Ipv4Addr::new(8, 8, 8, 8), "0.0.0.0/0"));
    }

    #[test]
    fn a_namespace_without_policies_is_open() {
        let w = World::default();
        assert!(w.allowed(
            &Endpoint::pod("a", Ipv4Addr::new(10, 0, 0, 1)),
            &Endpoint::pod("b", Ipv4Addr::new(10, 0, 0, 2)),
            80,
            "TCP"
        ));
    }
}
