//! Types and schema pieces shared by several kinds.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The API group of every kind in this crate.
pub const GROUP: &str = "akp.egov.kz";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";

/// A name in the languages the platform publishes: Kazakh and Russian are required
/// (the state language and the official one), English is optional.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LocalizedName {
    /// The name in Kazakh (the state language).
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
    pub kk: String,
    /// The name in Russian.
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
    pub ru: String,
    /// The name in English, where the agency has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
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

impl Stage {
    /// All stages, in lifecycle order.
    pub const ALL: [Stage; 5] = [
        Stage::Development,
        Stage::PreliminaryTesting,
        Stage::TrialOperation,
        Stage::Production,
        Stage::Decommissioned,
    ];

    /// The name as the API writes it (`spec.stage`, `status.stage`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::PreliminaryTesting => "preliminaryTesting",
            Stage::TrialOperation => "trialOperation",
            Stage::Production => "production",
            Stage::Decommissioned => "decommissioned",
        }
    }
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
    #[schemars(length(min = 1, max = 63), transform = dns_label)]
    pub namespace: String,
    /// Name of the object.
    #[schemars(length(min = 1, max = 253), transform = object_name)]
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

/// Characters that hide or reorder what a reader sees: C0 and C1 control characters
/// (NUL, ESC of terminal escapes…), the Arabic letter mark, zero-width characters and
/// joiners, bidirectional embeddings, overrides and isolates (U+202E makes
/// "exe.txt" read "txt.exe"), and the byte-order mark. As an RE2 character class body.
const HIDDEN: &str = r"\x{0000}-\x{001f}\x{007f}-\x{009f}\x{061c}\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{feff}";

/// The same, but allowing tab, line feed and carriage return (multi-line prose).
const HIDDEN_IN_PROSE: &str = r"\x{0000}-\x{0008}\x{000b}\x{000c}\x{000e}-\x{001f}\x{007f}-\x{009f}\x{061c}\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{feff}";

/// A CEL regular expression literal for `pattern` (backslashes escaped for CEL).
fn cel_regex(pattern: &str) -> String {
    format!("'{}'", pattern.replace('\\', "\\\\"))
}

/// Adds a CEL rule to a schema, after the rules it already has.
fn add_rule(schema: &mut Schema, rule: Value) {
    match schema.get_mut("x-kubernetes-validations") {
        Some(Value::Array(rules)) => rules.push(rule),
        _ => {
            schema.insert("x-kubernetes-validations".into(), json!([rule]));
        }
    }
}

/// The plain-text rule of the API: a free-text field shown to people (in kubectl, the
/// reports, the portal) holds no control, invisible or bidirectional-override
/// characters, and no line breaks. A `transform` for string fields (also `Option`).
pub fn plain_text(schema: &mut Schema) {
    add_rule(
        schema,
        json!({
            "rule": format!("!self.matches({})", cel_regex(&format!("[{HIDDEN}]"))),
            "message": "must be plain text on one line (API plain-text rule, docs/api.md): it holds a control character (such as NUL, ESC, a tab or a line break), a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069) or an invisible character (U+200B-U+200F, U+2060-U+2064, U+FEFF), which can hide or reorder what people read; retype the value without them"
        }),
    );
}

/// The plain-text rule for prose of several lines: as [`plain_text`], but tabs and
/// line breaks are allowed.
pub fn plain_prose(schema: &mut Schema) {
    add_rule(
        schema,
        json!({
            "rule": format!("!self.matches({})", cel_regex(&format!("[{HIDDEN_IN_PROSE}]"))),
            "message": "must be plain text (API plain-text rule, docs/api.md): it holds a control character (such as NUL or ESC), a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069) or an invisible character (U+200B-U+200F, U+2060-U+2064, U+FEFF), which can hide or reorder what people read; retype the text without them (tabs and line breaks are fine)"
        }),
    );
}

/// A Kubernetes object name (RFC 1123 subdomain), checked with a message that says so:
/// a `transform` for fields that name other objects.
pub fn object_name(schema: &mut Schema) {
    add_rule(
        schema,
        json!({
            "rule": "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
            "message": "must be the name of a Kubernetes object (RFC 1123 subdomain): lowercase Latin letters, digits, '-' and '.', starting and ending with a letter or digit, such as postgresql-16; fix the name"
        }),
    );
}

/// A namespace name (RFC 1123 label), checked with a message that says so.
pub fn dns_label(schema: &mut Schema) {
    add_rule(
        schema,
        json!({
            "rule": "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
            "message": "must be a namespace name (RFC 1123 label): at most 63 lowercase Latin letters, digits and '-', starting and ending with a letter or digit, such as agency-mon; fix the name"
        }),
    );
}

