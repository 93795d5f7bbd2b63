//! `Site`: a server building of the platform, where nodes run (R-PLC-01, R-PLC-02).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Contour, NamespacedRef, conditions_schema, object_names, plain_text};

/// The node label that attests where a node is. A kubelet cannot set labels under
/// `node-restriction.kubernetes.io/`, so only the operator's tooling can (R-PLC-01).
pub const COUNTRY_LABEL: &str = "node-restriction.kubernetes.io/country";

/// A server building (site) of the platform. Nodes belong to a site by its node
/// selector; products are placed only on sites in the home country.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "A server building of the platform; only sites attested in Kazakhstan host products (R-PLC-01).",
    version = "v1alpha1",
    kind = "Site",
    plural = "sites",
    singular = "site",
    category = "akp",
    status = "SiteStatus",
    printcolumn = r#"{"name":"Country","type":"string","jsonPath":".spec.country"}"#,
    printcolumn = r#"{"name":"City","type":"string","jsonPath":".spec.city"}"#,
    printcolumn = r#"{"name":"Role","type":"string","jsonPath":".spec.role"}"#,
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.owner"}"#,
    printcolumn = r#"{"name":"Nodes","type":"integer","jsonPath":".status.nodes"}"#,
    printcolumn = r#"{"name":"Abroad","type":"integer","description":"Nodes whose country label is not the home country","jsonPath":".status.nodesOutsideCountry"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SiteSpec {
    /// The country the site is in, ISO 3166-1 alpha-2 (two capital letters). Only
    /// sites in the home country (KZ) may host products (R-PLC-01).
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^[A-Z]{2}$')",
        "message": "country must be an ISO 3166-1 alpha-2 code, two capital letters such as KZ (R-PLC-01)",
        "messageExpression": "'\"' + self + '\" is not an ISO 3166-1 alpha-2 country code (R-PLC-01): write two capital letters, such as \"KZ\"'"
    }]), length(max = 8))]
    pub country: String,
    /// The city the site is in.
    #[schemars(length(min = 1, max = 128), transform = plain_text)]
    pub city: String,
    /// Primary or reserve server building (R-PLC-02: class 1 production runs on both).
    pub role: SiteRole,
    /// Whose infrastructure the building is (R-PLC-03, 003 p.13): class 1 runs only on
    /// the platform's or the operator's; classes 2 and 3 use an ICT-infrastructure
    /// provider's only when those cannot host them.
    #[serde(default)]
    pub owner: SiteOwner,
    /// The contour segments of the platform's network that the site hosts (R-SEG-01).
    #[schemars(length(min = 1, max = 2), extend("x-kubernetes-list-type" = "set"))]
    pub contours: Vec<Contour>,
    /// Labels that select the site's nodes.
    #[schemars(extend("minProperties" = 1, "maxProperties" = 16))]
    pub node_selector: BTreeMap<String, String>,
    /// Storage classes whose volumes live at this site; volume claims of products may
    /// use only the classes of their allowed sites (R-PLC-01).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "set"), transform = object_names)]
    pub storage_classes: Vec<String>,
    /// The cluster that runs the site's nodes. Absent: the cluster this operator runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<SiteCluster>,
}

/// The role of a server building in the availability scheme (000 App.2 p.6.5).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SiteRole {
    /// The main server building.
    Primary,
    /// The reserve server building (hot standby for class 1, cold for class 2).
    Reserve,
}

/// Whose infrastructure a site is (R-PLC-03).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SiteOwner {
    /// The e-government platform's own.
    #[default]
    Platform,
    /// The platform operator's.
    Operator,
    /// An ICT-infrastructure provider's in Kazakhstan.
    Provider,
}

/// Another cluster that runs a site's nodes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteCluster {
    /// A Secret holding a kubeconfig (key `kubeconfig`) for that cluster.
    pub kubeconfig_secret_ref: NamespacedRef,
}

/// What the operator observed of the site.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many nodes the site's selector matches.
    #[serde(default)]
    pub nodes: i32,
    /// How many of them are not attested to be in the home country (R-PLC-01).
    #[serde(default)]
    pub nodes_outside_country: i32,
    /// Ready, Resident (all nodes attested in the home country).
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}
