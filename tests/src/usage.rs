//! Synthetic usage data for metering tests and the demo: the series a cluster's
//! cAdvisor, kubelet, kube-state-metrics, ingress and gateway would expose for a set of
//! environments, written as OpenMetrics for `promtool tsdb create-blocks-from`, and
//! the metering configuration that reads them.

use akp_billing::MeteringConfig;

use crate::prometheus::OpenMetrics;

/// The `job` label of kube-state-metrics' series under the reference scrape
/// configuration (`docs/prometheus-metering.yaml`); the generated series carry the
/// labels that configuration gives each exporter, which metering trusts.
pub const KSM_JOB: (&str, &str) = ("job", "kube-state-metrics");

/// Seconds between scrapes in the generated data.
pub const STEP: i64 = 900;
/// One GiB.
pub const GIB: i64 = 1 << 30;
/// One MiB.
pub const MIB: i64 = 1 << 20;
/// The image of the catalogued software in the generated data.
pub const POSTGRES_IMAGE: &str = "registry.akp.kz/platform/postgresql:15.4";

/// The catalog item of [`POSTGRES_IMAGE`], whose use the series meter as software.
pub const POSTGRES_CATALOG: &str = r#"
apiVersion: akp.egov.kz/v1alpha1
kind: SoftwareCatalogItem
metadata: {name: postgresql}
spec:
  displayName: PostgreSQL 15
  category: system
  images: [registry.akp.kz/platform/postgresql]
  allowedEnvironments: [development, testing, trial, production]
  license: {metric: core}
"#;

/// Unix seconds as RFC 3339.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An environment of the generated data.
#[derive(Clone, Debug)]
pub struct Env {
    pub idx: usize,
    pub agency: String,
    pub product: String,
    pub environment: &'static str,
}

impl Env {
    pub fn namespace(&self) -> String {
        format!("{}-{}-{}", self.agency, self.product, self.environment)
    }
    /// CPU seconds per scrape: 0.05 cores × (idx + 1).
    pub fn cpu_inc(&self) -> i64 {
        45 * (self.idx as i64 + 1)
    }
    /// Memory working set: 256 MiB × (idx + 1).
    pub fn memory(&self) -> i64 {
        256 * MIB * (self.idx as i64 + 1)
    }
    /// Volume used: 1 GiB × (idx + 1).
    pub fn storage(&self) -> i64 {
        GIB * (self.idx as i64 + 1)
    }
}

pub fn environments(n: usize) -> Vec<Env> {
    (0..n)
        .map(|idx| Env {
            idx,
            agency: format!("ag{}", idx % 4),
            product: format!("prod{idx}"),
            environment: ["production", "testing", "development"][idx % 3],
        })
        .collect()
}

/// What happens to an environment's series besides steady usage.
#[derive(Clone, Debug, Default)]
pub struct Twists {
    /// Scrape index where the CPU counter resets in place (a process restart).
    pub reset_at: Option<i64>,
    /// Scrape index where cAdvisor's container series is replaced by a new one.
    pub new_container_at: Option<i64>,
    /// Scrape indexes with no sample at all (missed scrapes).
    pub missing: Vec<i64>,
    /// The last scrape index (the namespace is deleted after it).
    pub last: Option<i64>,
    /// Scrape indexes where a production deployment is short of replicas.
    pub unavailable: Vec<i64>,
}

