//! The one place for metric names, labels, PromQL and timing of metering.
//!
//! Every default here is the metric contract of `docs/metrics-contract.md`. A YAML file
//! (read with `serde-saphyr`) may override any field; fields left out keep their
//! defaults. In a query, `{range}` is replaced by the fetched range (`<seconds>s`) and
//! `{step}` by the subquery step; every query is evaluated once per window, at the
//! window's end plus the hold, and must return a matrix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metering::integrate::Spacing;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the metering configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML does not describe a configuration.
    #[error("the metering configuration {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value is out of its range.
    #[error("metering configuration: {field} = {value}: {rule}")]
    Invalid {
        /// The field, as a YAML path.
        field: String,
        /// Its value.
        value: String,
        /// What it must be.
        rule: String,
    },
}

/// The metering configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MeteringConfig {
    /// Where Prometheus is.
    pub prometheus: PrometheusConfig,
    /// Timing of collection, backfill and month closing.
    pub timing: TimingConfig,
    /// Environment identity from namespace labels.
    pub identity: IdentityConfig,
    /// The meters: one query per resource kind per window.
    pub meters: MetersConfig,
}

/// The Prometheus HTTP API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PrometheusConfig {
    /// Base URL, such as `http://prometheus.monitoring:9090`.
    pub url: String,
    /// Timeout of one query, seconds.
    pub timeout_seconds: u64,
    /// Extra CA certificates (PEM) that an `https://` Prometheus' certificate may chain
    /// to, besides the system's roots (a cluster-internal CA, for example).
    pub ca_file: Option<PathBuf>,
    /// A file holding the bearer token sent with every query (`Authorization: Bearer`);
    /// read again for each query, so that a rotated token (a projected ServiceAccount
    /// token, for example) is picked up.
    pub bearer_token_file: Option<PathBuf>,
    /// HTTP basic authentication (exclusive with `bearerTokenFile`).
    pub basic_auth: Option<BasicAuth>,
}

/// HTTP basic authentication of the Prometheus API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// A file holding the password (read again for each query).
    pub password_file: PathBuf,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9090".into(),
            timeout_seconds: 60,
            ca_file: None,
            bearer_token_file: None,
            basic_auth: None,
        }
    }
}

/// When hours are collected and months closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TimingConfig {
    /// An hour is collected once this long has passed after its end, so that its last
    /// scrapes (and the samples after it that the hold looks at) are in. Seconds; at
    /// least the largest hold.
    pub settle_seconds: i64,
    /// How far back a counter sample's predecessor may be (seconds); also how much
    /// before a window is fetched.
    pub lookback_seconds: i64,
    /// The most hours one query window spans, when catching up.
    pub max_window_hours: i64,
    /// Prometheus' retention: hours older than this are not backfilled (they are
    /// recorded as lost). Seconds; Prometheus' default is 15 days.
    pub retention_seconds: i64,
    /// Where an empty ledger starts, RFC 3339; default: as far back as the retention.
    pub start: Option<String>,
    /// A month closes this long after its end, once every meter has collected it.
    pub grace_seconds: i64,
    /// No longer configurable: billing months are Kazakhstan months, UTC+5 (D-TIME-1),
    /// as the rating's days and the operator's clocks are. A config that still says 5
    /// loads; any other value is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc_offset_hours: Option<i8>,
    /// Seconds between collection cycles of the daemon.
    pub poll_seconds: u64,
    /// Also collect the open hour, up to `settleSeconds` before now, every cycle: its
    /// rows are replaced by each cycle and by the final collection once the hour has
    /// settled; its watermark does not move (tests and the demo meter minutes live).
    pub live: bool,
    /// Once a day the daemon collects this many recent seconds again, so that late
    /// data is found (as adjustments once its month is closed); 0 turns it off.
    pub recheck_seconds: i64,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            settle_seconds: 600,
            lookback_seconds: 3600,
            max_window_hours: 24,
            retention_seconds: 15 * 86_400,
            start: None,
            grace_seconds: 3 * 86_400,
            utc_offset_hours: None,
            poll_seconds: 60,
            recheck_seconds: 4 * 86_400,
            live: false,
        }
    }
}

