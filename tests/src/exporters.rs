//! kube-state-metrics, built by `tools/build.sh`, against the test control plane with
//! the flags the chart documents for production (`charts/akp/files/kube-state-metrics-args.yaml`),
//! and the reference scrape configuration of metering (`docs/prometheus-metering.yaml`).

use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::bins::{Binaries, repo_root};
use crate::control_plane::ControlPlane;
use crate::process::{Proc, TAIL_LINES, tail};
use crate::prometheus::{free_port, http_status};

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
    /// Starts kube-state-metrics against `cp` (its own client certificate, in
    /// system:masters like the other test components) with the chart's flags.
    pub fn start(cp: &ControlPlane) -> Result<Self> {
        let bins = Binaries::locate()?;
        let bin = Binaries::require(&bins.kube_state_metrics)?.to_path_buf();
        let dir = cp.dir().join("kube-state-metrics");
        std::fs::create_dir_all(&dir)?;
        let kubeconfig = dir.join("kubeconfig");
        cp.write_kubeconfig_for("kube-state-metrics", &["system:masters"], &kubeconfig)?;
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
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.proc.exited() {
                return Err(self.proc.exit_error(status));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
                && http_status(self.port, "/healthz") == Some(200)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "kube-state-metrics not ready in 60 s; last lines of {}:\n{}",
                    self.proc.log.display(),
                    tail(&self.proc.log, TAIL_LINES)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
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
