//! The control plane: etcd, kube-apiserver and, on request, kube-scheduler,
//! kube-controller-manager and kwok, on free loopback ports.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bins::{Binaries, crds_dir};
use crate::pki::{CertPair, Pki};
use crate::process::{Proc, TAIL_LINES, owned_temp_dir, tail};

/// What to start besides etcd and kube-apiserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Start kube-scheduler (binds Pods to Nodes).
    pub scheduler: bool,
    /// Start kube-controller-manager (finishes namespace deletion, runs Deployments,
    /// ReplicaSets, garbage collection, service-account tokens…).
    pub controller_manager: bool,
    /// Start kwok, which makes Nodes annotated `kwok.x-k8s.io/node=fake` Ready and the
    /// Pods bound to them Running (see [`crate::kwok_node`]).
    pub kwok: bool,
    /// Give kwok its emulation of the kubelet's resource metrics (`tests/src/kwok/metrics.yaml`:
    /// a `Metric` on `/metrics/nodes/<node>/metrics/resource` and a `ClusterResourceUsage`
    /// reading each pod's `kwok.x-k8s.io/usage-cpu` and `usage-memory` annotations),
    /// served at [`ControlPlane::kwok_address`].
    pub kwok_metrics: bool,
    /// Install the CRDs of [`Options::crds_dir`] before returning.
    pub crds: bool,
    /// Where the CRDs are; `None` means `<repo>/crds/yaml`.
    pub crds_dir: Option<PathBuf>,
    /// Give kube-apiserver a client certificate for calling admission webhooks (its
    /// admission configuration, `--admission-control-config-file`), signed by a CA of
    /// its own ([`ControlPlane::webhook_client_ca_pem`]), so that webhook servers can
    /// require mutual TLS. On by default: a server that asks for no certificate
    /// ignores it.
    pub webhook_client_cert: bool,
    /// Extra kube-apiserver flags, appended last (so they override ours).
    pub apiserver_args: Vec<String>,
    /// How long each process may take to become ready.
    pub startup_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scheduler: false,
            controller_manager: false,
            kwok: false,
            kwok_metrics: false,
            crds: false,
            crds_dir: None,
            webhook_client_cert: true,
            apiserver_args: Vec::new(),
            startup_timeout: Duration::from_secs(90),
        }
    }
}

impl Options {
    /// Everything: scheduler, controller manager and kwok (CRDs not included).
    pub fn full() -> Self {
        Self {
            scheduler: true,
            controller_manager: true,
            kwok: true,
            ..Self::default()
        }
    }

    /// These options, and the CRDs of [`Options::crds_dir`] installed.
    pub fn with_crds(self) -> Self {
        Self { crds: true, ..self }
    }
}

/// Field manager of the server-side applies this crate makes.
pub const FIELD_MANAGER: &str = "akp-test-support";

