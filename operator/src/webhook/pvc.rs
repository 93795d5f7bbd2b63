//! Admission of PersistentVolumeClaims in environment namespaces (R-PLC-01):
//! [`ClaimValidator`] fetches the namespace's labels and the Sites, then calls
//! [`check_claim`].

use std::sync::Arc;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::lookup::{Freshness, Lookup, LookupError};
use super::verdict::{Admission, Validate, Verdict};
use crate::rules::admission::environment::{PlacementPolicy, environment_or_verdict};
pub use crate::rules::admission::pvc::check_claim;

/// Fetches the namespace's labels and the Sites, then calls [`check_claim`].
pub struct ClaimValidator {
    lookup: Arc<dyn Lookup>,
    policy: PlacementPolicy,
}

impl std::fmt::Debug for ClaimValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimValidator")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ClaimValidator {
    /// A validator reading from `lookup`.
    pub fn new(lookup: Arc<dyn Lookup>, policy: PlacementPolicy) -> Self {
        Self { lookup, policy }
    }
}

impl Validate for ClaimValidator {
    type Object = PersistentVolumeClaim;

    async fn validate<'a>(
        &'a self,
        admission: &'a Admission<'a, PersistentVolumeClaim>,
    ) -> Result<Verdict, LookupError> {
        // The class of a claim cannot change; resizes and relabels pass.
        if admission.old.is_some() {
            return Ok(Verdict::allowed());
        }
        let labels = self.lookup.namespace_labels(admission.namespace).await?;
        let env = match environment_or_verdict(admission.namespace, labels.as_ref()) {
            Ok(env) => env,
            Err(verdict) => return Ok(verdict),
        };
        let home = self.policy.home_country.as_str();
        let sites = self.lookup.sites(Freshness::Cached).await?;
        let verdict = check_claim(admission.object, &env, &sites, home);
        if verdict.is_allowed() {
            return Ok(verdict);
        }
        // Confirm a refusal on the latest Sites.
        let sites = self.lookup.sites(Freshness::Latest).await?;
        Ok(check_claim(admission.object, &env, &sites, home))
    }
}