/// Writes an environment's series for scrapes `k` in `ks` at `t0 + k * STEP`.
pub fn env_series(om: &mut OpenMetrics, env: &Env, t0: i64, ks: std::ops::Range<i64>, tw: &Twists) {
    let ns = env.namespace();
    let ns = ns.as_str();
    let alive: Vec<i64> = ks
        .filter(|k| !tw.missing.contains(k) && tw.last.is_none_or(|last| *k <= last))
        .collect();
    let at = |k: i64| t0 + k * STEP;
    for &k in &alive {
        let t = at(k);
        om.sample(
            "kube_namespace_labels",
            &[
                KSM_JOB,
                ("namespace", ns),
                ("label_app_kubernetes_io_managed_by", "akp-operator"),
                ("label_akp_egov_kz_agency", &env.agency),
                ("label_akp_egov_kz_product", &env.product),
                ("label_akp_egov_kz_product_namespace", &env.agency),
                ("label_akp_egov_kz_environment", env.environment),
                ("label_akp_egov_kz_contour", "internal"),
                ("label_akp_egov_kz_class", "2"),
            ],
            t,
            1,
        );
        // cAdvisor: CPU counter and memory gauge of the app container.
        let container_id = match tw.new_container_at {
            Some(r) if k >= r => "/b",
            _ => "/a",
        };
        let cpu = match (tw.reset_at, tw.new_container_at) {
            (Some(r), _) | (_, Some(r)) if k >= r => (k - r + 1) * env.cpu_inc(),
            _ => k * env.cpu_inc(),
        };
        let cadvisor = [
            ("job", "kubelet"),
            ("metrics_path", "/metrics/resource"),
            ("namespace", ns),
            ("pod", "app-0"),
            ("container", "app"),
            ("image", POSTGRES_IMAGE),
            ("id", container_id),
        ];
        om.sample("container_cpu_usage_seconds_total", &cadvisor, t, cpu);
        om.sample(
            "container_memory_working_set_bytes",
            &cadvisor,
            t,
            env.memory(),
        );
        om.sample(
            "kubelet_volume_stats_used_bytes",
            &[
                ("job", "kubelet"),
                ("metrics_path", "/metrics"),
                ("namespace", ns),
                ("persistentvolumeclaim", "data"),
            ],
            t,
            env.storage(),
        );
        // Telecom: ingress (Internet), gateway, pod counters.
        let ingress = [
            ("job", "ingress-nginx"),
            ("exported_namespace", ns),
            ("namespace", "ingress-nginx"),
            ("ingress", "app"),
        ];
        om.sample(
            "nginx_ingress_controller_request_size_sum",
            &ingress,
            t,
            k * 200_000,
        );
        om.sample(
            "nginx_ingress_controller_response_size_sum",
            &ingress,
            t,
            k * 800_000,
        );
        om.sample(
            "akp_gateway_bytes_total",
            &[
                ("job", "akp-gateway"),
                ("source_namespace", ns),
                ("direction", "egress"),
            ],
            t,
            k * 500_000,
        );
        let pod_net = [
            ("job", "kubelet"),
            ("metrics_path", "/metrics/cadvisor"),
            ("namespace", ns),
            ("pod", "app-0"),
            ("interface", "eth0"),
        ];
        om.sample(
            "container_network_receive_bytes_total",
            &pod_net,
            t,
            k * 2_000_000,
        );
        om.sample(
            "container_network_transmit_bytes_total",
            &pod_net,
            t,
            k * 1_000_000,
        );
        // kube-state-metrics: containers, deployments, quota.
        // A running container of `image`: its info (with the image) and its status.
        let mut running = |pod: &str, container: &str, image: &str| {
            let labels = [
                KSM_JOB,
                ("namespace", ns),
                ("pod", pod),
                ("container", container),
            ];
            let mut info = labels.to_vec();
            info.push(("image", image));
            om.sample("kube_pod_container_info", &info, t, 1);
            om.sample("kube_pod_container_status_running", &labels, t, 1);
        };
        running("app-0", "app", POSTGRES_IMAGE);
        if env.idx == 5 {
            running("cache-0", "redis", "docker.io/library/redis:7");
        }
        let deployment = [KSM_JOB, ("namespace", ns), ("deployment", "app")];
        om.sample("kube_deployment_spec_replicas", &deployment, t, 2);
        let available = if tw.unavailable.contains(&k) { 1 } else { 2 };
        om.sample(
            "kube_deployment_status_replicas_available",
            &deployment,
            t,
            available,
        );
        for (resource, value) in [
            ("requests.cpu", 2),
            ("requests.memory", 4 * GIB),
            ("requests.storage", 10 * GIB),
            ("pods", 20),
        ] {
            om.sample(
                "kube_resourcequota",
                &[
                    KSM_JOB,
                    ("namespace", ns),
                    ("resourcequota", "akp-requested"),
                    ("type", "hard"),
                    ("resource", resource),
                ],
                t,
                value,
            );
        }
    }
}

/// The metering configuration for 15-minute data.
pub fn test_config(prometheus: &str, start: i64) -> MeteringConfig {
    let mut c = spaced_config(prometheus, start, STEP, 2 * STEP);
    c.timing.settle_seconds = 2 * STEP;
    c.timing.lookback_seconds = 3600;
    c.timing.retention_seconds = 10 * 365 * 86_400;
    c
}

/// The default metering configuration reading `prometheus` from `start`, every query
/// with samples `interval` seconds apart and gaps up to `hold` seconds bridged.
pub fn spaced_config(prometheus: &str, start: i64, interval: i64, hold: i64) -> MeteringConfig {
    let mut c = MeteringConfig::default();
    c.prometheus.url = prometheus.to_string();
    c.timing.start = Some(rfc3339(start));
    let m = &mut c.meters;
    for q in [
        &mut c.identity.query,
        &mut m.cpu,
        &mut m.memory,
        &mut m.storage,
        &mut m.telecom.internet,
        &mut m.telecom.gateway,
        &mut m.telecom.pod,
        &mut m.software.query,
        &mut m.availability,
        &mut m.quota.query,
    ] {
        q.interval_seconds = interval;
        q.hold_seconds = hold;
    }
    c
}
