//! `UsageStatement`: an agency's month-to-date costs, written by the billing daemon in
//! the agency's namespace and read by the agency (issue 20; R-BIL-01, R-BIL-03).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What an agency's products have cost in one month so far: billed, free and flagged,
/// by product, environment, category and resource. Provisional until the month closes
/// in the ledger; then final and equal to the monthly report's lines of the agency.
/// The billing daemon writes it whole; agencies may only read it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    version = "v1alpha1",
    kind = "UsageStatement",
    namespaced
)]
#[kube(
    plural = "usagestatements",
    singular = "usagestatement",
    shortname = "ust"
)]
#[kube(category = "akp")]
#[kube(
    doc = "An agency's month-to-date usage and costs, written by the billing daemon (read-only for agencies)."
)]
#[kube(printcolumn = r#"{"name":"Month","type":"string","jsonPath":".spec.month"}"#)]
#[kube(printcolumn = r#"{"name":"Billed-KZT","type":"string","jsonPath":".spec.totals.billed"}"#)]
#[kube(printcolumn = r#"{"name":"Budget-Used","type":"string","jsonPath":".spec.budget.used"}"#)]
#[kube(printcolumn = r#"{"name":"Final","type":"boolean","jsonPath":".spec.final"}"#)]
#[kube(printcolumn = r#"{"name":"Through","type":"date","jsonPath":".spec.through"}"#)]
#[serde(rename_all = "camelCase")]
pub struct UsageStatementSpec {
    /// The agency (its Agency object's name).
    pub agency: String,
    /// The calendar month, YYYY-MM (Kazakhstan time).
    pub month: String,
    /// Whether the month is closed in the ledger: the figures no longer change.
    #[serde(rename = "final")]
    pub final_: bool,
    /// The end of the last metered hour the figures include (RFC 3339).
    pub through: String,
    /// When the billing daemon computed the figures (RFC 3339).
    pub updated_at: String,
    /// The agency's totals, KZT.
    pub totals: StatementTotals,
    /// The monthly budget of the agency and how much of it is spent, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetUse>,
    /// Billed amounts by category (software, compute, telecom), KZT.
    #[serde(default)]
    pub by_category: Vec<CategoryAmount>,
    /// The agency's products, by name.
    #[serde(default)]
    pub products: Vec<ProductUsage>,
    /// What rating found (agencies without a contract, hours without a tariff).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Amounts in KZT, exact decimals with 2 places.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementTotals {
    /// At list prices: billed, free and flagged together.
    pub list: String,
    /// To pay.
    pub billed: String,
    /// Free: non-production within the free period (R-ENV-04).
    pub free: String,
    /// Flagged: non-production past the free period under the tariff's `flag` policy.
    pub flagged: String,
}

/// A monthly budget and its use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetUse {
    /// The Agency's `spec.budget.monthly`, KZT.
    pub monthly: String,
    /// Billed so far as a percentage of it, 2 decimals ("37.52%").
    pub used: String,
    /// The alert thresholds (percent) the billed amount has reached.
    #[serde(default)]
    pub reached: Vec<u32>,
}

/// The billed amount of one category.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct CategoryAmount {
    /// software, compute or telecom (R-BIL-03).
    pub category: String,
    /// KZT.
    pub billed: String,
}

/// One product's usage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductUsage {
    /// The PlatformSoftwareProduct's name.
    pub product: String,
    /// The product's totals.
    pub totals: StatementTotals,
    /// Its lines.
    pub lines: Vec<StatementLine>,
}

/// One rated line: an environment's resource at one tariff and treatment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementLine {
    /// development, testing, trial or production.
    pub environment: String,
    /// software, compute or telecom.
    pub category: String,
    /// The tariff resource (`cpu`, `memory`, `network.internet`, `software/<item>`).
    pub resource: String,
    /// Quantity in the tariff unit, 6 decimals.
    pub quantity: String,
    /// The tariff unit.
    pub unit: String,
    /// The price per unit.
    pub rate: String,
    /// At the list price.
    pub list: String,
    /// To pay.
    pub billed: String,
    /// billed, free, flagged or unpriced.
    pub treatment: String,
    /// For late data of a closed month booked in this one: that month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_of: Option<String>,
}
