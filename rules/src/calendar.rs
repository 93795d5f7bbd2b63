//! Working days of the Kazakhstan calendar, for the provisioning SLA (R-ENV-03: 10
//! working days).
//!
//! Weekends are Saturday and Sunday. Public holidays are those of the Law "On holidays
//! in the Republic of Kazakhstan"; when a holiday falls on a weekend the next working
//! day is a day off (Labour Code art. 84). Movable holidays (Kurban Ait) and the
//! government's yearly day transfers are not computable, so the operator configures
//! them (`Calendar::with_movable_holidays`, `Calendar::with_holidays`,
//! `Calendar::with_working_days`); the known years of Kurban Ait are shipped. A year
//! whose movable holidays are neither shipped nor configured is *unknown*, and a
//! deadline that runs through it is flagged, never computed silently (R-ENV-03).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday, date};

/// Fixed-date public holidays: (month, day).
const FIXED_HOLIDAYS: &[(i8, i8)] = &[
    (1, 1),   // New Year
    (1, 2),   // New Year
    (1, 7),   // Orthodox Christmas
    (3, 8),   // International Women's Day
    (3, 21),  // Nauryz
    (3, 22),  // Nauryz
    (3, 23),  // Nauryz
    (5, 1),   // Unity Day of the People of Kazakhstan
    (5, 7),   // Defender of the Fatherland Day
    (5, 9),   // Victory Day
    (7, 6),   // Capital Day
    (8, 30),  // Constitution Day
    (10, 25), // Republic Day
    (12, 16), // Independence Day
];

/// Kurban Ait, first day, as announced for each year (a movable holiday): the years
/// shipped; later ones come from the operator's configuration
/// (`calendar.movableHolidays`).
pub const KURBAN_AIT: &[(i16, i8, i8)] =
    &[(2024, 6, 16), (2025, 6, 6), (2026, 5, 27), (2027, 5, 16)];

/// The days off and working days of the Kazakhstan calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<Date>,
    /// Weekend days made working days by a transfer decree.
    working_days: BTreeSet<Date>,
    /// The movable holidays of each year whose movable holidays are known.
    movable: BTreeMap<i16, BTreeSet<Date>>,
}

impl Calendar {
    /// The statutory calendar for the given years, with weekend holidays carried to
    /// the next working day and Kurban Ait where it is known.
    pub fn kazakhstan(years: std::ops::RangeInclusive<i16>) -> Self {
        let mut holidays = BTreeSet::new();
        for year in years.clone() {
            for &(m, d) in FIXED_HOLIDAYS {
                holidays.insert(date(year, m, d));
            }
        }
        for &(y, m, d) in KURBAN_AIT {
            if years.contains(&y) {
                holidays.insert(date(y, m, d));
            }
        }
        // Labour Code art. 84: a holiday on a weekend moves the day off to the next
        // working day (not for religious holidays, which are fixed days off).
        let religious: BTreeSet<Date> = holidays
            .iter()
            .copied()
            .filter(|d| {
                (d.month(), d.day()) == (1, 7)
                    || KURBAN_AIT.iter().any(|&(y, m, dd)| date(y, m, dd) == *d)
            })
            .collect();
        let mut carried = BTreeSet::new();
        for day in holidays
            .iter()
            .filter(|d| is_weekend(**d) && !religious.contains(d))
        {
            let mut next = *day;
            loop {
                next = next.tomorrow().unwrap_or(next);
                if !is_weekend(next) && !holidays.contains(&next) && !carried.contains(&next) {
                    break;
                }
            }
            carried.insert(next);
        }
        holidays.extend(carried);
        let mut movable: BTreeMap<i16, BTreeSet<Date>> = BTreeMap::new();
        for &(y, m, d) in KURBAN_AIT {
            if years.contains(&y) {
                movable.entry(y).or_default().insert(date(y, m, d));
            }
        }
        Self {
            holidays,
            working_days: BTreeSet::new(),
            movable,
        }
    }

    /// R-ENV-03: the movable holidays (Kurban Ait) of the years given, as the
    /// government announces them: each year named becomes known, and its days replace
    /// the shipped ones of that year. Religious holidays are not carried off weekends.
    pub fn with_movable_holidays(
        mut self,
        by_year: impl IntoIterator<Item = (i16, Vec<Date>)>,
    ) -> Self {
        for (year, days) in by_year {
            for old in self.movable.remove(&year).unwrap_or_default() {
                self.holidays.remove(&old);
            }
            let days: BTreeSet<Date> = days.into_iter().collect();
            self.holidays.extend(days.iter().copied());
            self.movable.insert(year, days);
        }
        self
    }

    /// R-ENV-03: whether the movable holidays of `year` are known (shipped or
    /// configured).
    pub fn movable_holidays_known(&self, year: i16) -> bool {
        self.movable.contains_key(&year)
    }

