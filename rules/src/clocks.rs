//! The legal clocks of a product (R-LC-03, R-LC-06, R-ENV-03, R-ENV-04).
//!
//! Civil dates are read in Kazakhstan time ([`crate::time`]).

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan, Zoned};

use super::calendar::Calendar;
pub use crate::time::{civil_date, kazakhstan};

/// R-LC-03: trial operation lasts at most one calendar month (000 p.34): the deadline is
/// the same time one calendar month later (the 31st becomes the month's last day).
pub fn trial_deadline(started: Timestamp) -> Timestamp {
    let zoned: Zoned = started.to_zoned(kazakhstan());
    zoned
        .checked_add(1.month())
        .map(|z| z.timestamp())
        .unwrap_or(started)
}

/// R-LC-03: the trial operation that the act of transfer dated `act` starts: from the
/// start of that day in Kazakhstan, one calendar month (to the start of the same day
/// of the next month; the 31st January runs to the end of February). The act, not the
/// moment the operator saw the stage, starts the clock, so a product created at trial
/// operation or walked back and forth gets the clock its act gives. `None` beyond
/// jiff's range.
pub fn trial_from_act(act: Date) -> Option<(Timestamp, Timestamp)> {
    let start = crate::time::day_start(act)?;
    Some((start, trial_deadline(start)))
}

/// R-LC-06: production starts on the day of the head's commissioning order (000
/// p.37.1), and the warranty runs one year from it: the start of that day in
/// Kazakhstan and the warranty's last day. `None` beyond jiff's range.
pub fn production_from_order(order: Date) -> Option<(Timestamp, Date)> {
    let since = crate::time::day_start(order)?;
    Some((since, warranty_until(since)))
}

/// R-LC-03: whether a trial that started at `started` is overdue at `now`.
pub fn trial_overdue(started: Timestamp, now: Timestamp) -> bool {
    now > trial_deadline(started)
}

/// R-LC-06: the warranty lasts at least one year from commissioning (000 p.41; 003
/// p.16.9): its last day is one year after the production start date.
pub fn warranty_until(production_since: Timestamp) -> Date {
    let start = civil_date(production_since);
    start.checked_add(1.year()).unwrap_or(start)
}

/// The provisioning deadline (R-ENV-03; 003 p.12, p.13): the end of the 10th working
/// day after the day of the request.
pub const PROVISIONING_WORKING_DAYS: u32 = 10;

/// R-ENV-03: the last civil date on which an environment requested at `requested` may
/// become ready.
pub fn provisioning_deadline(calendar: &Calendar, requested: Timestamp) -> Date {
    calendar.add_working_days(civil_date(requested), PROVISIONING_WORKING_DAYS)
}

/// R-ENV-03: the years, from the request to its provisioning deadline, whose movable
/// holidays the calendar does not know: the deadline may be a day early there, so it
/// is flagged (`CalendarKnown=False`), never trusted silently. Empty: known.
pub fn provisioning_deadline_unknown_years(calendar: &Calendar, requested: Timestamp) -> Vec<i16> {
    calendar.unknown_years(
        civil_date(requested),
        provisioning_deadline(calendar, requested),
    )
}

/// Working days left before the provisioning deadline from which an environment that
/// is still not ready is reported at risk (the chart's AkpProvisioningSlaAtRisk alert).
pub const PROVISIONING_AT_RISK_WORKING_DAYS: u32 = 2;

/// R-ENV-03: whether an environment requested at `requested` and still not ready at
/// `now` has at most [`PROVISIONING_AT_RISK_WORKING_DAYS`] working days left, and is
/// not late yet (a late one is a breach, counted apart).
pub fn provisioning_at_risk(calendar: &Calendar, requested: Timestamp, now: Timestamp) -> bool {
    let deadline = provisioning_deadline(calendar, requested);
    let today = civil_date(now);
    today <= deadline
        && calendar.working_days_between(today, deadline) <= PROVISIONING_AT_RISK_WORKING_DAYS
}

