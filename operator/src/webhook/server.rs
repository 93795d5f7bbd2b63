//! The HTTPS admission server: `/validate` and `/mutate` (AdmissionReview v1) and
//! `/healthz`.
//!
//! [`router`] serves `/validate` and `/healthz`, [`mutating_router`] the Pod placement
//! `/mutate`; [`routes`] is both. TLS is rustls with the certificate from a
//! [`CertStore`], looked up at each handshake, so rotation needs no restart.
//!
//! Not an open door (R-PLC-01, R-SW-01, R-MON-02):
//! - with a [`ClientCa`] ([`WebhookServer::with_client_ca`]) a caller must present a
//!   client certificate that CA signed, or the TLS handshake fails: only the API
//!   server, which presents one through its admission configuration, gets a request
//!   to the handlers. Without one, reviews are answered (the API server needs the
//!   answer) but never recorded in the audit trail: anyone who reaches the port could
//!   have forged them.
//! - [`Limits`] bound what any caller can make the server hold: pending handshakes,
//!   connections, bytes and seconds per request, requests judged at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, extract::DefaultBodyLimit};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::admission::Validators;
use super::mutate::PodPlacement;
use super::tls::{CertStore, ClientCa, TlsError};

/// Path of the validating webhook.
pub const VALIDATE_PATH: &str = "/validate";
/// Path of the mutating webhook (Pod placement).
pub const MUTATE_PATH: &str = "/mutate";
/// Path of the liveness probe.
pub const HEALTHZ_PATH: &str = "/healthz";

/// How long open connections get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What callers can make the server hold: 64 MiB of bodies, 8 MiB of reviews being
/// parsed, 256 connections of 64 KiB buffers, so that even a caller past mutual TLS
/// keeps the operator within the chart's 512 MiB limit (measured in
/// tests/tests/attacks_webhook.rs; docs/operations.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body. etcd stores objects of at most 1.5 MiB
    /// (`--max-request-bytes`), an UPDATE's review carries the object and the old
    /// one: 3 MiB, plus 1 MiB for the envelope and JSON escaping. Larger is refused
    /// with 413, from the Content-Length before anything is read.
    pub max_body_bytes: usize,
    /// Bytes of request bodies held at once, over all connections; a request waits
    /// (at most [`Limits::body_read_timeout`]) for its share, the declared length or
    /// [`Limits::max_body_bytes`] when chunked.
    pub max_buffered_bytes: usize,
    /// A client that has not finished the TLS handshake in this time is dropped.
    pub handshake_timeout: Duration,
    /// A connection of anyone but the API server that has not sent a request's
    /// headers in this time (idle keep-alive included) is closed.
    pub header_read_timeout: Duration,
    /// The same for the API server's connections (authenticated by mutual TLS): it
    /// keeps them open for reuse (Go's idle timeout is 90 s), so that a flood of
    /// handshakes does not make it reconnect.
    pub api_server_idle_timeout: Duration,
    /// A request whose body has not arrived in this time is refused (408). The API
    /// server sends at once; only a slow-body (slowloris) client takes longer.
    pub body_read_timeout: Duration,
    /// TLS handshakes in progress at most; a connection beyond is closed at accept.
    /// Without a client certificate a flood never gets further than this stage, so it
    /// cannot take the connections of the API server.
    pub max_handshakes: usize,
    /// Established connections at most; one beyond is closed after its handshake.
    pub max_connections: usize,
    /// Bytes of reviews parsed and judged at once; more wait. Bounds the memory of
    /// parsing, which is many times the text for small JSON values (`[0,0,…]` takes
    /// 16 bytes of `Value` per 2 of text): two reviews of the largest size at once,
    /// or hundreds of ordinary ones (a Pod's review is ~10 KiB).
    pub max_judged_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_buffered_bytes: 64 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(5),
            api_server_idle_timeout: Duration::from_secs(90),
            body_read_timeout: Duration::from_secs(5),
            max_handshakes: 128,
            max_connections: 256,
            max_judged_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Largest buffer hyper keeps per connection (request head and body chunks).
const MAX_BUF_BYTES: usize = 64 * 1024;

