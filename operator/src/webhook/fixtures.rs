//! Test fixtures of the webhook tests: the smallest valid objects, one copy each.

use akp_crds::{Agency, PlatformSoftwareProduct};
use serde_json::{Value, json};

/// The smallest valid product `e-license` in `namespace`, as the API server sends it;
/// tests add the fields they are about.
pub fn product_json(namespace: &str) -> Value {
    json!({
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
pub fn product_with(namespace: &str, spec: Value) -> PlatformSoftwareProduct {
    let mut product = product_json(namespace);
    if let Value::Object(fields) = spec {
        for (key, value) in fields {
            product["spec"][key] = value;
        }
    }
    serde_json::from_value(product).expect("product")
}

/// An Agency `name` claiming `namespace`, whose digitalization head is `head`.
pub fn agency(name: &str, namespace: &str, head: &str) -> Agency {
    serde_json::from_value(akp_rules::examples::agency_json(name, namespace, head))
        .expect("a valid Agency")
}
