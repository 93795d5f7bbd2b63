//! Answers of the Prometheus HTTP API (billing/src/metering/prom.rs): any body is read without a
//! panic, into series whose samples are sorted by time, one per timestamp, with values
//! equal to the exact decimal reading of the text.
#![no_main]

use akp_billing::metering::prom::{PromError, parse_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&status, body)) = data.split_first() else {
        return;
    };
    let status = if status % 2 == 0 { 200 } else { 422 };
    match parse_response(status, body, "up") {
        Ok(series) => {
            for s in &series {
                assert!(
                    s.samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms),
                    "samples not sorted and unique: {:?}",
                    s.samples
                );
            }
        }
        Err(PromError::Refused { status: got, .. }) => assert_eq!(got, status),
        Err(PromError::Malformed { query, .. }) => assert_eq!(query, "up"),
        Err(PromError::Unreachable { .. }) => panic!("parsing a body cannot be unreachable"),
        Err(PromError::Config { .. }) => panic!("parsing a body reads no configuration"),
    }
});
