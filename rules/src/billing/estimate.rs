//! Cost estimate of a product's requested resources (R-BIL-04, 000 p.13): the monthly
//! cost of each environment's request at the tariff in force, with the non-production
//! policy applied (R-ENV-04). Pure.
//!
//! A month is 730 hours (8760 / 12), the average, so an estimate does not depend on
//! which month it is made in. Requests are priced as if fully used all month: an upper
//! bound, since the bill counts only what is used (R-BIL-01).

use akp_crds::PlatformSoftwareProductSpec;
use akp_crds::common::EnvironmentName;
use akp_crds::product::ResourceRequest;
use akp_crds::tariff::{AfterFreePeriod, Unit as TariffUnit};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::billing::rating::{
    Category, RatingError, TariffBook, amount_tiyn, div_half_even, format_micro, format_tiyn,
    unit_name,
};

/// Hours in the estimate's month: 8760 / 12.
pub const HOURS_PER_MONTH: i128 = 730;

/// Why an estimate could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    /// No tariff is in force on the date.
    #[error(
        "no tariff is in force on {0} (R-BIL-04): publish a Tariff with an earlier effectiveFrom"
    )]
    NoTariff(Date),
    /// A quantity that cannot be read.
    #[error(
        "environments.{environment}.{field}: {value:?} is not a Kubernetes quantity such as \"4\", \"500m\" or \"8Gi\""
    )]
    Quantity {
        /// The environment.
        environment: String,
        /// The field.
        field: String,
        /// The value.
        value: String,
    },
    /// The tariff lacks a rate the request needs.
    #[error(
        "tariff {tariff} has no rate for {resource}, requested by environments.{environment} (R-BIL-04)"
    )]
    NoRate {
        /// The tariff.
        tariff: String,
        /// The resource.
        resource: String,
        /// The environment.
        environment: String,
    },
    /// Arithmetic.
    #[error(transparent)]
    Rating(#[from] RatingError),
}

/// One priced line of an estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateLine {
    /// R-BIL-03 category.
    pub category: Category,
    /// Tariff resource.
    pub resource: String,
    /// Unit.
    pub unit: String,
    /// Quantity per month.
    pub quantity: String,
    /// Rate.
    pub rate: String,
    /// Monthly amount, KZT.
    pub amount: String,
}

/// The estimate of one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentEstimate {
    /// development, testing, trial or production.
    pub environment: String,
    /// Lines.
    pub lines: Vec<EstimateLine>,
    /// Monthly cost at the tariff, whatever the policy.
    pub monthly: String,
    /// What is billed per month on the estimate's date.
    pub billed_now: String,
    /// What is billed per month after the free period (non-production).
    pub billed_after_free_period: String,
    /// The first day no longer free, for non-production with a contract date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_until: Option<String>,
    /// `production`, `free`, `bill` or `flag`.
    pub policy: String,
}

/// The estimate of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductEstimate {
    /// The tariff in force.
    pub tariff: String,
    /// The date estimated for.
    pub as_of: String,
    /// Hours in the month (730).
    pub hours_per_month: i64,
    /// Currency.
    pub currency: String,
    /// Per requested environment.
    pub environments: Vec<EnvironmentEstimate>,
    /// Sum of `monthly`.
    pub monthly: String,
    /// Sum of `billedNow`.
    pub billed_now: String,
}

/// Micro-units of a Kubernetes quantity per `per` (1 for cores, 2³⁰ for bytes → GiB),
/// read by the one quantity parser ([`crate::quantity`], the fuzzed one); `None` for
/// what is not a quantity, is negative or does not fit.
fn quantity_micro(text: &str, per: i128) -> Option<i128> {
    let nanos = crate::quantity::parse_nanos(text)
        .ok()
        .filter(|n| *n >= 0)?;
    Some(div_half_even(nanos, per.checked_mul(1000)?))
}

fn env_name(e: EnvironmentName) -> &'static str {
    match e {
        EnvironmentName::Development => "development",
        EnvironmentName::Testing => "testing",
        EnvironmentName::Trial => "trial",
        EnvironmentName::Production => "production",
    }
}

/// Estimates the monthly cost of `spec`'s requested environments at the tariff in force
/// on `as_of` (a Kazakhstan civil date), with the non-production policy from the
/// agency's earliest `contract` date (no date: no free period).
pub fn estimate(
    spec: &PlatformSoftwareProductSpec,
    book: &TariffBook,
    as_of: Date,
    contract: Option<Date>,
) -> Result<ProductEstimate, EstimateError> {
    let tariff = book
        .in_force_on(as_of)
        .ok_or(EstimateError::NoTariff(as_of))?;
    let mut environments = Vec::new();
    let (mut total, mut total_now) = (0i128, 0i128);
    for env in EnvironmentName::ALL {
        let Some(req) = spec.environments.get(env) else {
            continue;
        };
        let name = env_name(env);
        let lines = lines_of(req, name, spec.internet_facing, tariff)?;
        let monthly: i128 = lines.iter().map(|(_, t)| *t).sum();
        let production = env == EnvironmentName::Production;
        let free_until = match (production, contract) {
            (false, Some(c)) => Some(crate::clocks::free_period_end(c, tariff.free_months)),
            _ => None,
        };
        let after = match (production, tariff.afterwards) {
            (true, _) | (false, AfterFreePeriod::Bill) => monthly,
            (false, AfterFreePeriod::Flag) => 0,
        };
        let free_now = free_until.is_some_and(|d| as_of < d);
        let now = if free_now { 0 } else { after };
        let policy = match (production, free_now, tariff.afterwards) {
            (true, _, _) => "production",
            (false, true, _) => "free",
            (false, false, AfterFreePeriod::Bill) => "bill",
            (false, false, AfterFreePeriod::Flag) => "flag",
        };
        total += monthly;
        total_now += now;
        environments.push(EnvironmentEstimate {
            environment: name.to_string(),
            lines: lines.into_iter().map(|(l, _)| l).collect(),
            monthly: format_tiyn(monthly),
            billed_now: format_tiyn(now),
            billed_after_free_period: format_tiyn(after),
            free_until: free_until.map(|d| d.to_string()),
            policy: policy.to_string(),
        });
    }
    Ok(ProductEstimate {
        tariff: tariff.name.clone(),
        as_of: as_of.to_string(),
        hours_per_month: 730,
        currency: "KZT".into(),
        environments,
        monthly: format_tiyn(total),
        billed_now: format_tiyn(total_now),
    })
}

