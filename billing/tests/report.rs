//! Report formats, integrity, delivery and estimates (R-BIL-02, R-BIL-03, R-BIL-04).
//! No cluster: the delivery tests run a local HTTPS receiver on 127.0.0.1.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use akp_billing::report::delivery::{
    AttemptOutcome, Deliverer, DeliveryBody, DeliveryConfig, DeliveryRecord, IDEMPOTENCY_HEADER,
};
use akp_billing::report::html::to_html;
use akp_billing::report::sign::{self, MANIFEST, VerifyError};
use akp_billing::report::{self, ReportDocument, ReportMeta};
use akp_crds::PlatformSoftwareProductSpec;
use akp_rules::billing::estimate::estimate;
use akp_rules::billing::period::{Calendar, Hour};
use akp_rules::billing::rating::TariffBook;
use akp_rules::billing::report::words::Lang;
use akp_rules::billing::rows::LedgerRow;

mod common;
use common::{example_tariffs as tariffs, row};

const SEED: [u8; 32] = [7; 32];

/// A small December 2026 with two agencies, at the example tariffs.
fn december(name: &str, corrects: Option<&str>) -> ReportDocument {
    let contracts = BTreeMap::from([("mon".to_string(), "2026-11-01".parse().expect("date"))]);
    let start = Hour::starting_at(1_796_065_200).expect("2026-11-30T19:00Z");
    let mut rows = Vec::new();
    // The agency name needs escaping in every format.
    let mf = ("mf <&> \"q\"", "tax", "production");
    let mut hourly = common::mon_hour(1_000_000);
    hourly.push((
        mf,
        "software.instances/postgresql-16",
        "instance_hour",
        1_000_000,
    ));
    for i in 0..48 {
        let h = start.plus(i * 7);
        for &(ns, resource, unit, quantity) in &hourly {
            rows.push(row(ns, resource, unit, h, quantity));
        }
    }
    let (rated, book) = common::rate(&tariffs(), &contracts, &rows, &[]);
    let meta = ReportMeta {
        corrects: corrects.map(str::to_string),
        ..common::meta(
            name,
            "2026-12",
            ("2026-11-30T19:00:00Z", "2026-12-31T19:00:00Z"),
            "2027-01-04T03:00:00Z",
            "0.999000",
        )
    };
    report::build(&meta, &rated, &book)
}

fn schema_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/billing-report.schema.json"
    ))
}

