//! The Helm chart `charts/akp`, against the real tools and a real control plane:
//! `helm lint --strict`, kubeconform -strict on the rendered manifests with JSON
//! schemas generated from the control plane's own OpenAPI (built-in kinds, our CRDs
//! and the vendored ServiceMonitor/PrometheusRule/cert-manager CRDs), promtool on the
//! alerts, the values schema, and an install whose operator and billing daemon run
//! (the real binaries, locally) with the chart's ServiceAccounts and arguments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use akp_test_support::operator::eventually;
use akp_test_support::{
    Binaries, ControlPlane, Options, apply, documents, free_port, repo_root, workspace_binary,
};
use anyhow::{Context, Result, anyhow, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::Api;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const RELEASE: &str = "akp";
const NAMESPACE: &str = "akp-system";
/// Where the alerts' `runbook_url` points: docs/runbooks.md on the project's forge.
const RUNBOOKS_URL: &str = "https://git.egov.kz/akp/akp/-/blob/main/docs/runbooks.md";

fn chart_dir() -> PathBuf {
    repo_root().join("charts").join("akp")
}

fn bins() -> Result<Binaries> {
    let bins = Binaries::locate()?;
    Binaries::require(&bins.helm)?;
    Binaries::require(&bins.kubeconform)?;
    Ok(bins)
}

/// Runs a command and returns its output whatever the exit status.
fn run(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("running {:?}", cmd.get_program()))
}

