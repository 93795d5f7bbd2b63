//! The billing report's content (R-BIL-02, R-BIL-03): rated lines grouped per agency,
//! product, environment and category, with totals, allocation, data quality,
//! availability, residency and the tariff versions used; as JSON with a published JSON
//! Schema. Its renderings (CSV, HTML in Kazakh and Russian) are billing's
//! (`billing/src/report/`).
//!
//! Everything is a pure function of its inputs, the generation time included, so a
//! regenerated month is byte-identical.

pub mod document;
pub mod lifecycle;
pub mod words;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::billing::rating::{
    self, Category, Rated, Treatment, format_micro, format_tiyn, unit_name,
};

/// The schema identifier written into every JSON report.
pub const SCHEMA_ID: &str = "https://akp.egov.kz/schemas/billing-report/v2";

/// Inputs of a report that do not come from rating.
#[derive(Clone, Debug, Default)]
pub struct ReportMeta {
    /// The BillingReport's name.
    pub name: String,
    /// The month, `YYYY-MM`.
    pub period: String,
    /// The report this one corrects.
    pub corrects: Option<String>,
    /// Generation time, RFC 3339 UTC; injected so that regeneration is byte-identical.
    pub generated_at: String,
    /// First hour of the period, RFC 3339 UTC.
    pub period_start: String,
    /// End of the period (exclusive), RFC 3339 UTC.
    pub period_end: String,
    /// Data quality measured by metering.
    pub data_quality: DataQualityInput,
    /// Residency statement, where placement provides it (R-PLC-01).
    pub residency: Option<Vec<ResidencyStatement>>,
}

/// Data quality as metering measured it.
#[derive(Clone, Debug, Default)]
pub struct DataQualityInput {
    /// Per environment: (namespace, hours existed, covered milliseconds, gap hours).
    pub environments: Vec<EnvironmentCoverage>,
    /// Stretches without data.
    pub gaps: Vec<GapEntry>,
    /// Unbilled usage (not an environment, uncatalogued image).
    pub unbilled: Vec<UnbilledEntry>,
}

/// The residency statement of one product (R-PLC-01).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResidencyStatement {
    /// Agency.
    pub agency: String,
    /// Product.
    pub product: String,
    /// Sites used.
    pub sites: Vec<String>,
    /// Node-hours per ISO 3166-1 country code.
    pub node_hours_by_country: BTreeMap<String, u64>,
}

/// Coverage of one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentCoverage {
    /// Namespace.
    pub namespace: String,
    /// Hours the environment existed in the period.
    pub hours: i64,
    /// Covered share, decimal string 0..1 with 6 decimals.
    pub coverage: String,
    /// Hours not fully covered.
    pub gap_hours: i64,
}

impl EnvironmentCoverage {
    /// From the ledger's coverage.
    pub fn from_ledger(c: &crate::billing::rows::EnvCoverage) -> Self {
        Self {
            namespace: c.namespace.clone(),
            hours: c.hours,
            coverage: format_micro(i128::from(c.ppm())),
            gap_hours: c.gap_hours,
        }
    }
}

/// A stretch of hours without data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GapEntry {
    /// Namespace.
    pub namespace: String,
    /// Resource (ledger name).
    pub resource: String,
    /// First hour without data, RFC 3339.
    pub from: String,
    /// First hour with data again, RFC 3339.
    pub to: String,
}

/// Unbilled usage of a reason and resource over the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnbilledEntry {
    /// `not-an-environment` or `uncatalogued-image`.
    pub reason: String,
    /// Ledger resource.
    pub resource: String,
    /// Ledger unit.
    pub unit: String,
    /// Quantity, decimal string.
    pub quantity: String,
}

