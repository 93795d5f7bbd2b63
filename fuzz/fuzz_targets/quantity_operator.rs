//! Kubernetes quantities as the operator reads them (requests, limits, quotas of a
//! product): parsing never panics, and what parses renders back to the same amount.
#![no_main]

use akp_rules::quantity::{format_nanos, parse_nanos, same_amount};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(nanos) = parse_nanos(text) else {
        return;
    };
    let rendered = format_nanos(nanos);
    assert_eq!(
        parse_nanos(&rendered),
        Ok(nanos),
        "{text:?} parsed to {nanos} nano-units, rendered as {rendered:?}"
    );
    assert!(same_amount(text, &rendered), "{text:?} vs {rendered:?}");
    // A quantity never parses smaller than written: the negated text is the negation.
    if let Some(positive) = text.trim().strip_prefix('-')
        && let Ok(p) = parse_nanos(positive)
    {
        assert!(p >= 0 && nanos <= 0, "{text:?}");
    }
});