/// A running control plane. Dropping it kills and reaps its processes and removes its
/// temp dir; the [`ControlPlane::shared`] one lives until the test process exits, and
/// its processes die with it.
pub struct ControlPlane {
    options: Options,
    pki: Pki,
    /// The CA of the API server's webhook client certificate, and that certificate.
    webhook_client: Option<(String, CertPair)>,
    apiserver_url: String,
    admin_kubeconfig: serde_json::Value,
    kubeconfig_path: PathBuf,
    procs: Mutex<Vec<Proc>>,
    /// How each process (by name) is probed for readiness, for [`ControlPlane::restart`].
    probes: Mutex<HashMap<String, Probe>>,
    startup: Duration,
    /// kwok's HTTPS server (healthz and, with `kwok_metrics`, the nodes' metrics).
    kwok_port: Option<u16>,
    // Declared last: removed after the processes using it are gone.
    dir: TempDir,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("apiserver_url", &self.apiserver_url)
            .field("dir", &self.dir.path())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// User and groups of the admin client certificate.
const ADMIN_USER: &str = "admin";
const MASTERS: &str = "system:masters";
/// Common name of the CA of the API server's webhook client certificate.
const WEBHOOK_CLIENT_CA: &str = "akp-test-webhook-client-ca";
/// Common name of the API server's webhook client certificate.
pub const WEBHOOK_CLIENT_USER: &str = "kube-apiserver-webhook-client";
/// Prefix of the temp dirs; leftovers of dead test processes are removed on start.
const DIR_PREFIX: &str = "akp-cp-";

impl ControlPlane {
    /// Starts a control plane and waits until every part is ready.
    ///
    /// Blocking; callable from inside or outside a tokio runtime (the waiting runs on
    /// a thread of its own with its own runtime). Retries up to 3 times if a port
    /// picked as free was taken meanwhile by someone else.
    pub fn start(options: Options) -> Result<Self> {
        let bins = Binaries::locate()?;
        Binaries::require(&bins.etcd)?;
        Binaries::require(&bins.kube_apiserver)?;
        if options.scheduler {
            Binaries::require(&bins.kube_scheduler)?;
        }
        if options.controller_manager {
            Binaries::require(&bins.kube_controller_manager)?;
        }
        if options.kwok {
            Binaries::require(&bins.kwok)?;
        }
        let mut attempt = 1;
        loop {
            match run_on_own_runtime(|| Self::start_once(&options, &bins)) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    tracing::warn!("port clash while starting the control plane, retrying: {e:#}");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The control plane shared by all tests of this test binary, started on first
    /// use with `options`; later calls must pass the same options.
    ///
    /// It is never dropped: its processes are killed by the kernel when the test
    /// process exits, panics included, and its temp dir is removed by a later start.
    /// Clients are tied to the tokio runtime that made them, and each `#[tokio::test]`
    /// has its own, so make clients per test with [`ControlPlane::admin_client`].
    pub fn shared(options: Options) -> Result<&'static ControlPlane> {
        static SHARED: OnceLock<(Options, Result<ControlPlane, String>)> = OnceLock::new();
        let (started_with, result) = SHARED.get_or_init(|| {
            let result = Self::start(options.clone()).map_err(|e| format!("{e:#}"));
            (options.clone(), result)
        });
        let cp = result
            .as_ref()
            .map_err(|e| anyhow!("the shared control plane failed to start: {e}"))?;
        if *started_with != options {
            bail!(
                "the shared control plane was started with {started_with:?}, not {options:?}: \
                 use the same Options in every test of a binary"
            );
        }
        Ok(cp)
    }

    async fn start_once(options: &Options, bins: &Binaries) -> Result<Self> {
        let started = Instant::now();
        let dir = owned_temp_dir(DIR_PREFIX, "control-plane")?;
        let root = dir.path().to_path_buf();
        let pki_dir = mkdir(&root, "pki")?;
        let pki = Pki::new()?;
        let serving = pki.serving_cert(
            &[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            &[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            ],
        )?;
        let ca_crt = write(&pki_dir, "ca.crt", &pki.ca_cert_pem)?;
        let ca_key = write(&pki_dir, "ca.key", &pki.ca_key_pem)?;
        let serving_crt = write(&pki_dir, "serving.crt", &serving.cert_pem)?;
        let serving_key = write(&pki_dir, "serving.key", &serving.key_pem)?;
        let sa_key = write(&pki_dir, "sa.key", &pki.sa_key_pem)?;
        let sa_pub = write(&pki_dir, "sa.pub", &pki.sa_pub_pem)?;
        let logs = mkdir(&root, "logs")?;

        let admin = pki.client_cert(ADMIN_USER, &[MASTERS])?;
        let apiserver_port = free_port()?;
        let apiserver_url = format!("https://127.0.0.1:{apiserver_port}");
        let admin_kubeconfig =
            kubeconfig_json(&apiserver_url, &pki.ca_cert_pem, ADMIN_USER, &admin);
        let kubeconfig_path = root.join("admin.kubeconfig");
        write_json(&kubeconfig_path, &admin_kubeconfig)?;

        let webhook_client = if options.webhook_client_cert {
            let ca = Pki::with_common_name(WEBHOOK_CLIENT_CA)?;
            let pair = ca.client_cert(WEBHOOK_CLIENT_USER, &[])?;
            Some((ca.ca_cert_pem, pair))
        } else {
            None
        };

        let mut cp = Self {
            options: options.clone(),
            pki,
            webhook_client,
            apiserver_url,
            admin_kubeconfig,
            kubeconfig_path,
            procs: Mutex::new(Vec::new()),
            probes: Mutex::new(HashMap::new()),
            startup: Duration::ZERO,
            kwok_port: None,
            dir,
        };
        let timeout = options.startup_timeout;

        // etcd
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let client_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let etcd = cp.spawn(
            "etcd",
            &bins.etcd,
            &[
                "--name=akp".into(),
                // etcd creates it itself, with the 0700 it insists on.
                format!("--data-dir={}", root.join("etcd").display()),
                format!("--listen-client-urls={client_url}"),
                format!("--advertise-client-urls={client_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=akp={peer_url}"),
                // Throwaway data: durability buys nothing and fsync costs seconds.
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
            &[],
            &logs,
        )?;
        cp.set_probe("etcd", Probe::Etcd(etcd_port));
        cp.wait_ready(etcd, timeout, || etcd_healthy(etcd_port))
            .await?;

        // kube-apiserver
        let mut args = vec![
            format!("--etcd-servers={client_url}"),
            format!("--cert-dir={}", mkdir(&root, "apiserver")?.display()),
            format!("--tls-cert-file={}", serving_crt.display()),
            format!("--tls-private-key-file={}", serving_key.display()),
            format!("--secure-port={apiserver_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--authorization-mode=RBAC".into(),
            format!("--client-ca-file={}", ca_crt.display()),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", sa_pub.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            // Otherwise Pods are refused until the controller manager has made the
            // namespace's default ServiceAccount, a race in every fresh test namespace.
            "--disable-admission-plugins=ServiceAccount".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
        ];
        if let Some((_, pair)) = &cp.webhook_client {
            let config = write_admission_config(&mkdir(&root, "admission")?, pair)?;
            args.push(format!(
                "--admission-control-config-file={}",
                config.display()
            ));
        }
        args.extend(options.apiserver_args.iter().cloned());
        let apiserver = cp.spawn("kube-apiserver", &bins.kube_apiserver, &args, &[], &logs)?;
        cp.set_probe("kube-apiserver", Probe::ApiServer);
        let admin_client = cp.admin_client().await?;
        cp.wait_ready(apiserver, timeout, || get_text(&admin_client, "/readyz"))
            .await?;
        let apiserver_ready = started.elapsed();

        // Components: each gets a kubeconfig of its own identity (in system:masters, as
        // kwokctl and envtest do, so no bootstrap RBAC needs to be right for them).
        let component_kubeconfig = |user: &str| -> Result<PathBuf> {
            let pair = cp.pki.client_cert(user, &[MASTERS])?;
            let path = root.join(format!("{}.kubeconfig", user.replace(':', "-")));
            write_json(
                &path,
                &kubeconfig_json(&cp.apiserver_url, &cp.pki.ca_cert_pem, user, &pair),
            )?;
            Ok(path)
        };
        let serving_args = |port: u16| -> Vec<String> {
            vec![
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".into(),
                format!("--tls-cert-file={}", serving_crt.display()),
                format!("--tls-private-key-file={}", serving_key.display()),
            ]
        };
        let mut pending = Vec::new();
        if options.controller_manager {
            let kubeconfig = component_kubeconfig("system:kube-controller-manager")?;
            let port = free_port()?;
            let mut args = vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                "--leader-elect=false".into(),
                format!("--service-account-private-key-file={}", sa_key.display()),
                format!("--root-ca-file={}", ca_crt.display()),
                format!("--cluster-signing-cert-file={}", ca_crt.display()),
                format!("--cluster-signing-key-file={}", ca_key.display()),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--profiling=false".into(),
            ];
            args.extend(serving_args(port));
            let idx = cp.spawn(
                "kube-controller-manager",
                &bins.kube_controller_manager,
                &args,
                &[],
                &logs,
            )?;
            cp.set_probe(
                "kube-controller-manager",
                Probe::Https {
                    port,
                    path: "/healthz",
                },
            );
            pending.push((idx, port, "/healthz"));
        }
        if options.scheduler {
            let kubeconfig = component_kubeconfig("system:kube-scheduler")?;
            let port = free_port()?;
            let mut args = vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                "--leader-elect=false".into(),
                "--profiling=false".into(),
            ];
            args.extend(serving_args(port));
            let idx = cp.spawn("kube-scheduler", &bins.kube_scheduler, &args, &[], &logs)?;
            cp.set_probe(
                "kube-scheduler",
                Probe::Https {
                    port,
                    path: "/readyz",
                },
            );
            pending.push((idx, port, "/readyz"));
        }
        if options.kwok {
            let kubeconfig = component_kubeconfig("kwok")?;
            let mut config = include_str!("kwok/stages.yaml").to_string();
            if options.kwok_metrics {
                config.push_str("---\n");
                config.push_str(include_str!("kwok/metrics.yaml"));
            }
            let stages = write(&mkdir(&root, "kwok")?, "stages.yaml", &config)?;
            // kwok also reads ~/.kwok/kwok.yaml if it exists: keep a developer's out.
            let home = mkdir(&root, "kwok-home")?;
            let port = free_port()?;
            let args = vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                format!("--config={}", stages.display()),
                "--manage-all-nodes=false".into(),
                format!("--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake"),
                // Fake addresses: loopback, so nothing ever tries to reach another network.
                "--node-ip=127.0.0.1".into(),
                "--cidr=10.244.0.0/16".into(),
                "--node-lease-duration-seconds=40".into(),
                // Its HTTPS server serves /healthz, our readiness probe, and the nodes'
                // metrics when the config has a Metric.
                format!("--server-address=127.0.0.1:{port}"),
                format!("--tls-cert-file={}", serving_crt.display()),
                format!("--tls-private-key-file={}", serving_key.display()),
            ];
            let idx = cp.spawn("kwok", &bins.kwok, &args, &[("HOME", &home)], &logs)?;
            cp.kwok_port = Some(port);
            cp.set_probe(
                "kwok",
                Probe::Https {
                    port,
                    path: "/healthz",
                },
            );
            pending.push((idx, port, "/healthz"));
        }
        for (idx, port, path) in pending {
            let url = format!("https://127.0.0.1:{port}");
            let client = client_from_json(kubeconfig_json(
                &url,
                &cp.pki.ca_cert_pem,
                ADMIN_USER,
                &admin,
            ))
            .await?;
            cp.wait_ready(idx, timeout, || get_text(&client, path))
                .await?;
        }
        if options.crds {
            let dir = options.crds_dir.clone().unwrap_or_else(crds_dir);
            let client = cp.admin_client().await?;
            crate::crds::install_crds(&client, &dir).await?;
        }
        cp.startup = started.elapsed();
        tracing::info!(
            "control plane at {} ready in {:?} (apiserver after {:?}); files in {}",
            cp.apiserver_url,
            cp.startup,
            apiserver_ready,
            root.display()
        );
        Ok(cp)
    }

    fn spawn(
        &self,
        name: &str,
        bin: &Path,
        args: &[String],
        envs: &[(&str, &Path)],
        logs: &Path,
    ) -> Result<usize> {
        let proc = Proc::spawn(name, bin, args, envs, logs.join(format!("{name}.log")))?;
        let mut procs = self.procs();
        procs.push(proc);
        Ok(procs.len() - 1)
    }

    fn set_probe(&self, name: &str, probe: Probe) {
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), probe);
    }

