//! Fixtures shared by the integration tests and the benchmarks: the example documents
//! and the product that the operator tests walk through its stages.

use anyhow::{Context, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::{Value, json};

use crate::{documents, repo_root};

/// The SHA-256 every fixture act carries (the admission rules check its form only).
pub const SHA: &str = "c3473eac51f8ba0ad96144af9c53e98b93df17caa578f1dc242dc6565de3f606";

/// The acts a product needs to be at trial operation (R-LC-02).
pub const GATE2: &[&str] = &["preliminaryTestProtocol", "trialTransferAct"];

/// Every act a product needs to be in production (R-LC-02, R-LC-04).
pub const ALL_ACTS: &[&str] = &[
    "preliminaryTestProtocol",
    "trialTransferAct",
    "trialCompletionAct",
    "infoSecTestProtocol",
    "commissioningOrder",
    "resourceConfirmation",
];

/// The document named `name` in `examples/<path>`.
pub fn example(path: &str, name: &str) -> Result<Value> {
    documents(&repo_root().join("examples").join(path))?
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .with_context(|| format!("{name} in {path}"))
}

pub use akp_rules::examples::agency_json as agency;

/// A product of agency mon (namespace `agency-mon`) at `stage` with `acts` (each
/// numbered "1", dated 2026-09-01), requesting every environment: development 2 CPU,
/// 4Gi, 10Gi; testing 1, 2Gi, 5Gi; trial 4, 8Gi, 20Gi; production 8, 16Gi, 100Gi.
/// Callers change the fields that are theirs (display name, participants) on the
/// returned document.
pub fn product(name: &str, stage: &str, acts: &[&str]) -> Value {
    let acts: Vec<Value> = acts
        .iter()
        .map(|t| {
            let mut act = json!({"type": t, "number": "1", "date": "2026-09-01", "sha256": SHA});
            // R-LC-04: the information-security protocol says it passed.
            if *t == "infoSecTestProtocol" {
                act["result"] = json!("positive");
            }
            act
        })
        .collect();
    json!({
        "apiVersion": "akp.egov.kz/v1alpha1",
        "kind": "PlatformSoftwareProduct",
        "metadata": {"name": name, "namespace": "agency-mon"},
        "spec": {
            "displayName": "Walker", "ictProjectCode": "AKT-2026-0001",
            "developer": {"name": "Dev", "bin": "180940012345", "userDomains": ["example.kz"]},
            "class": 2, "informationCategory": "public", "scale": "local",
            "capacity": {"concurrentUsers": 5}, "contour": "internal",
            "participants": {"developers": ["dev@example.kz"]},
            "stage": stage, "acts": acts,
            "environments": {
                "development": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"},
                "testing": {"cpu": "1", "memory": "2Gi", "storage": "5Gi"},
                "trial": {"cpu": "4", "memory": "8Gi", "storage": "20Gi"},
                "production": {"cpu": "8", "memory": "16Gi", "storage": "100Gi"}
            }
        }
    })
}

/// Whether `conditions` hold `Ready=True`.
pub fn is_ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}
