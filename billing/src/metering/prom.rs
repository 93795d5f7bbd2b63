//! The Prometheus HTTP API client: instant queries returning raw samples.
//!
//! Timestamps and values are read from the JSON text as decimals (see
//! [`crate::metering::quantity`]), never as floats.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::metering::config::PrometheusConfig;
use crate::metering::integrate::{Sample, Series};
use crate::metering::quantity::{DecimalError, parse_decimal};

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// Prometheus could not be reached, or the request timed out.
    #[error("Prometheus at {url} is unreachable: {source}")]
    Unreachable {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// Prometheus answered with an error.
    #[error("Prometheus refused the query ({status}, {error_type}): {message}; query: {query}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Prometheus' `errorType`.
        error_type: String,
        /// Prometheus' `error`.
        message: String,
        /// The query.
        query: String,
    },
    /// The client's configuration cannot be used (an unreadable CA, token or password
    /// file, or both a token and basic authentication).
    #[error("the Prometheus client's {field} ({value}) cannot be used: {message}")]
    Config {
        /// The configuration field (`prometheus.caFile`, ...).
        field: &'static str,
        /// Its value.
        value: String,
        /// Why, and the fix.
        message: String,
    },
    /// The answer is not what the API documents.
    #[error("unexpected answer from Prometheus to {query}: {message}")]
    Malformed {
        /// The query.
        query: String,
        /// What was wrong.
        message: String,
    },
}

impl PromError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            PromError::Unreachable { .. } => "unreachable",
            PromError::Refused { .. } => "refused",
            PromError::Malformed { .. } => "malformed",
            PromError::Config { .. } => "config",
        }
    }
}

/// A Prometheus HTTP API client that counts its queries.
#[derive(Debug)]
pub struct Prometheus {
    base: String,
    http: reqwest::Client,
    auth: Option<Auth>,
    queries: AtomicU64,
}

/// How each request authenticates; the secrets stay in their files, read per request.
#[derive(Debug)]
enum Auth {
    Bearer(PathBuf),
    Basic { username: String, password: PathBuf },
}

#[derive(Deserialize)]
struct Answer<'a> {
    status: String,
    #[serde(default, borrow)]
    data: Option<Data<'a>>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data<'a> {
    #[serde(borrow)]
    Matrix(Vec<MatrixSeries<'a>>),
    #[serde(borrow)]
    Vector(Vec<VectorSample<'a>>),
    Scalar(serde::de::IgnoredAny),
    String(serde::de::IgnoredAny),
}

// Timestamps and values are borrowed from the body: no allocation per sample.
#[derive(Deserialize)]
struct MatrixSeries<'a> {
    metric: BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<(&'a RawValue, &'a str)>,
}

#[derive(Deserialize)]
struct VectorSample<'a> {
    metric: BTreeMap<String, String>,
    #[serde(borrow)]
    value: (&'a RawValue, &'a str),
}

