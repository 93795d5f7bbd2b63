//! What happened to the products in the month, for the authorized body: every
//! revision of the requested resources (R-LC-05, R-LC-10: they reach the authorized
//! body, not the agency alone), and the products decommissioned, for which this is the
//! last billing period (R-LC-07). Read from the products' status, which the operator
//! writes: `requestHistory` and `stageHistory`. And each production environment's
//! availability against the product's target (R-MON-01, [`complete_targets`]).

use akp_crds::{EnvironmentName, PlatformSoftwareProduct, Stage};
use jiff::Timestamp;
use kube_core::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ReportDocument;
use super::document::astana_date;

/// One product's events in the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductLifecycle {
    /// The agency (its Agency's name, as in `agencies[].agency`).
    pub agency: String,
    /// The product's namespace (the agency's).
    pub namespace: String,
    /// The product.
    pub product: String,
    /// The revisions of the requested resources the operator recorded in the month,
    /// oldest first (the first request too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<Revision>,
    /// The civil day (Astana) the product was decommissioned, when in the month: this
    /// report's period is then its last (R-LC-07).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decommissioned_on: Option<String>,
}

/// One revision of the requested resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// When the operator recorded it, RFC 3339.
    pub at: String,
    /// The product's stage then.
    pub stage: String,
    /// The product's generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// What was requested, per environment.
    pub requested: Vec<Requested>,
}

/// The request for one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Requested {
    /// development, testing, trial or production.
    pub environment: String,
    /// CPU, as a Kubernetes quantity.
    pub cpu: String,
    /// Memory, as a Kubernetes quantity.
    pub memory: String,
    /// Storage, as a Kubernetes quantity.
    pub storage: String,
    /// Catalog software, as `<item> × <instances>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software: Vec<String>,
}

