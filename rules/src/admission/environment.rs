//! Which environment a namespace is, read from the labels the operator puts on it,
//! and the sites that environment may use (R-PLC-01, R-PLC-02, R-SEG-01).
//!
//! Pods and claims are admitted by their namespace: the labels
//! `akp.egov.kz/{environment,contour,class}` say which sites the workload may run on
//! and `akp.egov.kz/{product,product-namespace}` whose it is. A namespace without the
//! environment label is not an environment and is not touched; one with it but with
//! the other labels missing or wrong is refused, failing closed.

use std::collections::BTreeMap;

use akp_crds::{Contour, EnvironmentName, Site};
use k8s_openapi::api::core::v1::ObjectReference;
use kube_core::Resource;

use super::verdict::{Verdict, Violation};
use crate::naming::labels;
use crate::placement::allowed_sites;

/// A namespace's or a node's labels.
pub type Labels = BTreeMap<String, String>;

/// Taint keys no pod of an environment may tolerate by default: the platform taints
/// nodes it has taken out of service (e.g. a node whose residency is in doubt).
pub const DEFAULT_FORBIDDEN_TAINTS: &[&str] = &["akp.egov.kz/quarantine"];

/// The operator's placement settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementPolicy {
    /// The country every workload must stay in (R-PLC-01).
    pub home_country: String,
    /// Taint keys no environment pod may tolerate.
    pub forbidden_taints: Vec<String>,
    /// CSI drivers whose inline volumes stay on the platform's storage (none by default:
    /// storage comes through claims of the sites' storage classes, R-PLC-01).
    pub allowed_csi_drivers: Vec<String>,
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        Self {
            home_country: crate::placement::HOME_COUNTRY.to_owned(),
            forbidden_taints: DEFAULT_FORBIDDEN_TAINTS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            allowed_csi_drivers: Vec::new(),
        }
    }
}

/// An environment namespace, as its labels describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The namespace.
    pub namespace: String,
    /// Which environment of the product it is.
    pub name: EnvironmentName,
    /// The product's contour (R-SEG-01).
    pub contour: Contour,
    /// The product's class, 1 to 3 (R-PLC-02).
    pub class: i32,
    /// The product, as `(namespace, name)`, when the namespace names it.
    pub product: Option<(String, String)>,
}

impl Environment {
    /// Whether the environment runs hot on a primary and a reserve site (R-PLC-02).
    pub fn spans_reserve(&self) -> bool {
        self.class == 1 && self.name == EnvironmentName::Production
    }

    /// What events about the environment are about: its product, else its namespace.
    pub fn regarding(&self) -> ObjectReference {
        match &self.product {
            Some((namespace, name)) => ObjectReference {
                api_version: Some(akp_crds::PlatformSoftwareProduct::api_version(&()).into()),
                kind: Some(akp_crds::PlatformSoftwareProduct::kind(&()).into()),
                namespace: Some(namespace.clone()),
                name: Some(name.clone()),
                ..ObjectReference::default()
            },
            None => ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Namespace".into()),
                name: Some(self.namespace.clone()),
                ..ObjectReference::default()
            },
        }
    }
}

/// The environment a namespace with `ns_labels` (`None`: no such namespace) is, or
/// the verdict on an object in it: allowed outside environments, refused where the
/// labels name an environment wrongly ([`environment`]).
pub fn environment_or_verdict(
    namespace: &str,
    ns_labels: Option<&Labels>,
) -> Result<Environment, Verdict> {
    match ns_labels.map(|l| environment(namespace, l)) {
        Some(Ok(Some(env))) => Ok(env),
        None | Some(Ok(None)) => Err(Verdict::allowed()),
        Some(Err(violation)) => Err(Verdict {
            violations: vec![violation],
            ..Verdict::default()
        }),
    }
}

