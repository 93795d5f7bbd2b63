//! Installing CustomResourceDefinitions from YAML files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::wait::{await_condition, conditions};

use crate::control_plane::FIELD_MANAGER;

/// How long a CRD may take to be Established and then served by discovery.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);

/// Server-side applies every CustomResourceDefinition in the `*.yaml`/`*.yml` files of
/// `dir` (a file may hold several documents), then waits until each is Established
/// and discovery serves its kind in every served version. Returns the CRD names.
pub async fn install_crds(client: &Client, dir: &Path) -> Result<Vec<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading CRD dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let docs: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&text)
            .with_context(|| format!("parsing {} as CustomResourceDefinition", file.display()))?;
        crds.extend(docs);
    }
    if crds.is_empty() {
        tracing::warn!("no CustomResourceDefinition found in {}", dir.display());
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in &crds {
        let name = crd
            .metadata
            .name
            .clone()
            .context("a CustomResourceDefinition without metadata.name")?;
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
        names.push(name);
    }
    for (crd, name) in crds.iter().zip(&names) {
        tokio::time::timeout(
            CRD_TIMEOUT,
            await_condition(api.clone(), name, conditions::is_crd_established()),
        )
        .await
        .with_context(|| format!("CRD {name} not Established after {CRD_TIMEOUT:?}"))?
        .with_context(|| format!("watching CRD {name}"))?;
        for version in crd.spec.versions.iter().filter(|v| v.served) {
            let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind);
            wait_discovered(client, &gvk).await?;
        }
    }
    Ok(names)
}

/// Polls discovery until it serves `gvk` (it lags behind Established).
async fn wait_discovered(client: &Client, gvk: &GroupVersionKind) -> Result<()> {
    let deadline = Instant::now() + CRD_TIMEOUT;
    loop {
        match kube::discovery::pinned_kind(client, gvk).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                bail!("discovery does not serve {gvk:?} after {CRD_TIMEOUT:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