/// Who sent a request, as the connection's TLS established it; the handlers record
/// only requests of an [`Caller::ApiServer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Presented a client certificate the configured [`ClientCa`] signed.
    ApiServer {
        /// The certificate's subject, for the logs.
        subject: String,
    },
    /// No client certificate required (no [`ClientCa`] configured): anyone.
    Unauthenticated,
}

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
        // The server has read the body under its own limit already; this one is for
        // the router used alone (tests).
        .layer(DefaultBodyLimit::max(Limits::default().max_body_bytes))
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
        .layer(DefaultBodyLimit::max(Limits::default().max_body_bytes))
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

/// Whether a request's decision goes to the audit trail. A request that did not come
/// through [`WebhookServer`] (the router called in-process, tests) has no [`Caller`]
/// and is trusted as the caller's own.
pub(super) fn recorded(caller: Option<&Caller>) -> bool {
    !matches!(caller, Some(Caller::Unauthenticated))
}

/// What answers AdmissionReviews: the validators ([`Validators`]) and the Pod placement
/// ([`PodPlacement`]).
pub trait Reviewer: Send + Sync {
    /// Judges `request`; `recorded` says whether the decision goes to the audit trail.
    fn judge(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        recorded: bool,
    ) -> impl Future<Output = AdmissionResponse> + Send;

    /// Judges one request and logs the decision on [`super::AUDIT_TARGET`] (and the
    /// audit sink): for requests known to come from the API server.
    fn review(
        &self,
        request: &AdmissionRequest<DynamicObject>,
    ) -> impl Future<Output = AdmissionResponse> + Send {
        self.judge(request, true)
    }

    /// Judges one request that no one authenticated (the server requires no client
    /// certificate): it is answered, but kept out of the audit trail (R-MON-02), since
    /// anyone who reaches the port could have forged it, `userInfo` included. Logged
    /// at debug on another target.
    fn review_unrecorded(
        &self,
        request: &AdmissionRequest<DynamicObject>,
    ) -> impl Future<Output = AdmissionResponse> + Send {
        self.judge(request, false)
    }
}

/// Answers the AdmissionReview in `body` with `reviewer`, recorded unless the caller
/// was not authenticated ([`recorded`]).
pub(super) async fn review_body(
    reviewer: &impl Reviewer,
    caller: Option<Extension<Caller>>,
    body: &[u8],
) -> Response {
    let recorded = recorded(caller.as_ref().map(|Extension(c)| c));
    answer(body, |request| async move {
        reviewer.judge(&request, recorded).await
    })
    .await
}

async fn validate(
    State(validators): State<Arc<Validators>>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Response {
    review_body(validators.as_ref(), caller, &body).await
}

async fn mutate(
    State(placement): State<Arc<PodPlacement>>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Response {
    review_body(placement.as_ref(), caller, &body).await
}

/// A bound, not yet serving, admission server. Binding first lets the caller learn
/// the port (e.g. after binding port 0) before registering the webhook.
#[derive(Debug)]
pub struct WebhookServer {
    listener: TcpListener,
    client_ca: Option<Arc<ClientCa>>,
    limits: Limits,
}

/// The shared state of one server's connections.
#[derive(Clone)]
struct Gates {
    acceptor: TlsAcceptor,
    app: Router,
    limits: Arc<Limits>,
    mutual: bool,
    connections: Arc<Semaphore>,
    buffered: Arc<Semaphore>,
    judged: Arc<Semaphore>,
    stopped: watch::Receiver<bool>,
}

impl WebhookServer {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self {
            listener,
            client_ca: None,
            limits: Limits::default(),
        })
    }

    /// Requires every caller to present a client certificate signed by `ca` (mutual
    /// TLS): the API server's, given to it by its admission configuration.
    #[must_use]
    pub fn with_client_ca(mut self, ca: Arc<ClientCa>) -> Self {
        self.client_ca = Some(ca);
        self
    }

    /// Other [`Limits`] than the defaults.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
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
        let mutual = self.client_ca.is_some();
        let acceptor = TlsAcceptor::from(tls.server_config(self.client_ca)?);
        let limits = self.limits;
        let (stop, stopped) = watch::channel(false);
        let handshakes = Arc::new(Semaphore::new(limits.max_handshakes));
        let gates = Gates {
            acceptor,
            app,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            buffered: Arc::new(Semaphore::new(limits.max_buffered_bytes)),
            judged: Arc::new(Semaphore::new(limits.max_judged_bytes)),
            limits: Arc::new(limits),
            mutual,
            stopped,
        };
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        if !mutual {
            tracing::warn!(
                "the admission webhook requires no client certificate: anyone who reaches \
                 it can send reviews, which are answered but not recorded in the audit \
                 trail; give the API server a client certificate (--webhook-client-ca, \
                 docs/operations.md)"
            );
        }
        tracing::info!(addr = ?self.listener.local_addr().ok(), mutual, "admission webhook serving");
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, peer)) => match handshakes.clone().try_acquire_owned() {
                        Ok(handshake) => {
                            connections.spawn(connection(tcp, peer, handshake, gates.clone()));
                        }
                        // Closing at once costs nothing; the API server retries a reset.
                        Err(_) => tracing::debug!(%peer, "too many TLS handshakes in progress; closed"),
                    },
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