impl Prometheus {
    /// A client for the Prometheus at `base_url`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, PromError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|source| PromError::Unreachable {
                url: base_url.to_string(),
                source,
            })?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            auth: None,
            queries: AtomicU64::new(0),
        })
    }

    /// A client for the Prometheus of `config`: its URL, extra CA certificates, bearer
    /// token or basic authentication.
    pub fn from_config(config: &PrometheusConfig, timeout: Duration) -> Result<Self, PromError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)));
        if let Some(path) = &config.ca_file {
            let unusable = |message: String| PromError::Config {
                field: "prometheus.caFile",
                value: path.display().to_string(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(e.to_string()))?;
            if certs.is_empty() {
                return Err(unusable(
                    "no PEM certificate in the file: give the CA certificate(s) that sign Prometheus' certificate".into(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let auth = match (&config.bearer_token_file, &config.basic_auth) {
            (Some(_), Some(_)) => {
                return Err(PromError::Config {
                    field: "prometheus.bearerTokenFile",
                    value: "and prometheus.basicAuth".into(),
                    message:
                        "give one way to authenticate: the bearer token or basic authentication"
                            .into(),
                });
            }
            (Some(token), None) => Some(Auth::Bearer(token.clone())),
            (None, Some(b)) => Some(Auth::Basic {
                username: b.username.clone(),
                password: b.password_file.clone(),
            }),
            (None, None) => None,
        };
        let http = builder.build().map_err(|source| PromError::Unreachable {
            url: config.url.clone(),
            source,
        })?;
        let client = Self {
            base: config.url.trim_end_matches('/').to_string(),
            http,
            auth,
            queries: AtomicU64::new(0),
        };
        // A missing secret file is a configuration error at start, not a failing cycle.
        drop(client.authenticate(client.http.get(&client.base))?);
        Ok(client)
    }

    /// `request` with the configured authentication; the secret files are read now.
    fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, PromError> {
        let read = |field: &'static str, path: &PathBuf| {
            std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| PromError::Config {
                    field,
                    value: path.display().to_string(),
                    message: format!("{e}: mount the Secret there or fix the path"),
                })
        };
        Ok(match &self.auth {
            None => request,
            Some(Auth::Bearer(path)) => {
                request.bearer_auth(read("prometheus.bearerTokenFile", path)?)
            }
            Some(Auth::Basic { username, password }) => request.basic_auth(
                username,
                Some(read("prometheus.basicAuth.passwordFile", password)?),
            ),
        })
    }

    /// Number of queries sent so far.
    pub fn query_count(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Runs an instant query at `time_secs` and returns its series (a matrix; a vector
    /// gives one sample per series).
    pub async fn query(&self, promql: &str, time_secs: i64) -> Result<Vec<Series>, PromError> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/api/v1/query", self.base);
        let unreachable = |source| PromError::Unreachable {
            url: url.clone(),
            source,
        };
        let response = self
            .authenticate(self.http.post(&url))?
            .form(&[("query", promql), ("time", &time_secs.to_string())])
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        parse_response(status, &body, promql)
    }

    /// Whether Prometheus answers its readiness endpoint.
    pub async fn ready(&self) -> bool {
        let url = format!("{}/-/ready", self.base);
        let Ok(request) = self.authenticate(self.http.get(url)) else {
            return false;
        };
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }
}

/// Reads the body of an answer to an instant query (HTTP `status`) into series: values
/// and timestamps as exact decimals, NaN and ±Inf samples dropped, each series sorted.
/// `promql` only names the query in errors. Public so that it can be fuzzed.
pub fn parse_response(status: u16, body: &[u8], promql: &str) -> Result<Vec<Series>, PromError> {
    let malformed = |message: String| PromError::Malformed {
        query: promql.to_string(),
        message,
    };
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        malformed(format!(
            "HTTP {status}: {e}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })?;
    if answer.status != "success" {
        return Err(PromError::Refused {
            status,
            error_type: answer.error_type.unwrap_or_default(),
            message: answer.error.unwrap_or_default(),
            query: promql.to_string(),
        });
    }
    let data = answer.data.ok_or_else(|| malformed("no data".into()))?;
    let raw = match data {
        Data::Matrix(series) => series,
        Data::Vector(samples) => samples
            .into_iter()
            .map(|s| MatrixSeries {
                metric: s.metric,
                values: vec![s.value],
            })
            .collect(),
        Data::Scalar(_) | Data::String(_) => {
            return Err(malformed("a scalar or string, not series".into()));
        }
    };
    raw.into_iter()
        .map(|s| {
            let mut samples = Vec::with_capacity(s.values.len());
            for &(t, v) in &s.values {
                let t_ms = parse_decimal(t.get(), 3).map_err(|e| malformed(e.to_string()))?;
                let t_ms = i64::try_from(t_ms).map_err(|e| malformed(e.to_string()))?;
                match parse_decimal(v, 9) {
                    Ok(value) => samples.push(Sample { t_ms, value }),
                    // NaN and ±Inf carry no quantity: the sample counts as missing.
                    Err(DecimalError::NotANumber(_)) => {}
                    Err(e) => return Err(malformed(e.to_string())),
                }
            }
            let mut series = Series {
                labels: s.metric,
                samples,
            };
            series.normalize();
            Ok(series)
        })
        .collect()
}
