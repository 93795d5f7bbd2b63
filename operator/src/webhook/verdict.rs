//! What every validator shares: the [`Validate`] trait one kind implements, the
//! [`Admission`] it judges, the [`Verdict`] and [`Violation`]s it returns, and the
//! [`Clock`] it reads. A leaf: the validators depend on it and the dispatch
//! ([`super::admission`]) on them, never the reverse.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use jiff::civil::Date;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::core::admission::Operation;
use serde::de::DeserializeOwned;

use super::lookup::LookupError;
use crate::rules::clocks;

/// The tracing target of admission decisions: the R-MON-02 audit trail. Route it to
/// the long-term log store (kept at least 3 years, 2 months online).
pub const AUDIT_TARGET: &str = "akp::audit";

pub use crate::rules::refusal::Violation;

/// What a [`Validate`] implementation concluded: refusals (none means allowed) and
/// warnings, which kubectl shows without refusing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Reasons to refuse; empty (with `refusals`) means allowed.
    pub violations: Vec<Violation>,
    /// Reasons to refuse that a rule phrased itself (e.g. [`crate::rules::catalog`]),
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
    /// The record's action, one of [`akp_audit::record`]'s constants.
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

/// The request as one kind's validator sees it: typed objects and who asks.
#[derive(Debug)]
pub struct Admission<'a, K> {
    /// CREATE or UPDATE; DELETE only to a validator with [`Validate::JUDGES_DELETE`].
    pub operation: &'a Operation,
    /// The requesting user's name.
    pub user: &'a str,
    /// The requesting user's groups, as the API server authenticated them.
    pub groups: &'a [String],
    /// The object's namespace (empty for cluster-scoped kinds).
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The object as it would be stored; on DELETE, the object as it is stored.
    pub object: &'a K,
    /// On UPDATE and DELETE, the object as it is stored now.
    pub old: Option<&'a K>,
}

/// The admission rules of one kind (linkerd2 policy-controller style): pure checks
/// behind a thin fetch of what they need.
pub trait Validate: Send + Sync {
    /// The kind it validates.
    type Object: DeserializeOwned + Resource<DynamicType = ()> + Send + Sync;

    /// Whether DELETE requests are judged too (the stored object is then both
    /// `object` and `old`); others are allowed without a look.
    const JUDGES_DELETE: bool = false;

    /// Judges a CREATE or UPDATE. An error means the rules could not be checked (a
    /// lookup failed); the request is then refused, as `failurePolicy: Fail` would.
    fn validate<'a>(
        &'a self,
        admission: &'a Admission<'a, Self::Object>,
    ) -> impl Future<Output = Result<Verdict, LookupError>> + Send + 'a;
}

/// Where "today" comes from, for rules about dates (R-SW-02). Injected so that tests
/// can fix it.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Date + Send + Sync>);

impl Clock {
    /// Today in Kazakhstan, from the system clock.
    pub fn system() -> Self {
        Self(Arc::new(|| clocks::civil_date(jiff::Timestamp::now())))
    }

    /// Always `day`.
    pub fn fixed(day: Date) -> Self {
        Self(Arc::new(move || day))
    }

    /// A clock that asks `today` each time.
    pub fn from_fn(today: impl Fn() -> Date + Send + Sync + 'static) -> Self {
        Self(Arc::new(today))
    }

    /// Today's date.
    pub fn today(&self) -> Date {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.today()).finish()
    }
}
