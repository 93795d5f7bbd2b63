//! Kubernetes quantities ("500m", "8Gi", "1.5", "2e3") as exact integers of nano-units,
//! so that limits can be compared and derived without floating point.

/// A parse failure, naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a Kubernetes quantity: {reason}")]
pub struct QuantityError {
    /// The text that was given.
    pub value: String,
    /// Why it is not a quantity.
    pub reason: &'static str,
}

/// Parses a quantity into nano-units (1 = 1_000_000_000), rounding a finer fraction up
/// as Kubernetes does.
pub fn parse_nanos(text: &str) -> Result<i128, QuantityError> {
    let err = |reason| QuantityError {
        value: text.to_owned(),
        reason,
    };
    let s = text.trim();
    if s.is_empty() || s.len() > 64 {
        return Err(err("empty or longer than 64 characters"));
    }
    let (sign, s) = match s.as_bytes()[0] {
        b'-' => (-1i128, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err("no number"));
    }
    // (multiplier numerator in nanos, divisor) for the suffix.
    let (base, exp10): (i128, i32) = match suffix {
        "" => (1, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().map_err(|_| err("bad exponent"))?;
            if !(-30..=30).contains(&e) {
                return Err(err("exponent out of range"));
            }
            (1, e)
        }
        _ => return Err(err("unknown suffix")),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{int_part}{frac_part}");
    // Leading zeros do not count: "0.000000001Ki" is as exact as "1Ki". What does not
    // fit in i128 is too large (format_nanos writes up to 39 digits).
    let digits = digits.trim_start_matches('0');
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| err("too large"))?
    };
    // value = mantissa * 10^(exp10 - frac_len) * base, in nanos: * 10^9.
    let scale = exp10 - frac_part.len() as i32 + 9;
    let value = if scale >= 0 {
        10i128
            .checked_pow(scale as u32)
            .and_then(|p| mantissa.checked_mul(p))
            .and_then(|v| v.checked_mul(base))
            .ok_or_else(|| err("too large"))?
    } else {
        let scaled = mantissa.checked_mul(base).ok_or_else(|| err("too large"))?;
        // Round up: a quantity is never smaller than written. A divisor past i128 is
        // larger than any mantissa: anything above zero is then one nano-unit.
        match 10i128.checked_pow(scale.unsigned_abs()) {
            Some(div) => scaled / div + i128::from(scaled % div != 0),
            None => i128::from(scaled != 0),
        }
    };
    Ok(sign * value)
}

/// Whether two quantity strings denote the same amount ("1Gi" and "1024Mi").
pub fn same_amount(a: &str, b: &str) -> bool {
    matches!((parse_nanos(a), parse_nanos(b)), (Ok(x), Ok(y)) if x == y)
}

/// Formats nano-units back into a quantity, exactly, in the largest unit that keeps it
/// an integer (binary suffixes for multiples of 1024, else decimal ones).
pub fn format_nanos(nanos: i128) -> String {
    const NANO: i128 = 1_000_000_000;
    if nanos % NANO == 0 {
        let whole = nanos / NANO;
        for (suffix, factor) in [
            ("Ei", 1i128 << 60),
            ("Pi", 1 << 50),
            ("Ti", 1 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if whole != 0 && whole % factor == 0 {
                return format!("{}{suffix}", whole / factor);
            }
        }
        return whole.to_string();
    }
    if nanos % 1_000_000 == 0 {
        return format!("{}m", nanos / 1_000_000);
    }
    if nanos % 1_000 == 0 {
        return format!("{}u", nanos / 1_000);
    }
    format!("{nanos}n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        assert_eq!(parse_nanos("4"), Ok(4_000_000_000));
        assert_eq!(parse_nanos("500m"), Ok(500_000_000));
        assert_eq!(parse_nanos("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("8Gi"), Ok(8 * (1 << 30) * 1_000_000_000));
        assert_eq!(parse_nanos("2e3"), Ok(2_000 * 1_000_000_000));
        assert_eq!(parse_nanos("1n"), Ok(1));
        assert_eq!(parse_nanos("0.1n"), Ok(1)); // rounded up
        assert_eq!(parse_nanos("-1"), Ok(-1_000_000_000));
        assert!(parse_nanos("8 GB").is_err());
        assert!(parse_nanos("").is_err());
        assert!(parse_nanos("1.2.3").is_err());
        assert!(parse_nanos("Gi").is_err());
    }

    #[test]
    fn same_amount_ignores_the_spelling() {
        assert!(same_amount("1Gi", "1024Mi"));
        assert!(same_amount("0.5", "500m"));
        assert!(!same_amount("1G", "1Gi"));
    }

    /// Found by fuzz/fuzz_targets/quantity_operator.rs: rounding a fine fraction of a
    /// large binary multiple overflowed, and 30 digits were refused although format_nanos
    /// writes up to 39, so some parsed quantities did not parse back.
    #[test]
    fn r_env_01_quantities_parse_exactly_at_the_limits() {
        // (2^67 - 1) × 10^-28 Ei: the scaled mantissa is within 2^60 of i128::MAX.
        assert_eq!(
            parse_nanos("0.0000000147573952589676412927Ei"),
            Ok(17_014_118_346_046_923_174)
        );
        let big = parse_nanos("99999999999999999999.999999999Ki");
        assert_eq!(big, Ok(99_999_999_999_999_999_999_999_999_999 * 1024));
        for nanos in [big.unwrap_or_default(), i128::MAX, -i128::MAX, 1, -7] {
            assert_eq!(parse_nanos(&format_nanos(nanos)), Ok(nanos), "{nanos}");
        }
        assert_eq!(parse_nanos("1e-30"), Ok(1));
        assert_eq!(parse_nanos("0.000000000000000000000000000001e-30"), Ok(1));
        assert_eq!(parse_nanos("0.000000000000000000000000000000e-30"), Ok(0));
        assert_eq!(
            parse_nanos("0000000000000000000000000000000000000001"),
            Ok(NANOS)
        );
        assert!(parse_nanos("1000000000000000000000000000000000000000n").is_err());
        assert!(parse_nanos("9Ei").is_ok() && parse_nanos("200000000000Ei").is_err());
    }

    const NANOS: i128 = 1_000_000_000;

    #[test]
    fn formats_exactly() {
        for q in ["4", "500m", "8Gi", "1Ti", "100Mi", "3", "250u"] {
            assert_eq!(format_nanos(parse_nanos(q).unwrap_or_default()), q);
        }
        assert_eq!(
            format_nanos(parse_nanos("1024Mi").unwrap_or_default()),
            "1Gi"
        );
    }
}
