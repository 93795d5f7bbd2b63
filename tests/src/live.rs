//! Live metering, shared by `tests/tests/live_metering.rs` and the demo: pods given a
//! known usage through kwok's `ClusterResourceUsage` (`kwok/metrics.yaml`), kube-state-metrics
//! with the chart's flags and RBAC, a Prometheus scraping both with the reference scrape
//! configuration, and the short-window metering configuration.

use akp_billing::MeteringConfig;
use anyhow::{Result, ensure};
use serde_json::{Value, json};

use crate::bins::repo_root;
use crate::control_plane::ControlPlane;
use crate::exporters::{KubeStateMetrics, reference_scrape_config};
use crate::prometheus::TestPrometheus;
use crate::usage::spaced_config;

/// Scrape interval, seconds; the hold bridges two missed scrapes.
pub const SCRAPE: i64 = 5;
/// The longest gap between samples that is bridged, seconds.
pub const HOLD: i64 = 15;
/// How long after the fact metering waits for late samples, seconds.
pub const SETTLE: i64 = 20;

/// The annotations from which kwok's `ClusterResourceUsage` gives a pod its CPU and
/// memory usage.
pub fn kwok_usage_annotations(millicores: i64, mebibytes: i64) -> Value {
    json!({
        "kwok.x-k8s.io/usage-cpu": format!("{millicores}m"),
        "kwok.x-k8s.io/usage-memory": format!("{mebibytes}Mi"),
    })
}

/// kube-state-metrics and a Prometheus scraping it and the kubelets of `nodes` (kwok,
/// started with `kwok_metrics`) with the reference scrape configuration.
#[derive(Debug)]
pub struct LiveExporters {
    pub kube_state_metrics: KubeStateMetrics,
    pub prometheus: TestPrometheus,
}

impl LiveExporters {
    /// `extra_jobs` is appended under `scrape_configs:` (list items indented by two).
    pub async fn start(cp: &ControlPlane, nodes: &[&str], extra_jobs: &str) -> Result<Self> {
        let chart_copy =
            std::fs::read_to_string(repo_root().join("charts/akp/files/prometheus-metering.yaml"))?;
        let docs_copy = std::fs::read_to_string(repo_root().join("docs/prometheus-metering.yaml"))?;
        ensure!(
            chart_copy == docs_copy,
            "charts/akp/files/prometheus-metering.yaml differs from docs/prometheus-metering.yaml"
        );
        let kwok = cp
            .kwok_address()
            .ok_or_else(|| anyhow::anyhow!("kwok's metrics are off (Options::kwok_metrics)"))?;
        let kube_state_metrics = KubeStateMetrics::start(cp).await?;
        let targets: Vec<String> = nodes
            .iter()
            .map(|n| format!("{{targets: [\"{kwok}\"], labels: {{__node: {n}}}}}"))
            .collect();
        let mut scrape = reference_scrape_config(&[
            ("SCRAPE_INTERVAL", &format!("{SCRAPE}s")),
            ("SCRAPE_TIMEOUT", &format!("{}s", SCRAPE - 1)),
            ("KSM_ADDRESS", &kube_state_metrics.address()),
            (
                "CA_FILE",
                &cp.dir().join("pki/ca.crt").display().to_string(),
            ),
            ("KUBELET_TARGETS", &format!("[{}]", targets.join(", "))),
            (
                "KUBELET_RESOURCE_PATH",
                "/metrics/nodes/${1}/metrics/resource",
            ),
        ])?;
        scrape.push_str(extra_jobs);
        let prometheus = TestPrometheus::scraping(&scrape)?;
        Ok(Self {
            kube_state_metrics,
            prometheus,
        })
    }
}

/// Metering with the short live window: every query on the scrape interval, a settle
/// time of seconds, live cycles writing the open hour (the rules unchanged).
pub fn live_config(prometheus: &str, start: i64) -> MeteringConfig {
    let mut c = spaced_config(prometheus, start, SCRAPE, HOLD);
    c.timing.settle_seconds = SETTLE;
    c.timing.lookback_seconds = 600;
    c.timing.live = true;
    c
}