/// The environment `namespace` is, from its `labels`: `Ok(None)` when it is not an
/// environment (no `akp.egov.kz/environment` label), an error naming the label when
/// one is missing or wrong.
pub fn environment(namespace: &str, ns_labels: &Labels) -> Result<Option<Environment>, Violation> {
    let Some(env) = ns_labels.get(labels::ENVIRONMENT) else {
        return Ok(None);
    };
    let label = |key: &'static str, rule: &'static str, allowed: &str| {
        let value = ns_labels.get(key).cloned().unwrap_or_default();
        Violation {
            field: format!("namespace {namespace} label {key}"),
            value,
            problem: format!("is not one of {allowed}, so the environment's placement is unknown"),
            rule,
            fix: "environment namespaces are labelled by the operator: tell the platform operator"
                .into(),
        }
    };
    let name = EnvironmentName::ALL
        .into_iter()
        .find(|e| e.as_str() == env)
        .ok_or_else(|| {
            label(
                labels::ENVIRONMENT,
                "R-ENV-01",
                "development, testing, trial, production",
            )
        })?;
    let contour = match ns_labels.get(labels::CONTOUR).map(String::as_str) {
        Some("internal") => Contour::Internal,
        Some("external") => Contour::External,
        _ => return Err(label(labels::CONTOUR, "R-SEG-01", "internal, external")),
    };
    let class = ns_labels
        .get(labels::CLASS)
        .and_then(|c| c.parse::<i32>().ok())
        .filter(|c| (1..=3).contains(c))
        .ok_or_else(|| label(labels::CLASS, "R-PLC-02", "1, 2, 3"))?;
    let product = match (
        ns_labels.get(labels::PRODUCT_NAMESPACE),
        ns_labels.get(labels::PRODUCT),
    ) {
        (Some(ns), Some(name)) if !ns.is_empty() && !name.is_empty() => {
            Some((ns.clone(), name.clone()))
        }
        _ => None,
    };
    Ok(Some(Environment {
        namespace: namespace.to_owned(),
        name,
        contour,
        class,
        product,
    }))
}

/// The sites `env` may use, or the refusal (already naming its rule) when none fits.
pub fn sites_for<'a>(
    sites: &'a [Site],
    env: &Environment,
    home: &str,
) -> Result<Vec<&'a Site>, String> {
    allowed_sites(sites, home, env.contour, env.class, env.name).map_err(|e| {
        format!(
            "metadata.namespace {:?} is the {} environment, which no site may host: {e}",
            env.namespace,
            env.name.as_str()
        )
    })
}

/// `names` as a readable list: `a`, `a and b`, `a, b and c`.
pub fn listed<S: AsRef<str>>(names: &[S]) -> String {
    match names {
        [] => "none".into(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_namespace_without_the_environment_label_is_not_touched() {
        assert_eq!(environment("default", &Labels::new()), Ok(None));
    }

    #[test]
    fn the_labels_describe_the_environment_and_its_product() {
        let labels = env_labels(&[
            (labels::ENVIRONMENT, "production"),
            (labels::CONTOUR, "external"),
            (labels::CLASS, "1"),
            (labels::PRODUCT, "e-license"),
            (labels::PRODUCT_NAMESPACE, "agency-mon"),
        ]);
        let env = environment("mon-e-license-production", &labels)
            .expect("valid")
            .expect("an environment");
        assert_eq!(env.name, EnvironmentName::Production);
        assert_eq!(env.contour, Contour::External);
        assert!(env.spans_reserve());
        let regarding = env.regarding();
        assert_eq!(regarding.kind.as_deref(), Some("PlatformSoftwareProduct"));
        assert_eq!(regarding.namespace.as_deref(), Some("agency-mon"));
        assert_eq!(regarding.name.as_deref(), Some("e-license"));
    }

    #[test]
    fn an_environment_with_a_broken_label_fails_closed() {
        let labels = env_labels(&[
            (labels::ENVIRONMENT, "development"),
            (labels::CONTOUR, "internal"),
            (labels::CLASS, "4"),
        ]);
        let refusal = environment("x", &labels).expect_err("class 4");
        assert_eq!(refusal.rule, "R-PLC-02");
        assert_eq!(
            refusal.to_string(),
            r#"namespace x label akp.egov.kz/class "4" is not one of 1, 2, 3, so the environment's placement is unknown (R-PLC-02): environment namespaces are labelled by the operator: tell the platform operator"#
        );
        let no_contour = env_labels(&[(labels::ENVIRONMENT, "testing"), (labels::CLASS, "2")]);
        assert_eq!(
            environment("x", &no_contour).expect_err("contour").rule,
            "R-SEG-01"
        );
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(listed::<&str>(&[]), "none");
        assert_eq!(listed(&["a"]), "a");
        assert_eq!(listed(&["a", "b", "c"]), "a, b and c");
    }
}