impl UnbilledEntry {
    /// Sums the ledger's data-quality rows per reason and resource.
    pub fn from_ledger(rows: &[crate::billing::rows::QualityRow]) -> Vec<Self> {
        let mut sums: BTreeMap<(String, String, String), i128> = BTreeMap::new();
        for r in rows {
            *sums
                .entry((r.reason.clone(), r.resource.clone(), r.unit.clone()))
                .or_default() += i128::from(r.quantity);
        }
        sums.into_iter()
            .map(|((reason, resource, unit), q)| UnbilledEntry {
                reason,
                resource,
                unit,
                quantity: format_micro(q),
            })
            .collect()
    }
}

/// The report document, as JSON serializes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "AKP billing report",
    description = "Monthly billing report of the e-government platform operator for the authorized body (R-BIL-01..03). Money is in KZT as decimal strings with 2 decimals; quantities are decimal strings with 6 decimals."
)]
pub struct ReportDocument {
    /// The schema identifier, https://akp.egov.kz/schemas/billing-report/v2 (v2 added
    /// `periodFrom`, `periodTo`, `document`, the agencies' names, BINs and contracts,
    /// and `totals.list`).
    #[serde(rename = "$schema")]
    #[schemars(extend("const" = "https://akp.egov.kz/schemas/billing-report/v2"))]
    pub schema: String,
    /// The BillingReport's name.
    pub name: String,
    /// The month, YYYY-MM (Kazakhstan time, UTC+5).
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
    /// First hour of the period, UTC.
    #[schemars(regex(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"
    ))]
    pub period_start: String,
    /// End of the period (exclusive), UTC.
    #[schemars(regex(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"
    ))]
    pub period_end: String,
    /// First civil day of the period (Astana, UTC+5).
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub period_from: String,
    /// Last civil day of the period (Astana, UTC+5), inclusive.
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub period_to: String,
    /// The time zone of civil dates in this report.
    pub time_zone: String,
    /// The report this one corrects (R-BIL-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
    /// When it was generated, UTC.
    #[schemars(regex(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"
    ))]
    pub generated_at: String,
    /// Number, date, issuer, recipient and signatory, where the daemon is configured
    /// with them (the BillingReport controller always is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<document::DocumentInfo>,
    /// Currency of every amount: KZT.
    #[schemars(extend("const" = "KZT"))]
    pub currency: String,
    /// How amounts are rounded.
    pub rounding: String,
    /// Tariff versions used.
    pub tariffs: Vec<TariffUsed>,
    /// Overall totals.
    pub totals: Totals,
    /// Per agency.
    pub agencies: Vec<AgencyReport>,
    /// Allocated vs used vs billed per environment and compute resource.
    pub allocation: Vec<AllocationEntry>,
    /// Availability of production environments (R-MON-01).
    pub availability: Vec<AvailabilityEntry>,
    /// Data quality.
    pub data_quality: DataQualityReport,
    /// Residency statement per product, where provided (R-PLC-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residency: Option<Vec<ResidencyStatement>>,
    /// List value per Kazakhstan civil day (each day rounded; for charts).
    pub usage_by_day: Vec<DayAmount>,
    /// The products' revisions of requested resources and decommissionings in the
    /// period, for the authorized body (R-LC-05, R-LC-07, R-LC-10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<lifecycle::ProductLifecycle>,
}

/// A tariff version used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TariffUsed {
    /// Name.
    pub name: String,
    /// Effective from (civil date, UTC+5).
    pub effective_from: String,
    /// Hours rated at it.
    pub hours: u32,
}

/// Totals of a set of lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// List value of every line whatever its treatment (quantity × rate), KZT:
    /// `billed + free + flagged`, unpriced lines counting 0.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub list: String,
    /// Billed, KZT.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub billed: String,
    /// Billed per R-BIL-03 category.
    pub by_category: BTreeMap<String, String>,
    /// Value of free non-production usage (not billed).
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub free: String,
    /// Value of flagged non-production usage (not billed).
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub flagged: String,
}

