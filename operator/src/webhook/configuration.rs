//! The webhook configurations the operator registers (or the chart ships): the
//! `ValidatingWebhookConfiguration` and the `MutatingWebhookConfiguration`, both named
//! [`CONFIGURATION_NAME`].
//!
//! Each entry of [`validating_hooks`] and [`mutating_hooks`] is one webhook: what it
//! admits and at which path. The Pod and PersistentVolumeClaim hooks (placement and the
//! software catalog) see only namespaces labelled `akp.egov.kz/environment`, so system
//! namespaces are never touched, and fail closed there.

use akp_crds::{GROUP, VERSION};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use super::certs::FIELD_MANAGER;
use super::server::{MUTATE_PATH, VALIDATE_PATH};
use crate::rules::naming::labels;

/// Name of the operator's ValidatingWebhookConfiguration and of its
/// MutatingWebhookConfiguration.
pub const CONFIGURATION_NAME: &str = "akp-operator";

/// The name of the validating webhook of Pods.
pub const PODS_VALIDATING_HOOK: &str = "pods.validate.akp.egov.kz";
/// The name of the validating webhook of PersistentVolumeClaims.
pub const CLAIMS_VALIDATING_HOOK: &str = "persistentvolumeclaims.validate.akp.egov.kz";
/// The name of the mutating webhook of Pods.
pub const PODS_MUTATING_HOOK: &str = "pods.mutate.akp.egov.kz";

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
    /// `None`, or `NoneOnDryRun` for a hook whose decisions publish events.
    pub side_effects: &'static str,
}

/// The namespaces of environments: those the operator labelled with
/// `akp.egov.kz/environment`. System namespaces never carry it.
pub fn environment_namespaces() -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: labels::ENVIRONMENT.to_owned(),
            operator: "Exists".to_owned(),
            values: None,
        }]),
        match_labels: None,
    }
}

/// The validating webhooks the operator serves.
pub fn validating_hooks() -> Vec<Hook> {
    vec![
        Hook {
            name: "platformsoftwareproducts.validate.akp.egov.kz",
            path: VALIDATE_PATH,
            // The main resource only: the operator's status writes must not depend on
            // the webhook. DELETE too: a record that reached trial operation stays, and
            // the SRE's deletion is recorded with the requester (R-LC-07).
            rules: vec![rule(
                GROUP,
                VERSION,
                "platformsoftwareproducts",
                "Namespaced",
                &["CREATE", "UPDATE", "DELETE"],
            )],
            namespace_selector: None,
            side_effects: "None",
        },
        Hook {
            name: "agencies.validate.akp.egov.kz",
            path: VALIDATE_PATH,
            // Creates only: the namespace is immutable, so only a create can claim one.
            rules: vec![rule(GROUP, VERSION, "agencies", "Cluster", &["CREATE"])],
            namespace_selector: None,
            side_effects: "None",
        },
        Hook {
            name: PODS_VALIDATING_HOOK,
            path: VALIDATE_PATH,
            // Updates too: an image or a toleration can be changed on a running pod,
            // and ephemeral containers arrive through their own subresource.
            rules: vec![
                rule("", "v1", "pods", "Namespaced", &["CREATE", "UPDATE"]),
                rule(
                    "",
                    "v1",
                    "pods/ephemeralcontainers",
                    "Namespaced",
                    &["UPDATE"],
                ),
            ],
            namespace_selector: Some(environment_namespaces()),
            // R-SW-02 events are published, except on dry run.
            side_effects: "NoneOnDryRun",
        },
        Hook {
            name: CLAIMS_VALIDATING_HOOK,
            path: VALIDATE_PATH,
            rules: vec![rule(
                "",
                "v1",
                "persistentvolumeclaims",
                "Namespaced",
                &["CREATE"],
            )],
            namespace_selector: Some(environment_namespaces()),
            side_effects: "None",
        },
    ]
}

