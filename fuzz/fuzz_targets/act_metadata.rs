//! The acts of a product as the operator and billing deserialize them from the
//! product's JSON (type, number, date, sha256, uri): never panics; what deserializes
//! serializes back to JSON that deserializes to the same acts; the date renders as
//! YYYY-MM-DD and parses back; the stage gate (R-LC-02, R-LC-04) names as missing
//! exactly the required act types that are absent.
#![no_main]

use akp_crds::Stage;
use akp_crds::product::Act;
use akp_rules::stages::{acts_required_for, missing_acts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(acts) = serde_json::from_slice::<Vec<Act>>(data) else {
        if let Ok(act) = serde_json::from_slice::<Act>(data) {
            check(&[act]);
        }
        return;
    };
    check(&acts);
});

fn check(acts: &[Act]) {
    let json = serde_json::to_vec(acts).expect("acts serialize");
    let again: Vec<Act> = serde_json::from_slice(&json).expect("serialized acts deserialize");
    assert_eq!(
        again,
        acts,
        "round trip through {}",
        String::from_utf8_lossy(&json)
    );
    for act in acts {
        let text = act.date.to_string();
        assert_eq!(
            text.parse::<jiff::civil::Date>().ok(),
            Some(act.date),
            "{text}"
        );
    }
    for stage in Stage::ALL {
        let missing = missing_acts(stage, acts);
        for t in acts_required_for(stage) {
            let present = acts.iter().any(|a| a.type_ == *t);
            assert_eq!(missing.contains(t), !present, "{stage:?} {t:?}");
        }
        assert!(missing.iter().all(|t| acts_required_for(stage).contains(t)));
    }
}