/// The common name of a DER certificate's subject, or the whole subject.
fn subject(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map_or_else(|| cert.subject().to_string(), str::to_owned),
        Err(_) => String::new(),
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    handshake: OwnedSemaphorePermit,
    gates: Gates,
) {
    // Small request/response exchanges: send each response at once instead of letting
    // Nagle's algorithm wait for the peer's (possibly delayed) ACK.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, "setting TCP_NODELAY failed: {e}");
    }
    let limits = gates.limits.clone();
    let accepted = tokio::time::timeout(limits.handshake_timeout, gates.acceptor.accept(tcp)).await;
    drop(handshake);
    let stream = match accepted {
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
    let Ok(_slot) = gates.connections.clone().try_acquire_owned() else {
        tracing::debug!(%peer, "too many connections; closed after the handshake");
        return;
    };
    let caller = match stream.get_ref().1.peer_certificates() {
        // rustls verified it against the client CA during the handshake.
        Some([leaf, ..]) if gates.mutual => Caller::ApiServer {
            subject: subject(leaf.as_ref()),
        },
        _ => Caller::Unauthenticated,
    };
    let header_read_timeout = match caller {
        Caller::ApiServer { .. } => limits.api_server_idle_timeout,
        Caller::Unauthenticated => limits.header_read_timeout,
    };
    let service = tower::service_fn({
        let gates = gates.clone();
        move |request: Request<hyper::body::Incoming>| {
            let gates = gates.clone();
            let caller = caller.clone();
            async move { Ok::<_, std::convert::Infallible>(bounded(request, caller, &gates).await) }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_BUF_BYTES);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut stopped = gates.stopped.clone();
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

/// Reads the body within the size and time limits, then hands the request, tagged
/// with its [`Caller`], to the router once a judging slot is free.
async fn bounded(
    request: Request<hyper::body::Incoming>,
    caller: Caller,
    gates: &Gates,
) -> Response {
    let limits = &gates.limits;
    let (mut parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes, more than any AdmissionReview",
                limits.max_body_bytes
            ),
        )
            .into_response()
    };
    let share = match declared {
        Some(n) if n > limits.max_body_bytes as u64 => return too_large(),
        Some(n) => n as usize,
        None => limits.max_body_bytes,
    };
    let read = async {
        // Fits u32: at most max_body_bytes.
        let permit = gates
            .buffered
            .clone()
            .acquire_many_owned(u32::try_from(share).unwrap_or(u32::MAX))
            .await;
        let bytes = axum::body::to_bytes(Body::new(body), limits.max_body_bytes).await;
        (permit, bytes)
    };
    let (_buffered, bytes) = match tokio::time::timeout(limits.body_read_timeout, read).await {
        Ok((Ok(permit), Ok(bytes))) => (permit, bytes),
        Ok((Err(_), _)) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        // Over the limit (chunked), or the connection broke while reading.
        Ok((_, Err(_))) => return too_large(),
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {:?}",
                    limits.body_read_timeout
                ),
            )
                .into_response();
        }
    };
    let weight = u32::try_from(bytes.len().max(1)).unwrap_or(u32::MAX);
    let Ok(_judging) = gates.judged.clone().acquire_many_owned(weight).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    parts.extensions.insert(caller);
    let request = Request::from_parts(parts, Body::from(bytes));
    match gates.app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
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
        let product = akp_rules::examples::product_json("foo");
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
        let mut old = akp_rules::examples::product_json("foo");
        old["metadata"]["finalizers"] = json!(["akp.egov.kz/environments"]);
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
        let object = akp_rules::examples::product_json("foo");
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

    /// A CA named `ca_name` for client certificates and one client certificate it
    /// signed (CN `kube-apiserver`), PEM: `(ca, cert, key)`.
    fn client_pki(ca_name: &str) -> (String, String, String) {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair,
        };
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).expect("client cert");
        (ca.pem(), cert.pem(), key.serialize_pem())
    }

    /// Sends `request` over TLS (trusting `ca_pem`, presenting `client` if given);
    /// the status line, or the error of the handshake or the exchange.
    async fn exchange(
        addr: SocketAddr,
        ca_pem: &str,
        client: Option<(&str, &str)>,
        request: &[u8],
    ) -> Result<String, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("ca pem")).expect("root");
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .expect("cert"),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
                )
                .expect("client auth"),
            None => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        // TLS 1.3: the server judges the client certificate after the client finished,
        // so a refusal shows on the first read.
        tls.write_all(request).await.map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&response);
        match text.lines().next() {
            Some(line) if !line.is_empty() => Ok(line.to_owned()),
            _ => Err("closed without a response".into()),
        }
    }

    const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    /// R-PLC-01, R-SW-01, R-MON-02: with a client CA only its certificates get in;
    /// without a certificate, or with one of another CA, the handshake fails.
    #[tokio::test]
    async fn with_a_client_ca_only_its_certificates_get_a_request_in() {
        let (ca, [(cert, key), _]) = pki();
        let (client_ca, client_cert, client_key) = client_pki("webhook-client-ca");
        // E.g. the cluster CA, which signs users' certificates.
        let (_, other_cert, other_key) = client_pki("another-ca");
        let store = Arc::new(CertStore::from_pem(&cert, &key).expect("store"));
        let server = WebhookServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind")
            .with_client_ca(Arc::new(ClientCa::from_pem(&client_ca).expect("ca")));
        let addr = server.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(store, app(), async {
            let _ = stopped.await;
        }));

        let refused = exchange(addr, &ca, None, HEALTHZ).await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("CertificateRequired")),
            "{refused:?}"
        );
        let refused = exchange(addr, &ca, Some((&other_cert, &other_key)), HEALTHZ).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("UnknownCA")),
            "{refused:?}"
        );
        let served = exchange(addr, &ca, Some((&client_cert, &client_key)), HEALTHZ).await;
        assert_eq!(served.as_deref(), Ok("HTTP/1.1 200 OK"));

        let _ = stop.send(());
        running.await.expect("join").expect("served");
    }

    /// R-SW-01: a body over the limit is refused from its Content-Length, and a
    /// chunked one once the limit is read; a body that does not arrive in time, 408.
    #[tokio::test]
    async fn bodies_are_bounded_in_size_and_time() {
        let (ca, [(cert, key), _]) = pki();
        let store = Arc::new(CertStore::from_pem(&cert, &key).expect("store"));
        let limits = Limits {
            max_body_bytes: 1024,
            body_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let server = WebhookServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind")
            .with_limits(limits);
        let addr = server.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(store, app(), async {
            let _ = stopped.await;
        }));

        let declared = b"POST /validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 52428800\r\n\r\n";
        let status = exchange(addr, &ca, None, declared).await;
        assert_eq!(status.as_deref(), Ok("HTTP/1.1 413 Payload Too Large"));

        let mut chunked = b"POST /validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        chunked.extend(format!("800\r\n{}\r\n", "a".repeat(0x800)).as_bytes());
        chunked.extend(b"0\r\n\r\n");
        let status = exchange(addr, &ca, None, &chunked).await;
        assert_eq!(status.as_deref(), Ok("HTTP/1.1 413 Payload Too Large"));

        // Declares 100 bytes, sends 10 and waits.
        let slow = b"POST /validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{\"a\":12345";
        let status = exchange(addr, &ca, None, slow).await;
        assert_eq!(status.as_deref(), Ok("HTTP/1.1 408 Request Timeout"));

        let _ = stop.send(());
        running.await.expect("join").expect("served");
    }
}