    fn procs(&self) -> MutexGuard<'_, Vec<Proc>> {
        // A panic while holding the lock leaves nothing half-done worth refusing over.
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Probes until `probe` succeeds; fails early if the process exits, and at the
    /// deadline with the last probe error and the tail of the process log.
    async fn wait_ready<F, Fut, T>(&self, idx: usize, timeout: Duration, mut probe: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last_error = anyhow!("not probed yet");
        loop {
            {
                let mut procs = self.procs();
                let proc = procs.get_mut(idx).context("no such process")?;
                if let Some(status) = proc.exited() {
                    return Err(proc.exit_error(status));
                }
            }
            match tokio::time::timeout(Duration::from_secs(5), probe()).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = anyhow!("probe timed out after 5s"),
            }
            if Instant::now() > deadline {
                let procs = self.procs();
                let proc = procs.get(idx).context("no such process")?;
                bail!(
                    "{} not ready after {timeout:?}: {last_error:#}; last lines of {}:\n{}",
                    proc.name,
                    proc.log.display(),
                    tail(&proc.log, TAIL_LINES)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `127.0.0.1:<port>` of kwok's HTTPS server (serving certificate of [`Self::ca_cert_pem`]).
    pub fn kwok_address(&self) -> Option<String> {
        self.kwok_port.map(|p| format!("127.0.0.1:{p}"))
    }

    /// `https://127.0.0.1:<port>` of the apiserver.
    pub fn apiserver_url(&self) -> &str {
        &self.apiserver_url
    }

    /// The options it was started with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// How long [`ControlPlane::start`] took until everything was ready.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// The temp dir with certificates (`pki/`), kubeconfigs and process logs (`logs/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate (PEM) the apiserver trusts for client certificates and that
    /// signed its serving certificate; webhook configurations use it as `caBundle`
    /// for certificates made with [`ControlPlane::sign_serving_cert`].
    pub fn ca_cert_pem(&self) -> &str {
        &self.pki.ca_cert_pem
    }

    /// A serving certificate signed by the CA, for example for a webhook server on
    /// 127.0.0.1. Returns `(cert_pem, key_pem)`.
    pub fn sign_serving_cert(
        &self,
        dns_names: &[&str],
        ips: &[IpAddr],
    ) -> Result<(String, String)> {
        let pair = self.pki.serving_cert(dns_names, ips)?;
        Ok((pair.cert_pem, pair.key_pem))
    }

    /// The CA (PEM) of the client certificate the API server presents to admission
    /// webhooks ([`Options::webhook_client_cert`]): a webhook server that requires
    /// client certificates of this CA accepts calls from the API server only. It
    /// signs nothing else (users' certificates come from [`ControlPlane::ca_cert_pem`]).
    pub fn webhook_client_ca_pem(&self) -> Option<&str> {
        self.webhook_client.as_ref().map(|(ca, _)| ca.as_str())
    }

    /// [`ControlPlane::webhook_client_ca_pem`] as the operator's [`ClientCa`], for
    /// [`akp_operator::webhook::WebhookServer::with_client_ca`].
    ///
    /// [`ClientCa`]: akp_operator::webhook::ClientCa
    pub fn webhook_client_ca(&self) -> Result<std::sync::Arc<akp_operator::webhook::ClientCa>> {
        let pem = self
            .webhook_client_ca_pem()
            .context("the control plane was started without Options::webhook_client_cert")?;
        Ok(std::sync::Arc::new(
            akp_operator::webhook::ClientCa::from_pem(pem)?,
        ))
    }

    /// The API server's webhook client certificate and key, `(cert_pem, key_pem)`
    /// (CN [`WEBHOOK_CLIENT_USER`]): for tests that play a caller holding it, the
    /// worst case of a webhook server's limits.
    pub fn webhook_client_cert(&self) -> Option<(String, String)> {
        self.webhook_client
            .as_ref()
            .map(|(_, pair)| (pair.cert_pem.clone(), pair.key_pem.clone()))
    }

    /// A client in group `system:masters`. Cheap: make one per test (a client is tied
    /// to the tokio runtime it was made in).
    pub async fn admin_client(&self) -> Result<Client> {
        client_from_json(self.admin_kubeconfig.clone()).await
    }

    /// A client authenticated by a client certificate with CN=`user` and O=each of
    /// `groups`, so that RBAC applies to it for real.
    pub async fn client_for(&self, user: &str, groups: &[&str]) -> Result<Client> {
        client_from_json(self.kubeconfig_json_for(user, groups)?).await
    }

    /// The kubeconfig of [`ControlPlane::client_for`], in memory.
    pub fn kubeconfig_for(&self, user: &str, groups: &[&str]) -> Result<Kubeconfig> {
        serde_json::from_value(self.kubeconfig_json_for(user, groups)?)
            .context("building a kubeconfig")
    }

    /// Path of the admin kubeconfig file (for kubectl, or a process such as the operator).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// Writes a kubeconfig file for `user` in `groups` (certificate data inline).
    pub fn write_kubeconfig_for(&self, user: &str, groups: &[&str], path: &Path) -> Result<()> {
        write_json(path, &self.kubeconfig_json_for(user, groups)?)
    }

    /// A kubeconfig that authenticates as ServiceAccount `namespace/name` with an
    /// hour's TokenRequest token, as a pod of it would; its context's namespace is
    /// `namespace`.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value> {
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let token = Api::<ServiceAccount>::namespaced(self.admin_client().await?, namespace)
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .with_context(|| format!("a token of ServiceAccount {namespace}/{name}"))?
            .status
            .context("TokenRequest status")?
            .token;
        Ok(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "akp", "cluster": {
                "server": self.apiserver_url,
                "certificate-authority-data": BASE64.encode(&self.pki.ca_cert_pem),
            }}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": "akp", "context": {"cluster": "akp", "user": name, "namespace": namespace}}],
            "current-context": "akp",
        }))
    }

    /// Writes [`ControlPlane::service_account_kubeconfig`] to `path` (for a process).
    pub async fn write_service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
        path: &Path,
    ) -> Result<()> {
        write_json(
            path,
            &self.service_account_kubeconfig(namespace, name).await?,
        )
    }

    /// A client of [`ControlPlane::service_account_kubeconfig`], so that RBAC applies to
    /// the ServiceAccount for real.
    pub async fn service_account_client(&self, namespace: &str, name: &str) -> Result<Client> {
        client_from_json(self.service_account_kubeconfig(namespace, name).await?).await
    }

    fn kubeconfig_json_for(&self, user: &str, groups: &[&str]) -> Result<serde_json::Value> {
        let pair = self.pki.client_cert(user, groups)?;
        Ok(kubeconfig_json(
            &self.apiserver_url,
            &self.pki.ca_cert_pem,
            user,
            &pair,
        ))
    }

    /// Server-side applies every CRD in `dir` (`*.yaml`, `*.yml`) and waits until each
    /// is Established and served by discovery. Returns their names.
    pub async fn install_crds(&self, dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let client = self.admin_client().await?;
        crate::crds::install_crds(&client, dir.as_ref()).await
    }

    /// Process ids of the running children (etcd, kube-apiserver, …).
    pub fn child_pids(&self) -> Vec<u32> {
        self.procs().iter().map(Proc::pid).collect()
    }

    /// Path of a process's log, by name (`etcd`, `kube-apiserver`, `kube-scheduler`,
    /// `kube-controller-manager`, `kwok`).
    pub fn log_path(&self, name: &str) -> Option<PathBuf> {
        self.procs()
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.log.clone())
    }

    /// SIGKILLs the process `name` (`etcd`, `kube-apiserver`, `kube-scheduler`,
    /// `kube-controller-manager`, `kwok`) and reaps it. Its data dir, certificates,
    /// flags and ports stay as they are, so [`ControlPlane::restart`] brings back the
    /// same member: for fault-injection tests.
    pub fn kill(&self, name: &str) -> Result<()> {
        let mut procs = self.procs();
        let proc = procs
            .iter_mut()
            .find(|p| p.name == name)
            .with_context(|| format!("no process {name} in this control plane"))?;
        proc.kill();
        Ok(())
    }

    /// Starts the process `name` again (killing it first if it still runs) with the
    /// same binary, flags, ports and data dir, its output appended to the same log,
    /// and waits until it is ready as at start: etcd's /health, kube-apiserver's
    /// /readyz, the components' health endpoints. Waits at most the startup timeout
    /// of the [`Options`].
    pub async fn restart(&self, name: &str) -> Result<()> {
        let probe = self
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .with_context(|| format!("no process {name} in this control plane"))?;
        let idx = {
            let mut procs = self.procs();
            let idx = procs
                .iter()
                .position(|p| p.name == name)
                .with_context(|| format!("no process {name} in this control plane"))?;
            procs[idx].respawn()?;
            idx
        };
        let timeout = self.options.startup_timeout;
        match probe {
            Probe::Etcd(port) => self.wait_ready(idx, timeout, || etcd_healthy(port)).await,
            Probe::ApiServer => {
                let client = self.admin_client().await?;
                self.wait_ready(idx, timeout, || get_text(&client, "/readyz"))
                    .await
            }
            Probe::Https { port, path } => {
                let pair = self.pki.client_cert(ADMIN_USER, &[MASTERS])?;
                let url = format!("https://127.0.0.1:{port}");
                let client = client_from_json(kubeconfig_json(
                    &url,
                    &self.pki.ca_cert_pem,
                    ADMIN_USER,
                    &pair,
                ))
                .await?;
                self.wait_ready(idx, timeout, || get_text(&client, path))
                    .await
            }
        }
        .with_context(|| format!("restarting {name}"))?;
        tracing::info!("{name} restarted");
        Ok(())
    }

    /// Kills and reaps all processes, last started first. Also done on drop.
    pub fn stop(&self) {
        let mut procs = self.procs();
        while let Some(mut proc) = procs.pop() {
            proc.kill();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How to tell that a process of the control plane is ready.
#[derive(Clone, Debug)]
enum Probe {
    /// etcd's /health on its client port.
    Etcd(u16),
    /// kube-apiserver's /readyz, through the admin client.
    ApiServer,
    /// A component's HTTPS health endpoint.
    Https { port: u16, path: &'static str },
}

/// The annotation kwok selects the Nodes it manages by (value `fake`).
pub const KWOK_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Runs an async function to completion on a fresh thread with a runtime of its own,
/// so that it works whether or not the caller is inside a runtime.
fn run_on_own_runtime<'a, F, Fut, T>(f: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'a,
    Fut: Future<Output = Result<T>>,
    T: Send + 'a,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("building a tokio runtime")?;
            rt.block_on(f())
        })
        .join()
        .map_err(|_| anyhow!("the control-plane start thread panicked"))?
    })
}

