//! Admission of Pods in environment namespaces: [`PodValidator`] fetches the
//! namespace's labels, the Sites, the catalog and the named node, then calls
//! [`check_pod`] (placement, R-PLC-01, R-PLC-02; trusted software, R-ENV-02, R-SW-01
//! to R-SW-03).

use std::sync::Arc;

use akp_crds::{Site, SoftwareCatalogItem};
use k8s_openapi::api::core::v1::Pod;

use super::lookup::{Freshness, Lookup, LookupError};
use super::verdict::{Admission, Clock, Validate, Verdict};
use crate::rules::admission::environment::{
    Environment, Labels, PlacementPolicy, environment_or_verdict,
};
pub use crate::rules::admission::pod::{
    PodFacts, REQUIRED_AFFINITY, changes, check_pod, check_toleration, check_volumes, confined,
    images,
};

/// Fetches the namespace's labels, the Sites, the catalog and the named node, then
/// calls [`check_pod`].
pub struct PodValidator {
    lookup: Arc<dyn Lookup>,
    clock: Clock,
    policy: PlacementPolicy,
}

impl std::fmt::Debug for PodValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodValidator")
            .field("clock", &self.clock)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PodValidator {
    /// A validator reading from `lookup`, with today from `clock`.
    pub fn new(lookup: Arc<dyn Lookup>, clock: Clock, policy: PlacementPolicy) -> Self {
        Self {
            lookup,
            clock,
            policy,
        }
    }

    /// Reads the Sites (on CREATE), the catalog (when there are images to judge) and
    /// the node of `spec.nodeName` (on CREATE), as fresh as asked.
    async fn inputs(
        &self,
        admission: &Admission<'_, Pod>,
        freshness: Freshness,
    ) -> Result<Inputs, LookupError> {
        let pod = admission.object;
        let creating = admission.old.is_none();
        let judges_images = match admission.old {
            None => true,
            Some(old) => !changes(pod, old).images.is_empty(),
        };
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| creating && !n.is_empty());
        let sites = async {
            if creating {
                self.lookup.sites(freshness).await
            } else {
                Ok(Vec::new())
            }
        };
        let catalog = async {
            if judges_images {
                self.lookup.catalog(freshness).await
            } else {
                Ok(Vec::new())
            }
        };
        let node = async {
            match node_name {
                Some(name) => self.lookup.node_labels(name).await,
                None => Ok(None),
            }
        };
        let (sites, catalog, node) = futures::try_join!(sites, catalog, node)?;
        Ok(Inputs {
            sites,
            catalog,
            node,
        })
    }

    fn judge(&self, admission: &Admission<'_, Pod>, env: &Environment, inputs: &Inputs) -> Verdict {
        let facts = PodFacts {
            environment: env,
            sites: &inputs.sites,
            catalog: &inputs.catalog,
            node: inputs.node.as_ref(),
            today: self.clock.today(),
            policy: &self.policy,
        };
        check_pod(admission.object, admission.old, &facts)
    }
}

/// What the checks of one pod read.
struct Inputs {
    sites: Vec<Site>,
    catalog: Vec<SoftwareCatalogItem>,
    node: Option<Labels>,
}

impl Validate for PodValidator {
    type Object = Pod;

    async fn validate<'a>(
        &'a self,
        admission: &'a Admission<'a, Pod>,
    ) -> Result<Verdict, LookupError> {
        // An update that adds no image and no toleration needs no lookup: labels,
        // finalizers and owner references change often.
        if let Some(old) = admission.old
            && changes(admission.object, old).is_empty()
        {
            return Ok(Verdict::allowed());
        }
        // One round trip: the webhook is only called for environment namespaces, so
        // the other reads are rarely wasted. The watch cache answers them fast.
        let (labels, inputs) = futures::try_join!(
            self.lookup.namespace_labels(admission.namespace),
            self.inputs(admission, Freshness::Cached)
        )?;
        let env = match environment_or_verdict(admission.namespace, labels.as_ref()) {
            Ok(env) => env,
            Err(verdict) => return Ok(verdict),
        };
        let verdict = self.judge(admission, &env, &inputs);
        if verdict.is_allowed() {
            return Ok(verdict);
        }
        // A refusal is confirmed on the latest state, so that a Site or catalog item
        // created a moment ago is not missed.
        let latest = self.inputs(admission, Freshness::Latest).await?;
        Ok(self.judge(admission, &env, &latest))
    }
}
