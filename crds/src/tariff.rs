//! `Tariff`: the published prices of the operator's ICT services (R-BIL-03, R-BIL-04),
//! versioned by the date they take effect.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{conditions_schema, date_schema};

/// A version of the operator's tariff. The tariff in force for an hour is the one with
/// the latest `effectiveFrom` not after that hour. Prices are decimal strings, never
/// floating point.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "A version of the operator tariff: exact decimal prices per unit (R-BIL-03, R-BIL-04).",
    version = "v1alpha1",
    kind = "Tariff",
    plural = "tariffs",
    singular = "tariff",
    category = "akp",
    status = "TariffStatus",
    printcolumn = r#"{"name":"Currency","type":"string","jsonPath":".spec.currency"}"#,
    printcolumn = r#"{"name":"Effective-From","type":"string","jsonPath":".spec.effectiveFrom"}"#,
    printcolumn = r#"{"name":"Non-Production","type":"string","jsonPath":".spec.nonProduction.afterwards"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.effectiveFrom == oldSelf.effectiveFrom",
    "fieldPath": ".effectiveFrom",
    "reason": "FieldValueForbidden",
    "message": "a published tariff's effectiveFrom and rates are immutable, so that every bill can be reproduced (R-BIL-04): create a new Tariff with a later effectiveFrom"
}, {
    "rule": "self.rates == oldSelf.rates",
    "fieldPath": ".rates",
    "reason": "FieldValueForbidden",
    "message": "a published tariff's effectiveFrom and rates are immutable, so that every bill can be reproduced (R-BIL-04): create a new Tariff with a later effectiveFrom"
}]))]
pub struct TariffSpec {
    /// The currency of every price: KZT.
    pub currency: Currency,
    /// The first day this tariff is in force (00:00 Asia/Almaty... see docs/billing.md).
    #[schemars(schema_with = "date_schema")]
    pub effective_from: jiff::civil::Date,
    /// Price per unit for each resource.
    #[schemars(length(min = 1, max = 256), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["resource"]))]
    pub rates: Vec<Rate>,
    /// What happens to non-production environments after the free period (R-ENV-04).
    #[serde(default)]
    pub non_production: NonProductionPolicy,
}

/// The currency of a tariff.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Currency {
    /// Kazakhstani tenge.
    #[default]
    #[serde(rename = "KZT")]
    Kzt,
}

/// A price for one resource.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(self.resource in ['cpu'] && self.unit == 'core-hour') || (self.resource in ['memory', 'storage'] && self.unit == 'GiB-hour') || (self.resource.startsWith('network.') && self.unit == 'GiB') || (self.resource.startsWith('software/') && self.unit in ['instance-hour', 'core-hour'])",
    "fieldPath": ".unit",
    "messageExpression": "'unit ' + self.unit + ' does not fit resource ' + self.resource + ' (R-BIL-03): cpu is priced per core-hour, memory and storage per GiB-hour, network.* per GiB, software/<item> per instance-hour or core-hour'"
}]))]
pub struct Rate {
    /// The resource: cpu, memory, storage, network.internet, network.gateway,
    /// network.internal, or software/<catalog item>.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self in ['cpu', 'memory', 'storage', 'network.internet', 'network.gateway', 'network.internal'] || self.matches('^software/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
        "messageExpression": "'\"' + self + '\" is not a billable resource (R-BIL-03): use cpu, memory, storage, network.internet, network.gateway, network.internal or software/<catalog item name>'"
    }]), length(min = 1, max = 253))]
    pub resource: String,
    /// The unit the price is per.
    pub unit: Unit,
    /// The price per unit in the tariff's currency, a decimal string with at most 6
    /// decimals, such as "11.20".
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^[0-9]{1,12}(\\\\.[0-9]{1,6})?$')",
        "messageExpression": "'\"' + self + '\" is not a price (R-BIL-04): write a non-negative decimal string with a dot and at most 6 decimals, such as \"11.20\"; never a float or an exponent'"
    }]), length(min = 1, max = 32))]
    pub price: String,
}

/// Units a price is per.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Unit {
    /// One CPU core used for one hour.
    #[serde(rename = "core-hour")]
    CoreHour,
    /// One GiB held for one hour.
    #[serde(rename = "GiB-hour")]
    GibHour,
    /// One GiB transferred.
    #[serde(rename = "GiB")]
    Gib,
    /// One running software instance for one hour.
    #[serde(rename = "instance-hour")]
    InstanceHour,
}

/// What non-production environments cost (R-ENV-04).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NonProductionPolicy {
    /// Months from the agency's contract date in which non-production environments are
    /// free (003 p.12: at most 3).
    #[serde(default = "three")]
    #[schemars(range(min = 0, max = 3), extend("x-kubernetes-validations" = [{
        "rule": "self >= 0 && self <= 3",
        "message": "non-production environments are free for at most 3 months from the contract (R-ENV-04, 003 p.12): write 0, 1, 2 or 3"
    }]))]
    pub free_months_from_contract: i32,
    /// After the free period: bill at this tariff, or only flag the usage.
    #[serde(default)]
    pub afterwards: AfterFreePeriod,
}

impl Default for NonProductionPolicy {
    fn default() -> Self {
        Self {
            free_months_from_contract: 3,
            afterwards: AfterFreePeriod::default(),
        }
    }
}

fn three() -> i32 {
    3
}

/// The tariff's choice for non-production usage after the free period.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AfterFreePeriod {
    /// Bill it at this tariff's rates.
    Bill,
    /// Do not bill; report it and raise a flag.
    #[default]
    Flag,
}

/// What the billing daemon observed of the tariff.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TariffStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// InForce: this tariff is the one in force now.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}