    /// R-ENV-03: the years from `from` to `to` whose movable holidays are unknown: a
    /// working-day count through them may be wrong by a day off.
    pub fn unknown_years(&self, from: Date, to: Date) -> Vec<i16> {
        (from.year()..=to.year())
            .filter(|y| !self.movable_holidays_known(*y))
            .collect()
    }

    /// Adds days off (for example a government transfer decree or a movable holiday).
    pub fn with_holidays(mut self, days: impl IntoIterator<Item = Date>) -> Self {
        self.holidays.extend(days);
        self
    }

    /// Makes weekend days working days (the other half of a transfer decree).
    pub fn with_working_days(mut self, days: impl IntoIterator<Item = Date>) -> Self {
        self.working_days.extend(days);
        self
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: Date) -> bool {
        self.working_days.contains(&day) || !(is_weekend(day) || self.holidays.contains(&day))
    }

    /// The `n`-th working day after `day` (not counting `day` itself).
    pub fn add_working_days(&self, day: Date, n: u32) -> Date {
        let mut current = day;
        let mut left = n;
        while left > 0 {
            match current.tomorrow() {
                Ok(next) => current = next,
                Err(_) => return current,
            }
            if self.is_working_day(current) {
                left -= 1;
            }
        }
        current
    }

    /// Working days strictly after `from` up to and including `to`.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut count = 0;
        let mut current = from;
        while current < to {
            match current.tomorrow() {
                Ok(next) => current = next,
                Err(_) => break,
            }
            if self.is_working_day(current) {
                count += 1;
            }
        }
        count
    }
}

fn is_weekend(day: Date) -> bool {
    matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        Calendar::kazakhstan(2025..=2027)
    }

    #[test]
    fn r_env_03_weekends_and_holidays_are_not_working_days() {
        let c = cal();
        assert!(c.is_working_day(date(2026, 11, 20))); // Friday
        assert!(!c.is_working_day(date(2026, 11, 21))); // Saturday
        assert!(!c.is_working_day(date(2026, 3, 23))); // Nauryz, Monday
        assert!(!c.is_working_day(date(2026, 12, 16))); // Independence Day, Wednesday
    }

    #[test]
    fn r_env_03_a_holiday_on_a_weekend_gives_the_next_working_day_off() {
        let c = cal();
        // 2026-03-21 and 22 are Saturday and Sunday: days off move to 24 and 25 March
        // (23 March, Monday, is itself Nauryz).
        assert!(!c.is_working_day(date(2026, 3, 24)));
        assert!(!c.is_working_day(date(2026, 3, 25)));
        assert!(c.is_working_day(date(2026, 3, 26)));
        // 2027-05-09 is a Sunday: Monday 10 May is off.
        assert!(!c.is_working_day(date(2027, 5, 10)));
        // Orthodox Christmas on a weekend is not carried (2028 is outside; 2024 too),
        // Kurban Ait 2026 is a Wednesday.
        assert!(!c.is_working_day(date(2026, 5, 27)));
    }

    #[test]
    fn r_env_03_ten_working_days_across_nauryz() {
        let c = cal();
        // Requested Friday 2026-03-13. Working days after it: 16,17,18,19,20 (5),
        // 23,24,25 off (Nauryz and carried), 26,27 (7), 30,31 (9), 1 April (10).
        assert_eq!(c.add_working_days(date(2026, 3, 13), 10), date(2026, 4, 1));
        assert_eq!(
            c.working_days_between(date(2026, 3, 13), date(2026, 4, 1)),
            10
        );
    }

    #[test]
    fn r_env_03_kurban_ait_of_an_unknown_year_comes_from_configuration() {
        let c = Calendar::kazakhstan(2026..=2029);
        assert!(c.movable_holidays_known(2026) && c.movable_holidays_known(2027));
        assert!(!c.movable_holidays_known(2028));
        assert_eq!(
            c.unknown_years(date(2027, 12, 20), date(2028, 1, 5)),
            [2028]
        );
        assert!(
            c.unknown_years(date(2026, 12, 20), date(2027, 1, 5))
                .is_empty()
        );
        // Configured: known, and a day off (Thursday 4 May 2028 here).
        let c = c.with_movable_holidays([(2028, vec![date(2028, 5, 4)])]);
        assert!(c.movable_holidays_known(2028));
        assert!(!c.is_working_day(date(2028, 5, 4)));
        assert_eq!(c.unknown_years(date(2028, 5, 1), date(2029, 1, 5)), [2029]);
        // A configured year replaces the shipped date.
        let c = c.with_movable_holidays([(2026, vec![date(2026, 5, 28)])]);
        assert!(c.is_working_day(date(2026, 5, 27)));
        assert!(!c.is_working_day(date(2026, 5, 28)));
    }

    #[test]
    fn r_env_03_transfer_decrees_are_configurable() {
        let c = cal()
            .with_holidays([date(2026, 1, 5)])
            .with_working_days([date(2026, 1, 3)]);
        assert!(!c.is_working_day(date(2026, 1, 5)));
        assert!(c.is_working_day(date(2026, 1, 3)));
    }
}