/// A PromQL query and how to read its series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct QueryConfig {
    /// The PromQL, with `{range}` (and `{step}` for subqueries).
    pub promql: String,
    /// The label that names the namespace the usage belongs to.
    pub namespace_label: String,
    /// The nominal interval between samples (scrape interval or subquery step), seconds.
    pub interval_seconds: i64,
    /// The longest gap between samples that is bridged, seconds.
    pub hold_seconds: i64,
    /// Labels (name → value) that only the platform's scrape configuration sets on this
    /// exporter's series (`job`, `metrics_path`; see `docs/prometheus-metering.yaml`).
    /// A series without all of them is not used: it is counted as an
    /// `untrusted-series` data-quality line. A YAML file merges its labels into the
    /// defaults; a label given as `""` is not required. Empty: every series is trusted.
    pub trusted: BTreeMap<String, String>,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            promql: String::new(),
            namespace_label: "namespace".into(),
            interval_seconds: 60,
            hold_seconds: 120,
            trusted: BTreeMap::new(),
        }
    }
}

impl QueryConfig {
    fn new(promql: &str) -> Self {
        Self {
            promql: promql.into(),
            ..Self::default()
        }
    }

    fn with_namespace_label(mut self, label: &str) -> Self {
        self.namespace_label = label.into();
        self
    }

    fn trusting(mut self, labels: &[(&str, &str)]) -> Self {
        self.trusted = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Whether a series carries every trusted label (see [`QueryConfig::trusted`]).
    pub fn trusts(&self, labels: &BTreeMap<String, String>) -> bool {
        self.trusted
            .iter()
            .all(|(k, v)| v.is_empty() || labels.get(k).is_some_and(|l| l == v))
    }

    /// The sample spacing for integration.
    pub fn spacing(&self, timing: &TimingConfig) -> Spacing {
        Spacing {
            interval_ms: self.interval_seconds * 1000,
            hold_ms: self.hold_seconds * 1000,
            lookback_ms: timing.lookback_seconds * 1000,
        }
    }

    /// The PromQL with its placeholders filled.
    pub fn render(&self, range_seconds: i64) -> String {
        self.promql
            .replace("{range}", &format!("{range_seconds}s"))
            .replace("{step}", &format!("{}s", self.interval_seconds))
    }
}

/// The labels the reference scrape configuration (`docs/prometheus-metering.yaml`) puts
/// on kube-state-metrics' series.
const KSM: &[(&str, &str)] = &[("job", "kube-state-metrics")];
/// … on the kubelet's resource metrics (`/metrics/resource`: CPU and memory).
const KUBELET_RESOURCE: &[(&str, &str)] =
    &[("job", "kubelet"), ("metrics_path", "/metrics/resource")];
/// … on the kubelet's own metrics (`/metrics`: volume stats).
const KUBELET: &[(&str, &str)] = &[("job", "kubelet"), ("metrics_path", "/metrics")];
/// … on cAdvisor's metrics (`/metrics/cadvisor`: network counters).
const KUBELET_CADVISOR: &[(&str, &str)] =
    &[("job", "kubelet"), ("metrics_path", "/metrics/cadvisor")];

/// Environment identity: `kube_namespace_labels` of kube-state-metrics, run with
/// `--metric-labels-allowlist=namespaces=[akp.egov.kz/agency,…,app.kubernetes.io/managed-by]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentityConfig {
    /// The namespace-labels query; its samples also measure coverage.
    pub query: QueryConfig,
    /// Label carrying `app.kubernetes.io/managed-by`.
    pub managed_by_label: String,
    /// The value that marks the operator's namespaces.
    pub managed_by_value: String,
    /// Label carrying `akp.egov.kz/agency`.
    pub agency_label: String,
    /// Label carrying `akp.egov.kz/product`.
    pub product_label: String,
    /// Label carrying `akp.egov.kz/product-namespace`.
    pub product_namespace_label: String,
    /// Label carrying `akp.egov.kz/environment`.
    pub environment_label: String,
    /// Label carrying `akp.egov.kz/contour`.
    pub contour_label: String,
    /// Label carrying `akp.egov.kz/class`.
    pub class_label: String,
    /// The environment name of production (availability is metered there only).
    pub production: String,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            query: QueryConfig::new("kube_namespace_labels[{range}]").trusting(KSM),
            managed_by_label: "label_app_kubernetes_io_managed_by".into(),
            managed_by_value: "akp-operator".into(),
            agency_label: "label_akp_egov_kz_agency".into(),
            product_label: "label_akp_egov_kz_product".into(),
            product_namespace_label: "label_akp_egov_kz_product_namespace".into(),
            environment_label: "label_akp_egov_kz_environment".into(),
            contour_label: "label_akp_egov_kz_contour".into(),
            class_label: "label_akp_egov_kz_class".into(),
            production: "production".into(),
        }
    }
}

