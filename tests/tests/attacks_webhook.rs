//! Issue 14, item 9: the webhook server is not an open door. Against the real control
//! plane and the real `akp-operator` binary (so that its memory is its own), from
//! loopback:
//!
//! - a forged AdmissionReview posted directly, without a client certificate or with a
//!   cluster user's certificate, is refused at the TLS handshake and leaves no audit
//!   record (R-MON-02), while admissions through the API server, which presents its
//!   client certificate from its admission configuration, work as usual (R-PLC-01);
//! - the audit record of an admission names the requester from `userInfo` (a
//!   client-certificate user and her groups), not the field manager (R-MON-02);
//! - a flood of held connections, handshakes without a certificate, oversized
//!   (50 MiB) and slow (slowloris) bodies, the latter even with the API server's own
//!   certificate, slows admission at most: the API server's admissions keep being
//!   answered during and after it, and the operator stays under the chart's memory
//!   limit (R-PLC-01, R-SW-01: admission cannot be knocked over);
//! - without mutual TLS (the mode kept for API servers that cannot be configured), a
//!   forged review is answered but not recorded.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use akp_audit::record::ADMISSION_DECISION;
use akp_audit::{Decision, Entry, Filter, Sink, SinkOptions, Store};
use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_operator::webhook::{
    CertStore, Clock, ClusterLookup, Reviewer, Validators, WebhookServer, router,
};
use akp_test_support::operator::{OPERATOR_USER, eventually};
use akp_test_support::{
    ControlPlane, Options, TestNamespace, ensure_namespace, free_port, setpriv_command,
    workspace_binary,
};
use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::Client;
use kube::api::{Api, PostParams};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ALICE: &str = "alice@mon.gov.kz";
const ALICE_GROUPS: &[&str] = &["agency-mon"];
/// The field manager of Alice's requests: what the audit trail must not take for her.
const ALICE_MANAGER: &str = "kubectl-alice";
/// The operator container's memory limit in the chart (charts/akp/values.yaml).
const MEMORY_LIMIT_KIB: u64 = 512 * 1024;
/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(15);

fn control_plane() -> Result<&'static ControlPlane> {
    ControlPlane::shared(Options::default().with_crds())
        .context("control plane starts (run tools/build.sh first)")
}

/// The `akp-operator` binary with mutual TLS on its webhook server, registering its
/// own webhook configurations, storing its audit trail in SQLite.
struct OperatorProcess {
    child: Child,
    log: PathBuf,
    port: u16,
    audit_url: String,
}

impl OperatorProcess {
    async fn start(cp: &ControlPlane, dir: &Path) -> Result<Self> {
        let admin = cp.admin_client().await?;
        ensure_namespace(&admin, "akp-system").await?;
        let kubeconfig = dir.join("operator.kubeconfig");
        cp.write_kubeconfig_for(OPERATOR_USER, &["system:masters"], &kubeconfig)?;
        let client_ca = dir.join("webhook-client-ca.crt");
        std::fs::write(
            &client_ca,
            cp.webhook_client_ca_pem().context("a webhook client CA")?,
        )?;
        let port = free_port()?;
        let audit_url = format!("sqlite://{}", dir.join("audit.db").display());
        let log = dir.join("operator.log");
        let out = std::fs::File::create(&log)?;
        let child = setpriv_command(workspace_binary("akp-operator")?)
            .args([
                "--no-leader-election".to_owned(),
                "--namespace=akp-system".to_owned(),
                format!("--metrics-addr=127.0.0.1:{}", free_port()?),
                format!("--webhook-addr=127.0.0.1:{port}"),
                format!("--webhook-endpoint=https://127.0.0.1:{port}"),
                "--webhook-certs=self-managed".to_owned(),
                "--register-webhooks".to_owned(),
                format!("--webhook-client-ca={}", client_ca.display()),
                format!("--audit-db={audit_url}"),
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting akp-operator")?;
        Ok(Self {
            child,
            log,
            port,
            audit_url,
        })
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Fails with the log's tail if the process has exited.
    fn assert_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "akp-operator exited ({status}); its log:\n{}",
                tail(&self.log, 40)
            );
        }
        Ok(())
    }

