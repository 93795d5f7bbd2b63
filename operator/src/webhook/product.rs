//! Admission of PlatformSoftwareProducts: [`ProductValidator`] fetches the Agencies and
//! the named catalog items, then calls [`check_product`] and [`check_requester`]
//! ([`judge`], after [`judge_before_lookup`]; [`crate::rules::admission::product`]
//! says what they decide).

use std::collections::BTreeMap;
use std::sync::Arc;

use akp_crds::{PlatformSoftwareProduct, SoftwareCatalogItem};
use kube::ResourceExt;
use kube::core::admission::Operation;

use super::lookup::{Freshness, Lookup, LookupError};
use super::verdict::{Admission, Clock, Validate, Verdict};
pub use crate::rules::admission::product::{
    EXPIRY_WARNING_DAYS, Facts, Groups, catalog_names, check_product, check_requester, judge,
    judge_before_lookup,
};
use crate::rules::admission::roles::Requester;
use crate::rules::ownership::owning_agency;

/// Fetches the Agencies and the named catalog items, then calls [`check_product`] and
/// [`check_requester`] ([`judge`]); judges deletes first ([`judge_before_lookup`]).
pub struct ProductValidator {
    lookup: Arc<dyn Lookup>,
    clock: Clock,
    groups: Groups,
}

impl std::fmt::Debug for ProductValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductValidator")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ProductValidator {
    /// A validator reading from `lookup`, with today from `clock`.
    pub fn new(lookup: Arc<dyn Lookup>, clock: Clock) -> Self {
        Self {
            lookup,
            clock,
            groups: Groups::default(),
        }
    }

    /// With the SRE groups of `--sre-group` (R-LC-07, R-LC-10).
    #[must_use]
    pub fn with_sre_groups(mut self, groups: Vec<String>) -> Self {
        self.groups.sre = groups;
        self
    }

    /// With the authorized body's groups of `--authorized-body-group` (R-LC-10).
    #[must_use]
    pub fn with_authorized_body_groups(mut self, groups: Vec<String>) -> Self {
        self.groups.authorized_body = groups;
        self
    }
}

impl Validate for ProductValidator {
    type Object = PlatformSoftwareProduct;
    const JUDGES_DELETE: bool = true;

    async fn validate<'a>(
        &'a self,
        admission: &'a Admission<'a, PlatformSoftwareProduct>,
    ) -> Result<Verdict, LookupError> {
        let product = admission.object;
        let requester = Requester {
            user: admission.user,
            groups: admission.groups,
        };
        let deleting = matches!(admission.operation, Operation::Delete);
        if let Some(verdict) =
            judge_before_lookup(product, admission.old, deleting, requester, &self.groups)
        {
            return Ok(verdict);
        }
        let names = catalog_names(product);
        let (mut agencies, items) = futures::try_join!(
            self.lookup.agencies(Freshness::Cached),
            self.lookup.catalog_items(&names)
        )?;
        // The cached list may not show an Agency created a moment ago: refuse only
        // on the latest state (a refusal is rare; the cached read keeps the common
        // case fast).
        if owning_agency(admission.namespace, &agencies).is_none() {
            agencies = self.lookup.agencies(Freshness::Latest).await?;
        }
        let catalog: BTreeMap<String, SoftwareCatalogItem> = items
            .into_iter()
            .map(|item| (item.name_any(), item))
            .collect();
        let facts = Facts {
            agencies: &agencies,
            catalog: &catalog,
            today: self.clock.today(),
        };
        Ok(judge(
            admission.namespace,
            admission.name,
            product,
            admission.old,
            &facts,
            requester,
            &self.groups,
        ))
    }
}

#[cfg(test)]
mod validator_tests {
    use super::*;
    use akp_crds::Agency;
    use futures::FutureExt;
    use futures::future::BoxFuture;

    /// A watch cache that has not seen the agency yet, and the latest state that has.
    struct Lagging {
        latest: Vec<Agency>,
    }

    impl Lookup for Lagging {
        fn agencies(
            &self,
            freshness: Freshness,
        ) -> BoxFuture<'_, Result<Vec<Agency>, LookupError>> {
            let list = match freshness {
                Freshness::Cached => Vec::new(),
                Freshness::Latest => self.latest.clone(),
            };
            async move { Ok(list) }.boxed()
        }
        fn catalog_items<'a>(
            &'a self,
            _: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<SoftwareCatalogItem>, LookupError>> {
            async { Ok(Vec::new()) }.boxed()
        }
    }

    #[tokio::test]
    async fn r_lc_08_an_agency_the_cache_has_not_seen_yet_is_found_before_refusing() {
        let agency: Agency = serde_json::from_value(serde_json::json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Agency",
            "metadata": {"name": "mon"},
            "spec": {
                "displayName": {"kk": "Министрлік", "ru": "Министерство"},
                "bin": "040340004434", "namespace": "agency-mon",
                "digitalizationHead": {"user": "alice@mon.gov.kz"}
            }
        }))
        .expect("agency");
        let product: PlatformSoftwareProduct =
            akp_rules::examples::product_with("agency-mon", serde_json::json!({}));
        let validator = ProductValidator::new(
            Arc::new(Lagging {
                latest: vec![agency],
            }),
            Clock::fixed(jiff::civil::date(2026, 10, 1)),
        );
        let admission = Admission {
            operation: &Operation::Create,
            user: "alice@mon.gov.kz",
            groups: &[],
            namespace: "agency-mon",
            name: "e-license",
            object: &product,
            old: None,
        };
        let verdict = validator.validate(&admission).await.expect("verdict");
        assert!(verdict.is_allowed(), "{}", verdict.message());
    }
}
