//! `kubectl pbo check`: whether an installation answers, as the chart's `helm test` hook
//! runs it. The admission webhook is sent a real AdmissionReview over TLS verified with
//! the caBundle of its configuration (so a wrong or missing caBundle, a serving
//! certificate not valid for the Service name or a server that does not answer all
//! fail), and each `/metrics` URL must answer 200 with the project's `akp_` metrics.
//! It does not go through the API server: that the API server can reach the Service is
//! shown by any admission itself.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::Api;
use serde_json::json;

use crate::cluster::{ClusterArgs, server_error};
use crate::error::CliError;

/// Flags of `kubectl pbo check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ValidatingWebhookConfiguration whose caBundle, Service and path the review
    /// is sent with (none: the webhooks are not checked).
    #[arg(long, value_name = "NAME")]
    webhook_configuration: Option<String>,
    /// Send the review to this address instead of resolving the Service's name (the
    /// certificate is still verified for the Service's name).
    #[arg(long, value_name = "IP:PORT")]
    webhook_address: Option<SocketAddr>,
    /// A `/metrics` URL that must answer 200 with `akp_` metrics (repeatable).
    #[arg(long = "metrics-url", value_name = "URL")]
    metrics_urls: Vec<String>,
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the checks; the report lists what answered. The first failure is the error.
pub async fn run(args: &Args, cluster: &ClusterArgs) -> Result<String, CliError> {
    if args.webhook_configuration.is_none() && args.metrics_urls.is_empty() {
        return Err(CliError::Usage(
            "nothing to check: give --webhook-configuration and/or --metrics-url".into(),
        ));
    }
    let mut report = String::new();
    if let Some(name) = &args.webhook_configuration {
        let line = check_webhook(name, args.webhook_address, cluster).await?;
        let _ = writeln!(report, "{line}");
    }
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| CliError::Other(anyhow::anyhow!("cannot make an HTTP client: {e}")))?;
    for url in &args.metrics_urls {
        let response = http.get(url).send().await.map_err(|e| {
            CliError::Unreachable(format!(
                "{url} did not answer: {e}: is the pod ready and the Service's port right?"
            ))
        })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| CliError::Unreachable(format!("{url}: reading the answer: {e}")))?;
        let families = body
            .lines()
            .filter(|l| l.starts_with("# TYPE akp_"))
            .count();
        if !status.is_success() || families == 0 {
            return Err(CliError::Other(anyhow::anyhow!(
                "{url} answered {status} with {families} akp_ metric families: expected 200 and the metrics of docs/metrics-contract.md"
            )));
        }
        let _ = writeln!(
            report,
            "metrics {url}: {status}, {families} akp_ metric families"
        );
    }
    Ok(report)
}

/// Sends an AdmissionReview of an Agency create to the configuration's first webhook.
async fn check_webhook(
    name: &str,
    address: Option<SocketAddr>,
    cluster: &ClusterArgs,
) -> Result<String, CliError> {
    // In a pod: the ServiceAccount's in-cluster configuration.
    let client = match &cluster.kubeconfig {
        Some(_) => cluster.connect().await?.client,
        None => kube::Client::try_default()
            .await
            .map_err(|e| CliError::Config(format!("cannot reach the cluster: {e}")))?,
    };
    let config = Api::<ValidatingWebhookConfiguration>::all(client)
        .get(name)
        .await
        .map_err(|e| server_error(e, &format!("ValidatingWebhookConfiguration {name}")))?;
    let webhook = config
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| CliError::NotFound(format!("{name} has no webhooks")))?;
    let ca = webhook
        .client_config
        .ca_bundle
        .filter(|b| !b.0.is_empty())
        .ok_or_else(|| {
            CliError::Other(anyhow::anyhow!(
                "{name}: webhook {} has no caBundle: the operator patches it at start (self-managed) or cert-manager's CA injector fills it; is a replica ready?",
                webhook.name
            ))
        })?;
    let service = webhook.client_config.service.ok_or_else(|| {
        CliError::Other(anyhow::anyhow!(
            "{name}: webhook {} calls a URL, not a Service",
            webhook.name
        ))
    })?;
    let host = format!("{}.{}.svc", service.name, service.namespace);
    let port = address.map_or(service.port.unwrap_or(443), |a| i32::from(a.port()));
    let path = service.path.unwrap_or_else(|| "/".into());
    let url = format!("https://{host}:{port}{path}");
    let certs = reqwest::Certificate::from_pem_bundle(&ca.0)
        .map_err(|e| CliError::Other(anyhow::anyhow!("{name}: the caBundle is not PEM: {e}")))?;
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .tls_built_in_root_certs(false);
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    if let Some(address) = address {
        builder = builder.resolve(&host, address);
    }
    let http = builder
        .build()
        .map_err(|e| CliError::Other(anyhow::anyhow!("cannot make an HTTP client: {e}")))?;
    let uid = format!("akp-check-{}", std::process::id());
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "akp.egov.kz", "version": "v1alpha1", "kind": "Agency"},
            "resource": {"group": "akp.egov.kz", "version": "v1alpha1", "resource": "agencies"},
            "name": "akp-check",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:akp-check"},
            "object": {
                "apiVersion": "akp.egov.kz/v1alpha1",
                "kind": "Agency",
                "metadata": {"name": "akp-check"},
                "spec": {}
            },
            "dryRun": true
        }
    });
    let response = http.post(&url).json(&review).send().await.map_err(|e| {
        CliError::Unreachable(format!(
            "the webhook {url} did not answer over TLS verified with the caBundle of {name}: {e:#}"
        ))
    })?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|e| CliError::Other(anyhow::anyhow!("{url} answered {status}, not JSON: {e}")))?;
    let decision = &answer["response"];
    if decision["uid"] != uid.as_str() || !decision["allowed"].is_boolean() {
        return Err(CliError::Other(anyhow::anyhow!(
            "{url} answered {status} without a decision on review {uid}: {answer}"
        )));
    }
    Ok(format!(
        "webhook {url}: {status}, review {uid} answered (allowed: {})",
        decision["allowed"]
    ))
}
