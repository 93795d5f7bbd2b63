//! Tariff prices (rules/src/billing/rating.rs `Price::parse`, R-BIL-04) and whole tariffs as
//! billing and `kubectl pbo` read them from files, where no API server has checked the
//! CRD's price pattern: never panics; a price is accepted exactly when it matches the
//! tariff grammar `[0-9]{1,12}(.[0-9]{1,6})?`, its value is the written decimal, and it
//! displays as text that parses back to the same price.
#![no_main]

use akp_rules::billing::rating::{Price, TariffBook};
use akp_crds::Tariff;
use libfuzzer_sys::fuzz_target;

/// The CRD's pattern, and the price it denotes in micro-tenge.
fn grammar(text: &str) -> Option<i128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = (1..=12).contains(&int.len())
        && digits(int)
        && (!text.contains('.') || (1..=6).contains(&frac.len()))
        && digits(frac);
    if !ok {
        return None;
    }
    let micro = format!("{int}{frac:0<6}");
    micro.parse().ok()
}

fn check(price: Price) {
    let shown = price.to_string();
    assert_eq!(
        Price::parse(&shown),
        Some(price),
        "{price:?} shown as {shown:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Price::parse(text);
    assert_eq!(
        parsed.map(Price::micro),
        grammar(text.trim()),
        "{text:?}: the parser and the tariff grammar disagree"
    );
    if let Some(price) = parsed {
        check(price);
    }
    // A whole tariff from JSON (YAML files are read into the same types).
    if let Ok(tariff) = serde_json::from_slice::<Tariff>(data)
        && let Ok(book) = TariffBook::new(&[tariff])
    {
        for version in book.versions() {
            for entry in version.rates.values() {
                check(entry.price);
            }
        }
    }
});
