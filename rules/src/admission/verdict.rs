//! What a pure admission check returns: the refusals, warnings and acts of one
//! request, for the webhook to answer and record.

use k8s_openapi::api::core::v1::ObjectReference;

pub use crate::refusal::Violation;

/// What an admission check concluded: refusals (none means allowed) and
/// warnings, which kubectl shows without refusing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Reasons to refuse; empty (with `refusals`) means allowed.
    pub violations: Vec<Violation>,
    /// Reasons to refuse that a rule phrased itself (e.g. [`crate::catalog`]),
    /// each already naming the field, the value, the rule id and the fix.
    pub refusals: Vec<String>,
    /// Things the user should know, e.g. software whose documents expire soon.
    pub warnings: Vec<String>,
    /// Catalog software in use whose register documents expire soon (R-SW-02): the
    /// dispatcher counts it in a metric and publishes an event, unless on dry run.
    pub expiring: Vec<ExpiringSoftware>,
    /// Acts the request asks for that the audit trail records on their own (R-MON-02):
    /// a stage change, the deletion of a record. The dispatcher stores each with the
    /// requester from `userInfo` and the decision, unless on dry run.
    pub acts: Vec<AuditedAct>,
}

/// An act worth its own audit record, besides the admission decision (R-MON-02).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditedAct {
    /// The record's action, one of [`crate::audit`]'s constants.
    pub action: &'static str,
    /// What is asked, for people, e.g. "stage development → preliminaryTesting".
    pub reason: String,
    /// Anything else worth keeping (a JSON object).
    pub details: serde_json::Value,
}

/// A use of catalog software whose register documents expire within the warning
/// window (R-SW-02).
#[derive(Clone, Debug, PartialEq)]
pub struct ExpiringSoftware {
    /// The SoftwareCatalogItem.
    pub item: String,
    /// What the event is about: the product, or the environment namespace.
    pub regarding: ObjectReference,
    /// The event's note, for people.
    pub note: String,
}

impl Verdict {
    /// An allowed request with nothing to say.
    pub fn allowed() -> Self {
        Self::default()
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.violations.is_empty() && self.refusals.is_empty()
    }

    /// All refusals in one message, as the API server shows it.
    pub fn message(&self) -> String {
        let all: Vec<String> = self
            .violations
            .iter()
            .map(Violation::to_string)
            .chain(self.refusals.iter().cloned())
            .collect();
        match all.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            many => format!("{} problems: {}", many.len(), many.join("; ")),
        }
    }
}
