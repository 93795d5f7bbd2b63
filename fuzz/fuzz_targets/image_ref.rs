//! Image references as admission and metering read them (R-SW-01, R-BIL-01): the one
//! parser never panics, and what it accepts is canonical: the repository spelt out
//! (registry and path, lowercase host) parses back to itself, with the same tag and
//! digest, so a pod's software cannot be one item for admission and another for billing.
#![no_main]

use akp_rules::catalog::parse_image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse_image(text) else {
        return;
    };
    let (host, path) = parsed
        .repository
        .split_once('/')
        .unwrap_or_else(|| panic!("{text:?}: repository {:?} has no host", parsed.repository));
    assert!(!path.is_empty(), "{text:?}: empty path");
    assert!(
        !host.chars().any(|c| c.is_ascii_uppercase()),
        "{text:?}: host {host:?} is not lowercase"
    );
    assert!(
        !parsed.repository.contains(['@', ' ']),
        "{text:?}: {:?}",
        parsed.repository
    );
    let mut canonical = parsed.repository.clone();
    if let Some(tag) = &parsed.tag {
        canonical.push(':');
        canonical.push_str(tag);
    }
    if let Some(digest) = &parsed.digest {
        canonical.push('@');
        canonical.push_str(digest);
    }
    assert_eq!(
        parse_image(&canonical).as_ref(),
        Ok(&parsed),
        "{text:?} parsed to {parsed:?}, its canonical form {canonical:?} to something else"
    );
});
