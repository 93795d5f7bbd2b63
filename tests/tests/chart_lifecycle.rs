//! The chart's lifecycle with Helm against a real control plane that has none of the
//! CRDs beforehand (neither ours nor the Prometheus operator's): `helm install` brings
//! our CRDs from its templates and skips the ServiceMonitor and PrometheusRule; the
//! operator runs with the chart's ServiceAccount on the project ClusterRoles the chart
//! ships (`operator.rbac.manageClusterRoles: false`); `helm test` passes, and fails when
//! the operator is down; `helm upgrade` with a changed CRD changes the live CRD;
//! `helm uninstall` keeps the CRDs.
//!
//! There is no kubelet here, so the test plays its part for the `helm test` pod: it
//! runs the pod's own command (`kubectl-pbo check` with the pod's args, as the pod's
//! ServiceAccount, Service names mapped to the locally running operator and billing
//! daemon) and writes the exit code into the pod's status, which is what Helm waits
//! for. What passes is therefore the real check against the real servers; what is not
//! exercised is the image and the cluster's Service routing.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use akp_test_support::operator::eventually;
use akp_test_support::{Binaries, ControlPlane, Options, free_port, repo_root, workspace_binary};
use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

const RELEASE: &str = "akp";
const NAMESPACE: &str = "akp-system";

fn helm(bins: &Binaries, cp: &ControlPlane) -> Command {
    let mut cmd = Command::new(&bins.helm);
    let home = std::env::temp_dir().join("akp-chart-lifecycle-helm-home");
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .arg("--kubeconfig")
        .arg(cp.kubeconfig_path());
    cmd
}

fn run_ok(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{cmd:?} failed ({}):\n{text}", out.status);
    }
    Ok(text)
}

/// A child process killed on drop, its output in `log`.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn spawn(cmd: &mut Command, log: PathBuf) -> Result<Self> {
        let child = cmd
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(log.with_extension("err"))?)
            .stdin(Stdio::null())
            .spawn()?;
        Ok(Self { child, log })
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
            + &std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default()
    }

    fn assert_alive(&mut self, what: &str) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{what} exited ({status}):\n{}", self.output());
        }
        Ok(())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first container of a Deployment of the release.
async fn deployment_container(client: &Client, name: &str) -> Result<Container> {
    let deploy: k8s_openapi::api::apps::v1::Deployment =
        Api::namespaced(client.clone(), NAMESPACE).get(name).await?;
    deploy
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .with_context(|| format!("Deployment {name} has no container"))
}

/// `args` with `$(VAR)` expanded and each `(from, to)` substring replaced.
fn args_of(container: &Container, replace: &[(String, String)]) -> Vec<String> {
    container
        .args
        .iter()
        .flatten()
        .map(|a| {
            replace
                .iter()
                .fold(a.clone(), |a, (from, to)| a.replace(from.as_str(), to))
        })
        .collect()
}

/// The whole answer, status line included, of a plain `GET path` on loopback.
async fn http_get(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer).await;
    Ok(answer)
}

