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

/// The smallest valid product `e-license` in `namespace`, as the API server sends it;
/// tests add the fields they are about.
pub fn product_json(namespace: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
        "metadata": {"name": "e-license", "namespace": namespace},
        "spec": {
            "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
            "developer": {"name": "NIT", "bin": "000740001307"},
            "class": 2, "informationCategory": "confidential", "scale": "republican",
            "capacity": {"concurrentUsers": 100}, "contour": "internal"
        }
    })
}

/// [`product_json`] with `spec` fields set over it, typed.
pub fn product_with(namespace: &str, spec: serde_json::Value) -> akp_crds::PlatformSoftwareProduct {
    let mut product = product_json(namespace);
    if let serde_json::Value::Object(fields) = spec {
        for (key, value) in fields {
            product["spec"][key] = value;
        }
    }
    serde_json::from_value(product).expect("product")
}

/// An Agency `name` claiming `namespace`, whose digitalization head is `head`, typed.
pub fn agency(name: &str, namespace: &str, head: &str) -> akp_crds::Agency {
    serde_json::from_value(agency_json(name, namespace, head)).expect("a valid Agency")
}