fn lines_of(
    req: &ResourceRequest,
    env: &str,
    internet_facing: bool,
    tariff: &crate::billing::rating::TariffVersion,
) -> Result<Vec<(EstimateLine, i128)>, EstimateError> {
    let q = |field: &str, value: &str, per: i128| {
        quantity_micro(value, per).ok_or_else(|| EstimateError::Quantity {
            environment: env.to_string(),
            field: field.to_string(),
            value: value.to_string(),
        })
    };
    let cpu = q("cpu", &req.cpu.0, 1)?;
    // (resource, quantity per month in micro-units)
    let mut wanted: Vec<(String, i128)> = vec![
        ("cpu".into(), cpu * HOURS_PER_MONTH),
        (
            "memory".into(),
            q("memory", &req.memory.0, 1 << 30)? * HOURS_PER_MONTH,
        ),
        (
            "storage".into(),
            q("storage", &req.storage.0, 1 << 30)? * HOURS_PER_MONTH,
        ),
    ];
    if let Some(egress) = &req.egress {
        // Egress is monthly traffic: Internet-facing products pay the Internet rate,
        // the others leave through the e-government gateway.
        let class = if internet_facing {
            "network.internet"
        } else {
            "network.gateway"
        };
        wanted.push((class.into(), q("egress", &egress.0, 1 << 30)?));
    }
    let mut out = Vec::new();
    for (resource, quantity) in wanted {
        let rate = tariff
            .rates
            .get(&resource)
            .ok_or_else(|| EstimateError::NoRate {
                tariff: tariff.name.clone(),
                resource: resource.clone(),
                environment: env.to_string(),
            })?;
        out.push(priced(&resource, rate.unit, quantity, rate.price)?);
    }
    for sw in &req.software {
        let resource = format!("software/{}", sw.item);
        let instances = i128::from(sw.instances);
        // Software without a rate (an agency's own application, free software) costs
        // nothing at this tariff: listed as unpriced, as rating does, never dropped.
        let Some(rate) = tariff.rates.get(&resource) else {
            out.push((
                EstimateLine {
                    category: Category::of(&resource),
                    resource,
                    unit: "instance-hour".into(),
                    quantity: format_micro(instances * 1_000_000 * HOURS_PER_MONTH),
                    rate: "unpriced".into(),
                    amount: format_tiyn(0),
                },
                0,
            ));
            continue;
        };
        // A per-core licence is estimated at the environment's whole CPU request per
        // instance: an upper bound, as the real core count is only known when running.
        let quantity = match rate.unit {
            TariffUnit::CoreHour => instances * cpu * HOURS_PER_MONTH,
            _ => instances * 1_000_000 * HOURS_PER_MONTH,
        };
        out.push(priced(&resource, rate.unit, quantity, rate.price)?);
    }
    Ok(out)
}

fn priced(
    resource: &str,
    unit: TariffUnit,
    quantity_micro: i128,
    price: crate::billing::rating::Price,
) -> Result<(EstimateLine, i128), EstimateError> {
    let tiyn = amount_tiyn(quantity_micro, price, resource)?;
    Ok((
        EstimateLine {
            category: Category::of(resource),
            resource: resource.to_string(),
            unit: unit_name(unit).to_string(),
            quantity: format_micro(quantity_micro),
            rate: price.to_string(),
            amount: format_tiyn(tiyn),
        },
        tiyn,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_bil_04_parses_kubernetes_quantities_exactly() {
        assert_eq!(quantity_micro("4", 1), Some(4_000_000));
        assert_eq!(quantity_micro("500m", 1), Some(500_000));
        assert_eq!(quantity_micro("8Gi", 1 << 30), Some(8_000_000));
        assert_eq!(quantity_micro("1.5Gi", 1 << 30), Some(1_500_000));
        assert_eq!(quantity_micro("1e3", 1), Some(1_000_000_000));
        assert_eq!(quantity_micro("512Mi", 1 << 30), Some(500_000));
        assert_eq!(quantity_micro("1.5G", 1 << 30), Some(1_396_984));
        assert_eq!(quantity_micro("-1", 1), None);
        assert_eq!(quantity_micro("4 cores", 1), None);
    }
}
