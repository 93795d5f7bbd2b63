//! R-LC-10 (000 p.18-19, p.34.3): the operator allocates production resources on the
//! authorized body's confirmation. In production, the request in force is the one the
//! body confirmed: a revision of `spec.environments.production` recorded after the
//! latest `resourceConfirmation` waits for a new one, and the environment keeps the
//! request confirmed before.
//!
//! Acts carry civil dates, so a revision is confirmed by a confirmation of the same
//! Kazakhstan day or later.

use akp_crds::product::{ActType, RequestRecord, ResourceRequest};
use akp_crds::{EnvironmentName, PlatformSoftwareProduct};
use jiff::civil::Date;

use crate::time::civil_date;

/// Which production request the operator may allocate.
#[derive(Clone, Debug, PartialEq)]
pub enum Production<'a> {
    /// The request in the spec: confirmed on `on` (or none is needed: no production
    /// request, or no confirmation act at all, which the gate already refuses).
    Confirmed {
        /// The confirmation's date, if any.
        on: Option<Date>,
    },
    /// The request in the spec was revised on `revised_on`, after the latest
    /// confirmation of `confirmed_on`: `in_force` is the request confirmed then (none
    /// when the history no longer holds it).
    AwaitingConfirmation {
        /// The civil day the current request was first recorded; none while the
        /// operator has not recorded it yet.
        revised_on: Option<Date>,
        /// The latest confirmation's date.
        confirmed_on: Date,
        /// The request to keep allocating.
        in_force: Option<&'a ResourceRequest>,
    },
}

/// The date of the product's `resourceConfirmation` that counts, the latest
/// ([`crate::acts::current`]).
pub fn latest_confirmation(product: &PlatformSoftwareProduct) -> Option<Date> {
    crate::acts::current(&product.spec.acts, ActType::ResourceConfirmation).map(|(_, a)| a.date)
}

