//! Conditions (style point 9): one enum of the condition types the controllers write,
//! and one way to write a condition: its transition time kept while its status holds,
//! `observedGeneration` always set. Every status (products, sites, agencies, billing
//! reports) is written through [`condition`] and [`upsert`].

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Every condition type of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionType {
    /// The object is in place (products: all environments of the stage provisioned).
    Ready,
    /// Environments are being created or retired.
    Progressing,
    /// The object cannot be reconciled as it is.
    Degraded,
    /// R-LC-03: trial operation within one calendar month.
    TrialWithinLimit,
    /// R-ENV-03: environments provided within 10 working days.
    ProvisionedWithinSla,
    /// R-PLC-01, R-PLC-02: every pod on nodes attested in Kazakhstan, at allowed sites.
    Placed,
    /// R-ENV-03: every provisioning deadline falls in years whose movable holidays
    /// are known.
    CalendarKnown,
    /// R-LC-10: production's resources in force are those the authorized body
    /// confirmed; a revision waits for its confirmation.
    ResourcesConfirmed,
    /// R-PLC-02, R-PLC-04: production has the standby its class needs (hot, cold or
    /// backup storage).
    StandbyPlaced,
    /// R-SW-02, R-SW-03: every catalog item a product requests is still trusted (not
    /// expired, not removed from the register, its dependencies in the register).
    SoftwareTrusted,
    /// R-PLC-01: every node of a site is attested in Kazakhstan.
    Resident,
    /// R-BIL-01: a billing report's month is read from the closed ledger.
    Collected,
    /// R-BIL-03: a billing report's usage is rated at the tariffs in force.
    Rated,
    /// R-BIL-02: a billing report's manifest is signed.
    Signed,
    /// R-BIL-02: a billing report is delivered to the authorized body.
    Delivered,
}

impl ConditionType {
    /// The type as the API writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::TrialWithinLimit => "TrialWithinLimit",
            Self::ProvisionedWithinSla => "ProvisionedWithinSla",
            Self::Placed => "Placed",
            Self::CalendarKnown => "CalendarKnown",
            Self::ResourcesConfirmed => "ResourcesConfirmed",
            Self::StandbyPlaced => "StandbyPlaced",
            Self::SoftwareTrusted => "SoftwareTrusted",
            Self::Resident => "Resident",
            Self::Collected => "Collected",
            Self::Rated => "Rated",
            Self::Signed => "Signed",
            Self::Delivered => "Delivered",
        }
    }
}

/// What a reconcile writes conditions against: the conditions as they are, now, and
/// the generation it saw.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    /// The object's conditions as they are.
    pub old: &'a [Condition],
    /// Now (to the second: the API server keeps no finer time).
    pub now: Timestamp,
    /// The generation the reconcile saw.
    pub generation: Option<i64>,
}

/// The condition `type_` with status `value`, keeping the old condition's transition
/// time when its status does not change.
pub fn condition(
    observed: &Observed,
    type_: ConditionType,
    value: bool,
    reason: &str,
    message: impl Into<String>,
) -> Condition {
    let status = if value { "True" } else { "False" };
    let transition = observed
        .old
        .iter()
        .find(|c| c.type_ == type_.as_str() && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(observed.now));
    Condition {
        type_: type_.as_str().to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        last_transition_time: transition,
        observed_generation: observed.generation,
    }
}

/// Sets [`condition`] in `list`: replaces the condition of its type, or appends it.
pub fn upsert(
    list: &mut Vec<Condition>,
    observed: &Observed,
    type_: ConditionType,
    value: bool,
    reason: &str,
    message: impl Into<String>,
) {
    let new = condition(observed, type_, value, reason, message);
    match list.iter_mut().find(|c| c.type_ == new.type_) {
        Some(c) => *c = new,
        None => list.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_transition_time_moves_only_when_the_status_changes() {
        let first = Observed {
            old: &[],
            now: at("2026-03-01T10:00:00Z"),
            generation: Some(1),
        };
        let mut list = Vec::new();
        upsert(
            &mut list,
            &first,
            ConditionType::Ready,
            false,
            "Provisioning",
            "wait",
        );
        upsert(
            &mut list,
            &first,
            ConditionType::Degraded,
            false,
            "Valid",
            "ok",
        );
        let old = list.clone();
        let later = Observed {
            old: &old,
            now: at("2026-03-01T11:00:00Z"),
            generation: Some(2),
        };
        // Same status, new reason: the time holds, the generation follows.
        upsert(
            &mut list,
            &later,
            ConditionType::Ready,
            false,
            "Still",
            "still",
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].reason, "Still");
        assert_eq!(list[0].last_transition_time, Time(first.now));
        assert_eq!(list[0].observed_generation, Some(2));
        // A new status: the time moves.
        upsert(
            &mut list,
            &later,
            ConditionType::Ready,
            true,
            "Provisioned",
            "done",
        );
        assert_eq!(list[0].status, "True");
        assert_eq!(list[0].last_transition_time, Time(later.now));
        assert_eq!(list[1].type_, "Degraded");
    }
}