async fn wait_http_ok(port: u16, path: &str, proc: &mut Running, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        proc.assert_alive(what)?;
        if let Ok(answer) = http_get(port, path).await
            && (answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: {path} not 200 after 90s:\n{}", proc.output());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The operator and billing daemon of the release, run locally with their
/// ServiceAccounts and their Deployments' args (ports on loopback).
struct Servers {
    operator: Running,
    billing: Running,
    operator_metrics: u16,
    billing_metrics: u16,
    webhook: u16,
}

async fn start_servers(cp: &ControlPlane, admin: &Client, dir: &Path) -> Result<Servers> {
    let operator_name = format!("{RELEASE}-operator");
    let kubeconfig = dir.join("operator.kubeconfig");
    cp.write_service_account_kubeconfig(NAMESPACE, &operator_name, &kubeconfig)
        .await?;
    let container = deployment_container(admin, &operator_name).await?;
    let (operator_metrics, webhook) = (free_port()?, free_port()?);
    let pod_name = format!("{operator_name}-5c7d9-lc001");
    let args = args_of(
        &container,
        &[
            ("$(POD_NAME)".into(), pod_name.clone()),
            ("$(POD_NAMESPACE)".into(), NAMESPACE.into()),
            (
                "--metrics-addr=0.0.0.0:8080".into(),
                format!("--metrics-addr=127.0.0.1:{operator_metrics}"),
            ),
            (
                "--webhook-addr=0.0.0.0:8443".into(),
                format!("--webhook-addr=127.0.0.1:{webhook}"),
            ),
        ],
    );
    let mut operator = Running::spawn(
        Command::new(workspace_binary("akp-operator")?)
            .args(&args)
            .env("POD_NAME", &pod_name)
            .env("POD_NAMESPACE", NAMESPACE)
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST"),
        dir.join("operator.log"),
    )?;
    wait_http_ok(operator_metrics, "/readyz", &mut operator, "akp-operator").await?;

    let billing_name = format!("{RELEASE}-billing");
    let kubeconfig = dir.join("billing.kubeconfig");
    cp.write_service_account_kubeconfig(NAMESPACE, &billing_name, &kubeconfig)
        .await?;
    let container = deployment_container(admin, &billing_name).await?;
    let billing_metrics = free_port()?;
    let data = dir.join("billing-data");
    std::fs::create_dir_all(&data)?;
    let args = args_of(
        &container,
        &[
            (
                "--listen=0.0.0.0:9091".into(),
                format!("--listen=127.0.0.1:{billing_metrics}"),
            ),
            ("/var/lib/akp-billing".into(), data.display().to_string()),
        ],
    );
    let mut billing = Running::spawn(
        Command::new(workspace_binary("akp-billing")?)
            .args(&args)
            .env(
                "AKP_BILLING_DATABASE_URL",
                format!("sqlite://{}/ledger.db", data.display()),
            )
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST"),
        dir.join("billing.log"),
    )?;
    wait_http_ok(billing_metrics, "/healthz", &mut billing, "akp-billing").await?;
    Ok(Servers {
        operator,
        billing,
        operator_metrics,
        billing_metrics,
        webhook,
    })
}

/// `helm test`, with the test playing the kubelet for its pod: the pod's command is
/// run locally as the pod's ServiceAccount against `servers`, and its exit code
/// written to the pod's status. Returns whether Helm passed it, Helm's output and the
/// check's output.
async fn helm_test(
    bins: &Binaries,
    cp: &ControlPlane,
    admin: &Client,
    servers: &Servers,
    dir: &Path,
    attempt: &str,
    timeout: &str,
) -> Result<(bool, String, String)> {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let name = format!("{RELEASE}-test");
    let before = pods
        .get_opt(&name)
        .await?
        .and_then(|p| p.metadata.uid)
        .unwrap_or_default();
    let helm_log = dir.join(format!("helm-test-{attempt}.log"));
    let mut helm_test = Running::spawn(
        helm(bins, cp).args(["test", RELEASE, "-n", NAMESPACE, "--timeout", timeout]),
        helm_log,
    )?;
    // The new pod of this run (before-hook-creation replaced the previous one).
    let pod = eventually("the helm test pod", Duration::from_secs(60), || async {
        Ok(pods
            .get_opt(&name)
            .await?
            .filter(|p| p.metadata.uid.as_deref().unwrap_or_default() != before))
    })
    .await?;
    let spec = pod.spec.context("pod spec")?;
    let container = spec.containers.first().context("the check container")?;
    assert_eq!(
        container.command.as_deref(),
        Some(&["/usr/local/bin/kubectl-pbo".to_owned()][..]),
        "{container:?}"
    );
    let service_account = spec.service_account_name.context("serviceAccountName")?;
    let kubeconfig = dir.join(format!("test-{attempt}.kubeconfig"));
    cp.write_service_account_kubeconfig(NAMESPACE, &service_account, &kubeconfig)
        .await?;
    let mut args = args_of(
        container,
        &[
            (
                format!("http://{RELEASE}-operator-metrics.{NAMESPACE}.svc:8080"),
                format!("http://127.0.0.1:{}", servers.operator_metrics),
            ),
            (
                format!("http://{RELEASE}-billing-metrics.{NAMESPACE}.svc:9091"),
                format!("http://127.0.0.1:{}", servers.billing_metrics),
            ),
        ],
    );
    args.push(format!("--webhook-address=127.0.0.1:{}", servers.webhook));
    args.push(format!("--kubeconfig={}", kubeconfig.display()));
    let check = Command::new(workspace_binary("kubectl-pbo")?)
        .args(&args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()?;
    let check_out = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let code = check.status.code().unwrap_or(1);
    // What the kubelet would write when the container ended.
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "phase": if code == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{
            "name": container.name, "image": container.image, "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                                      "startedAt": now, "finishedAt": now}},
        }],
    }});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    // Nothing else writes this pod's status (no kwok, no scheduler here): the phase
    // Helm waits for must be the one written.
    let phase = pods.get(&name).await?.status.and_then(|s| s.phase);
    let want = if code == 0 { "Succeeded" } else { "Failed" };
    assert_eq!(phase.as_deref(), Some(want), "the helm test pod's phase");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let exit = loop {
        if let Some(s) = helm_test.child.try_wait()? {
            break s;
        }
        if std::time::Instant::now() > deadline {
            bail!("helm test did not end:\n{}", helm_test.output());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    Ok((exit.success(), helm_test.output(), check_out))
}

fn crd_names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (file, _) in akp_crds::all() {
        let docs = akp_test_support::documents(&repo_root().join("crds").join("yaml").join(file))?;
        names.push(
            docs.first()
                .and_then(|d| d["metadata"]["name"].as_str())
                .context("CRD name")?
                .to_owned(),
        );
    }
    Ok(names)
}