/// The queries of every meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MetersConfig {
    /// CPU used: a cAdvisor counter in seconds, with the container's `image`.
    pub cpu: QueryConfig,
    /// Memory working set: a cAdvisor gauge in bytes.
    pub memory: QueryConfig,
    /// Volume space used: a kubelet gauge in bytes.
    pub storage: QueryConfig,
    /// Traffic by class.
    pub telecom: TelecomConfig,
    /// Running containers of catalog software.
    pub software: SoftwareConfig,
    /// Availability of production environments: a 0/1 series per namespace on a grid.
    pub availability: QueryConfig,
    /// Requested quota: kube-state-metrics `kube_resourcequota`.
    pub quota: QuotaConfig,
}

impl Default for MetersConfig {
    fn default() -> Self {
        Self {
            cpu: QueryConfig::new(
                r#"container_cpu_usage_seconds_total{container!="",container!="POD"}[{range}]"#,
            )
            .trusting(KUBELET_RESOURCE),
            memory: QueryConfig::new(
                r#"container_memory_working_set_bytes{container!="",container!="POD"}[{range}]"#,
            )
            .trusting(KUBELET_RESOURCE),
            storage: QueryConfig::new("kubelet_volume_stats_used_bytes[{range}]").trusting(KUBELET),
            telecom: TelecomConfig::default(),
            software: SoftwareConfig::default(),
            availability: QueryConfig::new(
                "(min by (namespace) ((kube_deployment_status_replicas_available{job=\"kube-state-metrics\"} >= bool kube_deployment_spec_replicas{job=\"kube-state-metrics\"}) or (kube_statefulset_status_replicas_ready{job=\"kube-state-metrics\"} >= bool kube_statefulset_replicas{job=\"kube-state-metrics\"})))[{range}:{step}]",
            ),
            quota: QuotaConfig::default(),
        }
    }
}

/// Telecom traffic: counters in bytes. Internal traffic is the pod counters minus what
/// the Internet and gateway counters attribute to the same namespace (never below 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct TelecomConfig {
    /// Internet traffic: the ingress controller's byte counters, by the ingress's namespace.
    pub internet: QueryConfig,
    /// Gateway (ЭҮІШ) traffic: the gateway adapter's byte counters, by source namespace.
    pub gateway: QueryConfig,
    /// All pod traffic: cAdvisor's pod network counters.
    pub pod: QueryConfig,
}

impl Default for TelecomConfig {
    fn default() -> Self {
        Self {
            internet: QueryConfig::new(
                r#"{__name__=~"nginx_ingress_controller_(request|response)_size_sum"}[{range}]"#,
            )
            .with_namespace_label("exported_namespace")
            .trusting(&[("job", "ingress-nginx")]),
            gateway: QueryConfig::new("akp_gateway_bytes_total[{range}]")
                .with_namespace_label("source_namespace")
                .trusting(&[("job", "akp-gateway")]),
            pod: QueryConfig::new(
                r#"{__name__=~"container_network_(receive|transmit)_bytes_total"}[{range}]"#,
            )
            .trusting(KUBELET_CADVISOR),
        }
    }
}

/// Software: kube-state-metrics' container info (with the image) and running state,
/// joined per container; core-hours come from the CPU meter's `image` label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SoftwareConfig {
    /// Returns both the info and the running series.
    pub query: QueryConfig,
    /// Name of the info metric (value 1, labels include the image).
    pub info_metric: String,
    /// Name of the running metric (1 while the container runs).
    pub running_metric: String,
    /// The pod label.
    pub pod_label: String,
    /// The container label.
    pub container_label: String,
    /// The image label, on the info metric and on the CPU meter's series.
    pub image_label: String,
}