/// Applies `transform` to the item schema of a list, and bounds the items' length
/// (CEL on a string needs a bound for its cost estimate).
fn on_items(schema: &mut Schema, max_length: u64, transform: fn(&mut Schema)) {
    let Some(items) = schema.get_mut("items") else {
        return;
    };
    let Ok(mut item) = Schema::try_from(items.take()) else {
        return;
    };
    item.insert("maxLength".into(), max_length.into());
    transform(&mut item);
    *items = item.to_value();
}

/// [`object_name`] for every item of a list of names.
pub fn object_names(schema: &mut Schema) {
    on_items(schema, 253, object_name);
}

/// [`plain_text`] for every item of a list of strings.
pub fn plain_texts(schema: &mut Schema) {
    on_items(schema, 253, plain_text);
}

/// User names of the project roles (R-LC-08): plain text, and never a `system:` name.
/// The API server reserves that prefix for its own users and groups
/// (`system:anonymous`, `system:serviceaccount:...`, `system:masters`): naming one would
/// grant an environment to the anonymous user or to a workload's account.
pub fn user_names(schema: &mut Schema) {
    on_items(schema, 253, |item| {
        plain_text(item);
        add_rule(
            item,
            json!({
                "rule": "!self.startsWith('system:')",
                "messageExpression": "'\"' + self + '\" is a name the API server reserves for its own users and groups (system:...), not a person (R-LC-08): name the person, as user@domain of the agency, the developer or the service integrator'"
            }),
        );
    });
}

/// The domains of an organisation's user names (`alice@mon.gov.kz` → `mon.gov.kz`):
/// lowercase DNS names with at least one dot. A `transform` for lists of domains.
pub fn user_domains(schema: &mut Schema) {
    on_items(schema, 253, |item| {
        add_rule(
            item,
            json!({
                "rule": "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$')",
                "messageExpression": "'\"' + self + '\" is not a domain of user names (R-LC-08): write what follows @ in the user names of the organisation, in lowercase, such as mon.gov.kz'"
            }),
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_and_act_names_are_the_serialized_ones() {
        use crate::product::ActType;
        for stage in Stage::ALL {
            assert_eq!(serde_json::json!(stage), stage.as_str());
        }
        for act in ActType::ALL {
            assert_eq!(serde_json::json!(act), act.as_str());
        }
    }

    #[test]
    fn all_lists_every_stage_and_act_type_once() {
        use crate::product::ActType;
        // The schema is derived from the type, so a variant missing from ALL shows. With
        // doc comments on the variants schemars writes one `const` per variant.
        fn schema_names<T: JsonSchema>() -> Vec<String> {
            let schema = serde_json::to_value(schemars::schema_for!(T)).expect("schema");
            let variants = schema["oneOf"].as_array().expect("oneOf");
            let names = variants.iter().map(|v| v["const"].as_str().expect("const"));
            names.map(str::to_owned).collect()
        }
        assert_eq!(
            Stage::ALL.map(Stage::as_str).to_vec(),
            schema_names::<Stage>()
        );
        assert_eq!(
            ActType::ALL.map(ActType::as_str).to_vec(),
            schema_names::<ActType>()
        );
    }

    #[test]
    fn hidden_characters_are_a_valid_class_that_catches_the_tricks() {
        let class = regex_lite(&format!("[{HIDDEN}]"));
        for bad in [
            "a\u{0}b",
            "a\u{202e}b",
            "a\u{200b}b",
            "a\nb",
            "\u{1b}[31m",
            "\u{feff}x",
        ] {
            assert!(class(bad), "{bad:?} must be caught");
        }
        for good in [
            "Министерство просвещения",
            "Қазақстан",
            "ТОО «Тест»",
            "e-License 2.0",
        ] {
            assert!(!class(good), "{good:?} is plain text");
        }
        let prose = regex_lite(&format!("[{HIDDEN_IN_PROSE}]"));
        assert!(!prose("line one\nline two\ttab"));
        assert!(prose("a\u{2066}b"));
    }

    /// A tiny matcher for the class: the ranges of `\x{..}` escapes.
    fn regex_lite(class: &str) -> impl Fn(&str) -> bool + use<> {
        let body = class.trim_start_matches('[').trim_end_matches(']');
        let points: Vec<u32> = body
            .split("\\x{")
            .filter(|p| !p.is_empty())
            .map(|p| {
                u32::from_str_radix(p.trim_end_matches('-').trim_end_matches('}'), 16).expect("hex")
            })
            .collect();
        let dashes: Vec<bool> = body
            .split("\\x{")
            .filter(|p| !p.is_empty())
            .map(|p| p.ends_with('-'))
            .collect();
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < points.len() {
            if dashes[i] {
                ranges.push((points[i], points[i + 1]));
                i += 2;
            } else {
                ranges.push((points[i], points[i]));
                i += 1;
            }
        }
        move |s: &str| {
            s.chars()
                .any(|c| ranges.iter().any(|(a, b)| (*a..=*b).contains(&(c as u32))))
        }
    }
}
