//! Kazakhstan time (D-TIME-1): every civil date of the platform (deadlines, billing
//! months, tariff `effectiveFrom`, contract dates, the days of a report) is read at
//! UTC+5, the one zone of the whole country since 2024-03-01, with no daylight saving
//! time, so a fixed offset needs no time-zone database. The offset is defined here only.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

/// Kazakhstan's offset from UTC, in hours.
pub const UTC_OFFSET_HOURS: i8 = 5;

/// Kazakhstan's offset from UTC, in seconds.
pub const UTC_OFFSET_SECONDS: i64 = UTC_OFFSET_HOURS as i64 * 3600;

const DAY_SECONDS: i64 = 86_400;

/// The legal time zone of Kazakhstan (UTC+5).
pub fn kazakhstan() -> TimeZone {
    TimeZone::fixed(Offset::constant(UTC_OFFSET_HOURS))
}

/// An instant in Kazakhstan time.
pub fn zoned(at: Timestamp) -> Zoned {
    at.to_zoned(kazakhstan())
}

/// The civil date of an instant in Kazakhstan.
pub fn civil_date(at: Timestamp) -> Date {
    zoned(at).date()
}

/// The first instant of a civil date in Kazakhstan; `None` beyond jiff's range.
pub fn day_start(date: Date) -> Option<Timestamp> {
    date.to_zoned(kazakhstan()).ok().map(|z| z.timestamp())
}

/// The first second (Unix time) of the Kazakhstan civil day that `second` falls in,
/// and the hour of that day (0 to 23) it falls in: the arithmetic form of
/// [`civil_date`], for the ledger's hours.
pub fn civil_day_of_second(second: i64) -> (i64, i64) {
    let local = second + UTC_OFFSET_SECONDS;
    (
        local.div_euclid(DAY_SECONDS) * DAY_SECONDS - UTC_OFFSET_SECONDS,
        local.rem_euclid(DAY_SECONDS) / 3600,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn d_time_1_civil_dates_are_utc_plus_5() {
        // 19:00Z is already midnight in Astana.
        assert_eq!(civil_date(at("2026-09-30T18:59:59Z")), date(2026, 9, 30));
        assert_eq!(civil_date(at("2026-09-30T19:00:00Z")), date(2026, 10, 1));
        assert_eq!(
            day_start(date(2026, 10, 1)),
            Some(at("2026-09-30T19:00:00Z"))
        );
        let s = at("2026-09-30T19:30:00Z").as_second();
        assert_eq!(
            civil_day_of_second(s),
            (at("2026-09-30T19:00:00Z").as_second(), 0)
        );
        let s = at("2026-09-30T18:30:00Z").as_second();
        assert_eq!(
            civil_day_of_second(s),
            (at("2026-09-29T19:00:00Z").as_second(), 23)
        );
        // Before 1970 too (div_euclid, not division).
        assert_eq!(civil_day_of_second(-1), (-UTC_OFFSET_SECONDS, 4));
    }
}