impl Default for SoftwareConfig {
    fn default() -> Self {
        Self {
            query: QueryConfig::new(
                r#"{__name__=~"kube_pod_container_info|kube_pod_container_status_running"}[{range}]"#,
            )
            .trusting(KSM),
            info_metric: "kube_pod_container_info".into(),
            running_metric: "kube_pod_container_status_running".into(),
            pod_label: "pod".into(),
            container_label: "container".into(),
            image_label: "image".into(),
        }
    }
}

/// The requested quota of each environment (the operator's `akp-requested`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct QuotaConfig {
    /// The quota's hard values.
    pub query: QueryConfig,
    /// The label naming the quota's resource.
    pub resource_label: String,
    /// Its value for requested CPU (cores).
    pub cpu: String,
    /// Its value for requested memory (bytes).
    pub memory: String,
    /// Its value for requested storage (bytes).
    pub storage: String,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            query: QueryConfig::new(
                r#"kube_resourcequota{resourcequota="akp-requested",type="hard"}[{range}]"#,
            )
            .trusting(KSM),
            resource_label: "resource".into(),
            cpu: "requests.cpu".into(),
            memory: "requests.memory".into(),
            storage: "requests.storage".into(),
        }
    }
}

impl MeteringConfig {
    /// Reads a YAML file; fields left out keep their defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config = Self::from_yaml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Parses YAML and validates it.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: "(text)".into(),
            message,
        };
        let overlay: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_saphyr::from_str(text).map_err(|e| parse(e.to_string()))?
        };
        // Merge onto the defaults field by field, so that overriding one field of a
        // query keeps its default PromQL.
        let mut merged = serde_json::to_value(Self::default()).map_err(|e| parse(e.to_string()))?;
        merge(&mut merged, overlay);
        let config: Self = serde_json::from_value(merged).map_err(|e| parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Every query of the configuration with its YAML path.
    pub fn queries(&self) -> Vec<(&'static str, &QueryConfig)> {
        let m = &self.meters;
        vec![
            ("identity.query", &self.identity.query),
            ("meters.cpu", &m.cpu),
            ("meters.memory", &m.memory),
            ("meters.storage", &m.storage),
            ("meters.telecom.internet", &m.telecom.internet),
            ("meters.telecom.gateway", &m.telecom.gateway),
            ("meters.telecom.pod", &m.telecom.pod),
            ("meters.software.query", &m.software.query),
            ("meters.availability", &m.availability),
            ("meters.quota.query", &m.quota.query),
        ]
    }

    /// Checks the ranges that the exactness rules rely on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, value: i64, rule: &str| ConfigError::Invalid {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        };
        let t = &self.timing;
        if t.lookback_seconds < 60 {
            return Err(invalid(
                "timing.lookbackSeconds",
                t.lookback_seconds,
                "at least 60",
            ));
        }
        if !(1..=24 * 31).contains(&t.max_window_hours) {
            return Err(invalid(
                "timing.maxWindowHours",
                t.max_window_hours,
                "1 to 744",
            ));
        }
        if t.grace_seconds < 0 || t.retention_seconds < 3600 {
            return Err(invalid(
                "timing.graceSeconds/retentionSeconds",
                t.grace_seconds.min(t.retention_seconds),
                "grace ≥ 0, retention ≥ 3600",
            ));
        }
        if let Some(hours) = t.utc_offset_hours
            && hours != akp_rules::time::UTC_OFFSET_HOURS
        {
            return Err(invalid(
                "timing.utcOffsetHours",
                i64::from(hours),
                "5 or absent: billing months are Kazakhstan months, UTC+5 (D-TIME-1, R-BIL-02), like the days of the reports and the operator's clocks; remove the key",
            ));
        }
        for (field, q) in self.queries() {
            if q.interval_seconds < 1 || q.hold_seconds < q.interval_seconds {
                return Err(invalid(
                    &format!("{field}.holdSeconds"),
                    q.hold_seconds,
                    "interval ≥ 1 and hold ≥ interval",
                ));
            }
            if q.hold_seconds > t.settle_seconds {
                return Err(invalid(
                    "timing.settleSeconds",
                    t.settle_seconds,
                    &format!("at least {field}.holdSeconds ({})", q.hold_seconds),
                ));
            }
            if q.hold_seconds > t.lookback_seconds {
                return Err(invalid(
                    "timing.lookbackSeconds",
                    t.lookback_seconds,
                    &format!("at least {field}.holdSeconds ({})", q.hold_seconds),
                ));
            }
            if !q.promql.contains("{range}") {
                return Err(ConfigError::Invalid {
                    field: format!("{field}.promql"),
                    value: q.promql.clone(),
                    rule: "must contain {range}, so that it returns the window's samples".into(),
                });
            }
        }
        Ok(())
    }
}

