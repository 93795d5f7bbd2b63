//! Exact numbers: Prometheus' decimal strings to fixed-point integers, and the
//! ledger's units.
//!
//! Prometheus writes sample values as the shortest decimal string that round-trips
//! the float64 (`strconv.FormatFloat(v, 'f', -1, 64)`) and timestamps as decimal
//! seconds with millisecond precision. Both are parsed as decimals, never through
//! `f64`: values to nano-units (9 decimals), timestamps to milliseconds. Digits
//! beyond the scale are rounded half to even, so the conversion is deterministic
//! and documented in `docs/metering.md`.

use std::fmt;

/// Nano-units (1e-9) of a metric's base unit: seconds, bytes, cores, a 0/1 flag.
pub const NANO: i128 = 1_000_000_000;
/// The ledger stores every quantity in micro-units (1e-6) of its [`Unit`].
pub const MICRO: i128 = 1_000_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i128 = 3_600_000;
/// Bytes in a GiB.
pub const GIB: i128 = 1 << 30;
/// Bytes in a (decimal) gigabyte, the unit of telecom traffic.
pub const GB: i128 = 1_000_000_000;

/// Why a decimal string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a finite decimal number (`NaN`, `+Inf`, garbage…).
    #[error("{0:?} is not a finite decimal number")]
    NotANumber(String),
    /// Too large for the fixed-point range.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

/// Parses a decimal string (`-12.5`, `3e-7`, `1435781451.781`) into an integer
/// count of `10^-scale` units, rounding extra digits half to even.
pub fn parse_decimal(text: &str, scale: u32) -> Result<i128, DecimalError> {
    match parse_decimal_fast(text.as_bytes(), scale) {
        Some(v) => Ok(v),
        None => parse_decimal_slow(text, scale),
    }
}

/// Plain `[-]digits[.digits]` with at most 36 significant digits (every float64
/// Prometheus writes), without allocating; `None` sends anything else to the slow path.
fn parse_decimal_fast(bytes: &[u8], scale: u32) -> Option<i128> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa: i128 = 0;
    let mut significant = 0u32;
    let mut fraction: Option<u32> = None;
    let mut any = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                any = true;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                }
                if significant > 36 {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(b - b'0');
                if let Some(f) = fraction.as_mut() {
                    *f += 1;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if !any {
        return None;
    }
    let fraction = fraction.unwrap_or(0);
    let value = if fraction <= scale {
        mantissa.checked_mul(10i128.checked_pow(scale - fraction)?)?
    } else {
        div_round_half_even(mantissa, 10i128.checked_pow(fraction - scale)?)
    };
    Some(if negative { -value } else { value })
}

fn parse_decimal_slow(text: &str, scale: u32) -> Result<i128, DecimalError> {
    let bad = || DecimalError::NotANumber(text.to_string());
    let big = || DecimalError::OutOfRange(text.to_string());
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // All digits as one integer with `frac_len - exponent` implied decimals.
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let implied = i64::try_from(frac_part.len()).map_err(|_| big())? - i64::from(exponent);
    // Shift to the wanted scale: multiply, or divide with rounding.
    let shift = i64::from(scale) - implied;
    let value = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let base: i128 = digits.parse().map_err(|_| big())?;
        let factor = 10i128
            .checked_pow(u32::try_from(shift).map_err(|_| big())?)
            .ok_or_else(big)?;
        base.checked_mul(factor).ok_or_else(big)?
    } else {
        let drop = usize::try_from(-shift).map_err(|_| big())?;
        if drop > digits.len() {
            // Everything is below half a unit: rounds to zero.
            0
        } else {
            let keep = &digits[..digits.len() - drop];
            let rest = &digits[digits.len() - drop..];
            let kept: i128 = if keep.is_empty() {
                0
            } else {
                keep.parse().map_err(|_| big())?
            };
            let first = rest.as_bytes()[0];
            let tail_nonzero = rest.bytes().skip(1).any(|b| b != b'0');
            let round_up = match first.cmp(&b'5') {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => tail_nonzero || kept % 2 == 1,
            };
            kept + i128::from(round_up)
        }
    };
    Ok(if negative { -value } else { value })
}

/// `numerator / denominator` rounded half to even (denominator > 0).
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    match (2 * remainder).cmp(&denominator) {
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    }
}

/// The unit of a ledger quantity; the ledger stores micro-units of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// CPU core-seconds (used or allocated).
    CoreSecond,
    /// GiB held for an hour (memory working set, volume used bytes, quota).
    GibHour,
    /// Decimal gigabytes (10^9 bytes) of traffic.
    Gigabyte,
    /// Container instance-hours of a catalog item.
    InstanceHour,
    /// Core-hours of a catalog item under a per-core licence.
    CoreHour,
    /// A share of the hour (1 = the whole hour).
    HourShare,
}

impl Unit {
    /// The name stored in the ledger's `unit` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::CoreSecond => "core_second",
            Unit::GibHour => "gib_hour",
            Unit::Gigabyte => "gigabyte",
            Unit::InstanceHour => "instance_hour",
            Unit::CoreHour => "core_hour",
            Unit::HourShare => "hour_share",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exact intermediate amounts, before the one rounding to micro-units per ledger row.
///
/// Counters integrate to nano-units of the metric (`Increase`); gauges to nano-units
/// times milliseconds (`Integral`); durations to milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exact {
    /// Sum of counter increments, in nano-units.
    Increase(i128),
    /// Time integral of a gauge, in nano-units × milliseconds.
    Integral(i128),
    /// A duration in milliseconds.
    Millis(i128),
}