/// The mutating webhooks the operator serves: the placement of Pods.
pub fn mutating_hooks() -> Vec<Hook> {
    vec![Hook {
        name: PODS_MUTATING_HOOK,
        path: MUTATE_PATH,
        rules: vec![rule("", "v1", "pods", "Namespaced", &["CREATE"])],
        namespace_selector: Some(environment_namespaces()),
        side_effects: "None",
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
        metadata: configuration_metadata(),
        webhooks: Some(
            validating_hooks()
                .into_iter()
                .map(|hook| webhook(hook, endpoint, ca_pem))
                .collect(),
        ),
    }
}

/// The MutatingWebhookConfiguration named [`CONFIGURATION_NAME`] with every hook of
/// [`mutating_hooks`], reaching the server at `endpoint` and trusting `ca_pem` (`None`
/// leaves `caBundle` to [`super::patch_mutating_ca_bundle`] or cert-manager).
pub fn mutating_webhook_configuration(
    endpoint: &WebhookEndpoint,
    ca_pem: Option<&str>,
) -> MutatingWebhookConfiguration {
    MutatingWebhookConfiguration {
        metadata: configuration_metadata(),
        webhooks: Some(
            mutating_hooks()
                .into_iter()
                .map(|hook| {
                    let w = webhook(hook, endpoint, ca_pem);
                    MutatingWebhook {
                        name: w.name,
                        admission_review_versions: w.admission_review_versions,
                        client_config: w.client_config,
                        failure_policy: w.failure_policy,
                        match_policy: w.match_policy,
                        side_effects: w.side_effects,
                        timeout_seconds: w.timeout_seconds,
                        rules: w.rules,
                        namespace_selector: w.namespace_selector,
                        // Called again if a later webhook changes the pod: the patch is
                        // idempotent, and a changed affinity is confined once more.
                        reinvocation_policy: Some("IfNeeded".to_owned()),
                        ..MutatingWebhook::default()
                    }
                })
                .collect(),
        ),
    }
}

fn configuration_metadata() -> ObjectMeta {
    ObjectMeta {
        name: Some(CONFIGURATION_NAME.to_owned()),
        labels: Some([(labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned())].into()),
        ..ObjectMeta::default()
    }
}

/// Server-side applies `config`, a Validating- or MutatingWebhookConfiguration, with
/// the operator's field manager (when the operator, not the chart, registers the
/// webhooks).
pub async fn apply_configuration<K>(client: &Client, config: &K) -> Result<K, kube::Error>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = config.meta().name.as_deref().unwrap_or(CONFIGURATION_NAME);
    Api::<K>::all(client.clone())
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
        side_effects: hook.side_effects.to_owned(),
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
    fn products_are_validated_on_create_update_and_delete_failing_closed() {
        let config = validating_webhook_configuration(
            &WebhookEndpoint::Url("https://127.0.0.1:8443/".into()),
            Some("PEM"),
        );
        assert_eq!(config.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        let webhooks = config.webhooks.unwrap_or_default();
        let [hook, ..] = webhooks.as_slice() else {
            panic!("webhooks expected, got {webhooks:?}");
        };
        assert_eq!(
            hook.namespace_selector, None,
            "the product hook keeps its scope"
        );
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
            Some(
                &[
                    "CREATE".to_owned(),
                    "UPDATE".to_owned(),
                    "DELETE".to_owned()
                ][..]
            )
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

    #[test]
    fn r_plc_01_pods_and_claims_are_judged_only_in_environments_failing_closed() {
        let endpoint = WebhookEndpoint::Url("https://127.0.0.1:8443".into());
        let validating = validating_webhook_configuration(&endpoint, Some("PEM"));
        let mutating = mutating_webhook_configuration(&endpoint, Some("PEM"));
        assert_eq!(mutating.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        let selector = Some(environment_namespaces());
        let hooks = validating.webhooks.unwrap_or_default();
        let pods = hooks
            .iter()
            .find(|h| h.name == PODS_VALIDATING_HOOK)
            .expect("pods hook");
        let claims = hooks
            .iter()
            .find(|h| h.name == CLAIMS_VALIDATING_HOOK)
            .expect("claims hook");
        for hook in [pods, claims] {
            assert_eq!(hook.namespace_selector, selector);
            assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
            assert_eq!(
                hook.client_config.url.as_deref(),
                Some("https://127.0.0.1:8443/validate")
            );
        }
        assert_eq!(pods.side_effects, "NoneOnDryRun");
        let resources: Vec<String> = pods
            .rules
            .iter()
            .flatten()
            .flat_map(|r| r.resources.clone().unwrap_or_default())
            .collect();
        assert_eq!(resources, ["pods", "pods/ephemeralcontainers"]);
        let mutating = mutating.webhooks.unwrap_or_default();
        let [mutate] = mutating.as_slice() else {
            panic!("one mutating webhook expected, got {mutating:?}");
        };
        assert_eq!(mutate.name, PODS_MUTATING_HOOK);
        assert_eq!(mutate.namespace_selector, selector);
        assert_eq!(mutate.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(
            mutate.client_config.url.as_deref(),
            Some("https://127.0.0.1:8443/mutate")
        );
        assert_eq!(
            mutate.client_config.ca_bundle,
            Some(ByteString(b"PEM".to_vec()))
        );
        assert_eq!(mutate.reinvocation_policy.as_deref(), Some("IfNeeded"));
        let selector = serde_json::to_value(&mutate.namespace_selector).expect("json");
        assert_eq!(
            selector,
            serde_json::json!({"matchExpressions": [{"key": "akp.egov.kz/environment", "operator": "Exists"}]})
        );
    }
}
