//! Types and schema pieces shared by several kinds.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The API group of every kind in this crate.
pub const GROUP: &str = "akp.egov.kz";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";

/// A name in the languages the platform publishes: Kazakh and Russian are required
/// (the state language and the official one), English is optional.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LocalizedName {
    /// The name in Kazakh (the state language).
    #[schemars(length(min = 1, max = 512))]
    pub kk: String,
    /// The name in Russian.
    #[schemars(length(min = 1, max = 512))]
    pub ru: String,
    /// The name in English, where the agency has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub en: Option<String>,
}

/// The lifecycle stage of a platform software product (R-LC-01).
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Development in the platform's development environment (000 p.29-30).
    #[default]
    Development,
    /// Preliminary testing in the testing environment (000 p.31-33).
    PreliminaryTesting,
    /// Trial operation, at most one calendar month (000 p.34, R-LC-03).
    TrialOperation,
    /// Production (industrial) operation (000 p.38-39).
    Production,
    /// Taken out of operation: environments removed, the record kept (R-LC-07).
    Decommissioned,
}

/// The environments the platform provides to a product (R-ENV-01).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum EnvironmentName {
    /// The development environment.
    Development,
    /// The testing environment (preliminary testing).
    Testing,
    /// The trial-operation environment.
    Trial,
    /// The production (industrial operation) environment.
    Production,
}

impl EnvironmentName {
    /// All environments, in lifecycle order.
    pub const ALL: [EnvironmentName; 4] = [
        EnvironmentName::Development,
        EnvironmentName::Testing,
        EnvironmentName::Trial,
        EnvironmentName::Production,
    ];

    /// The name as it appears in the API and in namespace names.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentName::Development => "development",
            EnvironmentName::Testing => "testing",
            EnvironmentName::Trial => "trial",
            EnvironmentName::Production => "production",
        }
    }
}

/// The contour of the platform's local network a product is placed in (R-SEG-01).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Contour {
    /// The internal contour: its addressing is hidden (R-SEG-03).
    Internal,
    /// A dedicated segment of the external contour; reaches the internal contour only
    /// through the e-government gateway or a screened subnet (R-SEG-02).
    External,
}

/// A reference to an object in a namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct NamespacedRef {
    /// Namespace of the object.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Schema of a Kubernetes quantity ("4", "500m", "8Gi") that must not be negative.
///
/// Integers are accepted as in core Kubernetes resource requests (int-or-string);
/// the CEL quantity library checks the syntax so that the API server refuses
/// "8 GB" with a message that says what a quantity looks like.
pub fn non_negative_quantity(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A Kubernetes quantity, not negative: a number with an optional suffix such as \"4\", \"500m\", \"8Gi\" or \"1Ti\".",
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-validations": [{
            "rule": "isQuantity(string(self)) && !quantity(string(self)).isLessThan(quantity('0'))",
            "message": "must be a non-negative Kubernetes quantity such as \"4\", \"500m\", \"8Gi\" (R-ENV-01): fix the value",
            "messageExpression": "'\"' + string(self) + '\" is not a non-negative Kubernetes quantity (R-ENV-01): write a number with an optional suffix, such as \"4\", \"500m\", \"8Gi\" or \"1Ti\"'"
        }]
    })
}

/// Schema of a 12-digit business or individual identification number (BIN/IIN).
pub fn bin_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "Business identification number (BIN): exactly 12 digits.",
        "maxLength": 64,
        "x-kubernetes-validations": [{
            "rule": "self.matches('^[0-9]{12}$')",
            "message": "a BIN is exactly 12 digits (R-LC-08, 000 App.2): fix the value",
            "messageExpression": "'\"' + self + '\" is not a BIN (R-LC-08, 000 App.2): write exactly 12 digits, for example \"040340004434\"'"
        }]
    })
}

/// Schema of a calendar date ("2026-03-02").
pub fn date_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "date",
        "description": "A calendar date, YYYY-MM-DD."
    })
}

/// Conditions in the usual Kubernetes shape, merged by type.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema =
        <Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>::json_schema(generator);
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema.insert(
        "description".into(),
        "The latest observations of the object's state, one per type.".into(),
    );
    schema
}