#[test]
fn r_bil_02_published_json_schema_is_current_and_validates_a_report() {
    let generated = report::json_schema().expect("schema");
    if std::env::var_os("AKP_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(schema_path().parent().expect("dir")).expect("mkdir");
        std::fs::write(schema_path(), &generated).expect("write schema");
    }
    let published =
        std::fs::read_to_string(schema_path()).expect("billing/schema/billing-report.schema.json");
    assert_eq!(
        published, generated,
        "schema drifted: run with AKP_UPDATE_SCHEMA=1"
    );
    let schema: serde_json::Value = serde_json::from_str(&published).expect("json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let doc = december("2026-12", None);
    let json: serde_json::Value =
        serde_json::from_slice(&report::to_json(&doc).expect("json")).expect("parse");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // And it refuses a broken one.
    let mut broken = json.clone();
    broken["period"] = serde_json::Value::String("December".into());
    assert!(!validator.is_valid(&broken));
    // Money is a decimal string with exactly 2 decimals, never a float.
    let mut float = json.clone();
    float["totals"]["billed"] = serde_json::json!(1536.0);
    assert!(!validator.is_valid(&float));
    let mut short = json.clone();
    short["totals"]["billed"] = serde_json::Value::String("1536.0".into());
    assert!(!validator.is_valid(&short));
}

#[test]
fn r_bil_03_report_groups_by_category_and_applies_the_tariff_in_force() {
    let doc = december("2026-12", None);
    assert_eq!(doc.tariffs.len(), 1);
    assert_eq!(doc.tariffs[0].name, "akp-2026");
    let mon = doc
        .agencies
        .iter()
        .find(|a| a.agency == "mon")
        .expect("mon");
    // 48 hours × 2 cores × 10.80 + 48 × 8 GiB × 1.30; gateway 48 × 0.123456 GB = 5.518908 GiB × 2.00.
    assert_eq!(mon.totals.by_category["compute"], "1536.00");
    assert_eq!(mon.totals.by_category["telecom"], "11.04");
    // Development is within mon's free period (contract 2026-11-01).
    assert_eq!(mon.totals.free, "518.40");
    assert_eq!(doc.data_quality.coverage, "0.999000");
    assert!(doc.residency.is_some());
}

#[test]
fn r_bil_02_html_in_kazakh_and_russian_with_charts_and_escaping() {
    let doc = december("2026-12", None);
    let kk = String::from_utf8(to_html(&doc, Lang::Kk).expect("html")).expect("utf-8");
    let ru = String::from_utf8(to_html(&doc, Lang::Ru).expect("html")).expect("utf-8");
    assert!(kk.contains("lang=\"kk\"") && kk.contains("Санаттар бойынша") && kk.contains("<svg"));
    assert!(
        ru.contains("lang=\"ru\"")
            && ru.contains("К оплате по категориям")
            && ru.contains("Программное обеспечение")
    );
    assert!(!kk.contains("<script") && !ru.contains("<script"));
    assert!(ru.contains("mf &#60;&#38;&#62; &#34;q&#34;") && !ru.contains("mf <&>"));
}

#[test]
fn r_bil_02_regeneration_is_byte_identical() {
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let a = sign::sign(&december("2026-12", None), &key).expect("sign");
    let b = sign::sign(&december("2026-12", None), &key).expect("sign");
    assert_eq!(a, b);
    let (d1, d2) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    sign::write_bundle(&a, d1.path()).expect("write");
    sign::write_bundle(&b, d2.path()).expect("write");
    for (name, _) in a.files() {
        let x = std::fs::read(d1.path().join(name)).expect("read");
        let y = std::fs::read(d2.path().join(name)).expect("read");
        assert_eq!(x, y, "{name} differs");
    }
    // A hex key from a Secret gives the same signature.
    let hex_key = sign::signing_key_from_bytes(hex::encode(SEED).as_bytes()).expect("hex key");
    assert_eq!(
        sign::sign(&december("2026-12", None), &hex_key).expect("sign"),
        a
    );
}

#[test]
fn r_bil_02_verify_accepts_the_bundle_and_refuses_tampering() {
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let public = key.verifying_key();
    let bundle = sign::sign(&december("2026-12", None), &key).expect("sign");
    let dir = tempfile::tempdir().expect("tmp");
    sign::write_bundle(&bundle, dir.path()).expect("write");
    let manifest = sign::verify_dir(dir.path(), &public).expect("verifies");
    assert_eq!(manifest.artifacts.len(), 4);
    let status = sign::status_artifacts(&bundle, dir.path());
    let formats: Vec<&str> = status.iter().map(|a| a.format.as_str()).collect();
    assert_eq!(
        formats,
        vec!["json", "csv", "html-kk", "html-ru", "manifest", "signature"]
    );
    assert_eq!(status[4].sha256, bundle.manifest_sha256());
    assert_eq!(manifest.report, "2026-12");

    // A changed amount in the CSV.
    let csv = dir.path().join("report.csv");
    let original = std::fs::read(&csv).expect("read");
    let mut changed = original.clone();
    let pos = changed
        .iter()
        .rposition(|b| b.is_ascii_digit())
        .expect("digit");
    changed[pos] = if changed[pos] == b'9' {
        b'8'
    } else {
        changed[pos] + 1
    };
    std::fs::write(&csv, &changed).expect("write");
    assert!(
        matches!(sign::verify_dir(dir.path(), &public), Err(VerifyError::Tampered { ref path, .. }) if path == "report.csv")
    );
    std::fs::write(&csv, &original).expect("restore");

    // A manifest edited to match a changed file breaks the signature.
    let m = dir.path().join(MANIFEST);
    let text = std::fs::read_to_string(&m).expect("read");
    std::fs::write(&m, text.replace("\"2026-12\"", "\"2026-11\"")).expect("write");
    assert!(matches!(
        sign::verify_dir(dir.path(), &public),
        Err(VerifyError::BadSignature)
    ));
    std::fs::write(&m, text).expect("restore");

    // Another key does not verify.
    let other = sign::signing_key_from_bytes(&[9; 32])
        .expect("key")
        .verifying_key();
    assert!(matches!(
        sign::verify_dir(dir.path(), &other),
        Err(VerifyError::BadSignature)
    ));
    assert!(sign::verify_dir(dir.path(), &public).is_ok());
}

// ---- delivery -------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Answer 503.
    Fail,
    /// Store the report, then stall past the client's timeout (the answer is lost).
    AcceptThenStall,
    /// Normal: accept a new key (201), refuse a known one (409).
    Normal,
}

