//! The site controller: which nodes a site has, and whether each is attested to be in
//! the home country (R-PLC-01). Nodes are attested by the label
//! `node-restriction.kubernetes.io/country`, which a kubelet cannot set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use akp_crds::Site;
use akp_crds::site::{COUNTRY_LABEL, SiteStatus};
use k8s_openapi::api::core::v1::Node;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use tracing::{instrument, warn};

use crate::apply::apply_status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::product::status::Notice;
use crate::rules::conditions::{ConditionType, Observed, condition};

/// A node of a site and where it is attested to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeResidency {
    /// The node's name.
    pub node: String,
    /// Its country label, if any.
    pub country: Option<String>,
}

impl NodeResidency {
    /// Whether the node is attested in `home`.
    pub fn is_home(&self, home: &str) -> bool {
        self.country.as_deref() == Some(home)
    }
}

/// Whether a node belongs to a site: it carries every label of the site's selector.
pub fn selects(site: &Site, node: &Node) -> bool {
    let labels = node.labels();
    !site.spec.node_selector.is_empty()
        && site
            .spec
            .node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
}

/// The nodes of a site with their attested country (pure).
pub fn residency<'a>(site: &Site, nodes: impl IntoIterator<Item = &'a Node>) -> Vec<NodeResidency> {
    let mut found: Vec<NodeResidency> = nodes
        .into_iter()
        .filter(|n| selects(site, n))
        .map(|n| NodeResidency {
            node: n.name_any(),
            country: n.labels().get(COUNTRY_LABEL).cloned(),
        })
        .collect();
    found.sort_by(|a, b| a.node.cmp(&b.node));
    found
}

/// The site's status and the events its changes deserve (pure).
pub fn status(
    site: &Site,
    nodes: &[NodeResidency],
    home: &str,
    now: jiff::Timestamp,
) -> (SiteStatus, Vec<Notice>) {
    let old = site.status.clone().unwrap_or_default();
    let abroad: Vec<&NodeResidency> = nodes.iter().filter(|n| !n.is_home(home)).collect();
    let site_home = site.spec.country == home;
    let resident = site_home && abroad.is_empty();
    let message = if !site_home {
        format!(
            "site is in {}, not {home}: no product may be placed here (R-PLC-01)",
            site.spec.country
        )
    } else if abroad.is_empty() {
        format!("all {} node(s) attested in {home} (R-PLC-01)", nodes.len())
    } else {
        let list: Vec<String> = abroad
            .iter()
            .map(|n| {
                format!(
                    "{} ({})",
                    n.node,
                    n.country.as_deref().unwrap_or("no country label")
                )
            })
            .collect();
        format!(
            "{} node(s) not attested in {home} (R-PLC-01): {}; relabel or drain them",
            abroad.len(),
            list.join(", ")
        )
    };
    let was = old
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::Resident.as_str());
    let mut notices = Vec::new();
    if !resident && site_home && was.is_none_or(|c| c.status != "False" || c.message != message) {
        notices.push(Notice {
            warning: true,
            reason: "NodeOutsideCountry",
            note: message.clone(),
        });
    }
    let reason = if !site_home {
        "SiteAbroad"
    } else if resident {
        "AllNodesAttested"
    } else {
        "NodesOutsideCountry"
    };
    let observed = Observed {
        old: &old.conditions,
        now,
        generation: site.metadata.generation,
    };
    let conditions = vec![condition(
        &observed,
        ConditionType::Resident,
        resident,
        reason,
        &message,
    )];
    let status = SiteStatus {
        observed_generation: site.metadata.generation,
        nodes: i32::try_from(nodes.len()).unwrap_or(i32::MAX),
        nodes_outside_country: i32::try_from(abroad.len()).unwrap_or(i32::MAX),
        conditions,
    };
    (status, notices)
}

