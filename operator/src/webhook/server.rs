//! The HTTPS admission server: `/validate` and `/mutate` (AdmissionReview v1) and
//! `/healthz`.
//!
//! [`router`] serves `/validate` and `/healthz`, [`mutating_router`] the Pod placement
//! `/mutate`; [`routes`] is both. TLS is rustls with the certificate from a
//! [`CertStore`], looked up at each handshake, so rotation needs no restart.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::admission::Validators;
use super::mutate::PodPlacement;
use super::tls::{CertStore, TlsError};

/// Path of the validating webhook.
pub const VALIDATE_PATH: &str = "/validate";
/// Path of the mutating webhook (Pod placement).
pub const MUTATE_PATH: &str = "/mutate";
/// Path of the liveness probe.
pub const HEALTHZ_PATH: &str = "/healthz";

/// An AdmissionReview holds the object and the old one, each up to etcd's 1.5 MiB.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A client that does not finish the TLS handshake or send its headers in this time is
/// dropped, so it cannot hold a connection slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("binding {addr} failed: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no address (should not happen).
    #[error("reading the bound address failed: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The routes: `/validate` and `/healthz`. Merge another router (e.g. `/mutate`)
/// into it to serve more.
pub fn router(validators: Validators) -> Router {
    Router::new()
        .route(VALIDATE_PATH, post(validate))
        .route(HEALTHZ_PATH, get(healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(validators))
}

async fn healthz() -> &'static str {
    "ok"
}

/// The routes `/mutate` (Pod placement) and `/healthz`; merge into [`router`], or use
/// [`routes`].
pub fn mutating_router(placement: PodPlacement) -> Router {
    Router::new()
        .route(MUTATE_PATH, post(mutate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(placement))
}

/// Every route: `/validate`, `/mutate` and `/healthz`.
pub fn routes(validators: Validators, placement: PodPlacement) -> Router {
    router(validators).merge(mutating_router(placement))
}

/// Reads the AdmissionReview in `body` and answers it with `judge`; a body that is no
/// AdmissionReview is a bad request.
async fn answer<F: Future<Output = AdmissionResponse>>(
    body: &[u8],
    judge: impl FnOnce(AdmissionRequest<DynamicObject>) -> F,
) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
        Ok(review) => review,
        Err(e) => {
            tracing::warn!("unreadable AdmissionReview: {e}");
            return (
                StatusCode::BAD_REQUEST,
                format!("not an AdmissionReview: {e}"),
            )
                .into_response();
        }
    };
    let response = match TryInto::<AdmissionRequest<DynamicObject>>::try_into(review) {
        Ok(request) => judge(request).await,
        Err(_) => AdmissionResponse::invalid("the AdmissionReview has no request"),
    };
    axum::Json(response.into_review()).into_response()
}

async fn validate(State(validators): State<Arc<Validators>>, body: Bytes) -> Response {
    answer(
        &body,
        |request| async move { validators.review(&request).await },
    )
    .await
}

async fn mutate(State(placement): State<Arc<PodPlacement>>, body: Bytes) -> Response {
    answer(
        &body,
        |request| async move { placement.review(&request).await },
    )
    .await
}

/// A bound, not yet serving, admission server. Binding first lets the caller learn
/// the port (e.g. after binding port 0) before registering the webhook.
#[derive(Debug)]
pub struct WebhookServer {
    listener: TcpListener,
}

impl WebhookServer {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self { listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::LocalAddr)
    }

    /// Serves `app` over TLS with the certificate of `tls` until `shutdown`
    /// completes, then lets open connections finish (up to 10 s).
    pub async fn run(
        self,
        tls: Arc<CertStore>,
        app: Router,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let acceptor = TlsAcceptor::from(tls.server_config()?);
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        tracing::info!(addr = ?self.listener.local_addr().ok(), "admission webhook serving");
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        connections.spawn(connection(tcp, peer, acceptor.clone(), app.clone(), stopped.clone()));
                    }
                    Err(e) => {
                        // E.g. out of file descriptors: wait instead of spinning.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
            while connections.try_join_next().is_some() {}
        }
        drop(self.listener);
        let _ = stop.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, async {
            while connections.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
            connections.shutdown().await;
        }
        tracing::info!("admission webhook stopped");
        Ok(())
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) {
    // Small request/response exchanges: send each response at once instead of letting
    // Nagle's algorithm wait for the peer's (possibly delayed) ACK.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, "setting TCP_NODELAY failed: {e}");
    }
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = async {
            // Drop the watch guard here: it is not Send.
            let _ = stopped.wait_for(|stop| *stop).await;
        } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e}");
    }
}

