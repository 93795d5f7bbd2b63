//! The products and agency the provisioning and memory benchmarks create.

use std::time::Duration;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_test_support::fixtures::{self, example};
use akp_test_support::{apply, ensure_namespace};
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

/// The field manager of the objects the benchmarks create.
pub const BENCH_MANAGER: &str = "akp-bench";
/// The agency every benchmark product belongs to, and its namespace.
pub const AGENCY: &str = "mon";
/// The agency's namespace.
pub const AGENCY_NAMESPACE: &str = "agency-mon";

/// The acts a product needs to be at trial operation (R-LC-02).
pub use akp_test_support::fixtures::GATE2;

/// The agency `mon` of `examples/agencies.yaml`.
pub fn agency_doc() -> Result<Value> {
    example("agencies.yaml", AGENCY)
}

/// The agency as a typed object.
pub fn agency() -> Result<Agency> {
    Ok(serde_json::from_value(agency_doc()?)?)
}

/// A product of the agency at `stage` with `acts`, requesting every environment
/// (the tests' fixture product, named Benchmark, with an administrator).
pub fn product(name: &str, stage: &str, acts: &[&str]) -> Value {
    let mut doc = fixtures::product(name, stage, acts);
    doc["metadata"]["namespace"] = json!(AGENCY_NAMESPACE);
    doc["spec"]["displayName"] = json!("Benchmark");
    doc["spec"]["participants"]["administrators"] = json!(["admin@example.kz"]);
    doc
}

/// The product's name: `p0000`, `p0001`, …
pub fn product_name(i: usize) -> String {
    format!("p{i:04}")
}

/// Creates the agency (and its namespace, so products can be created before an
/// operator runs).
pub async fn create_agency(client: &Client) -> Result<()> {
    apply(client, &agency_doc()?, None, BENCH_MANAGER).await?;
    ensure_namespace(client, AGENCY_NAMESPACE).await
}

/// Creates products `from..to`, `parallel` at a time.
pub async fn create_products(
    client: &Client,
    from: usize,
    to: usize,
    stage: &str,
    acts: &[&str],
    parallel: usize,
) -> Result<()> {
    futures::stream::iter(from..to)
        .map(|i| {
            let doc = product(&product_name(i), stage, acts);
            async move {
                apply(client, &doc, None, BENCH_MANAGER)
                    .await
                    .with_context(|| format!("creating product {}", product_name(i)))
            }
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// Whether a product is Ready for its current generation.
pub fn is_ready(p: &PlatformSoftwareProduct) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.observed_generation == p.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Waits, by watching (no polling lists), until `count` products are Ready.
pub async fn wait_ready(client: &Client, count: usize, timeout: Duration) -> Result<()> {
    use kube::runtime::{WatchStreamExt, watcher};
    let api = Api::<PlatformSoftwareProduct>::namespaced(client.clone(), AGENCY_NAMESPACE);
    let mut ready = std::collections::BTreeSet::new();
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
    futures::pin_mut!(stream);
    let wait = async {
        while let Some(p) = stream.try_next().await? {
            let name = p.metadata.name.clone().unwrap_or_default();
            if is_ready(&p) {
                ready.insert(name);
            } else {
                ready.remove(&name);
            }
            if ready.len() >= count {
                return Ok(());
            }
        }
        anyhow::bail!("the product watch ended")
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(r) => r,
        Err(_) => {
            let list = api.list(&ListParams::default()).await?;
            let n = list.items.iter().filter(|p| is_ready(p)).count();
            anyhow::bail!("{n} of {count} products Ready after {timeout:?}")
        }
    }
}