/// One agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgencyReport {
    /// Agency name.
    pub agency: String,
    /// Its names in Kazakh and Russian, from its Agency object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<document::Localized>,
    /// Its BIN, from its Agency object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    /// Its contracts with the operator, from its Agency object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<document::ContractRef>,
    /// Totals.
    pub totals: Totals,
    /// Products.
    pub products: Vec<ProductReport>,
}

/// One product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductReport {
    /// Product name.
    pub product: String,
    /// Totals.
    pub totals: Totals,
    /// Environments.
    pub environments: Vec<EnvironmentReport>,
    /// The product was decommissioned in the period: this is its last bill (R-LC-07).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub final_period: bool,
}

/// One environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentReport {
    /// development, testing, trial or production.
    pub environment: String,
    /// Namespace.
    pub namespace: String,
    /// Totals.
    pub totals: Totals,
    /// Lines, by category then resource.
    pub lines: Vec<LineReport>,
}

/// One bill line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineReport {
    /// software, compute or telecom (R-BIL-03).
    pub category: Category,
    /// Tariff resource.
    pub resource: String,
    /// Tariff unit.
    pub unit: String,
    /// Quantity in `unit`, 6 decimals.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{6}$"))]
    pub quantity: String,
    /// Price per unit.
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]{2,6}$"))]
    pub rate: String,
    /// Quantity × rate, rounded to the tiyn.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub list_amount: String,
    /// What is billed: `listAmount` for billed lines, else 0.00.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{2}$"))]
    pub amount: String,
    /// billed, free, flagged or unpriced.
    pub treatment: Treatment,
    /// Tariff version.
    pub tariff: String,
    /// For adjustments: the closed month the usage belonged to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_of: Option<String>,
    /// Hours contributing.
    pub hours: u32,
}

impl LineReport {
    /// A rated line as the report and `kubectl pbo usage` show it: decimal strings.
    pub fn of(l: &rating::Line) -> LineReport {
        LineReport {
            category: l.key.category,
            resource: l.key.resource.clone(),
            unit: unit_name(l.unit).to_string(),
            quantity: format_micro(l.quantity_micro),
            rate: l.price.to_string(),
            list_amount: format_tiyn(l.list_tiyn),
            amount: format_tiyn(l.billed_tiyn),
            treatment: l.key.treatment,
            tariff: l.key.tariff.clone(),
            adjustment_of: l.key.adjustment_of.clone(),
            hours: l.hours,
        }
    }
}

/// Allocated vs used vs billed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllocationEntry {
    /// Agency.
    pub agency: String,
    /// Product.
    pub product: String,
    /// Environment.
    pub environment: String,
    /// Namespace.
    pub namespace: String,
    /// cpu, memory or storage.
    pub resource: String,
    /// Unit.
    pub unit: String,
    /// Requested (quota) over the period.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{6}$"))]
    pub allocated: String,
    /// Actually used.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{6}$"))]
    pub used: String,
    /// Billed.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{6}$"))]
    pub billed: String,
}

/// Availability of a production environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityEntry {
    /// Agency.
    pub agency: String,
    /// Product.
    pub product: String,
    /// Namespace.
    pub namespace: String,
    /// Hours measured.
    pub hours: u32,
    /// Available share 0..1, 6 decimals.
    pub availability: String,
    /// The product's target share (`spec.sla.availabilityPercent` / 100), 6 decimals,
    /// when it has one (R-MON-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether `availability` reached `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// Data quality section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataQualityReport {
    /// Share of environment-hours covered, 0..1, 6 decimals.
    #[schemars(regex(pattern = r"^-?[0-9]+\.[0-9]{6}$"))]
    pub coverage: String,
    /// Per environment.
    pub environments: Vec<EnvironmentCoverage>,
    /// Gaps.
    pub gaps: Vec<GapEntry>,
    /// Usage not billed for want of an environment or a catalog item.
    pub unbilled: Vec<UnbilledEntry>,
    /// Rating findings (no contract, no tariff, unit mismatch).
    pub notes: Vec<String>,
}

