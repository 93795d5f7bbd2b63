//! `SoftwareCatalogItem`: trusted software that may run on the platform (R-ENV-02,
//! R-SW-01 to R-SW-03).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{EnvironmentName, conditions_schema, date_schema, object_names, plain_text};

/// A piece of software the platform allows, with the image repositories it is made of,
/// the environments it may run in, and its entry in the register of trusted software.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "Trusted software that may run on the platform, and where (R-ENV-02, R-SW-01..03).",
    version = "v1alpha1",
    kind = "SoftwareCatalogItem",
    plural = "softwarecatalogitems",
    singular = "softwarecatalogitem",
    shortname = "swc",
    category = "akp",
    status = "SoftwareCatalogItemStatus",
    printcolumn = r#"{"name":"Category","type":"string","jsonPath":".spec.category"}"#,
    printcolumn = r#"{"name":"Register-Entry","type":"string","jsonPath":".spec.trustedRegister.entry"}"#,
    printcolumn = r#"{"name":"Valid-Until","type":"string","jsonPath":".spec.trustedRegister.documentsValidUntil"}"#,
    printcolumn = r#"{"name":"Licence","type":"string","jsonPath":".spec.license.metric"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.category != 'application' || !self.allowedEnvironments.exists(e, e in ['development', 'testing'])",
    "fieldPath": ".allowedEnvironments",
    "reason": "FieldValueForbidden",
    "message": "only system, specialized and platformComponent software may run in development and testing environments (R-ENV-02, 000 p.22): remove development and testing from allowedEnvironments, or change the category"
}]))]
pub struct SoftwareCatalogItemSpec {
    /// The software's name and version as published.
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
    pub display_name: String,
    /// What kind of software it is; development and testing environments admit only
    /// system, specialized and platform-component software (R-ENV-02).
    pub category: SoftwareCategory,
    /// The exact image repositories of the software, with their registry host, for
    /// example `registry.akp.kz/platform/postgresql`; a digest pin
    /// (`...@sha256:<64 hex>`) is allowed. Matched exactly, never by prefix.
    #[schemars(length(min = 1, max = 32), extend("x-kubernetes-list-type" = "set"))]
    pub images: Vec<ImageRepository>,
    /// The environments this software may run in (R-ENV-02).
    #[schemars(length(min = 1, max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_environments: Vec<EnvironmentName>,
    /// The entry in the register of trusted software and the validity of its documents
    /// (R-SW-01, R-SW-02). Absent where the register has no such software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_register: Option<TrustedRegisterEntry>,
    /// Catalog items this software needs; software that is not standalone is allowed
    /// only if what it depends on is in the register too (R-SW-03).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "set"), transform = object_names)]
    pub depends_on: Vec<String>,
    /// How the software's licence is counted for billing.
    #[serde(default)]
    pub license: License,
}

/// An image repository with its registry host, optionally pinned to a digest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(transparent)]
#[schemars(
    extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^(localhost|[a-z0-9-]+(\\\\.[a-z0-9-]+)+)(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(@sha256:[0-9a-f]{64})?$')",
        "message": "an image repository is a registry host and a path, without a tag, optionally pinned by digest, such as registry.akp.kz/platform/postgresql (R-SW-01)",
        "messageExpression": "'\"' + self + '\" is not an exact image repository (R-SW-01): write the registry host and the path without a tag, such as \"registry.akp.kz/platform/postgresql\", optionally followed by @sha256:<64 hex digits>'"
    }])
)]
pub struct ImageRepository(#[schemars(length(min = 1, max = 512))] pub String);

/// Category of software (000 p.22).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SoftwareCategory {
    /// System software: operating systems, DBMS, middleware.
    System,
    /// Specialized software.
    Specialized,
    /// A functional component of the platform itself.
    PlatformComponent,
    /// Application software.
    Application,
}

/// An entry in the register of trusted software (order 829/НҚ).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRegisterEntry {
    /// The entry's number in the register.
    #[schemars(length(min = 1, max = 64), transform = plain_text)]
    pub entry: String,
    /// The last day the entry's documents are valid; renewal is due 30 days before
    /// (R-SW-02).
    #[schemars(schema_with = "date_schema")]
    pub documents_valid_until: jiff::civil::Date,
    /// The entry was removed from the register (004 p.10): from `on`, no new workload
    /// of the software is admitted, as after expiry, and every product that uses it
    /// shows it (R-SW-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<RegisterRemoval>,
}

/// The removal of an entry from the register of trusted software.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRemoval {
    /// The day the entry stops being trusted (Kazakhstan time).
    #[schemars(schema_with = "date_schema")]
    pub on: jiff::civil::Date,
    /// The decision it rests on, e.g. "order 12 of 2026-11-20".
    #[schemars(length(min = 1, max = 256), transform = plain_text)]
    pub basis: String,
}

/// How a licence is counted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct License {
    /// none: free; instance: per running instance-hour; core: per core-hour used.
    #[serde(default)]
    pub metric: LicenseMetric,
}

/// The unit a licence is counted in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LicenseMetric {
    /// Free software, not billed.
    #[default]
    None,
    /// Per instance-hour.
    Instance,
    /// Per core-hour.
    Core,
}

/// What the operator observed of the catalog item.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoftwareCatalogItemStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Trusted (documents valid, dependencies trusted), Expiring (within 30 days).
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}
