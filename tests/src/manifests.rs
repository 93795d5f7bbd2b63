//! Applying the project's YAML manifests (examples, the bad-input corpus) to a cluster
//! as dynamic objects, with strict field validation so that a misspelt field fails
//! instead of being pruned silently.

use std::path::{Path, PathBuf};

use akp_crds::{Agency, BillingReport, PlatformSoftwareProduct, Site, SoftwareCatalogItem, Tariff};
use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Client, Resource};
use serde_json::Value;

/// The documents of a YAML file, as JSON values (empty documents dropped).
pub fn documents(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| anyhow!("parsing {}: {e}", path.display()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The `*.yaml` files of a directory, sorted by name.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The API resource of one of the project's kinds, and whether it is namespaced.
pub fn api_resource(kind: &str) -> Result<(ApiResource, bool)> {
    fn of<K: Resource<DynamicType = ()>>() -> ApiResource {
        ApiResource::erase::<K>(&())
    }
    Ok(match kind {
        "Agency" => (of::<Agency>(), false),
        "Site" => (of::<Site>(), false),
        "PlatformSoftwareProduct" => (of::<PlatformSoftwareProduct>(), true),
        "SoftwareCatalogItem" => (of::<SoftwareCatalogItem>(), false),
        "Tariff" => (of::<Tariff>(), false),
        "BillingReport" => (of::<BillingReport>(), false),
        other => bail!("unknown kind {other}"),
    })
}

/// Puts a namespaced document into `namespace` when one is given (the corpus carries
/// none, so each test uses its own).
pub fn with_namespace(mut doc: Value, namespace: Option<&str>) -> Value {
    let namespaced = api_resource(doc["kind"].as_str().unwrap_or_default()).is_ok_and(|(_, n)| n);
    if let (Some(ns), true) = (namespace, namespaced) {
        doc["metadata"]["namespace"] = ns.into();
    }
    doc
}

/// The dynamic API for a document and its name.
pub fn dynamic_api(
    client: &Client,
    doc: &Value,
    namespace: Option<&str>,
) -> Result<(Api<DynamicObject>, String)> {
    let kind = doc["kind"].as_str().context("document has no kind")?;
    let name = doc["metadata"]["name"]
        .as_str()
        .context("document has no name")?
        .to_owned();
    let (ar, namespaced) = api_resource(kind)?;
    let api = if namespaced {
        let ns = namespace
            .or_else(|| doc["metadata"]["namespace"].as_str())
            .context("namespaced document without a namespace")?;
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    Ok((api, name))
}

/// Server-side applies a document with strict field validation (unknown or duplicate
/// fields fail) under `field_manager`.
pub async fn apply(
    client: &Client,
    doc: &Value,
    namespace: Option<&str>,
    field_manager: &str,
) -> Result<DynamicObject, kube::Error> {
    let doc = with_namespace(doc.clone(), namespace);
    let (api, name) =
        dynamic_api(client, &doc, namespace).map_err(|e| kube::Error::Service(e.into()))?;
    api.patch(
        &name,
        &PatchParams::apply(field_manager).validation_strict(),
        &Patch::Apply(&doc),
    )
    .await
}

/// Applies every document of the named files of `examples/` (cluster-scoped ones, or
/// ones that carry their namespace) under `field_manager`.
pub async fn apply_examples(client: &Client, files: &[&str], field_manager: &str) -> Result<()> {
    for file in files {
        for doc in documents(&crate::repo_root().join("examples").join(file))? {
            apply(client, &doc, None, field_manager)
                .await
                .with_context(|| format!("applying examples/{file}"))?;
        }
    }
    Ok(())
}

/// Creates a namespace unless it exists.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The documents `helm template <release> charts/akp --namespace <namespace>` renders
/// with the chart's default values: what the chart would install, for tests that need
/// its real RBAC.
pub fn chart_documents(release: &str, namespace: &str) -> Result<Vec<Value>> {
    let helm = crate::Binaries::locate()?.helm;
    crate::Binaries::require(&helm)?;
    let out = std::process::Command::new(&helm)
        .args(["template", release])
        .arg(crate::repo_root().join("charts/akp"))
        .args(["--namespace", namespace])
        // The `helm test` hook's pod and ServiceAccount are no part of the install.
        .arg("--skip-tests")
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_saphyr::from_multiple(&String::from_utf8(out.stdout)?)
        .map_err(|e| anyhow::anyhow!("parsing helm's output: {e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}
