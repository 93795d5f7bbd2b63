//! The repository's examples as test fixtures: the same objects the tests against the
//! API server apply, so unit tests and cluster tests agree on what "an example" is.

use serde::de::DeserializeOwned;

/// Every document of `examples/<file>`, deserialized.
pub fn load<T: DeserializeOwned>(file: &str) -> Vec<T> {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// An Agency `name` that owns `namespace`, headed by the user `head`, without contracts
/// (a test display name, a valid BIN): the one fixture of the unit and cluster tests.
pub fn agency_json(name: &str, namespace: &str, head: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Agency",
        "metadata": {"name": name},
        "spec": {
            "displayName": {"kk": "Сынақ", "ru": "Тест"},
            "bin": "040340004434",
            "namespace": namespace,
            "digitalizationHead": {"user": head}
        }
    })
}