/// R-ENV-03: whether provisioning requested at `requested` is within the SLA, given
/// when it became ready (or, while not ready, the current time).
pub fn provisioned_within_sla(
    calendar: &Calendar,
    requested: Timestamp,
    ready_or_now: Timestamp,
) -> bool {
    civil_date(ready_or_now) <= provisioning_deadline(calendar, requested)
}

/// R-ENV-04: non-production environments are free for `free_months` from the earliest
/// contract date (003 p.12: at most 3). Returns the first day that is no longer free.
/// The one computation of the period: rating, estimates and the product's status call it.
pub fn free_period_end(earliest_contract: Date, free_months: i32) -> Date {
    earliest_contract
        .checked_add(free_months.months())
        .unwrap_or(earliest_contract)
}

/// R-ENV-04 as billing rates it: the first day on which non-production is no longer
/// free, given the earliest contract date and, for each published Tariff, the day it
/// takes effect and its `nonProduction.freeMonthsFromContract`. A day is free while it
/// is before the [`free_period_end`] of the tariff in force on it, so a later tariff
/// with fewer free months can end the period early. `None` without any tariff: nothing
/// is rated, so no day is billed.
pub fn free_period_end_under(earliest_contract: Date, tariffs: &[(Date, i32)]) -> Option<Date> {
    let mut versions = tariffs.to_vec();
    versions.sort();
    versions.dedup_by_key(|(from, _)| *from);
    for (i, (from, months)) in versions.iter().enumerate() {
        let first_not_free = free_period_end(earliest_contract, *months).max(*from);
        match versions.get(i + 1) {
            Some((next, _)) if first_not_free >= *next => continue,
            _ => return Some(first_not_free),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn r_lc_03_trial_deadline_is_one_calendar_month() {
        assert_eq!(
            trial_deadline(at("2026-09-03T10:00:00+05:00")),
            at("2026-10-03T10:00:00+05:00")
        );
        // The 31st of January ends on the last day of February.
        assert_eq!(
            trial_deadline(at("2027-01-31T09:00:00+05:00")),
            at("2027-02-28T09:00:00+05:00")
        );
        assert!(!trial_overdue(
            at("2026-09-03T10:00:00+05:00"),
            at("2026-10-03T10:00:00+05:00")
        ));
        assert!(trial_overdue(
            at("2026-09-03T10:00:00+05:00"),
            at("2026-10-03T10:00:01+05:00")
        ));
    }

    #[test]
    fn r_lc_03_the_trial_runs_from_the_transfer_act_across_nauryz_and_a_year_boundary() {
        // Transferred on 2 March 2026: Nauryz (21-23 March) is inside the month and
        // does not lengthen it: the clock is in calendar months, not working days.
        let (start, deadline) = trial_from_act(date(2026, 3, 2)).expect("in range");
        assert_eq!(start, at("2026-03-02T00:00:00+05:00"));
        assert_eq!(deadline, at("2026-04-02T00:00:00+05:00"));
        // Transferred on Nauryz itself.
        let (_, deadline) = trial_from_act(date(2026, 3, 22)).expect("in range");
        assert_eq!(deadline, at("2026-04-22T00:00:00+05:00"));
        // Across the new year.
        let (start, deadline) = trial_from_act(date(2026, 12, 15)).expect("in range");
        assert_eq!(start, at("2026-12-14T19:00:00Z"));
        assert_eq!(deadline, at("2027-01-15T00:00:00+05:00"));
        assert!(!trial_overdue(start, at("2027-01-14T23:59:59+05:00")));
        assert!(trial_overdue(start, at("2027-01-15T00:00:01+05:00")));
        // The 31st of December runs to the end of January.
        let (_, deadline) = trial_from_act(date(2026, 12, 31)).expect("in range");
        assert_eq!(deadline, at("2027-01-31T00:00:00+05:00"));
    }

    #[test]
    fn r_lc_06_production_and_warranty_run_from_the_commissioning_order() {
        // Ordered on the last day of 2026: the warranty ends on the last day of 2027.
        assert_eq!(
            production_from_order(date(2026, 12, 31)),
            Some((at("2026-12-31T00:00:00+05:00"), date(2027, 12, 31)))
        );
        // Ordered on Nauryz: holidays do not move a one-year warranty.
        assert_eq!(
            production_from_order(date(2027, 3, 22)).map(|p| p.1),
            Some(date(2028, 3, 22))
        );
        // 29 February 2028: the warranty ends on 28 February 2029.
        assert_eq!(
            production_from_order(date(2028, 2, 29)).map(|p| p.1),
            Some(date(2029, 2, 28))
        );
    }

    #[test]
    fn r_lc_06_warranty_is_one_year_from_commissioning() {
        assert_eq!(
            warranty_until(at("2026-03-27T12:00:00+05:00")),
            date(2027, 3, 27)
        );
        // Late evening UTC is already the next day in Kazakhstan.
        assert_eq!(
            warranty_until(at("2026-03-27T20:30:00Z")),
            date(2027, 3, 28)
        );
    }

    #[test]
    fn r_env_03_sla_breach_across_a_public_holiday() {
        let cal = Calendar::kazakhstan(2026..=2026);
        let requested = at("2026-03-13T16:00:00+05:00");
        assert_eq!(provisioning_deadline(&cal, requested), date(2026, 4, 1));
        assert!(provisioned_within_sla(
            &cal,
            requested,
            at("2026-04-01T23:59:00+05:00")
        ));
        // Counting calendar days would say 2026-03-27; Nauryz and the carried days off
        // push the deadline, and one more day breaches it.
        assert!(!provisioned_within_sla(
            &cal,
            requested,
            at("2026-04-02T09:00:00+05:00")
        ));
    }

    #[test]
    fn r_env_03_provisioning_at_risk_in_the_last_two_working_days_before_the_deadline() {
        let cal = Calendar::kazakhstan(2026..=2026);
        // Requested on Friday 13 March 2026: the deadline is Wednesday 1 April.
        let requested = at("2026-03-13T16:00:00+05:00");
        assert!(!provisioning_at_risk(
            &cal,
            requested,
            at("2026-03-16T09:00:00+05:00")
        ));
        // Friday 27 March: Monday 30, Tuesday 31 and Wednesday 1 April are left.
        assert!(!provisioning_at_risk(
            &cal,
            requested,
            at("2026-03-27T09:00:00+05:00")
        ));
        // Monday 30 March: two working days left.
        assert!(provisioning_at_risk(
            &cal,
            requested,
            at("2026-03-30T09:00:00+05:00")
        ));
        assert!(provisioning_at_risk(
            &cal,
            requested,
            at("2026-04-01T23:00:00+05:00")
        ));
        // Thursday 2 April it is late: a breach, no longer "at risk".
        assert!(!provisioning_at_risk(
            &cal,
            requested,
            at("2026-04-02T09:00:00+05:00")
        ));
    }

    #[test]
    fn r_env_04_the_free_period_follows_the_tariff_in_force() {
        let contract = date(2026, 3, 2);
        assert_eq!(free_period_end_under(contract, &[]), None);
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 1, 1), 2)]),
            Some(date(2026, 5, 2))
        );
        // A tariff from 2026-05-01 with one free month: its period (to 2026-04-02) is
        // already over, so the free period ends the day the tariff takes effect.
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 5, 1), 1), (date(2026, 1, 1), 3)]),
            Some(date(2026, 5, 1))
        );
        // From 2026-04-01 with one free month: 2026-04-01 is still free under it.
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 4, 1), 1), (date(2026, 1, 1), 3)]),
            Some(date(2026, 4, 2))
        );
        // A tariff from 2026-07-01 comes after the period has ended under the first.
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 1, 1), 3), (date(2026, 7, 1), 0)]),
            Some(date(2026, 6, 2))
        );
        // The first tariff took effect after the contract: before it nothing is rated.
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 8, 1), 3)]),
            Some(date(2026, 8, 1))
        );
        assert_eq!(
            free_period_end_under(contract, &[(date(2026, 1, 1), 0)]),
            Some(contract)
        );
    }

    #[test]
    fn r_env_04_free_period_is_three_months_from_the_contract() {
        assert_eq!(free_period_end(date(2026, 3, 2), 3), date(2026, 6, 2));
        assert_eq!(free_period_end(date(2025, 11, 30), 3), date(2026, 2, 28));
    }
}