/// Overlays `overlay` onto `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (_, serde_json::Value::Null) => {}
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_yaml_overrides_fields() -> Result<(), ConfigError> {
        MeteringConfig::default().validate()?;
        let config = MeteringConfig::from_yaml(
            "prometheus:\n  url: http://prom:9090\nmeters:\n  storage:\n    intervalSeconds: 300\n    holdSeconds: 600\n",
        )?;
        assert_eq!(config.prometheus.url, "http://prom:9090");
        assert_eq!(config.meters.storage.interval_seconds, 300);
        assert_eq!(
            config.meters.storage.promql,
            "kubelet_volume_stats_used_bytes[{range}]"
        );
        assert_eq!(MeteringConfig::from_yaml("")?, MeteringConfig::default());
        Ok(())
    }

    #[test]
    fn refuses_unknown_fields_and_bad_ranges() {
        assert!(matches!(
            MeteringConfig::from_yaml("prometheus:\n  uri: x\n"),
            Err(ConfigError::Parse { .. })
        ));
        let err = MeteringConfig::from_yaml("timing:\n  settleSeconds: 10\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("timing.settleSeconds"), "{err}");
    }

    /// Only series with the platform's scrape labels are trusted (R-BIL-01).
    #[test]
    fn r_bil_01_default_queries_trust_only_the_platform_jobs() {
        let c = MeteringConfig::default();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let kubelet = labels(&[("job", "kubelet"), ("metrics_path", "/metrics/resource")]);
        assert!(c.meters.cpu.trusts(&kubelet));
        assert!(!c.meters.cpu.trusts(&labels(&[
            ("job", "kubelet"),
            ("metrics_path", "/metrics/cadvisor")
        ])));
        assert!(!c.meters.cpu.trusts(&labels(&[
            ("job", "product-metrics"),
            ("exported_job", "kubelet")
        ])));
        assert!(
            c.identity
                .query
                .trusts(&labels(&[("job", "kube-state-metrics")]))
        );
        assert!(
            !c.identity
                .query
                .trusts(&labels(&[("exported_job", "kube-state-metrics")]))
        );
        // Overridable per label; "" drops a default.
        let other = MeteringConfig::from_yaml(
            "meters:\n  cpu:\n    trusted: {job: node-exporter, metrics_path: \"\"}\n",
        );
        assert!(other.is_ok_and(
            |o| o.meters.cpu.trusts(&labels(&[("job", "node-exporter")]))
                && !o.meters.cpu.trusts(&kubelet)
        ));
    }

    /// D-TIME-1, R-BIL-02: billing months are Kazakhstan months; the old offset key
    /// loads only when it says so.
    #[test]
    fn d_time_1_the_offset_is_utc_plus_5_only() {
        let months = |yaml: &str| {
            MeteringConfig::from_yaml(yaml)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(months("timing:\n  utcOffsetHours: 5\n"), Ok(()));
        let err = months("timing:\n  utcOffsetHours: 6\n")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("timing.utcOffsetHours")
                && err.contains('6')
                && err.contains("D-TIME-1")
                && err.contains("remove the key"),
            "{err}"
        );
    }

    #[test]
    fn renders_placeholders() {
        let q = MeteringConfig::default().meters.availability;
        assert!(
            q.render(7200).ends_with("[7200s:60s]"),
            "{}",
            q.render(7200)
        );
    }
}