/// Runs a command that must succeed; returns its stdout.
fn run_ok(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn helm(bins: &Binaries) -> Command {
    let mut cmd = Command::new(&bins.helm);
    // No user's Helm configuration, cache or plugins.
    let home = std::env::temp_dir().join("akp-chart-test-helm-home");
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"));
    cmd
}

/// `helm template` of the chart with extra arguments; the rendered YAML.
fn render(bins: &Binaries, args: &[&str]) -> Result<String> {
    run_ok(
        helm(bins)
            .args(["template", RELEASE])
            .arg(chart_dir())
            .args(["--namespace", NAMESPACE])
            .args(args),
    )
}

fn parse_docs(yaml: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| anyhow!("parsing rendered YAML: {e}"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Result<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .with_context(|| format!("no {kind} {name} in the rendered chart"))
}

/// `helm template` flags of a cluster that serves the Prometheus operator's kinds (the
/// chart renders its ServiceMonitor and PrometheusRule only there).
const MONITORING_APIS: [&str; 4] = [
    "--api-versions",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "--api-versions",
    "monitoring.coreos.com/v1/PrometheusRule",
];

/// The production-like values of the chart's CI.
fn production_values() -> PathBuf {
    chart_dir().join("ci").join("production-values.yaml")
}

// ---------------------------------------------------------------------------------
// Lint, values schema

#[test]
fn chart_lints_strict_with_default_and_production_values() -> Result<()> {
    let bins = bins()?;
    let default = run_ok(helm(&bins).args(["lint", "--strict"]).arg(chart_dir()))?;
    assert!(default.contains("0 chart(s) failed"), "{default}");
    let production = run_ok(
        helm(&bins)
            .args(["lint", "--strict"])
            .arg(chart_dir())
            .arg("-f")
            .arg(production_values()),
    )?;
    assert!(production.contains("0 chart(s) failed"), "{production}");
    Ok(())
}

#[test]
fn values_schema_refuses_bad_values_naming_the_field() -> Result<()> {
    let bins = bins()?;
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--set", "operator.replicas=two"],
            &["/operator/replicas", "got string, want integer"],
        ),
        (
            &["--set", "operator.replicaCount=2"],
            &[
                "/operator",
                "additional properties 'replicaCount' not allowed",
            ],
        ),
        (
            &[
                "--set",
                "billing.reports.deliveryEndpoint=http://reports.example",
            ],
            &[
                "/billing/reports/deliveryEndpoint",
                "does not match pattern",
            ],
        ),
        (
            &["--set", "webhooks.certManager.issuerRef.kind=Vault"],
            &["/webhooks/certManager/issuerRef/kind"],
        ),
        (
            &["--set", "operator.config.calendar.holidays[0]=1 May"],
            &["/operator/config/calendar/holidays/0"],
        ),
    ];
    for (args, expected) in cases {
        let out = run(helm(&bins)
            .args(["template", RELEASE])
            .arg(chart_dir())
            .args(*args))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        for e in *expected {
            assert!(stderr.contains(e), "{args:?}: expected {e:?} in:\n{stderr}");
        }
    }
    // Rules of the templates themselves: a SQLite ledger needs its volume; the audit
    // trail needs its database.
    let out = run(helm(&bins)
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args(["--set", "billing.persistence.enabled=false"]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("billing.persistence.enabled=false needs billing.database.existingSecret"),
        "{stderr}"
    );
    let out = run(helm(&bins)
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args(["--set", "audit.enabled=true"]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("audit.database.existingSecret is required when audit.enabled (R-MON-02)"),
        "{stderr}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Templates: CRDs, Capabilities guards, storage modes, Prometheus auth, extras

/// The rendered CRDs are crdgen's files (the drift check keeps those equal to the
/// types) with labels and, by default, Helm's keep policy; crds.enabled=false leaves
/// them out.
#[test]
fn chart_templates_the_crds_crdgen_writes_with_the_keep_policy() -> Result<()> {
    let bins = bins()?;
    let docs = parse_docs(&render(&bins, &[])?)?;
    let crds: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    let generated = akp_crds::all();
    assert_eq!(crds.len(), generated.len(), "one CRD per kind");
    for (file, _) in &generated {
        let ours = documents(&repo_root().join("crds").join("yaml").join(file))?;
        let ours = ours.first().context("a CRD")?;
        let name = ours["metadata"]["name"].as_str().context("name")?;
        let shipped = find(&docs, "CustomResourceDefinition", name)?;
        assert_eq!(
            shipped["spec"], ours["spec"],
            "{name}: the chart's CRD is crdgen's"
        );
        assert_eq!(
            shipped["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
            "{name}"
        );
        assert_eq!(
            shipped["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "akp"
        );
    }
    let docs = parse_docs(&render(&bins, &["--set", "crds.keep=false"])?)?;
    let crd = find(&docs, "CustomResourceDefinition", "agencies.akp.egov.kz")?;
    assert!(crd["metadata"]["annotations"].is_null(), "{crd:#}");
    let docs = parse_docs(&render(&bins, &["--set", "crds.enabled=false"])?)?;
    assert!(
        !docs.iter().any(|d| d["kind"] == "CustomResourceDefinition"),
        "crds.enabled=false still renders CRDs"
    );
    Ok(())
}

/// Without the Prometheus operator's kinds the chart renders no ServiceMonitor and no
/// PrometheusRule (an install would fail on them); with them, both.
#[test]
fn chart_renders_monitoring_objects_only_where_the_cluster_serves_them() -> Result<()> {
    let bins = bins()?;
    let kinds = |docs: &[Value]| -> BTreeSet<String> {
        docs.iter()
            .filter_map(|d| d["kind"].as_str().map(str::to_owned))
            .collect()
    };
    let without = kinds(&parse_docs(&render(&bins, &[])?)?);
    assert!(!without.contains("ServiceMonitor"), "{without:?}");
    assert!(!without.contains("PrometheusRule"), "{without:?}");
    assert!(without.contains("Deployment"), "{without:?}");
    let with = kinds(&parse_docs(&render(&bins, &MONITORING_APIS)?)?);
    assert!(with.contains("ServiceMonitor"), "{with:?}");
    assert!(with.contains("PrometheusRule"), "{with:?}");
    Ok(())
}

/// The billing container of a rendering, and its pod spec.
fn billing_pod(docs: &[Value]) -> Result<(&Value, &Value)> {
    let pod = &find(docs, "Deployment", &format!("{RELEASE}-billing"))?["spec"]["template"]["spec"];
    let container = pod["containers"]
        .as_array()
        .and_then(|c| c.first())
        .context("the billing container")?;
    Ok((pod, container))
}

fn volume<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
}

/// Every storage mode gives the ledger and the reports a writable volume under a
/// read-only root filesystem: SQLite on the claim, PostgreSQL with the claim, and
/// PostgreSQL without persistence on an emptyDir.
#[test]
fn billing_reports_have_a_volume_in_every_storage_mode() -> Result<()> {
    let bins = bins()?;
    let modes: &[(&str, &[&str], &str)] = &[
        ("sqlite", &[], "persistentVolumeClaim"),
        (
            "postgres",
            &["--set", "billing.database.existingSecret=ledger"],
            "persistentVolumeClaim",
        ),
        (
            "postgres-no-persistence",
            &[
                "--set",
                "billing.database.existingSecret=ledger",
                "--set",
                "billing.persistence.enabled=false",
            ],
            "emptyDir",
        ),
    ];
    for (mode, args, source) in modes {
        let docs = parse_docs(&render(&bins, args)?)?;
        let (pod, container) = billing_pod(&docs)?;
        assert_eq!(
            container["securityContext"]["readOnlyRootFilesystem"], true,
            "{mode}"
        );
        let reports_dir = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find_map(|a| a.strip_prefix("--reports-dir="))
            .with_context(|| format!("{mode}: no --reports-dir"))?;
        let mount = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["mountPath"].as_str().is_some_and(|p| {
                    reports_dir.starts_with(p) && !m["readOnly"].as_bool().unwrap_or(false)
                })
            })
            .with_context(|| format!("{mode}: {reports_dir} is on no writable volume"))?;
        let name = mount["name"].as_str().context("mount name")?;
        let vol = volume(pod, name).with_context(|| format!("{mode}: no volume {name}"))?;
        assert!(vol[*source].is_object(), "{mode}: {vol}");
    }
    Ok(())
}

/// Prometheus over HTTPS with a CA and a bearer token, or basic auth: the flags of
/// akp-billing point at the mounted Secret and ConfigMap; both credentials at once are
/// refused, naming the values.
#[test]
fn billing_reaches_prometheus_with_a_ca_and_a_token_or_basic_auth() -> Result<()> {
    let bins = bins()?;
    let docs = parse_docs(&render(
        &bins,
        &[
            "--set",
            "billing.prometheusUrl=https://prometheus.monitoring.svc:9091",
            "--set",
            "billing.prometheusAuth.ca.existingConfigMap=prom-ca",
            "--set",
            "billing.prometheusAuth.bearerToken.existingSecret=prom-token",
        ],
    )?)?;
    let (pod, container) = billing_pod(&docs)?;
    let args: Vec<&str> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for a in [
        "--prometheus=https://prometheus.monitoring.svc:9091",
        "--prometheus-ca=/etc/akp-billing/prometheus-ca/ca.crt",
        "--prometheus-bearer-token-file=/etc/akp-billing/prometheus-token/token",
    ] {
        assert!(args.contains(&a), "{a} not in {args:?}");
    }
    assert_eq!(
        volume(pod, "prometheus-ca").context("CA volume")?["configMap"]["name"],
        "prom-ca"
    );
    assert_eq!(
        volume(pod, "prometheus-token").context("token volume")?["secret"]["secretName"],
        "prom-token"
    );
    let docs = parse_docs(&render(
        &bins,
        &[
            "--set",
            "billing.prometheusAuth.basicAuth.existingSecret=prom-basic",
        ],
    )?)?;
    let (pod, container) = billing_pod(&docs)?;
    assert!(
        container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a
                == "--prometheus-password-file=/etc/akp-billing/prometheus-basic-auth/password"),
        "{container:#}"
    );
    let username = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "AKP_BILLING_PROMETHEUS_USERNAME")
        .context("the user name's env")?;
    assert_eq!(username["valueFrom"]["secretKeyRef"]["name"], "prom-basic");
    assert!(volume(pod, "prometheus-basic-auth").is_some());
    let out = run(helm(&bins)
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args([
            "--set",
            "billing.prometheusAuth.basicAuth.existingSecret=b",
            "--set",
            "billing.prometheusAuth.bearerToken.existingSecret=t",
        ]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("set bearerToken.existingSecret or basicAuth.existingSecret, not both"),
        "{stderr}"
    );
    Ok(())
}

/// extraArgs, extraEnv, extraVolumes and extraVolumeMounts reach both containers.
#[test]
fn extra_args_env_and_volumes_reach_the_containers() -> Result<()> {
    let bins = bins()?;
    let mut args = Vec::new();
    for component in ["operator", "billing"] {
        for set in [
            format!("{component}.extraArgs[0]=--extra-{component}"),
            format!("{component}.extraEnv[0].name=EXTRA_{component}"),
            format!("{component}.extraEnv[0].value=1"),
            format!("{component}.extraVolumes[0].name=extra-{component}"),
            format!("{component}.extraVolumes[0].emptyDir.medium=Memory"),
            format!("{component}.extraVolumeMounts[0].name=extra-{component}"),
            format!("{component}.extraVolumeMounts[0].mountPath=/extra"),
        ] {
            args.push("--set".to_owned());
            args.push(set);
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let docs = parse_docs(&render(&bins, &args)?)?;
    for component in ["operator", "billing"] {
        let pod = &find(&docs, "Deployment", &format!("{RELEASE}-{component}"))?["spec"]["template"]
            ["spec"];
        let c = &pod["containers"][0];
        let has = |list: &Value, key: &str, want: &str| {
            list.as_array().is_some_and(|l| {
                l.iter().any(|x| {
                    if key.is_empty() {
                        *x == want
                    } else {
                        x[key] == want
                    }
                })
            })
        };
        assert!(
            has(&c["args"], "", &format!("--extra-{component}")),
            "{component}: {c:#}"
        );
        assert!(
            has(&c["env"], "name", &format!("EXTRA_{component}")),
            "{component}"
        );
        assert!(
            has(&c["volumeMounts"], "name", &format!("extra-{component}")),
            "{component}"
        );
        assert!(
            has(&pod["volumes"], "name", &format!("extra-{component}")),
            "{component}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The chart ships the same RBAC and webhook objects as the operator's code.

#[test]
fn r_lc_08_chart_cluster_roles_are_the_operators() -> Result<()> {
    let bins = bins()?;
    let docs = parse_docs(&render(
        &bins,
        &["--set", "operator.rbac.manageClusterRoles=false"],
    )?)?;
    let roles = akp_operator::rbac::cluster_roles();
    assert_eq!(roles.len(), 6);
    for role in roles {
        let name = role.name_any();
        let shipped = find(&docs, "ClusterRole", &name)?;
        let code = serde_json::to_value(&role)?;
        assert_eq!(shipped["rules"], code["rules"], "rules of {name}");
        // What the operator checks at start before writing anything (run.rs,
        // apply_cluster_roles): the rules only, since Helm sets its own labels on what
        // it installs (chart_lifecycle.rs runs the operator on such roles).
        let grants =
            |r: &Value| json!({"rules": r["rules"], "aggregationRule": r["aggregationRule"]});
        assert!(
            akp_operator::apply::is_applied(&grants(&code), &grants(shipped)),
            "the operator would rewrite {name}:\n{code:#}\nshipped:\n{shipped:#}"
        );
    }
    Ok(())
}

#[test]
fn chart_webhook_configurations_are_the_operators() -> Result<()> {
    use akp_operator::webhook::configuration::{WebhookEndpoint, validating_webhook_configuration};
    use akp_operator::webhook::mutating_webhook_configuration;
    let bins = bins()?;
    let docs = parse_docs(&render(&bins, &[])?)?;
    let endpoint = WebhookEndpoint::Service {
        namespace: NAMESPACE.into(),
        name: format!("{RELEASE}-operator-webhook"),
        port: 443,
    };
    let validating = serde_json::to_value(validating_webhook_configuration(&endpoint, None))?;
    let mutating = serde_json::to_value(mutating_webhook_configuration(&endpoint, None))?;
    for (kind, code) in [
        ("ValidatingWebhookConfiguration", validating),
        ("MutatingWebhookConfiguration", mutating),
    ] {
        let shipped = find(&docs, kind, "akp-operator")?;
        assert_eq!(shipped["webhooks"], code["webhooks"], "{kind}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Alerts and dashboard

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() -> Result<()> {
    let bins = bins()?;
    let docs = parse_docs(&render(&bins, &MONITORING_APIS)?)?;
    let rule = find(&docs, "PrometheusRule", RELEASE)?;
    // What ships is what files/alerts.yaml says.
    let file = documents(&chart_dir().join("files").join("alerts.yaml"))?;
    assert_eq!(rule["spec"], file[0], "the PrometheusRule spec");
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("alerts.yaml"),
        serde_json::to_string_pretty(&rule["spec"])?,
    )?;
    std::fs::copy(
        chart_dir().join("files").join("alerts-tests.yaml"),
        dir.path().join("alerts-tests.yaml"),
    )?;
    let check = run_ok(
        Command::new("promtool")
            .args(["check", "rules", "alerts.yaml"])
            .current_dir(dir.path()),
    )?;
    assert!(check.contains("SUCCESS: 22 rules found"), "{check}");
    let test = run_ok(
        Command::new("promtool")
            .args(["test", "rules", "alerts-tests.yaml"])
            .current_dir(dir.path()),
    )?;
    assert!(test.contains("SUCCESS"), "{test}");
    // Every alert is unit-tested and has a runbook.
    let tests = std::fs::read_to_string(dir.path().join("alerts-tests.yaml"))?;
    let runbooks = std::fs::read_to_string(repo_root().join("docs").join("runbooks.md"))?;
    for group in rule["spec"]["groups"].as_array().context("groups")? {
        for r in group["rules"].as_array().context("rules")? {
            let name = r["alert"].as_str().context("alert name")?;
            assert!(
                tests.contains(&format!("alertname: {name}")),
                "{name} has no test"
            );
            // The conventional `runbook_url`, to this alert's section of docs/runbooks.md.
            let url = r["annotations"]["runbook_url"].as_str().unwrap_or_default();
            let anchor = url
                .strip_prefix(RUNBOOKS_URL)
                .and_then(|a| a.strip_prefix('#'))
                .with_context(|| {
                    format!("{name}: runbook_url {url:?} is not {RUNBOOKS_URL}#...")
                })?;
            assert_eq!(anchor, name.to_lowercase(), "{name}: runbook_url {url}");
            assert!(
                runbooks.lines().any(|l| l == format!("## {name}")),
                "{name}: no section `## {name}` in docs/runbooks.md"
            );
        }
    }
    // A broken expectation fails: promtool really compares.
    let broken = tests.replacen("severity: critical", "severity: page", 1);
    std::fs::write(dir.path().join("broken-tests.yaml"), broken)?;
    let out = run(Command::new("promtool")
        .args(["test", "rules", "broken-tests.yaml"])
        .current_dir(dir.path()))?;
    assert!(!out.status.success(), "promtool accepted a wrong severity");
    Ok(())
}

/// Metric names (`akp_…`) in a PromQL text, without histogram suffixes.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("akp_") {
        let start = i + pos;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |e| start + e);
        if before_ok {
            let name = &text[start..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_owned());
        }
        i = end;
    }
    names
}

#[test]
fn alerts_and_dashboard_use_metrics_the_code_exports() -> Result<()> {
    let files = chart_dir().join("files");
    let mut used = BTreeSet::new();
    let alerts = documents(&files.join("alerts.yaml"))?;
    for group in alerts[0]["groups"].as_array().context("groups")? {
        for r in group["rules"].as_array().context("rules")? {
            used.extend(metric_names(r["expr"].as_str().context("expr")?));
        }
    }
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("dashboard.json"))?)?;
    let mut exprs = 0;
    for panel in dashboard["panels"].as_array().context("panels")? {
        for t in panel["targets"].as_array().into_iter().flatten() {
            used.extend(metric_names(t["expr"].as_str().context("expr")?));
            exprs += 1;
        }
    }
    assert!(exprs > 15, "{exprs} dashboard queries");
    // Where each prefix's metrics are defined: the short name appears quoted there.
    let root = repo_root();
    let source = |paths: &[&str]| -> Result<String> {
        let mut text = String::new();
        for p in paths {
            text += &std::fs::read_to_string(root.join(p))?;
        }
        Ok(text)
    };
    let operator = source(&[
        "operator/src/telemetry.rs",
        "operator/src/webhook/metrics.rs",
        "audit/src/sink.rs",
        "audit/src/clock.rs",
    ])?;
    let billing = source(&[
        "billing/src/metrics.rs",
        "billing/src/report/controller.rs",
        "billing/src/statement.rs",
        "audit/src/sink.rs",
        "audit/src/clock.rs",
    ])?;
    let mut missing = Vec::new();
    for name in &used {
        let found = if let Some(short) = name.strip_prefix("akp_operator_") {
            operator.contains(&format!("\"{short}\""))
        } else if let Some(short) = name.strip_prefix("akp_billing_") {
            billing.contains(&format!("\"{short}\""))
        } else {
            operator.contains(&format!("\"{name}\""))
        };
        if !found {
            missing.push(name.clone());
        }
    }
    assert!(missing.is_empty(), "not exported by the code: {missing:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------
// kubeconform with schemas from the control plane's OpenAPI v3

/// The shared control plane of this binary: etcd and kube-apiserver, our CRDs and the
/// vendored third-party CRDs.
fn control_plane() -> Result<&'static ControlPlane> {
    static THIRD_PARTY: OnceLock<Result<(), String>> = OnceLock::new();
    let cp = ControlPlane::shared(Options::default().with_crds())?;
    THIRD_PARTY
        .get_or_init(|| {
            // On a thread of its own: callers may be inside a runtime already.
            std::thread::scope(|s| {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    rt.block_on(cp.install_crds(repo_root().join("tools").join("third-party-crds")))
                        .map(|_| ())
                        .map_err(|e| format!("{e:#}"))
                })
                .join()
                .unwrap_or_else(|_| Err("the CRD install thread panicked".into()))
            })
        })
        .clone()
        .map_err(|e| anyhow!("installing the third-party CRDs: {e}"))?;
    Ok(cp)
}

/// kubeconform's file name for a kind: `{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json`
/// (Group is the version for the core group).
const SCHEMA_TEMPLATE: &str = "{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json";

fn schema_file(kind: &str, group: &str, version: &str) -> String {
    let group = if group.is_empty() { version } else { group };
    format!("{}-{group}-{version}.json", kind.to_lowercase())
}

/// Makes an OpenAPI v3 schema tree strict and JSON-Schema friendly: objects with
/// properties refuse unknown ones (unless they preserve unknown fields), and
/// int-or-string and quantities accept both forms, as the API server does.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let format = map.get("format").and_then(Value::as_str).unwrap_or("");
            if format == "int-or-string"
                || map.get("x-kubernetes-int-or-string") == Some(&json!(true))
            {
                map.remove("type");
                map.remove("format");
                map.insert(
                    "anyOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserves
            {
                map.insert("additionalProperties".into(), json!(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// Writes one JSON schema per kind served by the API server (built-in kinds and every
/// installed CRD) into `dir`, from its OpenAPI v3 documents. Returns how many.
async fn write_schemas(client: &Client, dir: &Path) -> Result<usize> {
    let get = |path: String| {
        let client = client.clone();
        async move {
            let req = http::Request::get(&path).body(Vec::new())?;
            let text = client
                .request_text(req)
                .await
                .with_context(|| path.clone())?;
            serde_json::from_str::<Value>(&text).with_context(|| format!("parsing {path}"))
        }
    };
    let index = get("/openapi/v3".into()).await?;
    let mut written = 0;
    for (gv, entry) in index["paths"].as_object().context("openapi paths")? {
        if !(gv == "api/v1" || gv.starts_with("apis/")) || gv.matches('/').count() < 1 {
            continue;
        }
        ensure!(
            entry["serverRelativeURL"].is_string(),
            "no document for {gv}"
        );
        // Without the hash: a CRD installed a moment ago may have changed it.
        let mut doc = eventually(gv, Duration::from_secs(30), || {
            let fetched = get(format!("/openapi/v3/{gv}"));
            async move { Ok(Some(fetched.await?)) }
        })
        .await?;
        strict(&mut doc["components"]);
        let components = doc["components"].clone();
        let schemas = components["schemas"].as_object().context("schemas")?;
        for (name, schema) in schemas {
            for gvk in schema["x-kubernetes-group-version-kind"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (Some(group), Some(version), Some(kind)) = (
                    gvk["group"].as_str(),
                    gvk["version"].as_str(),
                    gvk["kind"].as_str(),
                ) else {
                    continue;
                };
                // The document itself is the schema's home: refs stay #/components/….
                let standalone = json!({
                    "$ref": format!("#/components/schemas/{}", name.replace('~', "~0").replace('/', "~1")),
                    "components": components,
                });
                std::fs::write(
                    dir.join(schema_file(kind, group, version)),
                    serde_json::to_vec(&standalone)?,
                )?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// kubeconform -strict over `manifests` with the schemas in `schemas`; its JSON summary.
fn kubeconform(bins: &Binaries, schemas: &Path, manifests: &Path) -> Result<(bool, Value)> {
    let out = run(Command::new(&bins.kubeconform)
        .args(["-strict", "-summary", "-output", "json"])
        .arg("-schema-location")
        .arg(format!("{}/{SCHEMA_TEMPLATE}", schemas.display()))
        .arg(manifests))?;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "kubeconform output: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out.status.success(), report))
}

#[tokio::test]
async fn chart_renders_manifests_that_kubeconform_validates_strictly() -> Result<()> {
    let bins = bins()?;
    let cp = control_plane()?;
    let client = cp.admin_client().await?;
    let schemas = tempfile::tempdir()?;
    let required = [
        "deployment-apps-v1.json",
        "customresourcedefinition-apiextensions.k8s.io-v1.json",
        "agency-akp.egov.kz-v1alpha1.json",
        "servicemonitor-monitoring.coreos.com-v1.json",
        "prometheusrule-monitoring.coreos.com-v1.json",
        "certificate-cert-manager.io-v1.json",
        "issuer-cert-manager.io-v1.json",
    ];
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    let count = eventually(
        "the OpenAPI of every kind",
        Duration::from_secs(60),
        || async {
            let count = write_schemas(&client, schemas.path()).await?;
            let missing: Vec<_> = required
                .iter()
                .filter(|n| !schemas.path().join(n).is_file())
                .collect();
            if missing.is_empty() {
                Ok(Some(count))
            } else {
                Err(anyhow!("missing schemas {missing:?}"))
            }
        },
    )
    .await?;
    assert!(count > 50, "only {count} schemas");
    let manifests = tempfile::tempdir()?;
    let variants: &[(&str, Vec<String>)] = &[
        ("default", vec![]),
        (
            "production",
            vec!["-f".into(), production_values().display().to_string()],
        ),
        (
            "cert-manager-own-ca-and-audit",
            [
                "webhooks.certManager.enabled=true",
                "audit.enabled=true",
                "audit.database.existingSecret=audit-db",
                "operator.rbac.manageClusterRoles=false",
                "billing.reports.enabled=false",
            ]
            .iter()
            .flat_map(|s| ["--set".to_owned(), (*s).to_owned()])
            .collect(),
        ),
    ];
    let mut kinds = BTreeSet::new();
    for (name, args) in variants {
        let mut all: Vec<&str> = MONITORING_APIS.to_vec();
        all.extend(args.iter().map(String::as_str));
        let yaml = render(&bins, &all)?;
        for d in parse_docs(&yaml)? {
            kinds.insert(d["kind"].as_str().unwrap_or_default().to_owned());
        }
        let path = manifests.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &yaml)?;
        let (ok, report) = kubeconform(&bins, schemas.path(), &path)?;
        let summary = &report["summary"];
        assert!(ok, "{name}: {report:#}");
        assert_eq!(summary["invalid"], 0, "{name}: {report:#}");
        assert_eq!(summary["errors"], 0, "{name}: {report:#}");
        assert_eq!(summary["skipped"], 0, "{name}: {report:#}");
        assert!(
            summary["valid"].as_u64().unwrap_or(0) > 20,
            "{name}: {summary}"
        );
    }
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "ServiceMonitor",
        "PrometheusRule",
        "Certificate",
        "Issuer",
        "CronJob",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(kind), "no {kind} was validated: {kinds:?}");
    }
    // The schemas are strict: an unknown field and a wrong type are refused.
    let bad = manifests.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: two\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n---\n\
         apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  endpoints: [{port: m, intervall: 30s}]\n",
    )?;
    let (ok, report) = kubeconform(&bins, schemas.path(), &bad)?;
    assert!(!ok, "{report:#}");
    assert_eq!(report["summary"]["invalid"], 2, "{report:#}");
    Ok(())
}

// ---------------------------------------------------------------------------------
// Install: the operator and billing run with the chart's ServiceAccounts and args.

/// A child process killed on drop.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn log_tail(&self) -> String {
        // The process's stdout and stderr files.
        let text = std::fs::read_to_string(&self.log).unwrap_or_default()
            + &std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn assert_alive(&mut self, what: &str) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{what} exited ({status}):\n{}", self.log_tail());
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The container's args with `$(VAR)` expanded from `env` (as the kubelet does),
/// then `overrides` (`--flag=` prefix → replacement) applied.
fn container_args(
    container: &Container,
    env: &BTreeMap<&str, String>,
    overrides: &[(&str, String)],
) -> Vec<String> {
    container
        .args
        .iter()
        .flatten()
        .map(|arg| {
            let mut arg = arg.clone();
            for (k, v) in env {
                arg = arg.replace(&format!("$({k})"), v);
            }
            for (prefix, replacement) in overrides {
                if arg.starts_with(prefix) {
                    arg = replacement.clone();
                }
            }
            arg
        })
        .collect()
}

async fn deployment_container(client: &Client, name: &str) -> Result<Container> {
    let deploy: Deployment = Api::namespaced(client.clone(), NAMESPACE).get(name).await?;
    deploy
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .with_context(|| format!("Deployment {name} has no container"))
}

async fn wait_http_ok(url: &str, proc: &mut Running, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        proc.assert_alive(what)?;
        let port_path = url.trim_start_matches("http://");
        let (addr, path) = port_path.split_once('/').unwrap_or((port_path, ""));
        if let Ok(status) = http_get_status(addr, &format!("/{path}")).await
            && status == 200
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: {url} not 200 after 60s:\n{}", proc.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The status code of a plain HTTP/1.0 GET.
async fn http_get_status(addr: &str, path: &str) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")
}

fn has_condition(obj: &Value, type_: &str, status: &str) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == type_ && c["status"] == status)
    })
}

#[tokio::test]
async fn chart_installs_and_the_operator_and_billing_run_with_its_service_accounts() -> Result<()> {
    let bins = bins()?;
    let cp = control_plane()?;
    let admin = cp.admin_client().await?;
    // The Agency the operator must reconcile, created before the install: the chart's
    // fail-closed admission hook for Agencies points at the webhook Service, which has
    // no pods here.
    let agencies = documents(&repo_root().join("examples").join("agencies.yaml"))?;
    let agency = agencies.first().context("an example agency")?;
    let agency_name = agency["metadata"]["name"]
        .as_str()
        .context("name")?
        .to_owned();
    let agency_ns = agency["spec"]["namespace"]
        .as_str()
        .context("namespace")?
        .to_owned();
    apply(&admin, agency, None, "chart-test").await?;
    // The chart as an SRE installs it where the CRDs are managed apart
    // (crds.enabled=false: this control plane installed them already, and Helm adopts
    // no object it did not make; chart_lifecycle.rs installs them with the chart).
    let install = run_ok(
        helm(&bins)
            .args(["upgrade", "--install", RELEASE])
            .arg(chart_dir())
            .args(["--namespace", NAMESPACE, "--create-namespace"])
            .args(["--set", "crds.enabled=false"])
            .arg("--kubeconfig")
            .arg(cp.kubeconfig_path()),
    )?;
    assert!(install.contains("STATUS: deployed"), "{install}");
    let operator_name = format!("{RELEASE}-operator");
    let billing_name = format!("{RELEASE}-billing");
    // The operator, with its ServiceAccount's token and the Deployment's args.
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("operator.kubeconfig");
    cp.write_service_account_kubeconfig(NAMESPACE, &operator_name, &kubeconfig)
        .await?;
    let container = deployment_container(&admin, &operator_name).await?;
    let pod_name = format!("{operator_name}-7d9f8-test1");
    let env = BTreeMap::from([
        ("POD_NAME", pod_name.clone()),
        ("POD_NAMESPACE", NAMESPACE.to_owned()),
    ]);
    let metrics = free_port()?;
    // Ports: loopback instead of 0.0.0.0, free ones (several tests share the machine).
    let args = container_args(
        &container,
        &env,
        &[
            (
                "--metrics-addr=",
                format!("--metrics-addr=127.0.0.1:{metrics}"),
            ),
            (
                "--webhook-addr=",
                format!("--webhook-addr=127.0.0.1:{}", free_port()?),
            ),
        ],
    );
    for expected in [
        format!("--identity={pod_name}"),
        format!("--namespace={NAMESPACE}"),
        "--lease-name=akp-operator".to_owned(),
        "--reconcile-concurrency=16".to_owned(),
        format!("--webhook-endpoint=service:{NAMESPACE}/{RELEASE}-operator-webhook:443"),
        "--webhook-certs=self-managed".to_owned(),
    ] {
        assert!(args.contains(&expected), "{expected} not in {args:?}");
    }
    assert!(!args.iter().any(|a| a == "--register-webhooks"), "{args:?}");
    let log = dir.path().join("operator.log");
    let mut operator = Running {
        child: Command::new(workspace_binary("akp-operator")?)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("operator.err"))?)
            .stdin(Stdio::null())
            .spawn()?,
        log: log.clone(),
    };
    wait_http_ok(
        &format!("http://127.0.0.1:{metrics}/readyz"),
        &mut operator,
        "akp-operator",
    )
    .await?;

    // It leads, with the identity from the downward API.
    let leases: Api<Lease> = Api::namespaced(admin.clone(), NAMESPACE);
    eventually(
        "the operator to hold the Lease",
        Duration::from_secs(60),
        || async {
            let lease = leases.get_opt("akp-operator").await?;
            Ok(lease
                .and_then(|l| l.spec?.holder_identity)
                .filter(|h| *h == pod_name))
        },
    )
    .await?;

    // Self-managed certificate: its Secret written, the chart's configurations' caBundle
    // patched (RBAC on secrets and webhook configurations by name).
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), NAMESPACE);
    let ca = eventually(
        "the webhook certificate Secret",
        Duration::from_secs(30),
        || async {
            Ok(secrets
                .get_opt("akp-operator-webhook-tls")
                .await?
                .and_then(|s| s.data?.get("ca.crt").cloned()))
        },
    )
    .await?;
    // The chart's configurations come without a caBundle: the operator patches them at
    // once with the CA of its Secret, or the API server could not call the webhooks.
    let validating: Api<
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    > = Api::all(admin.clone());
    let mutating: Api<k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration> =
        Api::all(admin.clone());
    eventually(
        "the caBundle of the chart's webhook configurations",
        Duration::from_secs(60),
        || async {
            let v = validating.get("akp-operator").await?;
            let v_bundles: Vec<_> = v
                .webhooks
                .unwrap_or_default()
                .into_iter()
                .map(|w| w.client_config.ca_bundle)
                .collect();
            let m_bundles: Vec<_> = mutating
                .get_opt("akp-operator")
                .await?
                .and_then(|m| m.webhooks)
                .unwrap_or_default()
                .into_iter()
                .map(|w| w.client_config.ca_bundle)
                .collect();
            let patched = !v_bundles.is_empty()
                && v_bundles
                    .iter()
                    .chain(m_bundles.iter())
                    .all(|b| b.as_ref() == Some(&ca));
            Ok(patched.then_some(()))
        },
    )
    .await?;
    assert!(!ca.0.is_empty(), "an empty CA in the webhook Secret");
    // An Agency reconciled to Ready: its namespace and the bindings to `admin` and
    // `akp:product-editor` (the operator's `bind` on exactly those).
    let api = Api::<akp_crds::Agency>::all(admin.clone());
    eventually(
        "the Agency to be Ready",
        Duration::from_secs(60),
        || async {
            let a = serde_json::to_value(api.get(&agency_name).await?)?;
            Ok(has_condition(&a, "Ready", "True").then_some(()))
        },
    )
    .await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &agency_ns);
    let names: BTreeSet<String> = bindings
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    for b in ["akp-agency-products", "akp-digitalization-head"] {
        assert!(
            names.contains(b),
            "no RoleBinding {b} in {agency_ns}: {names:?}"
        );
    }
    operator.assert_alive("akp-operator")?;
    let log_text =
        std::fs::read_to_string(&log)? + &std::fs::read_to_string(dir.path().join("operator.err"))?;
    assert!(
        !log_text.contains("forbidden"),
        "the operator was refused something:\n{}",
        log_text
            .lines()
            .filter(|l| l.contains("forbidden"))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The billing daemon, with its ServiceAccount and the Deployment's args: paths of
    // the pod's volumes mapped into a temp dir, Prometheus not needed (it retries).
    let kubeconfig = dir.path().join("billing.kubeconfig");
    cp.write_service_account_kubeconfig(NAMESPACE, &billing_name, &kubeconfig)
        .await?;
    let container = deployment_container(&admin, &billing_name).await?;
    let data = dir.path().join("billing-data");
    let signing = dir.path().join("signing");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&signing)?;
    std::fs::write(signing.join("signing.key"), "42".repeat(32))?;
    // The report document settings as the chart's ConfigMap holds them (issue 19).
    let document = dir.path().join("report-document");
    std::fs::create_dir_all(&document)?;
    let settings: ConfigMap = Api::namespaced(admin.clone(), NAMESPACE)
        .get(&format!("{billing_name}-report-document"))
        .await?;
    std::fs::write(
        document.join("report-document.yaml"),
        settings
            .data
            .as_ref()
            .and_then(|d| d.get("report-document.yaml"))
            .context("the chart's report document ConfigMap has report-document.yaml")?,
    )?;
    let listen = free_port()?;
    let args: Vec<String> = container_args(
        &container,
        &BTreeMap::from([("POD_NAME", format!("{billing_name}-test"))]),
        &[("--listen=", format!("--listen=127.0.0.1:{listen}"))],
    )
    .into_iter()
    .map(|a| {
        a.replace("/var/lib/akp-billing", &data.display().to_string())
            .replace("/etc/akp-billing/signing", &signing.display().to_string())
            .replace(
                "/etc/akp-billing/report-document",
                &document.display().to_string(),
            )
    })
    .collect();
    assert!(args.iter().any(|a| a == "--reports"), "{args:?}");
    assert!(
        args.iter().any(|a| a == "--catalog-from-cluster"),
        "{args:?}"
    );
    let database = container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "AKP_BILLING_DATABASE_URL")
        .and_then(|e| e.value.clone())
        .context("the SQLite ledger URL")?
        .replace("/var/lib/akp-billing", &data.display().to_string());
    let log = dir.path().join("billing.log");
    let mut billing = Running {
        child: Command::new(workspace_binary("akp-billing")?)
            .args(&args)
            .env("AKP_BILLING_DATABASE_URL", &database)
            .env("POD_NAME", format!("{billing_name}-test"))
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("billing.err"))?)
            .stdin(Stdio::null())
            .spawn()?,
        log: log.clone(),
    };
    wait_http_ok(
        &format!("http://127.0.0.1:{listen}/healthz"),
        &mut billing,
        "akp-billing",
    )
    .await?;
    // The BillingReport controller reads and writes with the chart's RBAC: an open
    // month's report gets a status.
    let report = documents(&repo_root().join("examples").join("billing-report.yaml"))?;
    let report = report.first().context("an example report")?;
    let report_name = report["metadata"]["name"]
        .as_str()
        .context("name")?
        .to_owned();
    apply(&admin, report, None, "chart-test").await?;
    let reports = Api::<akp_crds::BillingReport>::all(admin.clone());
    let phase = eventually(
        "a status on the BillingReport",
        Duration::from_secs(60),
        || async {
            let r = serde_json::to_value(reports.get(&report_name).await?)?;
            Ok(r["status"]["phase"].as_str().map(str::to_owned))
        },
    )
    .await?;
    assert!(!phase.is_empty());
    billing.assert_alive("akp-billing")?;
    let log_text =
        std::fs::read_to_string(dir.path().join("billing.err"))? + &std::fs::read_to_string(&log)?;
    assert!(
        !log_text.contains("forbidden"),
        "billing was refused something:\n{log_text}"
    );
    Ok(())
}
