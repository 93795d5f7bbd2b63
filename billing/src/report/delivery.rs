//! Delivery of a signed report to the authorized body (R-BIL-02): an HTTPS POST of the
//! bundle with an `Idempotency-Key`, retried with bounded exponential backoff, every
//! attempt recorded.
//!
//! Exactly once: the key is the report's name and the SHA-256 of its manifest, so a
//! retry, a restart or a regeneration of the same month sends the same key, and the
//! receiver accepts a key once (answering 409 to repeats, which counts as delivered
//! here). A correction is a new report with its own name, hence its own key.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::report::sign::Bundle;

/// The header that carries the key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Why delivery could not be attempted or failed for good.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The endpoint is not HTTPS (and plain HTTP was not allowed for tests).
    #[error("delivery endpoint {0} is not https:// (R-BIL-02: reports travel over TLS)")]
    NotHttps(String),
    /// The HTTP client could not be built (bad CA certificate, TLS setup).
    #[error("cannot build the HTTPS client: {0}")]
    Client(String),
    /// The body could not be encoded.
    #[error("cannot encode the report bundle: {0}")]
    Encode(#[from] serde_json::Error),
}

impl DeliveryError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            DeliveryError::NotHttps(_) => "not_https",
            DeliveryError::Client(_) => "client",
            DeliveryError::Encode(_) => "encode",
        }
    }
}

/// Where and how to deliver.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// The authorized body's endpoint, `https://…`.
    pub endpoint: String,
    /// Extra trusted CA certificates (PEM), besides the built-in web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Allow `http://` (tests only).
    pub allow_http: bool,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts per call of [`Deliverer::deliver`] (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub initial_backoff: Duration,
    /// Ceiling of the wait.
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            ca_pem: None,
            allow_http: false,
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What one attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    /// 2xx: accepted now.
    Accepted,
    /// 409: the receiver already has this key; delivered earlier.
    Duplicate,
    /// Timeout, connection error, 408, 425, 429 or 5xx: worth retrying.
    Retryable,
    /// Any other 4xx: the receiver refuses the bundle; retrying will not help.
    Rejected,
}

/// A record of one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1-based, over the report's life.
    pub number: u32,
    /// When it started, RFC 3339 UTC.
    pub at: String,
    /// HTTP status, if a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The outcome.
    pub outcome: AttemptOutcome,
}

/// Where a report's delivery stands; persist it between calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    /// The key sent.
    pub idempotency_key: String,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// When the receiver accepted it (or said it already had it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// The receiver refused it for good.
    #[serde(default)]
    pub rejected: bool,
}

impl DeliveryRecord {
    /// Delivered: accepted now or before.
    pub fn delivered(&self) -> bool {
        self.delivered_at.is_some()
    }
}

/// The idempotency key of a bundle: report name and manifest SHA-256.
pub fn idempotency_key(bundle: &Bundle) -> String {
    format!("{}:{}", bundle.report, bundle.manifest_sha256())
}

/// The wait before attempt `n + 1` after `n` failed attempts: initial × 2ⁿ⁻¹, capped.
pub fn backoff(config: &DeliveryConfig, failed: u32) -> Duration {
    let exp = failed.saturating_sub(1).min(20);
    config
        .initial_backoff
        .saturating_mul(1u32 << exp)
        .min(config.max_backoff)
}

/// The JSON body: the report's name, manifest and signature, and each artifact in
/// base64 (byte-exact, so the receiver can check the SHA-256s and the signature).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    /// Report name.
    pub report: String,
    /// `manifest.json`, base64.
    pub manifest: String,
    /// `manifest.json.sig` (hex text), base64.
    pub signature: String,
    /// File name → base64 content.
    pub artifacts: BTreeMap<String, String>,
}

impl DeliveryBody {
    /// The body of a bundle.
    pub fn of(bundle: &Bundle) -> Self {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        Self {
            report: bundle.report.clone(),
            manifest: b64(&bundle.manifest),
            signature: b64(&bundle.signature),
            artifacts: bundle
                .artifacts
                .iter()
                .map(|a| (a.path.clone(), b64(&a.bytes)))
                .collect(),
        }
    }
}

/// Sends bundles.
#[derive(Clone, Debug)]
pub struct Deliverer {
    client: reqwest::Client,
    config: DeliveryConfig,
}