/// Binds `addr` and serves `/validate` and `/healthz` with `validators` until
/// `shutdown` completes (for `/mutate` too, run [`WebhookServer::run`] with
/// [`routes`]). To learn the port when binding port 0, use
/// [`WebhookServer::bind`], [`WebhookServer::local_addr`] and [`WebhookServer::run`].
pub async fn serve(
    addr: SocketAddr,
    tls: Arc<CertStore>,
    validators: Validators,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    WebhookServer::bind(addr)
        .await?
        .run(tls, router(validators), shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::admission::{AUDIT_TARGET, Clock};
    use crate::webhook::lookup::{Freshness, Lookup, LookupError};
    use akp_crds::{Agency, SoftwareCatalogItem};
    use axum::body::Body;
    use axum::http::Request;
    use futures::FutureExt;
    use futures::future::BoxFuture;
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::ServiceExt;

    /// No agencies, no catalog.
    struct Empty;

    impl Lookup for Empty {
        fn agencies(&self, _: Freshness) -> BoxFuture<'_, Result<Vec<Agency>, LookupError>> {
            async { Ok(Vec::new()) }.boxed()
        }
        fn catalog_items<'a>(
            &'a self,
            _: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<SoftwareCatalogItem>, LookupError>> {
            async { Ok(Vec::new()) }.boxed()
        }
    }

    fn app() -> Router {
        router(Validators::with_lookup(
            Arc::new(Empty),
            Clock::fixed(jiff::civil::date(2026, 10, 1)),
        ))
    }

    fn review(kind: Value, object: Value) -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": kind,
                "resource": {"group": "akp.egov.kz", "version": "v1alpha1", "resource": "platformsoftwareproducts"},
                "name": "e-license", "namespace": "foo", "operation": "CREATE",
                "userInfo": {"username": "alice@mon.gov.kz", "groups": ["agency-mon"]},
                "object": object, "oldObject": null, "dryRun": false
            }
        })
    }

    async fn post(app: Router, body: String) -> (StatusCode, Value) {
        let response = app
            .oneshot(
                Request::post(VALIDATE_PATH)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn a_product_is_judged_and_the_uid_echoed() {
        let product = json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "e-license", "namespace": "foo"},
            "spec": {
                "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
                "developer": {"name": "NIT", "bin": "000740001307"},
                "class": 2, "informationCategory": "confidential", "scale": "republican",
                "capacity": {"concurrentUsers": 100}, "contour": "internal"
            }
        });
        let kind = json!({"group": "akp.egov.kz", "version": "v1alpha1", "kind": "PlatformSoftwareProduct"});
        let (status, body) = post(app(), review(kind, product).to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        let response = &body["response"];
        assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(response["allowed"], false);
        assert_eq!(response["status"]["code"], 403);
        assert_eq!(
            response["status"]["message"],
            r#"metadata.namespace "foo" belongs to no Agency (R-LC-08): create products in your agency's namespace (kubectl get agencies shows it)"#
        );
    }

    #[tokio::test]
    async fn an_update_that_leaves_the_spec_alone_is_allowed_even_outside_the_rules() {
        // E.g. the operator removing its finalizer after the Agency was deleted.
        let kind = json!({"group": "akp.egov.kz", "version": "v1alpha1", "kind": "PlatformSoftwareProduct"});
        let old = json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "e-license", "namespace": "foo", "finalizers": ["akp.egov.kz/environments"]},
            "spec": {
                "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
                "developer": {"name": "NIT", "bin": "000740001307"},
                "class": 2, "informationCategory": "confidential", "scale": "republican",
                "capacity": {"concurrentUsers": 100}, "contour": "internal"
            }
        });
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!([]);
        let mut body = review(kind.clone(), new.clone());
        body["request"]["operation"] = "UPDATE".into();
        body["request"]["oldObject"] = old.clone();
        let (_, answer) = post(app(), body.to_string()).await;
        assert_eq!(answer["response"]["allowed"], true, "{answer}");

        // A change of the spec is judged.
        new["spec"]["displayName"] = "renamed".into();
        let mut body = review(kind, new);
        body["request"]["operation"] = "UPDATE".into();
        body["request"]["oldObject"] = old;
        let (_, answer) = post(app(), body.to_string()).await;
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
    }

    #[tokio::test]
    async fn unknown_kinds_are_allowed_and_garbage_is_a_bad_request() {
        let kind = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let (status, body) = post(app(), review(kind, object).to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["response"]["allowed"], true);

        let (status, _) = post(app(), "{not json".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn an_unreadable_product_is_refused_not_allowed() {
        let kind = json!({"group": "akp.egov.kz", "version": "v1alpha1", "kind": "PlatformSoftwareProduct"});
        let object = json!({"apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "x"}, "spec": {"class": "one"}});
        let (_, body) = post(app(), review(kind, object).to_string()).await;
        assert_eq!(body["response"]["allowed"], false);
        assert_eq!(body["response"]["status"]["code"], 500);
    }

    /// Collects what a tracing subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn r_mon_02_every_decision_is_audited_with_who_what_and_why() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let kind = json!({"group": "akp.egov.kz", "version": "v1alpha1", "kind": "PlatformSoftwareProduct"});
        let object = json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "e-license", "namespace": "foo"},
            "spec": {
                "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
                "developer": {"name": "NIT", "bin": "000740001307"},
                "class": 2, "informationCategory": "confidential", "scale": "republican",
                "capacity": {"concurrentUsers": 100}, "contour": "internal"
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let body = review(kind, object).to_string();
        let audited = || {
            captured
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .windows(AUDIT_TARGET.len())
                .any(|w| w == AUDIT_TARGET.as_bytes())
        };
        // tracing-core caches each callsite's interest when it is first registered;
        // if another test thread registers the audit callsite concurrently, it may
        // store a stale "never" after this subscriber was added. Registration happens
        // once, so recomputing the cache and asking again settles it.
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..20 {
                tracing::callsite::rebuild_interest_cache();
                runtime.block_on(post(app(), body.clone()));
                if audited() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        let output = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
        let records: Vec<Value> = output
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|r: &Value| r["target"] == AUDIT_TARGET)
            .collect();
        let [record] = records.as_slice() else {
            panic!("one audit record expected in {output}");
        };
        let fields = &record["fields"];
        assert_eq!(record["level"], "INFO");
        assert_eq!(fields["message"], "admission decision");
        assert_eq!(fields["user"], "alice@mon.gov.kz");
        assert_eq!(fields["operation"], "Create");
        assert_eq!(fields["kind"], "PlatformSoftwareProduct");
        assert_eq!(fields["namespace"], "foo");
        assert_eq!(fields["name"], "e-license");
        assert_eq!(fields["allowed"], false);
        assert!(
            fields["reasons"]
                .as_str()
                .is_some_and(|r| r.contains("(R-LC-08)")),
            "{fields}"
        );
    }

    #[tokio::test]
    async fn healthz_answers() {
        let response = app()
            .oneshot(
                Request::get(HEALTHZ_PATH)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A CA and two serving certificates for 127.0.0.1 it signed.
    fn pki() -> (String, [(String, String); 2]) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = || {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
                .expect("params")
                .signed_by(&key, &issuer)
                .expect("leaf");
            (cert.pem(), key.serialize_pem())
        };
        (ca.pem(), [leaf(), leaf()])
    }

    /// GET /healthz over TLS; returns the status line and the served leaf's DER.
    async fn get_healthz(addr: SocketAddr, ca_pem: &str) -> (String, Vec<u8>) {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("ca pem")).expect("root");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        let leaf = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref().to_vec())
            .expect("peer certificate");
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        tls.read_to_string(&mut response).await.expect("read");
        let status = response.lines().next().unwrap_or_default().to_owned();
        (status, leaf)
    }

    #[tokio::test]
    async fn serves_tls_1_2_and_swaps_the_certificate_without_a_restart() {
        let (ca, [(cert_a, key_a), (cert_b, key_b)]) = pki();
        let store = Arc::new(CertStore::from_pem(&cert_a, &key_a).expect("store"));
        let server = WebhookServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(store.clone(), app(), async {
            let _ = stopped.await;
        }));

        let (status, leaf) = get_healthz(addr, &ca).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        let served_a = store.leaf_der();
        assert_eq!(leaf, served_a);

        store.replace(&cert_b, &key_b).expect("replace");
        let (status, leaf) = get_healthz(addr, &ca).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_ne!(leaf, served_a);
        assert_eq!(leaf, store.leaf_der());

        let _ = stop.send(());
        running.await.expect("join").expect("served");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