/// R-LC-10: the production request the operator may allocate, from the spec, the
/// confirmations among its acts and `status.requestHistory`. The first request is the
/// one the confirmation confirmed; a later change is confirmed by a confirmation of its
/// day or later. A change the history does not hold yet counts as made after every
/// confirmation until the operator records it (its next reconcile decides again).
pub fn production_request(product: &PlatformSoftwareProduct) -> Production<'_> {
    let current = product.spec.environments.get(EnvironmentName::Production);
    let Some(confirmed_on) = latest_confirmation(product) else {
        return Production::Confirmed { on: None };
    };
    let confirmed = Production::Confirmed {
        on: Some(confirmed_on),
    };
    if current.is_none() {
        return confirmed;
    }
    let history: &[RequestRecord] = product
        .status
        .as_ref()
        .map(|s| s.request_history.as_slice())
        .unwrap_or_default();
    fn production(r: &RequestRecord) -> Option<&ResourceRequest> {
        r.environments.get(EnvironmentName::Production)
    }
    // The newest run of records holding the current request, and what came before.
    let held = history
        .iter()
        .rev()
        .take_while(|r| production(r) == current)
        .count();
    let Some(before) = history.len().checked_sub(held + 1).map(|i| &history[i]) else {
        // Nothing else was ever requested: the original request.
        return confirmed;
    };
    if production(before).is_none() {
        // Production first requested then: the gate's confirmation covers it.
        return confirmed;
    }
    let revised_on = (held > 0).then(|| civil_date(history[history.len() - held].observed_at.0));
    if revised_on.is_some_and(|d| d <= confirmed_on) {
        return confirmed;
    }
    // The request held on the confirmation's day; recorded only after it, the
    // original request, which the confirmation at the gate confirmed.
    let earlier = &history[..history.len() - held];
    let in_force = earlier
        .iter()
        .rev()
        .find(|r| civil_date(r.observed_at.0) <= confirmed_on)
        .or(earlier.first())
        .and_then(production);
    Production::AwaitingConfirmation {
        revised_on,
        confirmed_on,
        in_force,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(history: serde_json::Value, cpu: &str) -> PlatformSoftwareProduct {
        let mut p = crate::examples::product_json("agency-mon");
        let sha = "ab".repeat(32);
        p["spec"]["stage"] = serde_json::json!("production");
        p["spec"]["acts"] = serde_json::json!([
            {"type": "resourceConfirmation", "number": "R-1", "date": "2026-10-05", "sha256": sha}
        ]);
        p["spec"]["environments"] =
            serde_json::json!({"production": {"cpu": cpu, "memory": "8Gi", "storage": "20Gi"}});
        p["status"] = serde_json::json!({"requestHistory": history});
        serde_json::from_value(p).expect("product")
    }

    fn record(at: &str, cpu: &str) -> serde_json::Value {
        serde_json::json!({"observedAt": at, "stage": "production", "environments":
            {"production": {"cpu": cpu, "memory": "8Gi", "storage": "20Gi"}}})
    }

    #[test]
    fn r_lc_10_a_revision_after_the_confirmation_waits_for_a_new_one() {
        // Requested 4 cores on 1 October, confirmed on 5 October.
        let history = serde_json::json!([record("2026-10-01T05:00:00Z", "4")]);
        let p = product(history.clone(), "4");
        assert_eq!(
            production_request(&p),
            Production::Confirmed {
                on: Some(jiff::civil::date(2026, 10, 5))
            }
        );
        // Revised to 16 cores on 10 October: 4 stay in force.
        let mut revised = history.as_array().cloned().unwrap_or_default();
        revised.push(record("2026-10-10T05:00:00Z", "16"));
        let p = product(serde_json::Value::Array(revised), "16");
        let Production::AwaitingConfirmation {
            revised_on,
            confirmed_on,
            in_force,
        } = production_request(&p)
        else {
            panic!("awaiting confirmation");
        };
        assert_eq!(revised_on, Some(jiff::civil::date(2026, 10, 10)));
        assert_eq!(confirmed_on, jiff::civil::date(2026, 10, 5));
        assert_eq!(in_force.map(|r| r.cpu.0.as_str()), Some("4"));
        // The CPU in force when a revision waits (None: the spec's is confirmed).
        let waiting = |history: &[(&str, &str)], cpu: &str| {
            let records: Vec<serde_json::Value> =
                history.iter().map(|(at, c)| record(at, c)).collect();
            let p = product(serde_json::Value::Array(records), cpu);
            match production_request(&p) {
                Production::Confirmed { .. } => None,
                Production::AwaitingConfirmation { in_force, .. } => {
                    Some(in_force.map(|r| r.cpu.0.clone()))
                }
            }
        };
        let four = Some(Some("4".to_owned()));
        for (why, history, cpu, expected) in [
            // The first reconcile after the revision, not recorded yet: the same.
            (
                "not recorded yet",
                &[("2026-10-01T05:00:00Z", "4")][..],
                "16",
                four.clone(),
            ),
            // Created at production after its confirmation's day, then revised: the
            // original request stays in force.
            (
                "created later, then revised",
                &[
                    ("2026-11-01T05:00:00Z", "4"),
                    ("2026-11-02T05:00:00Z", "16"),
                ][..],
                "16",
                four,
            ),
            // The original request, even recorded after the confirmation's day, is the
            // one confirmed (a product created at production).
            (
                "the original request",
                &[("2026-11-01T05:00:00Z", "4")][..],
                "4",
                None,
            ),
            ("nothing recorded", &[][..], "4", None),
            // A revision of the confirmation's own day (Astana) is confirmed by it.
            (
                "revised on the confirmation's day",
                &[("2026-10-01T05:00:00Z", "4"), ("2026-10-05T18:30:00Z", "6")][..],
                "6",
                None,
            ),
        ] {
            assert_eq!(waiting(history, cpu), expected, "{why}");
        }
    }
}