    /// `VmRSS` and `VmHWM` (peak) of the process, KiB.
    fn memory_kib(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .with_context(|| format!("{name} in /proc/{}/status", self.child.id()))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A product that breaks no rule but R-LC-08 in a namespace no Agency owns.
fn product(name: &str, namespace: &str) -> Result<PlatformSoftwareProduct> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
            "developer": {"name": "NIT", "bin": "000740001307"},
            "class": 2, "informationCategory": "confidential", "scale": "republican",
            "capacity": {"concurrentUsers": 100}, "contour": "internal"
        }
    }))?)
}

/// The refusal of a product in `namespace`, which no Agency owns (R-LC-08), as the
/// webhook gives it (and the audit trail keeps it).
fn unowned_refusal(namespace: &str) -> String {
    format!(
        r#"metadata.namespace "{namespace}" belongs to no Agency (R-LC-08): create products in your agency's namespace (kubectl get agencies shows it)"#
    )
}

/// [`unowned_refusal`] as the API server returns it to the client.
fn as_returned(refusal: &str) -> String {
    format!(
        r#"admission webhook "platformsoftwareproducts.validate.akp.egov.kz" denied the request: {refusal}"#
    )
}

/// Alice creates `name` in `namespace` (a dry run if asked) with her field manager;
/// the API server's message.
async fn alice_creates(
    alice: &Client,
    namespace: &str,
    name: &str,
    dry_run: bool,
) -> Result<String> {
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(alice.clone(), namespace);
    let params = PostParams {
        dry_run,
        field_manager: Some(ALICE_MANAGER.into()),
    };
    Ok(
        match api.create(&params, &product(name, namespace)?).await {
            Ok(_) => "allowed".into(),
            Err(kube::Error::Api(e)) => e.message,
            Err(e) => format!("error: {e}"),
        },
    )
}

/// A PEM pair `(cert, key)` of the client certificate of `user` in `groups`, signed by
/// the cluster CA: a real user's credentials.
fn user_cert(
    cp: &ControlPlane,
    dir: &Path,
    user: &str,
    groups: &[&str],
) -> Result<(String, String)> {
    let path = dir.join("user.kubeconfig");
    cp.write_kubeconfig_for(user, groups, &path)?;
    let kubeconfig: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let user = &kubeconfig["users"][0]["user"];
    let decode = |key: &str| -> Result<String> {
        let b64 = user[key].as_str().with_context(|| key.to_owned())?;
        Ok(String::from_utf8(BASE64.decode(b64)?)?)
    };
    Ok((
        decode("client-certificate-data")?,
        decode("client-key-data")?,
    ))
}

