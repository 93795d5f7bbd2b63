//! The dispatch of admission: [`Validators`] sends an `AdmissionRequest` to the
//! validator of its kind ([`super::verdict::Validate`]), answers, and writes the audit
//! trail (R-MON-02).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use akp_crds::{Agency, PlatformSoftwareProduct};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::Resource;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::{DynamicObject, GroupVersionKind};
use serde::de::DeserializeOwned;

use super::agency::AgencyValidator;
use super::lookup::{ClusterLookup, Lookup};
use super::metrics::AdmissionMetrics;
use super::notice::ExpiryNotices;
use super::pod::PodValidator;
use super::product::ProductValidator;
use super::pvc::ClaimValidator;
use super::server::Reviewer;
use crate::rules::admission::environment::PlacementPolicy;

pub use super::verdict::{
    AUDIT_TARGET, Admission, AuditedAct, Clock, ExpiringSoftware, Validate, Verdict, Violation,
};

/// Every kind's validator, and the dispatch from an `AdmissionRequest` to them.
/// Kinds without rules are allowed.
#[derive(Clone)]
pub struct Validators {
    lookup: Arc<dyn Lookup>,
    clock: Clock,
    agencies: Arc<AgencyValidator>,
    products: Arc<ProductValidator>,
    pods: Arc<PodValidator>,
    claims: Arc<ClaimValidator>,
    policy: PlacementPolicy,
    metrics: Option<AdmissionMetrics>,
    notices: Option<ExpiryNotices>,
    audit: Option<akp_audit::Sink>,
    groups: super::product::Groups,
}

impl fmt::Debug for Validators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validators").finish_non_exhaustive()
    }
}

/// How a request ended, before it becomes an `AdmissionResponse`.
enum Decision {
    Judged(Verdict),
    /// The rules could not be checked; refused (fail closed).
    Failed(String),
}

/// The subresource of Pods whose updates are judged besides the Pod itself.
const EPHEMERAL_CONTAINERS: &str = "ephemeralcontainers";

impl Validators {
    /// Queues the decision's record and its acts' records, all or none (R-MON-02).
    async fn store(
        &self,
        sink: &akp_audit::Sink,
        request: &AdmissionRequest<DynamicObject>,
        decision: &Decision,
    ) -> Result<(), akp_audit::Unrecorded> {
        let mut records = vec![audit_record(request, decision)];
        if !request.dry_run
            && let Decision::Judged(verdict) = decision
        {
            records.extend(
                verdict
                    .acts
                    .iter()
                    .map(|act| act_record(request, verdict, act)),
            );
        }
        sink.admit(records).await
    }

    /// Validators that read Agencies, the catalog, Sites, Namespaces and Nodes from the
    /// cluster, with today's date from the system clock, the default placement policy,
    /// and R-SW-02 events written with `client`.
    pub fn new(client: kube::Client) -> Self {
        Self::with_lookup(
            Arc::new(ClusterLookup::new(client.clone())),
            Clock::system(),
        )
        .with_events(client)
    }

    /// Validators over any source of objects and any clock (tests), with the default
    /// placement policy and no events.
    pub fn with_lookup(lookup: Arc<dyn Lookup>, clock: Clock) -> Self {
        let policy = PlacementPolicy::default();
        Self {
            agencies: Arc::new(AgencyValidator::new(lookup.clone())),
            products: Arc::new(ProductValidator::new(lookup.clone(), clock.clone())),
            groups: super::product::Groups::default(),
            pods: Arc::new(PodValidator::new(
                lookup.clone(),
                clock.clone(),
                policy.clone(),
            )),
            claims: Arc::new(ClaimValidator::new(lookup.clone(), policy.clone())),
            policy,
            lookup,
            clock,
            metrics: None,
            notices: None,
            audit: None,
        }
    }

