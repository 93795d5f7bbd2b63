//! Admission of Agencies (R-LC-08): [`AgencyValidator`] fetches the Agencies, then
//! calls [`check_agency`].

use std::sync::Arc;

use akp_crds::Agency;
use kube::core::admission::Operation;

use super::lookup::{Freshness, Lookup, LookupError};
use super::verdict::{Admission, Validate, Verdict};
pub use crate::rules::admission::agency::check_agency;

/// Reads the Agencies for [`check_agency`].
pub struct AgencyValidator {
    lookup: Arc<dyn Lookup>,
}

impl AgencyValidator {
    /// A validator reading from `lookup`.
    pub fn new(lookup: Arc<dyn Lookup>) -> Self {
        Self { lookup }
    }
}

impl Validate for AgencyValidator {
    type Object = Agency;

    async fn validate<'a>(
        &'a self,
        admission: &'a Admission<'a, Agency>,
    ) -> Result<Verdict, LookupError> {
        // spec.namespace cannot change (CEL), so only a create can claim a namespace;
        // updates of an Agency that already conflicts must still go through.
        if !matches!(admission.operation, Operation::Create) {
            return Ok(Verdict::allowed());
        }
        // The latest state: an Agency created a moment ago must count.
        let agencies = self.lookup.agencies(Freshness::Latest).await?;
        Ok(check_agency(admission.name, admission.object, &agencies))
    }
}
