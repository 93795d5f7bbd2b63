//! Kazakhstan time (D-TIME-1): every civil date of the platform (deadlines, billing
//! months, tariff `effectiveFrom`, contract dates, the days of a report) is read at
//! UTC+5, the one zone of the whole country since 2024-03-01, with no daylight saving
//! time, so a fixed offset needs no time-zone database. The offset is defined here only.

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, Zoned};

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

/// R-MON-03 (000 App.2 p.6.10): one reading of this process's clock against another's
/// (the API server's), from one request sent at `sent` and answered at `received` by
/// this clock, whose answer was dated `peer` with whole seconds (an HTTP `Date`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockReading {
    /// This clock minus the peer's: positive when this clock is ahead.
    pub offset: SignedDuration,
    /// How far the true offset can be from `offset`: half the round trip, and half a
    /// second for the whole-second date.
    pub uncertainty: SignedDuration,
}

impl ClockReading {
    /// The peer dated its answer somewhere in `[peer, peer + 1 s)` and somewhere between
    /// `sent` and `received`: both midpoints are taken.
    pub fn new(sent: Timestamp, received: Timestamp, peer: Timestamp) -> Self {
        let half_second = SignedDuration::from_millis(500);
        let round_trip = received.duration_since(sent).max(SignedDuration::ZERO);
        let here = sent + round_trip / 2;
        Self {
            offset: here.duration_since(peer) - half_second,
            uncertainty: round_trip / 2 + half_second,
        }
    }

    /// R-MON-03: the clocks are out of sync when even the most favourable reading of
    /// the offset (less its uncertainty) exceeds `bound`.
    pub fn beyond(&self, bound: SignedDuration) -> bool {
        self.offset.abs() - self.uncertainty > bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    /// A reading with its three times in milliseconds after 2026-12-03T12:00:00Z.
    fn reading(sent: i64, received: i64, peer: i64) -> ClockReading {
        let t = |ms| at("2026-12-03T12:00:00Z") + SignedDuration::from_millis(ms);
        ClockReading::new(t(sent), t(received), t(peer))
    }

    #[test]
    fn r_mon_03_offset_is_measured_at_the_middle_of_the_exchange() {
        // A 200 ms round trip answered at 12:00:00.x by the peer: this clock read
        // 12:00:00.600 at the middle, the peer about 12:00:00.500.
        let r = reading(500, 700, 0);
        assert_eq!(r.offset, SignedDuration::from_millis(100));
        assert_eq!(r.uncertainty, SignedDuration::from_millis(600));
        assert!(!r.beyond(SignedDuration::from_secs(1)));
        // This clock 30 s behind.
        let r = reading(0, 200, 30000);
        assert_eq!(r.offset, SignedDuration::from_millis(-30_400));
        assert!(r.beyond(SignedDuration::from_secs(1)));
        // 1.4 s ahead but with 0.6 s uncertainty: not provably beyond a 1 s bound.
        let r = reading(1800, 2000, 0);
        assert_eq!(r.offset, SignedDuration::from_millis(1_400));
        assert!(!r.beyond(SignedDuration::from_secs(1)));
        assert!(r.beyond(SignedDuration::from_millis(700)));
    }

    #[test]
    fn r_mon_03_a_slow_answer_widens_the_uncertainty_not_the_offset() {
        let r = reading(0, 10000, 4000);
        assert_eq!(r.offset, SignedDuration::from_millis(500));
        assert_eq!(r.uncertainty, SignedDuration::from_millis(5_500));
        // A clock that went back during the request gives no negative round trip.
        let r = reading(1000, 0, 1000);
        assert_eq!(r.uncertainty, SignedDuration::from_millis(500));
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