impl Deliverer {
    /// A deliverer for `config`: HTTPS only (rustls), unless `allow_http`.
    pub fn new(config: DeliveryConfig) -> Result<Self, DeliveryError> {
        let https = config.endpoint.starts_with("https://");
        let http_allowed = config.allow_http && config.endpoint.starts_with("http://");
        if !https && !http_allowed {
            return Err(DeliveryError::NotHttps(config.endpoint.clone()));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.timeout)
            .https_only(!config.allow_http);
        if let Some(pem) = &config.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| DeliveryError::Client(e.to_string()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| DeliveryError::Client(e.to_string()))?;
        Ok(Self { client, config })
    }

    /// Delivers `bundle`, continuing `record` (attempt numbers go on; a delivered or
    /// rejected record sends nothing). Returns after success, a rejection, or
    /// `max_attempts` attempts; the caller retries later on failure.
    pub async fn deliver(
        &self,
        bundle: &Bundle,
        record: &mut DeliveryRecord,
    ) -> Result<(), DeliveryError> {
        let key = idempotency_key(bundle);
        if record.idempotency_key != key {
            // A different bundle: a fresh record (a regenerated identical bundle has the same key).
            *record = DeliveryRecord {
                idempotency_key: key.clone(),
                ..DeliveryRecord::default()
            };
        }
        if record.delivered() || record.rejected {
            return Ok(());
        }
        let body = serde_json::to_vec(&DeliveryBody::of(bundle))?;
        for i in 0..self.config.max_attempts.max(1) {
            if i > 0 {
                tokio::time::sleep(backoff(&self.config, i)).await;
            }
            let at = jiff::Timestamp::now().to_string();
            let number = u32::try_from(record.attempts.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            let result = self
                .client
                .post(&self.config.endpoint)
                .header(IDEMPOTENCY_HEADER, &key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let (status, error, outcome) = match result {
                Ok(resp) => {
                    let status = resp.status();
                    let outcome = classify(status.as_u16());
                    let error = (!status.is_success() && status.as_u16() != 409)
                        .then(|| format!("HTTP {status}"));
                    (Some(status.as_u16()), error, outcome)
                }
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    };
                    (
                        None,
                        Some(format!("{kind}: {e}")),
                        AttemptOutcome::Retryable,
                    )
                }
            };
            tracing::info!(report = %bundle.report, number, ?status, ?outcome, "delivery attempt");
            record.attempts.push(Attempt {
                number,
                at: at.clone(),
                status,
                error,
                outcome,
            });
            match outcome {
                AttemptOutcome::Accepted | AttemptOutcome::Duplicate => {
                    record.delivered_at = Some(at);
                    return Ok(());
                }
                AttemptOutcome::Rejected => {
                    record.rejected = true;
                    return Ok(());
                }
                AttemptOutcome::Retryable => {}
            }
        }
        Ok(())
    }
}

/// What a status code means for delivery.
pub fn classify(status: u16) -> AttemptOutcome {
    match status {
        200..=299 => AttemptOutcome::Accepted,
        409 => AttemptOutcome::Duplicate,
        408 | 425 | 429 | 500..=599 => AttemptOutcome::Retryable,
        _ => AttemptOutcome::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_bil_02_backoff_doubles_and_is_bounded() {
        let c = DeliveryConfig {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..DeliveryConfig::default()
        };
        assert_eq!(backoff(&c, 1), Duration::from_secs(2));
        assert_eq!(backoff(&c, 2), Duration::from_secs(4));
        assert_eq!(backoff(&c, 3), Duration::from_secs(8));
        assert_eq!(backoff(&c, 10), Duration::from_secs(60));
        assert_eq!(backoff(&c, 1000), Duration::from_secs(60));
    }

    #[test]
    fn r_bil_02_status_classes() {
        assert_eq!(classify(201), AttemptOutcome::Accepted);
        assert_eq!(classify(409), AttemptOutcome::Duplicate);
        assert_eq!(classify(503), AttemptOutcome::Retryable);
        assert_eq!(classify(429), AttemptOutcome::Retryable);
        assert_eq!(classify(400), AttemptOutcome::Rejected);
    }

    #[test]
    fn r_bil_02_plain_http_is_refused() {
        let c = DeliveryConfig {
            endpoint: "http://example.invalid/reports".into(),
            ..DeliveryConfig::default()
        };
        assert!(matches!(Deliverer::new(c), Err(DeliveryError::NotHttps(_))));
    }
}
