//! Prometheus' decimal sample values and timestamps as billing reads them
//! (billing/src/metering/quantity.rs): never panics; the allocation-free fast path and the
//! general path agree (the same text with `e0` appended takes the general path); a value
//! rendered back at its scale parses to itself; the ledger conversion of any exact amount
//! never panics (overflow is `None`).
#![no_main]

use akp_billing::metering::quantity::{DecimalError, Exact, Unit, parse_decimal, to_micro};
use libfuzzer_sys::fuzz_target;

const UNITS: [Unit; 6] = [
    Unit::CoreSecond,
    Unit::GibHour,
    Unit::Gigabyte,
    Unit::InstanceHour,
    Unit::CoreHour,
    Unit::HourShare,
];

/// The outcome without the echoed text, so that two spellings compare.
fn outcome(r: &Result<i128, DecimalError>) -> Result<i128, &'static str> {
    match r {
        Ok(v) => Ok(*v),
        Err(DecimalError::NotANumber(_)) => Err("not a number"),
        Err(DecimalError::OutOfRange(_)) => Err("out of range"),
    }
}

/// `value` (in 10^-scale units) as a plain decimal string.
fn render(value: i128, scale: u32) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // The ledger conversion, on any amount.
    if rest.len() >= 16 {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&rest[..16]);
        let n = i128::from_le_bytes(raw);
        let amount = match selector % 3 {
            0 => Exact::Increase(n),
            1 => Exact::Integral(n),
            _ => Exact::Millis(n),
        };
        for unit in UNITS {
            let _ = to_micro(amount, unit);
        }
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let scale = u32::from(selector % 13);
    let parsed = parse_decimal(text, scale);
    if !text.contains(['e', 'E']) && !text.trim().is_empty() {
        let general = parse_decimal(&format!("{}e0", text.trim()), scale);
        assert_eq!(
            outcome(&parsed),
            outcome(&general),
            "{text:?} at scale {scale}: fast and general paths differ"
        );
    }
    if let Ok(value) = parsed {
        let rendered = render(value, scale);
        assert_eq!(
            parse_decimal(&rendered, scale),
            Ok(value),
            "{text:?} at scale {scale} is {value}, rendered {rendered:?}"
        );
    }
});
