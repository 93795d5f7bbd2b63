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

/// The longest product name whose environments all fit in a namespace name.
pub fn max_product_name_len(agency: &str) -> usize {
    // "production" is the longest environment name.
    MAX_NAMESPACE_LEN.saturating_sub(agency.len() + 2 + EnvironmentName::Production.as_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

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