/// A TLS client trusting `server_ca`, presenting `client` if given.
fn connector(
    server_ca: &str,
    client: Option<&(String, String)>,
) -> Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(server_ca.as_bytes()) {
        roots.add(cert?)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder.with_client_auth_cert(
            CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_slice(key.as_bytes())?,
        )?,
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A new TLS connection to the webhook server at `addr`, as `tls` presents itself.
async fn connect(
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
    tls.connect(name, tcp).await
}

/// Sends `request` over a new TLS connection and reads the answer: the status line,
/// or the error of the handshake or of the exchange (the server judges the client
/// certificate after the client finished, so in TLS 1.3 a refusal shows on reading).
async fn exchange(
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    request: &[u8],
) -> std::result::Result<String, String> {
    let mut stream = connect(addr, tls).await.map_err(|e| e.to_string())?;
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    match text.lines().next() {
        Some(line) if !line.is_empty() => Ok(line.to_owned()),
        _ => Err("closed without an answer".into()),
    }
}

/// A forged AdmissionReview: a CREATE of product `name` in `namespace` by
/// `system:masters`, as if the API server had sent it.
fn forged_review(name: &str, namespace: &str) -> Result<Vec<u8>> {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("forged-{name}"),
            "kind": {"group": "akp.egov.kz", "version": "v1alpha1", "kind": "PlatformSoftwareProduct"},
            "resource": {"group": "akp.egov.kz", "version": "v1alpha1", "resource": "platformsoftwareproducts"},
            "name": name, "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "forged-admin", "groups": ["system:masters"]},
            "object": serde_json::to_value(product(name, namespace)?)?,
            "oldObject": null, "dryRun": false
        }
    })
    .to_string();
    Ok(format!(
        "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes())
}

/// The admission decisions stored so far.
async fn decisions(audit_url: &str) -> Result<Vec<Entry>> {
    let store = Store::open(audit_url).await?;
    Ok(akp_audit::query(
        &store,
        None,
        &Filter {
            action: Some(ADMISSION_DECISION.into()),
            ..Filter::default()
        },
    )
    .await?)
}

/// Waits until a stored admission decision about `name` exists; returns it.
async fn decision_about(audit_url: &str, name: &str) -> Result<Entry> {
    eventually(
        &format!("the audit record of {name}"),
        Duration::from_secs(30),
        || async move {
            Ok(decisions(audit_url)
                .await?
                .into_iter()
                .find(|e| e.record.object.name == name))
        },
    )
    .await
}

/// R-PLC-01, R-SW-01, R-MON-02: only the API server's calls count, its admissions
/// name the real requester, and a flood from loopback neither stops admission nor
/// fills the audit trail nor takes the operator over its memory limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_plc_01_r_sw_01_r_mon_02_only_the_api_server_gets_in_and_a_flood_neither_stops_admission_nor_fills_the_audit_trail()
-> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin_client().await?;
    let dir = tempfile::tempdir()?;
    let mut operator = OperatorProcess::start(cp, dir.path()).await?;
    let unowned = TestNamespace::new(&admin, "door").await?;
    let ns = unowned.name().to_owned();
    unowned
        .grant(
            "products",
            "User",
            ALICE,
            vec![PolicyRule {
                api_groups: Some(vec!["akp.egov.kz".into()]),
                resources: Some(vec!["platformsoftwareproducts".into()]),
                verbs: vec!["create".into(), "get".into()],
                ..PolicyRule::default()
            }],
        )
        .await?;
    let alice = cp.client_for(ALICE, ALICE_GROUPS).await?;
    let recorded_refusal = unowned_refusal(&ns);
    let refusal = as_returned(&recorded_refusal);
    // Registered and called by the API server, through mutual TLS.
    eventually(
        "the operator's webhook enforced",
        Duration::from_secs(120),
        || {
            let (alice, ns, refusal) = (alice.clone(), ns.clone(), refusal.clone());
            async move {
                Ok((alice_creates(&alice, &ns, "probe", true).await? == refusal).then_some(()))
            }
        },
    )
    .await
    .with_context(|| tail(&operator.log, 40))?;
    let configuration = Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .get("akp-operator")
        .await?;
    let server_ca = configuration
        .webhooks
        .iter()
        .flatten()
        .find_map(|w| w.client_config.ca_bundle.clone())
        .context("a caBundle")?;
    let server_ca = String::from_utf8(server_ca.0)?;

    // (a) A forged review posted directly: no certificate, or a real user's certificate
    // of the cluster CA, is refused at the TLS handshake.
    let forged = forged_review("forged-door", &ns)?;
    let anonymous = exchange(operator.addr(), &connector(&server_ca, None)?, &forged).await;
    eprintln!("forged review without a client certificate: {anonymous:?}");
    ensure!(
        anonymous
            .as_ref()
            .is_err_and(|e| e.contains("CertificateRequired")),
        "a forged review without a client certificate got in: {anonymous:?}"
    );
    let alice_cert = user_cert(cp, dir.path(), ALICE, &["system:masters"])?;
    let as_user = exchange(
        operator.addr(),
        &connector(&server_ca, Some(&alice_cert))?,
        &forged,
    )
    .await;
    eprintln!("forged review with a cluster user's certificate: {as_user:?}");
    ensure!(
        as_user.as_ref().is_err_and(|e| e.contains("UnknownCA")),
        "a forged review with a user's client certificate got in: {as_user:?}"
    );

    // (b) Real admissions through the API server work as usual: Alice's product in a
    // namespace no Agency owns is refused and not stored; an Agency is admitted.
    let message = alice_creates(&alice, &ns, "door-stray", false).await?;
    ensure!(message == refusal, "{message}");
    ensure!(
        unowned
            .api::<PlatformSoftwareProduct>()
            .get_opt("door-stray")
            .await?
            .is_none(),
        "the refused product was stored"
    );
    // No separator in an Agency's name.
    let agency_name = format!("door{}", ns.rsplit('-').next().unwrap_or("x"));
    let agency: Agency = serde_json::from_value(json!({
        "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Agency",
        "metadata": {"name": agency_name},
        "spec": {
            "displayName": {"kk": "Тест", "ru": "Тест"},
            "bin": "040340004434",
            "namespace": format!("agency-{agency_name}"),
            "digitalizationHead": {"user": ALICE},
            "contracts": [{"id": "Д-2026/17", "signedOn": "2026-03-02"}]
        }
    }))?;
    Api::<Agency>::all(admin.clone())
        .create(&PostParams::default(), &agency)
        .await
        .context("the API server admits an Agency through the webhook")?;

    // (d) The record of Alice's refusal names Alice and her groups from userInfo, not
    // her field manager; the Agency's names the admin.
    let denied = decision_about(&operator.audit_url, "door-stray").await?;
    eprintln!("audit record: {:?}", denied.record);
    ensure!(denied.record.actor == ALICE, "{:?}", denied.record);
    ensure!(
        denied.record.decision == Decision::Denied,
        "{:?}",
        denied.record
    );
    ensure!(
        denied.record.reason == recorded_refusal,
        "{:?}",
        denied.record
    );
    let groups = &denied.record.details["groups"];
    ensure!(
        *groups == json!(["agency-mon", "system:authenticated"]),
        "{groups}"
    );
    ensure!(
        !serde_json::to_string(&denied.record)?.contains(ALICE_MANAGER),
        "{:?}",
        denied.record
    );
    let admitted = decision_about(&operator.audit_url, &agency_name).await?;
    ensure!(
        admitted.record.actor == "admin" && admitted.record.decision == Decision::Allowed,
        "{:?}",
        admitted.record
    );
    // The forged review, sent before both, left nothing (the sink writes in order).
    let forged_records: Vec<_> = decisions(&operator.audit_url)
        .await?
        .into_iter()
        .filter(|e| e.record.object.name == "forged-door" || e.record.actor == "forged-admin")
        .collect();
    ensure!(forged_records.is_empty(), "{forged_records:?}");

    // (c) The flood.
    let (rss_before, _) = operator.memory_kib()?;
    let records_before = decisions(&operator.audit_url).await?.len();
    let api_server_cert = cp.webhook_client_cert().context("the API server's cert")?;
    let report = flood(
        operator.addr(),
        &server_ca,
        &api_server_cert,
        &operator,
        || {
            let (alice, ns) = (alice.clone(), ns.clone());
            async move { alice_creates(&alice, &ns, "probe", true).await }
        },
        &refusal,
    )
    .await?;
    operator.assert_alive()?;
    let (rss_after, hwm) = operator.memory_kib()?;
    eprintln!(
        "flood: {report:#?}\nVmRSS before {rss_before} KiB, after {rss_after} KiB, peak sampled {} KiB, VmHWM {hwm} KiB (limit {MEMORY_LIMIT_KIB} KiB)",
        report.peak_rss_kib
    );
    ensure!(
        hwm < MEMORY_LIMIT_KIB,
        "the operator's peak memory {hwm} KiB is over the chart's limit"
    );
    ensure!(
        report.answered > 0 && report.failed_probes.is_empty(),
        "admissions through the API server failed during the flood: {:?}",
        report.failed_probes
    );
    ensure!(
        report.too_large > 0
            && report.timed_out > 0
            && report.refused_handshakes > 0
            && report.heavy > 0,
        "the flood did not meet the limits: {report:?}"
    );
    // After it, as before.
    for i in 0..5 {
        let started = Instant::now();
        let message = alice_creates(&alice, &ns, &format!("after-{i}"), true).await?;
        ensure!(message == refusal, "after the flood: {message}");
        eprintln!("admission after the flood: {:?}", started.elapsed());
    }
    // The audit trail holds the API server's decisions only: one per probe answered.
    let records = decisions(&operator.audit_url).await?;
    let added = records.len() - records_before;
    ensure!(
        records
            .iter()
            .all(|e| e.record.actor == ALICE || e.record.actor == "admin"),
        "records of other requesters: {:?}",
        records
            .iter()
            .filter(|e| e.record.actor != ALICE && e.record.actor != "admin")
            .take(3)
            .collect::<Vec<_>>()
    );
    ensure!(
        added as u64 <= report.answered + 5,
        "{added} records for {} answered probes",
        report.answered
    );
    ensure!(
        tail(&operator.log, 2000).lines().count() < 2000,
        "the flood filled the log"
    );
    Ok(())
}

