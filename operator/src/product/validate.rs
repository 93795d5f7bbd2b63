//! The pure `validate` step: the product's agency and names, before anything is built.
//! The webhook refuses the same problems at admission; here they become a Degraded
//! condition for objects that got in before the webhook, or whose agency changed.

use akp_crds::{Agency, PlatformSoftwareProduct, Stage};
use kube::ResourceExt;

use crate::rules::naming::max_product_name_len;

/// A product whose environments can be built.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The product.
    pub product: PlatformSoftwareProduct,
    /// Its stage.
    pub stage: Stage,
    /// The name of the Agency owning its namespace.
    pub agency_name: String,
    /// The group whose members act for that agency.
    pub agency_group: String,
    /// The agency's digitalization head, who reads every environment (R-LC-08).
    pub digitalization_head: String,
    /// The product's name.
    pub product_name: String,
    /// The product's namespace (the agency's).
    pub product_namespace: String,
}

/// Why a product's environments cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// R-LC-08: products live in their agency's namespace.
    #[error(
        "metadata.namespace {0:?} belongs to no Agency (R-LC-08): create products in your agency's namespace (kubectl get agencies shows it)"
    )]
    NoAgency(String),
    /// Environment namespaces must be DNS labels.
    #[error(
        "metadata.name {name:?} is {len} characters; for agency {agency:?} at most {max} fit the environment namespaces <agency>-<product>-<environment> (63 characters): choose a shorter name"
    )]
    NameTooLong {
        name: String,
        len: usize,
        agency: String,
        max: usize,
    },
}

impl Invalid {
    /// A short stable reason for conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Invalid::NoAgency(_) => "NoAgency",
            Invalid::NameTooLong { .. } => "NameTooLong",
        }
    }
}

/// Finds the product's agency among `agencies` and checks its names.
pub fn validate<'a>(
    product: &PlatformSoftwareProduct,
    agencies: impl IntoIterator<Item = &'a Agency>,
) -> Result<Validated, Invalid> {
    let namespace = product.namespace().unwrap_or_default();
    let agency = agencies
        .into_iter()
        .find(|a| a.spec.namespace == namespace)
        .ok_or_else(|| Invalid::NoAgency(namespace.clone()))?;
    let agency_name = agency.name_any();
    let name = product.name_any();
    let max = max_product_name_len(&agency_name);
    if name.len() > max {
        return Err(Invalid::NameTooLong {
            len: name.len(),
            name,
            agency: agency_name,
            max,
        });
    }
    Ok(Validated {
        product: product.clone(),
        stage: product.spec.stage,
        agency_group: agency.group(),
        digitalization_head: agency.spec.digitalization_head.user.clone(),
        agency_name,
        product_name: name,
        product_namespace: namespace,
    })
}