/// Reconciles one site.
#[instrument(skip(site, ctx), fields(site = %site.name_any()))]
pub async fn reconcile(site: Arc<Site>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile_timer("site");
    if !ctx.caches_ready.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let nodes = ctx.stores.nodes.state();
    let found = residency(&site, nodes.iter().map(|n| n.as_ref()));
    let now = jiff::Timestamp::from_second(ctx.clock.now().as_second())
        .unwrap_or_else(|_| ctx.clock.now());
    let (status, notices) = status(&site, &found, crate::rules::placement::HOME_COUNTRY, now);
    ctx.metrics
        .set_nodes_outside_country(&site.name_any(), i64::from(status.nodes_outside_country));
    let api = Api::<Site>::all(ctx.client.clone());
    apply_status(&api, site.as_ref(), site.status.as_ref(), &status)
        .await
        .map_err(Error::Kube)?;
    if site.status.as_ref().map(|s| s.nodes_outside_country) != Some(status.nodes_outside_country) {
        recheck_products_on(&ctx, &found);
    }
    crate::product::controller::publish(&ctx, site.as_ref(), notices).await;
    Ok(Action::requeue(Duration::from_secs(10 * 60)))
}

/// Asks the product controller to audit again every product with pods on `nodes`.
fn recheck_products_on(ctx: &Context, nodes: &[NodeResidency]) {
    let names: std::collections::BTreeSet<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    let mut products = std::collections::HashSet::new();
    for pod in ctx.stores.pods.state() {
        let on_site = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| names.contains(n));
        if !on_site {
            continue;
        }
        let ns = ctx
            .stores
            .namespaces
            .get(&kube::runtime::reflector::ObjectRef::new(
                &pod.namespace().unwrap_or_default(),
            ));
        if let Some(owner) = ns.and_then(|ns| crate::product::controller::owner_of(&ns.metadata)) {
            products.insert(owner);
        }
    }
    for product in products {
        let _ = ctx.recheck.unbounded_send(product);
    }
}

/// Retries failed reconciles with a short delay and counts them.
pub fn error_policy(site: Arc<Site>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(site = %site.name_any(), %error, "reconcile failed");
    ctx.metrics.set_failure("site", error.metric_label());
    Action::requeue(Duration::from_secs(5))
}

/// Sites by name, for placement.
pub fn by_name(sites: &[Arc<Site>]) -> BTreeMap<String, Arc<Site>> {
    sites.iter().map(|s| (s.name_any(), s.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(country: &str) -> Site {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Site", "metadata": {"name": "astana-1"},
            "spec": {"country": country, "city": "Astana", "role": "primary", "contours": ["internal"],
                     "nodeSelector": {"topology.kubernetes.io/zone": "astana-1"}}
        }))
        .expect("site")
    }

    fn node(name: &str, zone: &str, country: Option<&str>) -> Node {
        let mut labels = serde_json::json!({"topology.kubernetes.io/zone": zone});
        if let Some(c) = country {
            labels[COUNTRY_LABEL] = c.into();
        }
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}}))
            .expect("node")
    }

    #[test]
    fn r_plc_01_a_relabelled_or_unlabelled_node_is_reported() {
        let s = site("KZ");
        let nodes = [
            node("a", "astana-1", Some("KZ")),
            node("b", "astana-1", Some("RU")),
            node("c", "astana-1", None),
            node("d", "almaty-1", Some("KZ")),
        ];
        let found = residency(&s, nodes.iter());
        assert_eq!(found.len(), 3, "only the site's zone");
        let (status, notices) = status(&s, &found, "KZ", jiff::Timestamp::UNIX_EPOCH);
        assert_eq!((status.nodes, status.nodes_outside_country), (3, 2));
        assert_eq!(status.conditions[0].status, "False");
        assert!(
            status.conditions[0].message.contains("b (RU)")
                && status.conditions[0]
                    .message
                    .contains("c (no country label)")
        );
        assert_eq!(notices.len(), 1);
        // Reported once, not at every resync.
        let mut again = s.clone();
        again.status = Some(status);
        assert!(
            super::status(&again, &found, "KZ", jiff::Timestamp::UNIX_EPOCH)
                .1
                .is_empty()
        );
    }

    #[test]
    fn r_plc_01_a_site_abroad_is_never_resident() {
        let s = site("DE");
        let found = residency(&s, [node("a", "astana-1", Some("DE"))].iter());
        let (status, _) = status(&s, &found, "KZ", jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(status.conditions[0].reason, "SiteAbroad");
    }
}