/// Value of one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayAmount {
    /// Civil date, UTC+5.
    pub date: String,
    /// Billed value of the day, KZT.
    pub billed: String,
    /// Value of the day's usage whatever its treatment, KZT.
    pub list: String,
}

/// Sums of rated lines in tiyn: list, billed, free, flagged and billed by category.
#[derive(Default)]
pub(crate) struct Sum {
    pub(crate) list: i128,
    pub(crate) billed: i128,
    pub(crate) free: i128,
    pub(crate) flagged: i128,
    pub(crate) by_category: BTreeMap<Category, i128>,
}

impl Sum {
    pub(crate) fn add(&mut self, l: &rating::Line) {
        self.list += l.list_tiyn;
        self.billed += l.billed_tiyn;
        match l.key.treatment {
            Treatment::Free => self.free += l.list_tiyn,
            Treatment::Flagged => self.flagged += l.list_tiyn,
            Treatment::Billed | Treatment::Unpriced => {}
        }
        *self.by_category.entry(l.key.category).or_default() += l.billed_tiyn;
    }

    pub(crate) fn totals(&self) -> Totals {
        Totals {
            list: format_tiyn(self.list),
            billed: format_tiyn(self.billed),
            by_category: Category::ALL
                .iter()
                .map(|c| {
                    (
                        c.as_str().to_string(),
                        format_tiyn(self.by_category.get(c).copied().unwrap_or(0)),
                    )
                })
                .collect(),
            free: format_tiyn(self.free),
            flagged: format_tiyn(self.flagged),
        }
    }
}

