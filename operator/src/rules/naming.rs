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
    /// Who manages the object.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// The value of `MANAGED_BY`.
    pub const OPERATOR: &str = "akp-operator";
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
