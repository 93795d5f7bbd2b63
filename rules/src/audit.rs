//! The audit trail's vocabulary (R-MON-02): the `action` each kind of record names.
//! Here, with the rules, because the pure admission checks name the acts they ask the
//! trail to keep; `akp_audit::record` re-exports them.

/// `action` of an admission webhook's answer.
pub const ADMISSION_DECISION: &str = "admission.decision";
/// `action` of a product's stage change as asked, recorded at admission with the
/// requester from the AdmissionReview's `userInfo` (R-MON-02).
pub const STAGE_CHANGE: &str = "stage.change";
/// `action` of a new stage carried out by the operator (its environments applied), or
/// refused when it reconciled; the actor is the operator.
pub const STAGE_APPLIED: &str = "stage.applied";
/// `action` of a request to delete a product's record, recorded at admission with the
/// requester (R-LC-07: only the SREs delete a record that reached trial operation).
pub const RECORD_DELETE: &str = "record.delete";
/// `action` of a change of a product's requested resources (`spec.environments`, on
/// create too), recorded at admission with the requester and both requests in full
/// (R-LC-05: every revision is kept and reaches the authorized body).
pub const RESOURCES_REVISION: &str = "resources.revision";
/// `action` of a billing month closed in the ledger.
pub const BILLING_MONTH_CLOSED: &str = "billing.month.closed";
/// `action` of adjustments booked for closed months (late data).
pub const BILLING_ADJUSTMENTS_BOOKED: &str = "billing.adjustments.booked";
/// `action` of a billing report rated from the closed ledger.
pub const BILLING_REPORT_GENERATED: &str = "billing.report.generated";
/// `action` of a billing report's bundle signed and written.
pub const BILLING_REPORT_SIGNED: &str = "billing.report.signed";
/// `action` of a billing report's delivery to the authorized body.
pub const BILLING_REPORT_DELIVERY: &str = "billing.report.delivery";
/// `action` of a month of records moved to the archive by the retention job.
pub const AUDIT_ARCHIVED: &str = "audit.archived";
/// `action` of an archive file deleted after the retention period.
pub const AUDIT_PURGED: &str = "audit.purged";