    /// Judges pods and claims by `policy` (home country, forbidden taints).
    #[must_use]
    pub fn with_placement(mut self, policy: PlacementPolicy) -> Self {
        self.pods = Arc::new(PodValidator::new(
            self.lookup.clone(),
            self.clock.clone(),
            policy.clone(),
        ));
        self.claims = Arc::new(ClaimValidator::new(self.lookup.clone(), policy.clone()));
        self.policy = policy;
        self
    }

    /// The same validators (policy, SRE groups, metrics, audit, events) reading through
    /// `lookup`: a remote site's cluster ([`super::sites`]).
    #[must_use]
    pub fn reading(&self, lookup: Arc<dyn Lookup>) -> Self {
        Self {
            metrics: self.metrics.clone(),
            notices: self.notices.clone(),
            audit: self.audit.clone(),
            ..Self::with_lookup(lookup, self.clock.clone())
                .with_placement(self.policy.clone())
                .with_groups(self.groups.clone())
        }
    }

    /// The groups of the platform's SREs (`--sre-group`): with `system:masters`, the
    /// only ones who delete a product's record once it reached trial operation
    /// (R-LC-07) or change its legal regime past development (R-LC-10).
    #[must_use]
    pub fn with_sre_groups(self, groups: Vec<String>) -> Self {
        let authorized_body = self.groups.authorized_body.clone();
        self.with_groups(super::product::Groups {
            sre: groups,
            authorized_body,
        })
    }

    /// The SRE and authorized-body groups the requester checks read (R-LC-07,
    /// R-LC-10): the authorized body's users alone confirm production resources.
    #[must_use]
    pub fn with_groups(mut self, groups: super::product::Groups) -> Self {
        self.products = Arc::new(
            ProductValidator::new(self.lookup.clone(), self.clock.clone())
                .with_sre_groups(groups.sre.clone())
                .with_authorized_body_groups(groups.authorized_body.clone()),
        );
        self.groups = groups;
        self
    }

    /// Counts decisions and times them in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: AdmissionMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also stores every decision in the audit trail (R-MON-02) through `sink`, which
    /// never makes a request wait.
    #[must_use]
    pub fn with_audit(mut self, sink: akp_audit::Sink) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Publishes the R-SW-02 Warning events with `client`.
    #[must_use]
    pub fn with_events(mut self, client: kube::Client) -> Self {
        self.notices = Some(ExpiryNotices::new(client));
        self
    }
}

impl Reviewer for Validators {
    async fn judge(
        &self,
        request: &AdmissionRequest<DynamicObject>,
        recorded: bool,
    ) -> AdmissionResponse {
        let started = Instant::now();
        let sub_resource = request.sub_resource.as_deref();
        let decision = if is_kind::<PlatformSoftwareProduct>(&request.kind) {
            run(self.products.as_ref(), request).await
        } else if is_kind::<Agency>(&request.kind) {
            run(self.agencies.as_ref(), request).await
        } else if is_kind::<Pod>(&request.kind)
            && matches!(sub_resource, None | Some(EPHEMERAL_CONTAINERS))
        {
            run(self.pods.as_ref(), request).await
        } else if is_kind::<PersistentVolumeClaim>(&request.kind) && sub_resource.is_none() {
            run(self.claims.as_ref(), request).await
        } else {
            Decision::Judged(Verdict::allowed())
        };
        let elapsed = started.elapsed();
        let mut decision = decision;
        if recorded {
            audit(request, &decision, elapsed);
            if let Some(sink) = &self.audit
                && let Err(unrecorded) = self.store(sink, request, &decision).await
            {
                // R-MON-02: a decision the trail cannot keep is not made (fail closed).
                decision = Decision::Failed(unrecorded.to_string());
            }
        } else {
            tracing::debug!(
                uid = %request.uid,
                kind = %request.kind.kind,
                "unauthenticated admission review answered, not recorded"
            );
        }
        if let Some(metrics) = &self.metrics {
            let allowed = matches!(&decision, Decision::Judged(v) if v.is_allowed());
            metrics.observe(&request.kind.kind, allowed, elapsed);
        }
        if let Decision::Judged(verdict) = &decision {
            self.note_expiring(request, verdict);
        }
        respond(request, decision)
    }
}