/// The events of `products` within `[start, end)` (RFC 3339), by agency and product.
pub fn of_products(
    products: &[PlatformSoftwareProduct],
    start: &str,
    end: &str,
) -> Vec<ProductLifecycle> {
    let (Ok(start), Ok(end)) = (start.parse::<Timestamp>(), end.parse::<Timestamp>()) else {
        return Vec::new();
    };
    let within = |t: Timestamp| start <= t && t < end;
    let mut out: Vec<ProductLifecycle> = products
        .iter()
        .filter_map(|p| {
            let status = p.status.as_ref()?;
            let revisions: Vec<Revision> = status
                .request_history
                .iter()
                .filter(|r| within(r.observed_at.0))
                .map(|r| Revision {
                    at: r.observed_at.0.to_string(),
                    stage: r.stage.as_str().to_owned(),
                    generation: r.generation,
                    requested: EnvironmentName::ALL
                        .into_iter()
                        .filter_map(|env| {
                            let q = r.environments.get(env)?;
                            Some(Requested {
                                environment: env.as_str().to_owned(),
                                cpu: q.cpu.0.clone(),
                                memory: q.memory.0.clone(),
                                storage: q.storage.0.clone(),
                                software: q
                                    .software
                                    .iter()
                                    .map(|s| format!("{} × {}", s.item, s.instances))
                                    .collect(),
                            })
                        })
                        .collect(),
                })
                .collect();
            let decommissioned_on = status
                .stage_history
                .iter()
                .find(|s| s.stage == Stage::Decommissioned)
                .map(|s| s.since.0)
                .filter(|t| within(*t))
                .and_then(|t| astana_date(&t.to_string()))
                .map(|d| d.to_string());
            (!revisions.is_empty() || decommissioned_on.is_some()).then(|| ProductLifecycle {
                agency: status.agency.clone().unwrap_or_default(),
                namespace: p.namespace().unwrap_or_default(),
                product: p.name_any(),
                revisions,
                decommissioned_on,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.agency, &a.product).cmp(&(&b.agency, &b.product)));
    out
}

/// Adds the products' events of the report's period to `doc` and marks, in the bill,
/// each product decommissioned in it as billed for the last time (R-LC-07).
pub fn complete(doc: &mut ReportDocument, products: &[PlatformSoftwareProduct]) {
    doc.lifecycle = of_products(products, &doc.period_start, &doc.period_end);
    for event in doc
        .lifecycle
        .iter()
        .filter(|e| e.decommissioned_on.is_some())
    {
        for p in doc
            .agencies
            .iter_mut()
            .filter(|a| a.agency == event.agency)
            .flat_map(|a| a.products.iter_mut())
            .filter(|p| p.product == event.product)
        {
            p.final_period = true;
        }
    }
}

/// R-MON-01: each production environment's availability against the product's
/// target (`spec.sla.availabilityPercent`), exactly, in millionths.
pub fn complete_targets(doc: &mut ReportDocument, products: &[PlatformSoftwareProduct]) {
    for entry in &mut doc.availability {
        let target = products
            .iter()
            .filter(|p| {
                p.name_any() == entry.product
                    && p.status.as_ref().and_then(|s| s.agency.as_deref()) == Some(&entry.agency)
            })
            .find_map(crate::quality::availability_target);
        let (Some(target), Ok(measured)) = (
            target,
            rust_decimal::Decimal::from_str_exact(&entry.availability),
        ) else {
            continue;
        };
        entry.met = Some(measured >= target);
        entry.target = Some(format!("{:.6}", target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(name: &str, status: serde_json::Value) -> PlatformSoftwareProduct {
        let mut p = crate::examples::product_json("agency-mon");
        p["metadata"]["name"] = serde_json::json!(name);
        p["status"] = status;
        serde_json::from_value(p).expect("product")
    }

    fn request(at: &str, stage: &str, cpu: &str) -> serde_json::Value {
        serde_json::json!({"observedAt": at, "generation": 3, "stage": stage, "environments": {
            "production": {"cpu": cpu, "memory": "8Gi", "storage": "20Gi",
                "software": [{"item": "postgresql-16", "instances": 2}]}
        }})
    }

    // October 2026 in Astana.
    const START: &str = "2026-09-30T19:00:00Z";
    const END: &str = "2026-10-31T19:00:00Z";

    #[test]
    fn r_lc_05_r_lc_07_revisions_and_the_last_period_of_the_month() {
        let revised = product(
            "revised",
            serde_json::json!({"agency": "mon", "requestHistory": [
                request("2026-09-30T18:59:59Z", "trialOperation", "2"),
                request("2026-09-30T19:00:00Z", "trialOperation", "4"),
                request("2026-10-31T19:00:00Z", "production", "8"),
            ]}),
        );
        let retired = product(
            "retired",
            serde_json::json!({"agency": "mon", "stageHistory": [
                {"stage": "production", "since": "2026-01-10T05:00:00Z", "until": "2026-10-31T18:30:00Z"},
                {"stage": "decommissioned", "since": "2026-10-31T18:30:00Z"}
            ]}),
        );
        let earlier = product(
            "earlier",
            serde_json::json!({"agency": "mon", "stageHistory": [
                {"stage": "decommissioned", "since": "2026-09-30T18:00:00Z"}
            ]}),
        );
        let events = of_products(&[retired, earlier, revised], START, END);
        assert_eq!(events.len(), 2, "{events:?}");
        // Only the revision inside the month; the period's ends are [start, end).
        assert_eq!(events[0].product, "retired");
        // 18:30 UTC on 31 October is 23:30 in Astana: still 31 October.
        assert_eq!(events[0].decommissioned_on.as_deref(), Some("2026-10-31"));
        assert_eq!(events[1].product, "revised");
        assert_eq!(events[1].revisions.len(), 1);
        let r = &events[1].revisions[0];
        assert_eq!(
            (r.at.as_str(), r.stage.as_str()),
            ("2026-09-30T19:00:00Z", "trialOperation")
        );
        assert_eq!(
            r.requested,
            [Requested {
                environment: "production".into(),
                cpu: "4".into(),
                memory: "8Gi".into(),
                storage: "20Gi".into(),
                software: vec!["postgresql-16 × 2".into()],
            }]
        );
    }

    #[test]
    fn r_mon_01_availability_is_set_against_the_target_exactly() {
        use super::super::AvailabilityEntry;
        let mut p = crate::examples::product_json("agency-mon");
        p["spec"]["sla"] = serde_json::json!({"availabilityPercent": "99.9"});
        p["status"] = serde_json::json!({"agency": "mon"});
        let product: PlatformSoftwareProduct = serde_json::from_value(p).expect("product");
        let entry = |availability: &str| AvailabilityEntry {
            agency: "mon".into(),
            product: "e-license".into(),
            namespace: "mon-e-license-production".into(),
            hours: 744,
            availability: availability.into(),
            target: None,
            met: None,
        };
        let mut doc: ReportDocument = serde_json::from_value(serde_json::json!({
            "$schema": super::super::SCHEMA_ID, "name": "r", "period": "2026-10",
            "periodStart": START, "periodEnd": END, "periodFrom": "2026-10-01",
            "periodTo": "2026-10-31", "timeZone": "UTC+05:00", "generatedAt": END,
            "currency": "KZT", "rounding": "",
            "totals": {"list": "0.00", "billed": "0.00", "byCategory": {}, "free": "0.00", "flagged": "0.00"},
            "tariffs": [], "agencies": [], "allocation": [], "availability": [],
            "dataQuality": {"coverage": "1.000000", "environments": [], "gaps": [], "unbilled": [], "notes": []},
            "usageByDay": []
        }))
        .expect("a document");
        doc.availability = vec![entry("0.999000"), entry("0.998999")];
        complete_targets(&mut doc, &[product]);
        let got: Vec<_> = doc
            .availability
            .iter()
            .map(|a| (a.target.as_deref(), a.met))
            .collect();
        assert_eq!(
            got,
            [
                (Some("0.999000"), Some(true)),
                (Some("0.999000"), Some(false))
            ]
        );
    }
}
