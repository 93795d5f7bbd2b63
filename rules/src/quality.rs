//! R-MON-01 (000 p.42.1): the service-quality targets of a product in production, as
//! the operator exports them for Prometheus to compare with what is measured:
//! availability from kube-state-metrics (its workloads' ready replicas), response time
//! from the Internet ingress (ingress-nginx's request-duration histogram). The chart's
//! alerts `AkpProductBelowAvailabilitySla` and `AkpProductResponseTimeAboveSla` fire
//! when a product falls below its targets; the monthly report gives the month's
//! availability against its target.

use akp_crds::{EnvironmentName, PlatformSoftwareProduct, Stage};
use kube_core::ResourceExt;

use crate::naming::environment_namespace;

/// What a production product promised (`spec.sla`, `spec.capacity`).
#[derive(Clone, Debug, PartialEq)]
pub struct Targets {
    /// The production environment's namespace: what the measurements are labelled with.
    pub namespace: String,
    /// The product.
    pub product: String,
    /// `sla.availabilityPercent` as a ratio (0 to 1).
    pub availability_ratio: Option<f64>,
    /// `capacity.responseTimeMs` in seconds.
    pub response_time_seconds: Option<f64>,
}

/// `spec.sla.availabilityPercent` as an exact share (99.9 → 0.999), if given.
pub fn availability_target(product: &PlatformSoftwareProduct) -> Option<rust_decimal::Decimal> {
    let percent = product.spec.sla.as_ref()?.availability_percent.as_deref()?;
    let percent = rust_decimal::Decimal::from_str_exact(percent).ok()?;
    Some(percent / rust_decimal::Decimal::ONE_HUNDRED)
}

/// The targets of `product` when it is in production and has any.
pub fn targets(product: &PlatformSoftwareProduct) -> Option<Targets> {
    if product.spec.stage != Stage::Production {
        return None;
    }
    let agency = product.status.as_ref()?.agency.clone()?;
    // Exact decimal first: 99.9 / 100 is 0.999, not 0.9990000000000001.
    let availability_ratio = availability_target(product)
        .and_then(|share| rust_decimal::prelude::ToPrimitive::to_f64(&share));
    let response_time_seconds = product
        .spec
        .capacity
        .response_time_ms
        .map(|ms| ms as f64 / 1000.0);
    if availability_ratio.is_none() && response_time_seconds.is_none() {
        return None;
    }
    let name = product.name_any();
    Some(Targets {
        namespace: environment_namespace(&agency, &name, EnvironmentName::Production),
        product: name,
        availability_ratio,
        response_time_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_mon_01_production_products_export_their_targets() {
        let mut p = crate::examples::product_json("agency-mon");
        p["spec"]["stage"] = serde_json::json!("production");
        p["spec"]["sla"] = serde_json::json!({"availabilityPercent": "99.9"});
        p["spec"]["capacity"]["responseTimeMs"] = serde_json::json!(800);
        p["status"] = serde_json::json!({"agency": "mon"});
        let product: PlatformSoftwareProduct = serde_json::from_value(p.clone()).expect("product");
        assert_eq!(
            targets(&product),
            Some(Targets {
                namespace: "mon-e-license-production".into(),
                product: "e-license".into(),
                availability_ratio: Some(0.999),
                response_time_seconds: Some(0.8),
            })
        );
        // Not in production: nothing to compare yet.
        p["spec"]["stage"] = serde_json::json!("trialOperation");
        let trial: PlatformSoftwareProduct = serde_json::from_value(p).expect("product");
        assert_eq!(targets(&trial), None);
    }
}