#[derive(Default)]
struct Receiver {
    plan: Vec<Behaviour>,
    requests: usize,
    /// Idempotency key → report name, in acceptance order.
    accepted: Vec<(String, String)>,
}

impl Receiver {
    fn take(&mut self, key: &str, body: &DeliveryBody) -> (Behaviour, bool) {
        let behaviour = self
            .plan
            .get(self.requests)
            .copied()
            .unwrap_or(Behaviour::Normal);
        self.requests += 1;
        let known = self.accepted.iter().any(|(k, _)| k == key);
        let store = matches!(behaviour, Behaviour::AcceptThenStall | Behaviour::Normal) && !known;
        if store {
            self.accepted.push((key.to_string(), body.report.clone()));
        }
        (behaviour, known)
    }
}

struct TlsServer {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<Receiver>>,
}

async fn receiver(plan: Vec<Behaviour>) -> TlsServer {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};

    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    leaf.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("tls config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let state = Arc::new(Mutex::new(Receiver {
        plan,
        ..Receiver::default()
    }));
    async fn handle(
        State(state): State<Arc<Mutex<Receiver>>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let Some(key) = headers
            .get(IDEMPOTENCY_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return StatusCode::BAD_REQUEST;
        };
        let Ok(parsed) = serde_json::from_slice::<DeliveryBody>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        let (behaviour, known) = state.lock().expect("lock").take(key, &parsed);
        match behaviour {
            Behaviour::Fail => StatusCode::SERVICE_UNAVAILABLE,
            Behaviour::AcceptThenStall => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                StatusCode::CREATED
            }
            Behaviour::Normal if known => StatusCode::CONFLICT,
            Behaviour::Normal => StatusCode::CREATED,
        }
    }
    let app = axum::Router::new()
        .route("/reports", axum::routing::post(handle))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TlsServer {
        addr,
        ca_pem: ca_cert.pem(),
        state,
    }
}

/// Delivery to `server`, trusting its CA, with test-sized timeout and backoffs.
fn delivery_config(server: &TlsServer) -> DeliveryConfig {
    DeliveryConfig {
        endpoint: format!("https://localhost:{}/reports", server.addr.port()),
        ca_pem: Some(server.ca_pem.clone().into_bytes()),
        allow_http: false,
        timeout: Duration::from_millis(1000),
        max_attempts: 5,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    }
}

fn deliverer(server: &TlsServer) -> Deliverer {
    Deliverer::new(delivery_config(server)).expect("deliverer")
}

#[tokio::test]
async fn r_bil_02_delivery_over_https_survives_failures_timeouts_and_duplicates_exactly_once() {
    let server = receiver(vec![Behaviour::Fail, Behaviour::AcceptThenStall]).await;
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let october = sign::sign(&december("2026-12", None), &key).expect("sign");
    let d = deliverer(&server);

    // 503, then accepted but the answer times out, then 409: delivered, once.
    let mut record = DeliveryRecord::default();
    d.deliver(&october, &mut record).await.expect("deliver");
    let outcomes: Vec<AttemptOutcome> = record.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            AttemptOutcome::Retryable,
            AttemptOutcome::Retryable,
            AttemptOutcome::Duplicate
        ],
        "{record:?}"
    );
    assert_eq!(record.attempts[0].status, Some(503));
    assert!(
        record.attempts[1]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("timeout")),
        "{record:?}"
    );
    assert!(record.delivered());
    assert_eq!(
        record.attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    // Delivering again with the same record sends nothing.
    d.deliver(&october, &mut record).await.expect("deliver");
    assert_eq!(record.attempts.len(), 3);

    // A restart that lost the record, with a regenerated (byte-identical) bundle: 409.
    let regenerated = sign::sign(&december("2026-12", None), &key).expect("sign");
    let mut fresh = DeliveryRecord::default();
    d.deliver(&regenerated, &mut fresh).await.expect("deliver");
    assert_eq!(fresh.attempts.len(), 1);
    assert_eq!(fresh.attempts[0].outcome, AttemptOutcome::Duplicate);
    assert_eq!(fresh.idempotency_key, record.idempotency_key);

    // A correction is a new report with its own key: accepted.
    let correction = sign::sign(&december("2026-12-c1", Some("2026-12")), &key).expect("sign");
    let mut rec = DeliveryRecord::default();
    d.deliver(&correction, &mut rec).await.expect("deliver");
    assert_eq!(rec.attempts.len(), 1);
    assert_eq!(rec.attempts[0].outcome, AttemptOutcome::Accepted);
    assert_eq!(rec.attempts[0].status, Some(201));

    let state = server.state.lock().expect("lock");
    let names: Vec<&str> = state.accepted.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        vec!["2026-12", "2026-12-c1"],
        "each report accepted exactly once"
    );
    assert_eq!(state.requests, 5);
}