/// Converts an exact amount to micro-units of `unit`, rounding half to even once.
///
/// Returns `None` for combinations that make no sense (a bug in the meter tables) and
/// for amounts too large to scale (a sample value near 1e29 would overflow i128).
pub fn to_micro(amount: Exact, unit: Unit) -> Option<i128> {
    let (amount, denominator) = match (amount, unit) {
        // nano-seconds of CPU → micro core-seconds.
        (Exact::Increase(n), Unit::CoreSecond) => (n, NANO),
        // nano-cores × ms → micro core-seconds: / NANO (cores) / 1000 (ms → s).
        (Exact::Integral(n), Unit::CoreSecond) => (n, NANO * 1000),
        // nano-bytes × ms → micro GiB-hours.
        (Exact::Integral(n), Unit::GibHour) => (n, NANO * GIB * HOUR_MS),
        // nano-bytes → micro GB.
        (Exact::Increase(n), Unit::Gigabyte) => (n, NANO * GB),
        (Exact::Millis(ms), Unit::InstanceHour) => (ms, HOUR_MS),
        // nano-seconds of CPU → micro core-hours.
        (Exact::Increase(n), Unit::CoreHour) => (n, NANO * 3600),
        // nano-flag × ms → micro share of the hour.
        (Exact::Integral(n), Unit::HourShare) => (n, NANO * HOUR_MS),
        _ => return None,
    };
    Some(div_round_half_even(amount.checked_mul(MICRO)?, denominator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_decimals_exactly() {
        assert_eq!(parse_decimal("1", 9), Ok(1_000_000_000));
        assert_eq!(parse_decimal("0.30000000000000004", 9), Ok(300_000_000));
        assert_eq!(parse_decimal("1435781451.781", 3), Ok(1_435_781_451_781));
        assert_eq!(parse_decimal("536870912", 9), Ok(536_870_912_000_000_000));
        assert_eq!(parse_decimal("-2.5", 0), Ok(-2));
        assert_eq!(parse_decimal("3.5", 0), Ok(4));
        assert_eq!(parse_decimal("2.5000001", 0), Ok(3));
        assert_eq!(parse_decimal("1e-9", 9), Ok(1));
        assert_eq!(parse_decimal("4e-10", 9), Ok(0));
        assert_eq!(parse_decimal("6e-10", 9), Ok(1));
        assert_eq!(parse_decimal("1.5e3", 0), Ok(1500));
        assert_eq!(parse_decimal(".5", 1), Ok(5));
        assert_eq!(parse_decimal("0", 9), Ok(0));
        assert_eq!(parse_decimal("-0.0000000015", 9), Ok(-2));
        assert_eq!(parse_decimal("0.0000000025", 9), Ok(2));
        // The fast and the slow path agree.
        for text in [
            "12.3456789012345",
            "0.1",
            "-7",
            "100.000000000500",
            "99999999999999999",
        ] {
            assert_eq!(
                parse_decimal_fast(text.as_bytes(), 9).map(Ok),
                Some(parse_decimal_slow(text, 9)),
                "{text}"
            );
        }
        assert_eq!(parse_decimal_fast(b"1e5", 9), None);
        assert_eq!(parse_decimal_fast(b"NaN", 9), None);
        assert_eq!(parse_decimal_fast(b".", 9), None);
        assert!(parse_decimal("NaN", 9).is_err());
        assert!(parse_decimal("+Inf", 9).is_err());
        assert!(parse_decimal("", 9).is_err());
        assert!(parse_decimal("1e400", 9).is_err());
    }

    #[test]
    fn rounds_half_to_even() {
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(div_round_half_even(-5, 2), -2);
        assert_eq!(div_round_half_even(-7, 2), -4);
        assert_eq!(div_round_half_even(10, 3), 3);
        assert_eq!(div_round_half_even(11, 3), 4);
    }

    /// Found by fuzz/fuzz_targets/quantity_billing.rs: a counter that Prometheus reports
    /// near its float64 range parses (1e29 units is 1e38 nano-units) but overflowed when
    /// scaled to micro-units; the collector turns `None` into a ledger overflow error.
    #[test]
    fn r_bil_01_ledger_conversion_refuses_overflow() {
        let huge = parse_decimal("1e29", 9).unwrap_or_default();
        assert_eq!(huge, 100_000_000_000_000_000_000_000_000_000_000_000_000);
        assert_eq!(to_micro(Exact::Increase(huge), Unit::CoreSecond), None);
        assert_eq!(to_micro(Exact::Integral(i128::MIN), Unit::GibHour), None);
        assert_eq!(to_micro(Exact::Millis(i128::MAX), Unit::InstanceHour), None);
        assert_eq!(
            to_micro(Exact::Increase(10i128.pow(32)), Unit::CoreSecond),
            Some(10i128.pow(29))
        );
    }

    #[test]
    fn converts_to_ledger_units() {
        // 512 MiB held for an hour is half a GiB-hour.
        let half_gib_hour = (GIB / 2) * NANO * HOUR_MS;
        assert_eq!(
            to_micro(Exact::Integral(half_gib_hour), Unit::GibHour),
            Some(500_000)
        );
        // 90 CPU-seconds.
        assert_eq!(
            to_micro(Exact::Increase(90 * NANO), Unit::CoreSecond),
            Some(90_000_000)
        );
        assert_eq!(
            to_micro(Exact::Increase(90 * NANO), Unit::CoreHour),
            Some(25_000)
        );
        // 1500 bytes = 1.5 micro-GB, rounds to 2 (even).
        assert_eq!(
            to_micro(Exact::Increase(1500 * NANO), Unit::Gigabyte),
            Some(2)
        );
        assert_eq!(
            to_micro(Exact::Millis(HOUR_MS / 4), Unit::InstanceHour),
            Some(250_000)
        );
        assert_eq!(to_micro(Exact::Millis(1), Unit::GibHour), None);
    }
}
