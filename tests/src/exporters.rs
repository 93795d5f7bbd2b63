//! kube-state-metrics, built by `tools/build.sh`, against the test control plane with
//! the flags the chart documents for production (`charts/akp/files/kube-state-metrics-args.yaml`)
//! and the chart's RBAC for it alone (`charts/akp/templates/rbac-kube-state-metrics.yaml`),
//! and the reference scrape configuration of metering (`docs/prometheus-metering.yaml`).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bins::{Binaries, repo_root};
use crate::control_plane::{ControlPlane, FIELD_MANAGER, free_port};
use crate::manifests::chart_documents;
use crate::process::Proc;
use crate::prometheus::http_status;

/// The flags of `charts/akp/files/kube-state-metrics-args.yaml`.
pub fn chart_kube_state_metrics_args() -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct File {
        args: Vec<String>,
    }
    let path = repo_root().join("charts/akp/files/kube-state-metrics-args.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: File =
        serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(file.args)
}

/// The user kube-state-metrics runs as: in no group, bound to the chart's ClusterRole
/// alone.
pub const KSM_USER: &str = "kube-state-metrics";

/// The chart's ClusterRole of kube-state-metrics and its ClusterRoleBinding (default
/// values), the binding's subject made [`KSM_USER`]. Checks that the role grants list
/// and watch at most, on exactly the resources `--resources` enables.
pub fn chart_kube_state_metrics_rbac() -> Result<(ClusterRole, ClusterRoleBinding)> {
    let name = "akp-kube-state-metrics";
    let mut docs: Vec<Value> = chart_documents("akp", "akp-system")?
        .into_iter()
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some("ClusterRole" | "ClusterRoleBinding")
            ) && d["metadata"]["name"] == name
        })
        .collect();
    ensure!(
        docs.len() == 2,
        "the chart renders no ClusterRole and ClusterRoleBinding {name} (billing.kubeStateMetrics.rbac)"
    );
    let enabled: BTreeSet<String> = chart_kube_state_metrics_args()?
        .iter()
        .find_map(|a| a.strip_prefix("--resources="))
        .context("no --resources in charts/akp/files/kube-state-metrics-args.yaml")?
        .split(',')
        .map(str::to_string)
        .collect();
    let mut granted = BTreeSet::new();
    for doc in &mut docs {
        if doc["kind"] == "ClusterRoleBinding" {
            doc["subjects"] = json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": KSM_USER}]);
            continue;
        }
        for rule in doc["rules"]
            .as_array()
            .context("ClusterRole without rules")?
        {
            let verbs = rule["verbs"].as_array().context("rule without verbs")?;
            ensure!(
                verbs.iter().all(|v| v == "list" || v == "watch"),
                "{name} grants more than list and watch: {rule}"
            );
            granted.extend(
                rule["resources"]
                    .as_array()
                    .context("rule without resources")?
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_string)),
            );
        }
    }
    ensure!(
        granted == enabled,
        "{name} grants {granted:?}, kube-state-metrics --resources enables {enabled:?}"
    );
    let of = |kind: &str| docs.iter().find(|d| d["kind"] == kind).cloned();
    Ok((
        serde_json::from_value(of("ClusterRole").context("ClusterRole")?)?,
        serde_json::from_value(of("ClusterRoleBinding").context("ClusterRoleBinding")?)?,
    ))
}

/// The reference scrape configuration with its `${NAME}` placeholders replaced.
pub fn reference_scrape_config(values: &[(&str, &str)]) -> Result<String> {
    let path = repo_root().join("docs/prometheus-metering.yaml");
    let mut text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    if let Some(left) = text
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && l.contains("${") && !l.contains("${1}"))
    {
        bail!("placeholder left in the scrape configuration: {left}");
    }
    Ok(text)
}

/// A kube-state-metrics process on a free loopback port.
pub struct KubeStateMetrics {
    port: u16,
    proc: Proc,
}

impl std::fmt::Debug for KubeStateMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStateMetrics")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl KubeStateMetrics {
    /// Starts kube-state-metrics against `cp` with the chart's flags, as [`KSM_USER`]
    /// on the chart's RBAC ([`chart_kube_state_metrics_rbac`], applied here as admin).
    pub async fn start(cp: &ControlPlane) -> Result<Self> {
        let bins = Binaries::locate()?;
        let bin = Binaries::require(&bins.kube_state_metrics)?.to_path_buf();
        let admin = cp.admin_client().await?;
        let (role, binding) = chart_kube_state_metrics_rbac()?;
        let apply = PatchParams::apply(FIELD_MANAGER);
        let name = role.metadata.name.clone().unwrap_or_default();
        Api::<ClusterRole>::all(admin.clone())
            .patch(&name, &apply, &Patch::Apply(&role))
            .await?;
        Api::<ClusterRoleBinding>::all(admin)
            .patch(&name, &apply, &Patch::Apply(&binding))
            .await?;
        // The authorizer's cache follows the binding within moments.
        let pods: Api<Pod> = Api::all(cp.client_for(KSM_USER, &[]).await?);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = pods.list(&ListParams::default().limit(1)).await {
            ensure!(
                Instant::now() < deadline,
                "{KSM_USER} may not list pods 10 s after the chart's binding: {e}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let dir = cp.dir().join("kube-state-metrics");
        std::fs::create_dir_all(&dir)?;
        let kubeconfig = dir.join("kubeconfig");
        cp.write_kubeconfig_for(KSM_USER, &[], &kubeconfig)?;
        let port = free_port()?;
        let telemetry = free_port()?;
        let mut args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--host=127.0.0.1".into(),
            format!("--port={port}"),
            "--telemetry-host=127.0.0.1".into(),
            format!("--telemetry-port={telemetry}"),
        ];
        args.extend(chart_kube_state_metrics_args()?);
        let proc = Proc::spawn("kube-state-metrics", &bin, &args, &[], log_path(&dir))?;
        let mut ksm = Self { port, proc };
        ksm.wait_ready()?;
        Ok(ksm)
    }

    /// `127.0.0.1:<port>` of its metrics.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills it and starts it again on the same port (its series restart from a fresh
    /// list of the API).
    pub fn restart(&mut self) -> Result<()> {
        self.proc.respawn()?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let port = self.port;
        self.proc
            .wait_ready(Duration::from_secs(60), Duration::from_millis(100), || {
                TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
                    && http_status(port, "/healthz") == Some(200)
            })
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("kube-state-metrics.log")
}

impl Drop for KubeStateMetrics {
    fn drop(&mut self) {
        self.proc.kill();
    }
}