impl Validators {
    /// R-SW-02: an admitted use of software whose documents expire soon is counted and
    /// told in an event, except on dry run (the webhook declares `NoneOnDryRun`).
    fn note_expiring(&self, request: &AdmissionRequest<DynamicObject>, verdict: &Verdict) {
        if request.dry_run || !verdict.is_allowed() || verdict.expiring.is_empty() {
            return;
        }
        if let Some(metrics) = &self.metrics {
            for use_ in &verdict.expiring {
                metrics.observe_expiring(&use_.item);
            }
        }
        if let Some(notices) = &self.notices {
            notices.publish(&verdict.expiring, self.clock.today());
        }
    }
}

fn is_kind<K: Resource<DynamicType = ()>>(gvk: &GroupVersionKind) -> bool {
    gvk.group == K::group(&()) && gvk.kind == K::kind(&())
}

async fn run<V: Validate>(validator: &V, request: &AdmissionRequest<DynamicObject>) -> Decision {
    let judged = match request.operation {
        Operation::Create | Operation::Update => true,
        Operation::Delete => V::JUDGES_DELETE,
        Operation::Connect => false,
    };
    if !judged {
        return Decision::Judged(Verdict::allowed());
    }
    // On DELETE the API server sends the stored object as oldObject only.
    let object = match request.operation {
        Operation::Delete => &request.old_object,
        _ => &request.object,
    };
    let Some(object) = object else {
        return Decision::Failed(format!(
            "the {:?} request carries no object",
            request.operation
        ));
    };
    let object: V::Object = match typed(object) {
        Ok(object) => object,
        Err(e) => return Decision::Failed(format!("cannot read the object: {e}")),
    };
    let old: Option<V::Object> = match request.old_object.as_ref().map(typed).transpose() {
        Ok(old) => old,
        Err(e) => return Decision::Failed(format!("cannot read the stored object: {e}")),
    };
    // With generateName the API server has picked the name before validating webhooks.
    let name = object
        .meta()
        .name
        .clone()
        .unwrap_or_else(|| request.name.clone());
    let admission = Admission {
        operation: &request.operation,
        user: request.user_info.username.as_deref().unwrap_or(""),
        groups: request.user_info.groups.as_deref().unwrap_or_default(),
        namespace: request.namespace.as_deref().unwrap_or(""),
        name: &name,
        object: &object,
        old: old.as_ref(),
    };
    match validator.validate(&admission).await {
        Ok(verdict) => Decision::Judged(verdict),
        Err(e) => Decision::Failed(format!("the admission rules could not be checked: {e}")),
    }
}

fn typed<K: DeserializeOwned>(object: &DynamicObject) -> Result<K, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(object)?)
}

fn respond(request: &AdmissionRequest<DynamicObject>, decision: Decision) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    match decision {
        Decision::Judged(verdict) => {
            let mut response = if verdict.is_allowed() {
                response
            } else {
                let mut denied = response.deny(verdict.message());
                denied.result.code = 403;
                denied.result.reason = "Forbidden".into();
                denied
            };
            if !verdict.warnings.is_empty() {
                response.warnings = Some(verdict.warnings);
            }
            response
        }
        Decision::Failed(message) => {
            let mut failed = response.deny(format!(
                "{message}; try again, and tell the platform operator if it persists"
            ));
            failed.result.code = 500;
            failed.result.reason = "InternalError".into();
            failed
        }
    }
}

/// R-MON-02: every admission decision, with who asked for what and why.
fn audit(
    request: &AdmissionRequest<DynamicObject>,
    decision: &Decision,
    elapsed: std::time::Duration,
) {
    let (allowed, reasons) = match decision {
        Decision::Judged(verdict) => (verdict.is_allowed(), verdict.message()),
        Decision::Failed(message) => (false, message.clone()),
    };
    tracing::info!(
        target: AUDIT_TARGET,
        uid = %request.uid,
        user = request.user_info.username.as_deref().unwrap_or(""),
        groups = ?request.user_info.groups.as_deref().unwrap_or_default(),
        operation = ?request.operation,
        group = %request.kind.group,
        kind = %request.kind.kind,
        namespace = request.namespace.as_deref().unwrap_or(""),
        name = %request.name,
        dry_run = request.dry_run,
        allowed,
        reasons = %reasons,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "admission decision"
    );
}