#[tokio::test]
async fn r_bil_02_delivery_gives_up_after_bounded_attempts_and_resumes_later() {
    let server = receiver(vec![Behaviour::Fail; 3]).await;
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let bundle = sign::sign(&december("2026-12", None), &key).expect("sign");
    let d = Deliverer::new(DeliveryConfig {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..delivery_config(&server)
    })
    .expect("deliverer");
    let mut record = DeliveryRecord::default();
    d.deliver(&bundle, &mut record).await.expect("deliver");
    assert!(!record.delivered());
    assert_eq!(record.attempts.len(), 2);
    // The next cycle goes on counting: one more failure, then accepted.
    d.deliver(&bundle, &mut record).await.expect("deliver");
    assert!(record.delivered());
    assert_eq!(
        record.attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(server.state.lock().expect("lock").accepted.len(), 1);
}

#[tokio::test]
async fn r_bil_02_untrusted_certificate_is_not_delivered_to() {
    let server = receiver(vec![]).await;
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let bundle = sign::sign(&december("2026-12", None), &key).expect("sign");
    // The receiver's CA is not trusted: the system roots only.
    let d = Deliverer::new(DeliveryConfig {
        ca_pem: None,
        max_attempts: 1,
        ..delivery_config(&server)
    })
    .expect("deliverer");
    let mut record = DeliveryRecord::default();
    d.deliver(&bundle, &mut record).await.expect("deliver");
    assert!(!record.delivered());
    assert_eq!(record.attempts[0].status, None);
    assert!(server.state.lock().expect("lock").accepted.is_empty());
}

// ---- estimates ------------------------------------------------------------------

#[test]
fn r_bil_04_estimate_of_a_products_requested_resources() {
    let spec: PlatformSoftwareProductSpec = serde_saphyr::from_str(
        r#"
displayName: "E-license"
ictProjectCode: "AKT-2026-0042"
developer: {name: "Dev LLP", bin: "040340004434"}
class: 2
informationCategory: confidential
scale: republican
capacity: {concurrentUsers: 100}
contour: internal
internetFacing: false
stage: development
environments:
  development: {cpu: "500m", memory: 2Gi, storage: 10Gi, egress: 20Gi, software: [{item: postgresql-16, instances: 1}]}
  production: {cpu: "4", memory: 16Gi, storage: 100Gi, software: [{item: kafka-3, instances: 2}, {item: e-license-portal, instances: 3}]}
"#,
    )
    .expect("spec");
    let book = TariffBook::new(&tariffs()).expect("tariffs");
    let contract = Some("2026-10-01".parse().expect("date"));
    let est =
        estimate(&spec, &book, "2026-11-15".parse().expect("date"), contract).expect("estimate");
    assert_eq!(est.tariff, "akp-2026");
    let dev = &est.environments[0];
    // 0.5 × 730 × 10.80 + 2 × 730 × 1.30 + 10 × 730 × 0.020 + 20 × 2.00 + 730 × 38.50
    assert_eq!(dev.monthly, "34131.00");
    assert_eq!(
        dev.lines
            .iter()
            .map(|l| (l.resource.as_str(), l.amount.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("cpu", "3942.00"),
            ("memory", "1898.00"),
            ("storage", "146.00"),
            ("network.gateway", "40.00"),
            ("software/postgresql-16", "28105.00")
        ]
    );
    assert_eq!(dev.policy, "free");
    assert_eq!(dev.billed_now, "0.00");
    assert_eq!(dev.free_until.as_deref(), Some("2027-01-01"));
    let prod = &est.environments[1];
    assert_eq!(prod.policy, "production");
    // 4 × 730 × 10.80 + 16 × 730 × 1.30 + 100 × 730 × 0.020 + 2 × 4 × 730 × 6.25
    assert_eq!(prod.monthly, "84680.00");
    assert_eq!(est.billed_now, "84680.00");
    // The agency's own application has no rate: listed as unpriced, 3 × 730 h, free.
    let own = prod
        .lines
        .iter()
        .find(|l| l.resource == "software/e-license-portal")
        .expect("the unpriced software is listed");
    assert_eq!(
        (
            own.rate.as_str(),
            own.quantity.as_str(),
            own.amount.as_str()
        ),
        ("unpriced", "2190.000000", "0.00")
    );
    // In 2027 the tariff bills non-production after the free period.
    let later =
        estimate(&spec, &book, "2027-02-01".parse().expect("date"), contract).expect("estimate");
    assert_eq!(later.tariff, "akp-2027");
    assert_eq!(later.environments[0].policy, "bill");
    assert_eq!(
        later.environments[0].billed_now,
        later.environments[0].monthly
    );
}

// ---- from the ledger, and the verify command ---------------------------------------

#[tokio::test]
async fn r_bil_02_report_of_a_closed_month_from_a_sqlite_ledger() {
    use akp_billing::ledger::Ledger;
    use akp_billing::report::{GenerateError, ReportRequest};
    use akp_rules::billing::period::Month;

    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let ledger = Ledger::open(&url, Calendar::kazakhstan())
        .await
        .expect("ledger");
    let start = Hour::starting_at(1_796_065_200).expect("2026-11-30T19:00Z");
    let rows: Vec<LedgerRow> = (0..3)
        .map(|i| {
            row(
                ("mon", "e-license", "production"),
                "cpu",
                "core_second",
                start.plus(i),
                3_600_000_000,
            )
        })
        .collect();
    let end = start.plus(31 * 24);
    ledger.commit("cpu", end, &rows, &[]).await.expect("commit");
    let request = ReportRequest {
        name: "2026-12".into(),
        month: Month::parse("2026-12").expect("month"),
        corrects: None,
        generated_at: "2027-01-04T03:00:00Z".into(),
        residency: None,
    };
    let book = TariffBook::new(&tariffs()).expect("tariffs");
    let contracts = BTreeMap::new();
    let open = report::from_ledger(&ledger, &request, &book, &contracts).await;
    assert!(matches!(open, Err(GenerateError::NotClosed(_))));
    let now = end.start() + 4 * 86_400;
    ledger
        .close_due_months(now, 3 * 86_400, end)
        .await
        .expect("close");
    let doc = report::from_ledger(&ledger, &request, &book, &contracts)
        .await
        .expect("report");
    // 3 core-hours × 10.80.
    assert_eq!(doc.totals.billed, "32.40");
    assert_eq!(doc.period_start, "2026-11-30T19:00:00Z");
    assert_eq!(doc.period_end, "2026-12-31T19:00:00Z");
    ledger.close().await;
}

#[test]
fn r_bil_02_verify_command_reads_a_hex_public_key() {
    let key = sign::signing_key_from_bytes(&SEED).expect("key");
    let bundle = sign::sign(&december("2026-12", None), &key).expect("sign");
    let dir = tempfile::tempdir().expect("tmp");
    sign::write_bundle(&bundle, &dir.path().join("2026-12")).expect("write");
    let key_file = dir.path().join("billing.pub");
    std::fs::write(
        &key_file,
        format!("{}\n", hex::encode(key.verifying_key().as_bytes())),
    )
    .expect("write");
    let summary = sign::verify_command(&dir.path().join("2026-12"), &key_file).expect("verifies");
    assert!(summary.starts_with("OK: report 2026-12"), "{summary}");
    std::fs::write(
        dir.path().join("2026-12").join("report.ru.html"),
        b"<html></html>",
    )
    .expect("tamper");
    assert!(sign::verify_command(&dir.path().join("2026-12"), &key_file).is_err());
}