/// Writes into `dir` the API server's admission configuration: the Validating- and
/// MutatingAdmissionWebhook plugins present `pair` to every webhook host (`*`), as
/// Kubernetes documents under "Authenticate apiservers". Returns its path.
fn write_admission_config(dir: &Path, pair: &CertPair) -> Result<PathBuf> {
    let kubeconfig = dir.join("webhook-client.kubeconfig");
    write_json(
        &kubeconfig,
        &serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "users": [{
                "name": "*",
                "user": {
                    "client-certificate-data": BASE64.encode(&pair.cert_pem),
                    "client-key-data": BASE64.encode(&pair.key_pem),
                },
            }],
        }),
    )?;
    let plugin = |name: &str| {
        serde_json::json!({
            "name": name,
            "configuration": {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "WebhookAdmissionConfiguration",
                "kubeConfigFile": kubeconfig.display().to_string(),
            },
        })
    };
    let config = dir.join("admission-config.json");
    write_json(
        &config,
        &serde_json::json!({
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "AdmissionConfiguration",
            "plugins": [plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")],
        }),
    )?;
    Ok(config)
}

fn kubeconfig_json(server: &str, ca_pem: &str, user: &str, pair: &CertPair) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "akp-test",
            "cluster": {
                "server": server,
                "certificate-authority-data": BASE64.encode(ca_pem),
            },
        }],
        "users": [{
            "name": user,
            "user": {
                "client-certificate-data": BASE64.encode(&pair.cert_pem),
                "client-key-data": BASE64.encode(&pair.key_pem),
            },
        }],
        "contexts": [{
            "name": "akp-test",
            "context": { "cluster": "akp-test", "user": user, "namespace": "default" },
        }],
        "current-context": "akp-test",
    })
}

async fn client_from_json(kubeconfig: serde_json::Value) -> Result<Client> {
    let kubeconfig: Kubeconfig =
        serde_json::from_value(kubeconfig).context("building a kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading a kubeconfig")?;
    Client::try_from(config).context("building a kube client")
}

async fn get_text(client: &Client, path: &str) -> Result<String> {
    let request = http::Request::get(path).body(Vec::new())?;
    Ok(client.request_text(request).await?)
}

/// etcd's /health over plain HTTP/1.0 (no TLS on loopback).
async fn etcd_healthy(port: u16) -> Result<()> {
    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    if response.contains(r#""health":"true""#) {
        Ok(())
    } else {
        bail!(
            "etcd /health: {}",
            response.lines().last().unwrap_or_default()
        )
    }
}

/// A port that was free a moment ago. Ports already handed out in this process are
/// not handed out again, since the kernel may offer a just-released port twice. The
/// one source of ports of the tests (two would hand out each other's).
pub fn free_port() -> Result<u16> {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding 127.0.0.1:0")?
            .local_addr()?
            .port();
        if given.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free port found on 127.0.0.1")
}

fn mkdir(parent: &Path, name: &str) -> Result<PathBuf> {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
