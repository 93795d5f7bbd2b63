//! `Agency`: a state body, the tenant. Created by the operator's SREs.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    LocalizedName, bin_schema, conditions_schema, date_schema, dns_label, plain_text, user_domains,
};

/// The refusal of an Agency name that could spell another agency's namespaces.
const AGENCY_NAME_MESSAGE: &str = r#"'metadata.name "' + self.metadata.name + '" may hold only lowercase letters and digits (R-LC-08): it begins the names of its environment namespaces <agency>-<product>-<environment>, and a hyphen or a dot would let two agencies spell the same namespace (agency "mon" with product "e-license" and agency "mon-e" with product "license" both give mon-e-license-development); choose a name such as "' + self.metadata.name.replace('-', '').replace('.', '') + '"'"#;

/// A state body (development initiator, 000 p.24) that develops platform software
/// products. It owns one namespace, where it creates its products.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "A state body (agency), the tenant: it develops platform software products in its own namespace.",
    version = "v1alpha1",
    kind = "Agency",
    plural = "agencies",
    singular = "agency",
    shortname = "agency",
    category = "akp",
    status = "AgencyStatus",
    printcolumn = r#"{"name":"BIN","type":"string","jsonPath":".spec.bin"}"#,
    printcolumn = r#"{"name":"Namespace","type":"string","jsonPath":".spec.namespace"}"#,
    printcolumn = r#"{"name":"Head","type":"string","jsonPath":".spec.digitalizationHead.user"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    // R-LC-08: environment namespaces are `<agency>-<product>-<environment>`. With no
    // hyphen in the agency's name, the agency is everything before the first hyphen,
    // the environment (a hyphen-free word) everything after the last, and the product
    // the rest: one namespace name cannot be spelt by two products
    // (rules/src/naming.rs `parse_environment_namespace`). Agencies made
    // before this rule keep their names (`optionalOldSelf`: only a create is checked;
    // the operator's ownership check keeps their namespaces apart).
    validation = Rule::new("oldSelf.hasValue() || self.metadata.name.matches('^[a-z0-9]+$')")
        .optional_old_self(true)
        .reason(Reason::FieldValueInvalid)
        .message(Message::Expression(AGENCY_NAME_MESSAGE.into()))
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(oldSelf.__namespace__) || self.__namespace__ == oldSelf.__namespace__",
        "fieldPath": ".namespace",
        "reason": "FieldValueForbidden",
        "message": "spec.namespace is immutable: the agency's products and environments live there (R-LC-08); create a new Agency instead"
    }
]))]
pub struct AgencySpec {
    /// The agency's name in Kazakh and Russian (and English, optionally).
    pub display_name: LocalizedName,
    /// The agency's business identification number (BIN), 12 digits.
    #[schemars(schema_with = "bin_schema")]
    pub bin: String,
    /// The agency's own namespace: it creates its platform software products there.
    /// Immutable.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        extend("x-kubernetes-validations" = [{
            "rule": "!(self in ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'akp-system']) && !self.startsWith('kube-')",
            "messageExpression": "'\"' + self + '\" is a namespace of the platform, not of an agency (R-LC-08): the operator would grant the agency rights in it; choose a namespace for the agency alone, such as \"agency-mon\"'"
        }, {
            // Environment namespaces end in their environment; an agency namespace that
            // did could be a product's. Agencies made before keep theirs (ratcheting:
            // the field is immutable, so an unchanged value is not checked again).
            "rule": "!self.matches('-(development|testing|trial|production)$')",
            "messageExpression": "'spec.namespace \"' + self + '\" ends like an environment namespace <agency>-<product>-<environment> (R-LC-08): it could be the namespace of an environment of a product; choose a namespace that does not end in -development, -testing, -trial or -production, such as \"agency-mon\"'"
        }]),
        transform = dns_label
    )]
    pub namespace: String,
    /// The agency's digitalization head, who administers its products (000 p.25.1, R-LC-08).
    pub digitalization_head: DigitalizationHead,
    /// The group that agency users belong to (in their client certificate or OIDC
    /// token). Defaults to `agency-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), transform = plain_text)]
    pub group: Option<String>,
    /// The domains of the agency's user names (`aigerim@mon.gov.kz` → `mon.gov.kz`), as
    /// the identity provider issues them: its users may be appointed to the project
    /// roles of its products (R-LC-08). Empty: the domain of the digitalization head's
    /// user name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), transform = user_domains)]
    pub user_domains: Vec<String>,
    /// Contracts with the platform operator. The earliest signing date starts the free
    /// period of non-production environments (R-ENV-04).
    #[serde(default)]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["id"]))]
    pub contracts: Vec<Contract>,
    /// A monthly budget: the agency's UsageStatement and billing's metrics show the
    /// billed amount against it, and alerts fire at the thresholds the platform sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

/// An agency's monthly budget for the platform's services.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Budget {
    /// KZT per calendar month, a decimal string with at most 2 decimals, such as
    /// "2500000.00".
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^[0-9]{1,15}(\\\\.[0-9]{1,2})?$') && !self.matches('^0+(\\\\.0+)?$')",
        "messageExpression": "'\"' + self + '\" is not a monthly budget: write a positive amount of tenge as a decimal string with at most 2 decimals, such as \"2500000.00\"'"
    }]), length(min = 1, max = 20))]
    pub monthly: String,
}

/// The agency's digitalization head (цифрландыру басшысы, 000 p.25.1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct DigitalizationHead {
    /// The user name as it authenticates to the platform (certificate CN or OIDC subject).
    #[schemars(length(min = 1, max = 253), transform = plain_text)]
    pub user: String,
}

/// A contract between the agency and the platform operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    /// The contract number, as written on it.
    #[schemars(length(min = 1, max = 64), transform = plain_text)]
    pub id: String,
    /// The date the contract was signed.
    #[schemars(schema_with = "date_schema")]
    pub signed_on: jiff::civil::Date,
}

/// What the operator observed of the agency.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgencyStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The namespace the operator prepared for the agency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Ready: the namespace and its RBAC are in place.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

impl Agency {
    /// The domains of the agency's user names: `spec.userDomains`, or else the domain
    /// of the digitalization head's user name (none if it has no `@`).
    pub fn user_domains(&self) -> Vec<String> {
        if !self.spec.user_domains.is_empty() {
            return self.spec.user_domains.clone();
        }
        self.spec
            .digitalization_head
            .user
            .rsplit_once('@')
            .map(|(_, domain)| vec![domain.to_owned()])
            .unwrap_or_default()
    }

    /// The group whose members act for this agency.
    pub fn group(&self) -> String {
        match &self.spec.group {
            Some(group) => group.clone(),
            None => format!("agency-{}", kube::ResourceExt::name_any(self)),
        }
    }
}