/// What the flood met.
#[derive(Debug, Default)]
struct FloodReport {
    /// Probes through the API server answered with the expected refusal.
    answered: u64,
    /// Probes answered otherwise: (elapsed, message).
    failed_probes: Vec<(Duration, String)>,
    /// The slowest probe.
    slowest_probe: Duration,
    /// The mean probe time.
    mean_probe: Duration,
    /// Held TCP connections the server closed.
    closed_idle: u64,
    /// Handshakes without a client certificate refused.
    refused_handshakes: u64,
    /// Oversized bodies answered 413 (or cut off).
    too_large: u64,
    /// Slow bodies answered 408 (or cut off).
    timed_out: u64,
    /// Reviews of just under 4 MiB of tiny JSON values (the costliest to parse)
    /// answered 400.
    heavy: u64,
    /// The operator's largest VmRSS sampled, KiB.
    peak_rss_kib: u64,
}

/// Floods `addr` for [`FLOOD`] from loopback while `probe` (an admission through the
/// API server) runs every 250 ms, and samples the operator's memory:
/// - 400 TCP connections held without a ClientHello, reopened when closed (more than
///   the 128 pending handshakes the server allows);
/// - 16 clients handshaking without a client certificate, over and over;
/// - with the API server's own client certificate (the worst case: the limits, not
///   mutual TLS, must hold): 16 clients posting 50 MiB bodies, half declared by
///   Content-Length and half chunked, 16 trickling a 1 MiB body a byte at a time,
///   and 8 posting reviews of just under 4 MiB of `[0,0,…]`, the costliest JSON to
///   parse, cut short at the end so that they are never judged.
async fn flood<F, Fut>(
    addr: SocketAddr,
    server_ca: &str,
    api_server_cert: &(String, String),
    operator: &OperatorProcess,
    probe: F,
    refusal: &str,
) -> Result<FloodReport>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let deadline = Instant::now() + FLOOD;
    let anonymous = connector(server_ca, None)?;
    let trusted = connector(server_ca, Some(api_server_cert))?;
    let closed_idle = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let too_large = Arc::new(AtomicU64::new(0));
    let timed_out = Arc::new(AtomicU64::new(0));
    let heavy = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let closed = closed_idle.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let Ok(mut tcp) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut buf = [0u8; 64];
                let left = deadline.saturating_duration_since(Instant::now());
                if let Ok(Ok(_)) = tokio::time::timeout(left, tcp.read(&mut buf)).await {
                    closed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }
    // TLS without the API server's certificate: each handshake refused.
    attackers(
        &mut tasks,
        16,
        deadline,
        &refused,
        Duration::from_millis(50),
        move |_| {
            let tls = anonymous.clone();
            async move {
                exchange(addr, &tls, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .is_err()
            }
        },
    );
    let tls = trusted.clone();
    attackers(
        &mut tasks,
        16,
        deadline,
        &too_large,
        Duration::ZERO,
        move |i| {
            let tls = tls.clone();
            async move { oversized(addr, &tls, i % 2 == 0).await }
        },
    );
    let tls = trusted.clone();
    attackers(&mut tasks, 8, deadline, &heavy, Duration::ZERO, move |_| {
        let tls = tls.clone();
        async move { heavy_review(addr, &tls).await }
    });
    attackers(
        &mut tasks,
        16,
        deadline,
        &timed_out,
        Duration::ZERO,
        move |_| {
            let tls = trusted.clone();
            async move { slow_body(addr, &tls, deadline).await }
        },
    );
    let mut report = FloodReport::default();
    let mut total = Duration::ZERO;
    let mut probes = 0u32;
    // Let the flood build up before the first probe.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while Instant::now() < deadline {
        if let Ok((rss, _)) = operator.memory_kib() {
            report.peak_rss_kib = report.peak_rss_kib.max(rss);
        }
        let started = Instant::now();
        let message = probe().await?;
        let elapsed = started.elapsed();
        total += elapsed;
        probes += 1;
        report.slowest_probe = report.slowest_probe.max(elapsed);
        if message == refusal {
            report.answered += 1;
        } else {
            report.failed_probes.push((elapsed, message));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The tasks end by themselves at the deadline, give or take a read.
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    if let Ok((rss, _)) = operator.memory_kib() {
        report.peak_rss_kib = report.peak_rss_kib.max(rss);
    }
    report.mean_probe = total / probes.max(1);
    report.closed_idle = closed_idle.load(Ordering::Relaxed);
    report.refused_handshakes = refused.load(Ordering::Relaxed);
    report.too_large = too_large.load(Ordering::Relaxed);
    report.timed_out = timed_out.load(Ordering::Relaxed);
    report.heavy = heavy.load(Ordering::Relaxed);
    Ok(report)
}

/// Spawns `n` attackers; attacker `i` repeats `attack(i)` until `deadline`, pausing
/// `pause` after each attempt, and counts in `count` the attempts that end as the
/// attack expects (`true`).
fn attackers<F, Fut>(
    tasks: &mut tokio::task::JoinSet<()>,
    n: usize,
    deadline: Instant,
    count: &Arc<AtomicU64>,
    pause: Duration,
    attack: F,
) where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    for i in 0..n {
        let (count, attack) = (count.clone(), attack.clone());
        tasks.spawn(async move {
            while Instant::now() < deadline {
                if attack(i).await {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        });
    }
}

/// Posts a 50 MiB body (declared, or chunked) in 64 KiB writes; true when the server
/// answered 413 or cut the connection before it was all sent.
async fn oversized(addr: SocketAddr, tls: &tokio_rustls::TlsConnector, declared: bool) -> bool {
    const SIZE: usize = 50 * 1024 * 1024;
    let Ok(mut stream) = connect(addr, tls).await else {
        return false;
    };
    let head = if declared {
        format!("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\n\r\n")
    } else {
        "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < SIZE {
        let written = if declared {
            stream.write_all(&chunk).await
        } else {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        };
        if written.is_err() {
            // Cut off before 50 MiB were taken.
            return true;
        }
        sent += chunk.len();
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).starts_with("HTTP/1.1 413")
}

/// Posts a review of just under the 4 MiB limit whose object is `[0,0,…]`, cut short
/// at the end (so it parses as far as it can, then fails); true when answered 400.
async fn heavy_review(addr: SocketAddr, tls: &tokio_rustls::TlsConnector) -> bool {
    const SIZE: usize = 4 * 1024 * 1024 - 1024;
    let Ok(mut stream) = connect(addr, tls).await else {
        return false;
    };
    let mut body =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{"data":["#
            .to_vec();
    while body.len() < SIZE {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0");
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(&body).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).starts_with("HTTP/1.1 400")
}

/// Declares a 1 MiB body and trickles it a byte every 200 ms; true when the server
/// answered 408 or closed before the deadline.
async fn slow_body(addr: SocketAddr, tls: &tokio_rustls::TlsConnector, deadline: Instant) -> bool {
    let Ok(stream) = connect(addr, tls).await else {
        return false;
    };
    let (mut reader, mut writer) = tokio::io::split(stream);
    if writer
        .write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{")
        .await
        .is_err()
    {
        return false;
    }
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b" ").await.is_err() || writer.flush().await.is_err() {
                return;
            }
        }
    };
    let mut response = Vec::new();
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(6);
    tokio::select! {
        () = trickle => true,
        read = tokio::time::timeout(left, reader.read_to_end(&mut response)) => {
            read.is_ok() && (response.is_empty() || String::from_utf8_lossy(&response).starts_with("HTTP/1.1 408"))
        }
    }
}

/// R-MON-02: where the API server cannot be given a client certificate, the server
/// runs without mutual TLS; a forged review is then answered (the server cannot tell
/// it from the API server's) but leaves no audit record, while the same review from a
/// trusted in-process caller does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_mon_02_without_mutual_tls_a_forged_review_is_answered_but_not_recorded() -> Result<()> {
    let cp = control_plane()?;
    let admin = cp.admin_client().await?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let sink = Sink::start(&url, SinkOptions::default());
    let validators = Validators::with_lookup(
        Arc::new(ClusterLookup::new(admin.clone())),
        Clock::fixed("2026-10-01".parse()?),
    )
    .with_audit(sink.clone());
    let (cert, key) = cp.sign_serving_cert(&["localhost"], &[Ipv4Addr::LOCALHOST.into()])?;
    let server = WebhookServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = server.local_addr()?;
    let app = router(validators.clone());
    tokio::spawn(server.run(
        Arc::new(CertStore::from_pem(&cert, &key)?),
        app,
        std::future::pending::<()>(),
    ));
    let ns = TestNamespace::new(&admin, "door-plain").await?;
    let forged = forged_review("forged-plain", ns.name())?;
    let answer = exchange(addr, &connector(cp.ca_cert_pem(), None)?, &forged).await;
    ensure!(answer.as_deref() == Ok("HTTP/1.1 200 OK"), "{answer:?}");

    // A trusted caller's review of another object, after it: once that is stored, the
    // forged one would be too (the sink writes in order).
    let mut trusted: Value = serde_json::from_slice(
        forged_review("trusted-plain", ns.name())?
            .split(|b| *b == b'\n')
            .next_back()
            .context("a body")?,
    )?;
    trusted["request"]["userInfo"] = json!({"username": ALICE, "groups": ALICE_GROUPS});
    let review: kube::core::admission::AdmissionReview<kube::core::DynamicObject> =
        serde_json::from_value(trusted)?;
    let request: kube::core::admission::AdmissionRequest<kube::core::DynamicObject> =
        review.try_into()?;
    validators.review(&request).await;
    let stored = decision_about(&url, "trusted-plain").await?;
    ensure!(stored.record.actor == ALICE, "{:?}", stored.record);
    let all = decisions(&url).await?;
    ensure!(
        all.iter()
            .all(|e| e.record.object.name != "forged-plain" && e.record.actor != "forged-admin"),
        "the forged review was recorded: {all:?}"
    );
    ensure!(all.len() == 1, "{all:?}");
    Ok(())
}