#[tokio::test]
async fn chart_installs_without_monitoring_crds_passes_helm_test_and_upgrades_its_crds()
-> Result<()> {
    let bins = Binaries::locate()?;
    Binaries::require(&bins.helm)?;
    // No CRDs at all beforehand: the chart brings ours.
    // No scheduler and no kwok (Options::default()): nothing but the test writes the
    // hook pod's status.
    let cp = ControlPlane::shared(Options::default())?;
    let admin = cp.admin_client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let chart = repo_root().join("charts").join("akp");
    let install = run_ok(
        helm(&bins, cp)
            .args(["install", RELEASE])
            .arg(&chart)
            .args(["--namespace", NAMESPACE, "--create-namespace"])
            .args(["--set", "operator.rbac.manageClusterRoles=false"])
            .args(["--set", "billing.reports.enabled=false"]),
    )?;
    assert!(install.contains("STATUS: deployed"), "{install}");
    assert!(
        install.contains("no ServiceMonitor or PrometheusRule was installed"),
        "NOTES say what was left out:\n{install}"
    );
    for name in crd_names()? {
        let crd = crds
            .get(&name)
            .await
            .with_context(|| format!("CRD {name}"))?;
        assert_eq!(
            crd.annotations()
                .get("meta.helm.sh/release-name")
                .map(String::as_str),
            Some(RELEASE),
            "{name} belongs to the release"
        );
    }
    let manifest = run_ok(helm(&bins, cp).args(["get", "manifest", RELEASE, "-n", NAMESPACE]))?;
    assert!(!manifest.contains("kind: ServiceMonitor"), "{manifest}");
    assert!(!manifest.contains("kind: PrometheusRule"), "{manifest}");

    // manageClusterRoles: false: the operator starts on the chart's roles, which carry
    // Helm's labels, and writes none of them.
    let dir = tempfile::tempdir()?;
    let mut servers = start_servers(cp, &admin, dir.path()).await?;
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    for role in akp_operator::rbac::cluster_roles() {
        let live = roles.get(&role.name_any()).await?;
        assert_eq!(
            live.labels()
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("Helm")
        );
        let managers: Vec<_> = live
            .managed_fields()
            .iter()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(
            !managers.iter().any(|m| m == "akp-operator"),
            "the operator wrote {}: {managers:?}",
            role.name_any()
        );
    }
    servers.operator.assert_alive("akp-operator")?;
    let log = servers.operator.output();
    assert!(
        !log.contains("forbidden"),
        "the operator was refused:\n{log}"
    );

    // Billing keeps the agencies' statements with the chart's ClusterRole: its first
    // update lists the tariffs and agencies and ends without a refusal.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        servers.billing.assert_alive("akp-billing")?;
        let log = servers.billing.output();
        if log.contains("agency statements updated") {
            break;
        }
        assert!(
            !log.contains("agency statements not updated"),
            "billing's statements were refused:\n{log}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no statements update in 60 s:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // ... and serves the cost metrics on its /metrics.
    let text = http_get(servers.billing_metrics, "/metrics").await?;
    assert!(
        text.contains("akp_billing_statements_updated_timestamp_seconds "),
        "billing's /metrics has no statements gauge:\n{text}"
    );

    // helm test: the webhook answers a review over TLS verified with the caBundle the
    // operator patched, and both /metrics answer.
    let (passed, helm_out, check_out) =
        helm_test(&bins, cp, &admin, &servers, dir.path(), "up", "120s").await?;
    assert!(passed, "helm test failed:\n{helm_out}\ncheck:\n{check_out}");
    assert!(
        helm_out
            .lines()
            .any(|l| l.starts_with("Phase:") && l.ends_with("Succeeded")),
        "{helm_out}"
    );
    assert!(check_out.contains("review akp-check-"), "{check_out}");
    assert_eq!(
        check_out.matches("akp_ metric families").count(),
        2,
        "{check_out}"
    );

    // The same check fails when the operator is down: helm test reports it (Helm waits
    // for Succeeded until its timeout even when the pod Failed, hence a short one).
    servers.operator.stop();
    let (passed, helm_out, check_out) =
        helm_test(&bins, cp, &admin, &servers, dir.path(), "down", "20s").await?;
    assert!(
        !passed,
        "helm test passed with the operator down:\n{helm_out}"
    );
    assert!(helm_out.contains(&format!("{RELEASE}-test")), "{helm_out}");
    assert!(check_out.contains("did not answer"), "{check_out}");

    // helm upgrade with a changed CRD: the live CRD changes.
    let changed = tempfile::tempdir()?;
    run_ok(Command::new("cp").arg("-r").arg(&chart).arg(changed.path()))?;
    let chart2 = changed.path().join("akp");
    let file = chart2.join("files").join("crds").join("agencies.yaml");
    let text = std::fs::read_to_string(&file)?;
    let upgraded = text.replacen("    - akp\n", "    - akp\n    - akp-upgraded\n", 1);
    assert_ne!(text, upgraded, "the categories of the agencies CRD");
    std::fs::write(&file, upgraded)?;
    let upgrade = run_ok(
        helm(&bins, cp)
            .args(["upgrade", RELEASE])
            .arg(&chart2)
            .args(["--namespace", NAMESPACE, "--reuse-values"]),
    )?;
    assert!(upgrade.contains("STATUS: deployed"), "{upgrade}");
    let agencies = crds.get("agencies.akp.egov.kz").await?;
    let categories = agencies.spec.names.categories.unwrap_or_default();
    assert!(
        categories.iter().any(|c| c == "akp-upgraded"),
        "helm upgrade left the CRD as it was: {categories:?}"
    );

    // helm uninstall keeps the CRDs (crds.keep).
    run_ok(helm(&bins, cp).args(["uninstall", RELEASE, "-n", NAMESPACE]))?;
    for name in crd_names()? {
        let crd = crds.get_opt(&name).await?;
        assert!(
            crd.is_some_and(|c| c.metadata.deletion_timestamp.is_none()),
            "{name} was deleted by helm uninstall"
        );
    }
    Ok(())
}
