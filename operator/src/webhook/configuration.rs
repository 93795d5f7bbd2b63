//! The `ValidatingWebhookConfiguration` the operator registers (or the chart ships).
//!
//! Each entry of [`validating_hooks`] is one webhook of the configuration: what it
//! admits and at which path. Pods and PersistentVolumeClaims (placement, R-PLC-01)
//! become further entries there.

use akp_crds::{GROUP, VERSION};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration,
    WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use super::certs::FIELD_MANAGER;
use super::server::VALIDATE_PATH;
use crate::rules::naming::labels;

/// Name of the operator's ValidatingWebhookConfiguration.
pub const CONFIGURATION_NAME: &str = "akp-operator";

/// The API server waits this long for an answer; the lookups give up before.
pub const TIMEOUT_SECONDS: i32 = 5;

/// Where the API server reaches the webhook server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookEndpoint {
    /// A base URL such as `https://127.0.0.1:8443` (tests, out-of-cluster runs); the
    /// hook's path is appended.
    Url(String),
    /// A Service in the cluster (the Helm chart).
    Service {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
        /// The Service port.
        port: i32,
    },
}

/// One webhook of the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// The webhook's name, a fully qualified domain name, unique in the configuration.
    pub name: &'static str,
    /// The server path that answers it.
    pub path: &'static str,
    /// Which operations on which resources it sees.
    pub rules: Vec<RuleWithOperations>,
    /// Which namespaces it applies to; `None` means all.
    pub namespace_selector: Option<LabelSelector>,
}

/// The validating webhooks the operator serves.
pub fn validating_hooks() -> Vec<Hook> {
    vec![Hook {
        name: "platformsoftwareproducts.validate.akp.egov.kz",
        path: VALIDATE_PATH,
        // The main resource only: the operator's status writes must not depend on
        // the webhook.
        rules: vec![rule(
            GROUP,
            VERSION,
            "platformsoftwareproducts",
            "Namespaced",
            &["CREATE", "UPDATE"],
        )],
        namespace_selector: None,
    }]
}

/// A rule for `resource` of `group`/`version` in `scope` (`Namespaced`, `Cluster`
/// or `*`) on `operations`.
pub fn rule(
    group: &str,
    version: &str,
    resource: &str,
    scope: &str,
    operations: &[&str],
) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: Some(vec![group.to_owned()]),
        api_versions: Some(vec![version.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        scope: Some(scope.to_owned()),
        operations: Some(operations.iter().map(|o| (*o).to_owned()).collect()),
    }
}

/// The configuration named [`CONFIGURATION_NAME`] with every hook of
/// [`validating_hooks`], reaching the server at `endpoint` and trusting `ca_pem`
/// (`None` leaves `caBundle` to [`super::patch_ca_bundle`] or cert-manager's CA
/// injector).
pub fn validating_webhook_configuration(
    endpoint: &WebhookEndpoint,
    ca_pem: Option<&str>,
) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(CONFIGURATION_NAME.to_owned()),
            labels: Some([(labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned())].into()),
            ..ObjectMeta::default()
        },
        webhooks: Some(
            validating_hooks()
                .into_iter()
                .map(|hook| webhook(hook, endpoint, ca_pem))
                .collect(),
        ),
    }
}

/// Server-side applies `config` with the operator's field manager (when the operator,
/// not the chart, registers the webhook).
pub async fn apply_configuration(
    client: &Client,
    config: &ValidatingWebhookConfiguration,
) -> Result<ValidatingWebhookConfiguration, kube::Error> {
    let name = config
        .metadata
        .name
        .as_deref()
        .unwrap_or(CONFIGURATION_NAME);
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(config),
        )
        .await
}

fn webhook(hook: Hook, endpoint: &WebhookEndpoint, ca_pem: Option<&str>) -> ValidatingWebhook {
    let ca_bundle = ca_pem.map(|pem| ByteString(pem.as_bytes().to_vec()));
    let client_config = match endpoint {
        WebhookEndpoint::Url(base) => WebhookClientConfig {
            url: Some(format!("{}{}", base.trim_end_matches('/'), hook.path)),
            ca_bundle,
            service: None,
        },
        WebhookEndpoint::Service {
            namespace,
            name,
            port,
        } => WebhookClientConfig {
            url: None,
            ca_bundle,
            service: Some(ServiceReference {
                namespace: namespace.clone(),
                name: name.clone(),
                path: Some(hook.path.to_owned()),
                port: Some(*port),
            }),
        },
    };
    ValidatingWebhook {
        name: hook.name.to_owned(),
        admission_review_versions: vec!["v1".to_owned()],
        client_config,
        failure_policy: Some("Fail".to_owned()),
        match_policy: Some("Equivalent".to_owned()),
        side_effects: "None".to_owned(),
        timeout_seconds: Some(TIMEOUT_SECONDS),
        rules: Some(hook.rules),
        namespace_selector: hook.namespace_selector,
        ..ValidatingWebhook::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_validated_on_create_and_update_failing_closed() {
        let config = validating_webhook_configuration(
            &WebhookEndpoint::Url("https://127.0.0.1:8443/".into()),
            Some("PEM"),
        );
        assert_eq!(config.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        let webhooks = config.webhooks.unwrap_or_default();
        let [hook] = webhooks.as_slice() else {
            panic!("one webhook expected, got {webhooks:?}");
        };
        assert_eq!(
            hook.client_config.url.as_deref(),
            Some("https://127.0.0.1:8443/validate")
        );
        assert_eq!(
            hook.client_config.ca_bundle,
            Some(ByteString(b"PEM".to_vec()))
        );
        assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(hook.side_effects, "None");
        assert_eq!(hook.match_policy.as_deref(), Some("Equivalent"));
        assert_eq!(hook.timeout_seconds, Some(5));
        assert_eq!(hook.admission_review_versions, ["v1"]);
        let rules = hook.rules.clone().unwrap_or_default();
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["platformsoftwareproducts".to_owned()][..])
        );
        assert_eq!(
            rules[0].operations.as_deref(),
            Some(&["CREATE".to_owned(), "UPDATE".to_owned()][..])
        );
    }

    #[test]
    fn a_service_endpoint_carries_the_path() {
        let config = validating_webhook_configuration(
            &WebhookEndpoint::Service {
                namespace: "akp-system".into(),
                name: "akp-operator-webhook".into(),
                port: 443,
            },
            None,
        );
        let webhooks = config.webhooks.unwrap_or_default();
        let service = webhooks[0].client_config.service.clone();
        assert_eq!(
            service,
            Some(ServiceReference {
                namespace: "akp-system".into(),
                name: "akp-operator-webhook".into(),
                path: Some("/validate".into()),
                port: Some(443),
            })
        );
        assert_eq!(webhooks[0].client_config.url, None);
        assert_eq!(webhooks[0].client_config.ca_bundle, None);
    }
}
