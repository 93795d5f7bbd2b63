//! Hours, windows and billing months.
//!
//! An hour is identified by its start in Unix seconds, aligned to the hour. Billing
//! months are civil months at a fixed UTC offset: Kazakhstan is UTC+5 everywhere since
//! 2024-03-01, and an offset that is a whole number of hours keeps every hour in
//! exactly one month.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Seconds in an hour.
pub const HOUR_SECS: i64 = 3600;

/// The start of an hour, in Unix seconds (a multiple of 3600).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(i64);

impl Hour {
    /// The hour containing `unix_secs`.
    pub fn containing(unix_secs: i64) -> Self {
        Hour(unix_secs.div_euclid(HOUR_SECS) * HOUR_SECS)
    }

    /// The hour starting at `unix_secs`, if it is aligned.
    pub fn starting_at(unix_secs: i64) -> Option<Self> {
        (unix_secs.rem_euclid(HOUR_SECS) == 0).then_some(Hour(unix_secs))
    }

    /// Start, Unix seconds.
    pub fn start(self) -> i64 {
        self.0
    }

    /// End (exclusive), Unix seconds.
    pub fn end(self) -> i64 {
        self.0 + HOUR_SECS
    }

    /// Start in milliseconds.
    pub fn start_ms(self) -> i64 {
        self.0 * 1000
    }

    /// End (exclusive) in milliseconds.
    pub fn end_ms(self) -> i64 {
        self.end() * 1000
    }

    /// The hour `n` hours later.
    pub fn plus(self, n: i64) -> Self {
        Hour(self.0 + n * HOUR_SECS)
    }

    /// Whole hours from `self` to `later`.
    pub fn hours_until(self, later: Hour) -> i64 {
        (later.0 - self.0) / HOUR_SECS
    }
}

impl fmt::Display for Hour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Timestamp::from_second(self.0) {
            Ok(ts) => write!(f, "{}", ts.strftime("%Y-%m-%dT%H:00Z")),
            Err(_) => write!(f, "@{}", self.0),
        }
    }
}

/// A run of whole hours `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First hour.
    pub start: Hour,
    /// The hour after the last one.
    pub end: Hour,
}

impl Window {
    /// The hours of the window, in order.
    pub fn hours(self) -> impl Iterator<Item = Hour> {
        let n = self.start.hours_until(self.end);
        (0..n).map(move |i| self.start.plus(i))
    }

    /// Number of hours.
    pub fn len(self) -> i64 {
        self.start.hours_until(self.end).max(0)
    }

    /// Whether the window holds no hour.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Splits `[from, until)` into windows of at most `max_hours`, aligned to `from`.
pub fn windows(from: Hour, until: Hour, max_hours: i64) -> Vec<Window> {
    let step = max_hours.max(1);
    let mut out = Vec::new();
    let mut start = from;
    while start < until {
        let end = start.plus(step).min(until);
        out.push(Window { start, end });
        start = end;
    }
    out
}

/// A billing month, `YYYY-MM` at the configured offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i16,
    month: i8,
}

/// A month string that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month: write YYYY-MM, such as 2026-10")]
pub struct BadMonth(pub String);

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Self, BadMonth> {
        let bad = || BadMonth(text.to_string());
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month: i8 = m.parse().map_err(|_| bad())?;
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    fn first_day(self) -> Option<Date> {
        Date::new(self.year, self.month, 1).ok()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Maps hours to billing months: Kazakhstan months (UTC+5, D-TIME-1, R-BIL-02), the
/// months of the operator's clocks and of the reports' days.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: TimeZone,
}

impl Calendar {
    /// The calendar of billing months.
    pub fn kazakhstan() -> Self {
        Calendar {
            tz: crate::time::kazakhstan(),
        }
    }

    /// The billing month an hour belongs to.
    pub fn month_of(&self, hour: Hour) -> Month {
        let date = Timestamp::from_second(hour.start())
            .map(|ts| ts.to_zoned(self.tz.clone()).date())
            .unwrap_or(Date::MIN);
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first hour of a month.
    pub fn month_start(&self, month: Month) -> Hour {
        let secs = month
            .first_day()
            .and_then(|d| {
                d.to_datetime(jiff::civil::Time::midnight())
                    .to_zoned(self.tz.clone())
                    .ok()
            })
            .map(|z| z.timestamp().as_second())
            .unwrap_or(0);
        Hour::containing(secs)
    }

    /// The first hour after a month.
    pub fn month_end(&self, month: Month) -> Hour {
        self.month_start(month.next())
    }

    /// When the report of `month` is due: the start of day `due_day` (1-28) of the next
    /// month; a report not signed, or not delivered, by then is overdue.
    pub fn report_due(&self, month: Month, due_day: u8) -> Hour {
        self.month_end(month)
            .plus(24 * i64::from(due_day.clamp(1, 28) - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(text: &str) -> Hour {
        let ts: Timestamp = text.parse().expect("timestamp");
        Hour::containing(ts.as_second())
    }

    #[test]
    fn r_bil_02_a_report_is_due_on_its_day_of_the_next_month_in_astana() {
        let calendar = Calendar::kazakhstan();
        let october = Month::parse("2026-10").expect("month");
        // 5 November 00:00 in Astana is 4 November 19:00 UTC.
        assert_eq!(
            calendar.report_due(october, 5),
            hour("2026-11-04T19:00:00Z")
        );
        assert_eq!(calendar.report_due(october, 1), calendar.month_end(october));
        // Past the 28th would skip February's end: the day is bounded.
        assert_eq!(
            calendar.report_due(october, 31),
            calendar.report_due(october, 28)
        );
        let december = Month::parse("2026-12").expect("month");
        assert_eq!(
            calendar.report_due(december, 5),
            hour("2027-01-04T19:00:00Z")
        );
    }

    #[test]
    fn months_follow_kazakhstan_time() {
        let cal = Calendar::kazakhstan();
        // 2026-09-30T19:00Z is 2026-10-01T00:00 in Astana.
        assert_eq!(
            cal.month_of(hour("2026-09-30T18:00:00Z")).to_string(),
            "2026-09"
        );
        assert_eq!(
            cal.month_of(hour("2026-09-30T19:00:00Z")).to_string(),
            "2026-10"
        );
        let oct = Month::parse("2026-10").expect("month");
        assert_eq!(cal.month_start(oct), hour("2026-09-30T19:00:00Z"));
        assert_eq!(cal.month_end(oct), hour("2026-10-31T19:00:00Z"));
        assert_eq!(
            cal.month_start(oct).hours_until(cal.month_end(oct)),
            31 * 24
        );
        assert_eq!(
            Month::parse("2026-12").expect("month").next().to_string(),
            "2027-01"
        );
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("26-01").is_err());
    }

    #[test]
    fn windows_cover_the_range_once() {
        let from = hour("2026-09-01T00:00:00Z");
        let until = from.plus(50);
        let ws = windows(from, until, 24);
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[0].start, from);
        assert_eq!(ws[2].end, until);
        assert_eq!(ws.iter().map(|w| w.len()).sum::<i64>(), 50);
        assert!(windows(until, from, 24).is_empty());
        assert_eq!(hour("2026-09-01T00:59:59Z"), from);
        assert_eq!(Hour::starting_at(from.start() + 1), None);
        assert_eq!(from.to_string(), "2026-09-01T00:00Z");
    }
}
