//! The billing daemon's YAML configuration (billing/src/metering/config.rs, read with
//! serde-saphyr): any text is refused or accepted without a panic, and what is
//! accepted passes its own validation and renders queries with their placeholders filled.
#![no_main]

use akp_billing::metering::config::MeteringConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = MeteringConfig::from_yaml(text) {
        assert!(config.validate().is_ok(), "accepted but invalid: {text:?}");
        for (path, query) in config.queries() {
            let promql = query.render(3600);
            assert!(!promql.contains("{range}"), "{path}: {promql}");
        }
    }
});
