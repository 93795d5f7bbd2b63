//! The repository's examples as test fixtures: the same objects the tests against the
//! API server apply, so unit tests and cluster tests agree on what "an example" is.

use serde::de::DeserializeOwned;

/// Every document of `examples/<file>`, deserialized.
pub fn load<T: DeserializeOwned>(file: &str) -> Vec<T> {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}
