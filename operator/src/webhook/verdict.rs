//! What every validator shares: the [`Validate`] trait one kind implements, the
//! [`Admission`] it judges, the [`Verdict`] and [`Violation`]s it returns, and the
//! [`Clock`] it reads. A leaf: the validators depend on it and the dispatch
//! ([`super::admission`]) on them, never the reverse.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use jiff::civil::Date;
use kube::Resource;
use kube::core::admission::Operation;
use serde::de::DeserializeOwned;

use super::lookup::LookupError;
use crate::rules::clocks;

/// The tracing target of admission decisions: the R-MON-02 audit trail. Route it to
/// the long-term log store (kept at least 3 years, 2 months online).
pub const AUDIT_TARGET: &str = "akp::audit";

pub use akp_rules::admission::verdict::{AuditedAct, ExpiringSoftware, Verdict, Violation};

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