/// R-MON-02: the decision as an audit record (the sink stores it; the tracing record
/// above stays for log pipelines).
fn audit_record(
    request: &AdmissionRequest<DynamicObject>,
    decision: &Decision,
) -> akp_audit::Record {
    use akp_audit::{Decision as Outcome, Object, Record};
    let (outcome, reason, failed, warnings) = match decision {
        Decision::Judged(v) if v.is_allowed() => {
            (Outcome::Allowed, String::new(), false, v.warnings.clone())
        }
        Decision::Judged(v) => (Outcome::Denied, v.message(), false, v.warnings.clone()),
        Decision::Failed(message) => (Outcome::Denied, message.clone(), true, Vec::new()),
    };
    let uid = request
        .object
        .as_ref()
        .or(request.old_object.as_ref())
        .and_then(|o| o.metadata.uid.clone());
    let object = Object::namespaced(
        &request.kind.kind,
        request.namespace.as_deref().unwrap_or(""),
        &request.name,
    )
    .with_uid(uid);
    Record::new(
        request.user_info.username.as_deref().unwrap_or(""),
        akp_audit::record::ADMISSION_DECISION,
        object,
        outcome,
    )
    .reason(reason)
    .details(serde_json::json!({
        "request": request.uid,
        "operation": format!("{:?}", request.operation),
        "group": request.kind.group,
        "version": request.kind.version,
        "subResource": request.sub_resource,
        "groups": request.user_info.groups,
        "dryRun": request.dry_run,
        "rulesFailed": failed,
        "warnings": warnings,
    }))
}

/// R-MON-02: an act the request asks for (a stage change, the deletion of a record),
/// with the requester from the AdmissionReview's `userInfo`: the person, never a
/// client-chosen field manager.
fn act_record(
    request: &AdmissionRequest<DynamicObject>,
    verdict: &Verdict,
    act: &AuditedAct,
) -> akp_audit::Record {
    let mut record = audit_record(request, &Decision::Judged(verdict.clone()));
    record.action = act.action.to_owned();
    record.reason = if verdict.is_allowed() {
        act.reason.clone()
    } else {
        format!("{}; refused: {}", act.reason, verdict.message())
    };
    if let (Some(details), Some(extra)) = (record.details.as_object_mut(), act.details.as_object())
    {
        details.extend(extra.clone());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(field: &str) -> Violation {
        Violation {
            field: field.into(),
            value: "x".into(),
            problem: "is wrong".into(),
            rule: "R-TEST-01",
            fix: "fix it".into(),
        }
    }

    #[test]
    fn a_violation_names_field_value_rule_and_fix() {
        assert_eq!(
            violation("spec.a").to_string(),
            r#"spec.a "x" is wrong (R-TEST-01): fix it"#
        );
    }

    #[test]
    fn several_violations_are_listed_in_one_message() {
        let verdict = Verdict {
            violations: vec![violation("spec.a"), violation("spec.b")],
            refusals: vec![
                r#"spec.c: image "x" is in no catalog item (R-TEST-02): use another"#.into(),
            ],
            ..Verdict::default()
        };
        assert!(!verdict.is_allowed());
        assert_eq!(
            verdict.message(),
            r#"3 problems: spec.a "x" is wrong (R-TEST-01): fix it; spec.b "x" is wrong (R-TEST-01): fix it; spec.c: image "x" is in no catalog item (R-TEST-02): use another"#
        );
        assert_eq!(Verdict::allowed().message(), "");
    }

    #[test]
    fn the_clock_can_be_fixed() {
        let day = jiff::civil::date(2026, 10, 1);
        assert_eq!(Clock::fixed(day).today(), day);
    }
}
