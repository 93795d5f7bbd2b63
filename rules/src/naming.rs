//! Names and labels of what the operator creates.

use akp_crds::EnvironmentName;

/// Labels the operator puts on environment namespaces; billing reads them to know
/// which namespace is which environment (api.md).
pub mod labels {
    /// The agency (its Agency name).
    pub const AGENCY: &str = "akp.egov.kz/agency";
    /// The product (its PlatformSoftwareProduct name).
    pub const PRODUCT: &str = "akp.egov.kz/product";
    /// The namespace of the product (its agency's namespace).
    pub const PRODUCT_NAMESPACE: &str = "akp.egov.kz/product-namespace";
    /// Annotation on an environment namespace: `<namespace>/<name>` of its product.
    pub const OWNER_ANNOTATION: &str = "akp.egov.kz/owner";
    /// Annotation on every namespace the operator made: the UID of the product or
    /// Agency it was made for, the only one the operator writes there for (R-LC-08).
    pub const OWNER_UID: &str = "akp.egov.kz/owner-uid";
    /// development, testing, trial or production.
    pub const ENVIRONMENT: &str = "akp.egov.kz/environment";
    /// internal or external.
    pub const CONTOUR: &str = "akp.egov.kz/contour";
    /// 1, 2 or 3.
    pub const CLASS: &str = "akp.egov.kz/class";
    /// "true" on the environments of a product with `internetFacing: true`: the only
    /// ones that may expose NodePort and LoadBalancer Services (R-SEG-02).
    pub const INTERNET_FACING: &str = "akp.egov.kz/internet-facing";
    /// The built-in Pod Security Admission's level, enforced in every namespace an
    /// agency writes to (docs/security.md: why "restricted").
    pub const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
    /// The version of the Pod Security Standards enforced, pinned so that a Kubernetes
    /// upgrade does not tighten them unannounced.
    pub const POD_SECURITY_ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";
    /// Pod Security Admission's audit annotations and warnings, at the same level.
    pub const POD_SECURITY_AUDIT: &str = "pod-security.kubernetes.io/audit";
    /// See [`POD_SECURITY_AUDIT`].
    pub const POD_SECURITY_WARN: &str = "pod-security.kubernetes.io/warn";
    /// Who manages the object.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// The value of `MANAGED_BY`.
    pub const OPERATOR: &str = "akp-operator";
}

/// The Pod Security Admission labels of every namespace an agency writes to: the
/// "restricted" standard of Kubernetes 1.36, enforced, audited and warned about.
pub fn pod_security_labels() -> [(String, String); 4] {
    [
        (labels::POD_SECURITY_ENFORCE, "restricted"),
        (labels::POD_SECURITY_ENFORCE_VERSION, "v1.36"),
        (labels::POD_SECURITY_AUDIT, "restricted"),
        (labels::POD_SECURITY_WARN, "restricted"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
}

/// The longest a namespace name may be (a DNS label).
pub const MAX_NAMESPACE_LEN: usize = 63;

/// The namespace of a product's environment: `<agency>-<product>-<environment>`.
pub fn environment_namespace(agency: &str, product: &str, env: EnvironmentName) -> String {
    format!("{agency}-{product}-{}", env.as_str())
}

/// Whether `name` is an agency name that cannot spell another agency's namespaces:
/// lowercase letters and digits only (the CEL rule on `Agency.metadata.name` refuses
/// other names for new Agencies, R-LC-08).
pub fn is_separator_free(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Reads an environment namespace name back into `(agency, product, environment)`,
/// assuming a separator-free agency name: the agency is everything before the first
/// hyphen, the environment (a hyphen-free word) everything after the last, the
/// product the rest. That this is the only reading is why names cannot collide: two
/// products whose namespaces are equal have equal agencies, products and environments.
pub fn parse_environment_namespace(namespace: &str) -> Option<(&str, &str, EnvironmentName)> {
    let (agency, rest) = namespace.split_once('-')?;
    let (product, env) = rest.rsplit_once('-')?;
    let env = EnvironmentName::ALL
        .into_iter()
        .find(|e| e.as_str() == env)?;
    (is_separator_free(agency) && !product.is_empty()).then_some((agency, product, env))
}

/// The longest product name whose environments all fit in a namespace name.
pub fn max_product_name_len(agency: &str) -> usize {
    // "production" is the longest environment name.
    MAX_NAMESPACE_LEN.saturating_sub(agency.len() + 2 + EnvironmentName::Production.as_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R-LC-08, the proof that `<agency>-<product>-<environment>` cannot be spelt two
    /// ways once agency names are separator-free: parsing inverts the naming for every
    /// such triple, so equal namespaces mean equal triples. Checked exhaustively over
    /// short names of the alphabet `a`, `-` (every place a hyphen can go).
    #[test]
    fn r_lc_08_separator_free_agencies_cannot_spell_one_namespace_twice() {
        fn words(max: usize) -> Vec<String> {
            let mut all = vec![String::new()];
            let mut out = Vec::new();
            for _ in 0..max {
                all = all
                    .iter()
                    .flat_map(|w| [format!("{w}a"), format!("{w}-"), format!("{w}b")])
                    .collect();
                out.extend(all.iter().cloned());
            }
            out
        }
        // Names as the API server allows them: DNS labels (no leading or trailing -).
        let label = |w: &String| !w.starts_with('-') && !w.ends_with('-');
        let agencies: Vec<String> = words(3)
            .into_iter()
            .filter(|w| is_separator_free(w))
            .collect();
        let products: Vec<String> = words(5).into_iter().filter(label).collect();
        let mut seen = std::collections::HashMap::new();
        for agency in &agencies {
            for product in &products {
                for env in EnvironmentName::ALL {
                    let ns = environment_namespace(agency, product, env);
                    assert_eq!(
                        parse_environment_namespace(&ns),
                        Some((agency.as_str(), product.as_str(), env)),
                        "{ns}"
                    );
                    let before = seen.insert(ns.clone(), (agency.clone(), product.clone(), env));
                    assert!(
                        before.is_none(),
                        "{ns} spelt twice: {before:?} and {agency}/{product}"
                    );
                }
            }
        }
        // With a hyphen in an agency's name the same namespace has two spellings: the
        // attack of issue 14.
        assert_eq!(
            environment_namespace("mon-e", "license", EnvironmentName::Development),
            environment_namespace("mon", "e-license", EnvironmentName::Development)
        );
        assert!(!is_separator_free("mon-e"));
        assert!(!is_separator_free("mon.e"));
        assert!(is_separator_free("mon2"));
    }

    #[test]
    fn environment_namespaces_fit_a_dns_label() {
        assert_eq!(
            environment_namespace("mon", "e-license", EnvironmentName::Trial),
            "mon-e-license-trial"
        );
        let longest = "p".repeat(max_product_name_len("mon"));
        assert_eq!(
            environment_namespace("mon", &longest, EnvironmentName::Production).len(),
            MAX_NAMESPACE_LEN
        );
    }
}