/// Builds the report document from rating results and the other inputs.
pub fn build(meta: &ReportMeta, rated: &Rated, book: &rating::TariffBook) -> ReportDocument {
    let mut overall = Sum::default();
    let mut agencies: Vec<AgencyReport> = Vec::new();
    // Lines are in key order: agency, product, environment, namespace, category, …
    type Envs<'a> = BTreeMap<(&'a str, &'a str), Vec<&'a rating::Line>>;
    let mut tree: BTreeMap<&str, BTreeMap<&str, Envs<'_>>> = BTreeMap::new();
    for l in &rated.lines {
        tree.entry(&l.key.agency)
            .or_default()
            .entry(&l.key.product)
            .or_default()
            .entry((&l.key.environment, &l.key.namespace))
            .or_default()
            .push(l);
    }
    for (agency, products) in tree {
        let mut agency_sum = Sum::default();
        let mut product_reports = Vec::new();
        for (product, envs) in products {
            let mut product_sum = Sum::default();
            let mut env_reports = Vec::new();
            for ((environment, namespace), lines) in envs {
                let mut env_sum = Sum::default();
                let mut line_reports = Vec::new();
                for l in lines {
                    env_sum.add(l);
                    product_sum.add(l);
                    agency_sum.add(l);
                    overall.add(l);
                    line_reports.push(LineReport::of(l));
                }
                env_reports.push(EnvironmentReport {
                    environment: environment.to_string(),
                    namespace: namespace.to_string(),
                    totals: env_sum.totals(),
                    lines: line_reports,
                });
            }
            product_reports.push(ProductReport {
                product: product.to_string(),
                totals: product_sum.totals(),
                environments: env_reports,
                final_period: false,
            });
        }
        agencies.push(AgencyReport {
            agency: agency.to_string(),
            name: None,
            bin: None,
            contracts: Vec::new(),
            totals: agency_sum.totals(),
            products: product_reports,
        });
    }
    let tariffs = rated
        .tariffs_used
        .iter()
        .map(|(name, hours)| TariffUsed {
            name: name.clone(),
            effective_from: book
                .versions()
                .iter()
                .find(|v| &v.name == name)
                .map(|v| v.effective_from.to_string())
                .unwrap_or_default(),
            hours: *hours,
        })
        .collect();
    let allocation = rated
        .allocation
        .iter()
        .map(
            |((agency, product, environment, namespace, resource), a)| AllocationEntry {
                agency: agency.clone(),
                product: product.clone(),
                environment: environment.clone(),
                namespace: namespace.clone(),
                resource: resource.clone(),
                unit: if resource == "cpu" {
                    "core-hour"
                } else {
                    "GiB-hour"
                }
                .to_string(),
                allocated: format_micro(a.allocated_micro),
                used: format_micro(a.used_micro),
                billed: format_micro(a.billed_micro),
            },
        )
        .collect();
    let availability = rated
        .availability
        .iter()
        .map(|((agency, product, namespace), a)| AvailabilityEntry {
            agency: agency.clone(),
            product: product.clone(),
            namespace: namespace.clone(),
            hours: a.hours,
            availability: format_micro(if a.hours == 0 {
                0
            } else {
                a.available_micro / i128::from(a.hours)
            }),
            target: None,
            met: None,
        })
        .collect();
    let dq = &meta.data_quality;
    let (hours, covered): (i128, i128) = dq.environments.iter().fold((0, 0), |(h, c), e| {
        let micro = parse_micro(&e.coverage);
        (h + i128::from(e.hours), c + micro * i128::from(e.hours))
    });
    let coverage = if hours == 0 {
        1_000_000
    } else {
        covered / hours
    };
    let mut days: BTreeMap<jiff::civil::Date, (i128, i128)> = BTreeMap::new();
    for l in &rated.lines {
        for (d, v) in &l.by_day {
            let e = days.entry(*d).or_default();
            e.1 += v;
            if l.key.treatment == Treatment::Billed {
                e.0 += v;
            }
        }
    }
    let (period_from, period_to) = document::civil_period(&meta.period_start, &meta.period_end);
    ReportDocument {
        schema: SCHEMA_ID.to_string(),
        name: meta.name.clone(),
        period: meta.period.clone(),
        period_start: meta.period_start.clone(),
        period_end: meta.period_end.clone(),
        period_from,
        period_to,
        time_zone: "UTC+05:00".to_string(),
        corrects: meta.corrects.clone(),
        generated_at: meta.generated_at.clone(),
        document: None,
        currency: "KZT".to_string(),
        rounding:
            "per line to the tiyn (0.01 KZT), half away from zero; totals are sums of rounded lines"
                .to_string(),
        tariffs,
        totals: overall.totals(),
        agencies,
        allocation,
        availability,
        data_quality: DataQualityReport {
            coverage: format_micro(coverage),
            environments: dq.environments.clone(),
            gaps: dq.gaps.clone(),
            unbilled: dq.unbilled.clone(),
            notes: rated.notes.clone(),
        },
        residency: meta.residency.clone(),
        usage_by_day: days
            .into_iter()
            .map(|(d, (billed, list))| DayAmount {
                date: d.to_string(),
                billed: format_tiyn(billed),
                list: format_tiyn(list),
            })
            .collect(),
        lifecycle: Vec::new(),
    }
}

/// A 6-decimal string back to micro-units (0 if unreadable).
fn parse_micro(text: &str) -> i128 {
    rust_decimal::Decimal::from_str_exact(text)
        .ok()
        .and_then(|mut d| {
            d.rescale(6);
            (d.scale() == 6).then(|| d.mantissa())
        })
        .unwrap_or(0)
}

/// The report as pretty JSON with a final newline; keys in declaration order, maps
/// sorted, so the bytes depend only on the content.
pub fn to_json(doc: &ReportDocument) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(doc)?;
    out.push(b'\n');
    Ok(out)
}

/// The published JSON Schema of [`ReportDocument`], pretty, with a final newline.
pub fn json_schema() -> Result<String, serde_json::Error> {
    let mut schema = schemars::schema_for!(ReportDocument);
    schema.insert(
        "$id".to_string(),
        serde_json::Value::String(SCHEMA_ID.to_string()),
    );
    let mut text = serde_json::to_string_pretty(&schema)?;
    text.push('\n');
    Ok(text)
}
