//! Rating: ledger rows × the tariff in force for each hour → exact bill lines
//! (R-BIL-01, R-BIL-03, R-ENV-04). Pure: no I/O.
//!
//! - The tariff in force for an hour is the one with the latest `effectiveFrom` not
//!   after that hour; `effectiveFrom` is a civil date in Kazakhstan time (UTC+5), so a
//!   tariff starts at 00:00 UTC+5 = 19:00 UTC the day before.
//! - Each hour carries its environment: the `production` environment is billed; the
//!   others are non-production, free for `freeMonthsFromContract` months from the
//!   agency's earliest contract, then billed or flagged as the tariff says (R-ENV-04).
//! - Quantities are summed per line as integers (ledger micro-units), converted once to
//!   micro-units of the tariff's unit (half to even), multiplied by the price exactly and
//!   rounded once per line to the tiyn, half away from zero. Totals are sums of lines.

use std::collections::BTreeMap;
use std::fmt;

use akp_crds::Tariff;
use akp_crds::tariff::{AfterFreePeriod, Unit as TariffUnit};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::billing::period::{Calendar, Hour};
use crate::billing::rows::{Adjustment, DayUsage, LedgerRow};

/// Kazakhstan time, UTC+5 everywhere since 2024-03-01: civil dates of tariffs,
/// contracts and billing months are read at this offset.
pub use crate::time::UTC_OFFSET_HOURS as KZ_UTC_OFFSET_HOURS;

/// The law's ceiling on the free non-production period (003 p.12, R-ENV-04).
pub const MAX_FREE_MONTHS: i32 = 3;

/// Why rating failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    /// A price that is not a non-negative decimal with at most 6 decimals.
    #[error(
        "tariff {tariff}: price {price:?} of {resource} is not a non-negative decimal with at most 6 decimals (R-BIL-04)"
    )]
    BadPrice {
        /// The tariff.
        tariff: String,
        /// The resource.
        resource: String,
        /// The price as written.
        price: String,
    },
    /// Two tariffs take effect on the same day: the one in force would be ambiguous.
    #[error(
        "tariffs {first} and {second} both take effect on {date}: give one a different effectiveFrom"
    )]
    SameEffectiveDate {
        /// One tariff.
        first: String,
        /// The other.
        second: String,
        /// The shared date.
        date: Date,
    },
    /// A tariff whose free months exceed the law's 3.
    #[error(
        "tariff {tariff}: freeMonthsFromContract {months} is outside 0..=3 (R-ENV-04, 003 p.12)"
    )]
    FreeMonths {
        /// The tariff.
        tariff: String,
        /// The value.
        months: i32,
    },
    /// A tariff without a name.
    #[error("a tariff has no metadata.name")]
    Unnamed,
    /// An amount outside the exact 128-bit range.
    #[error("amount of {resource} overflows exact arithmetic")]
    Overflow {
        /// The resource.
        resource: String,
    },
    /// A date outside the supported range.
    #[error("date out of range: {0}")]
    Date(String),
}

/// A price per unit, exact, in micro-tenge (10⁻⁶ KZT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(i128);

impl Price {
    /// Parses a tariff price such as `"11.20"`: the CRD's pattern
    /// `[0-9]{1,12}(.[0-9]{1,6})?`, also for tariffs read from files (`kubectl pbo`),
    /// which no API server has checked; rust_decimal alone would take `+5`, `1_000` and
    /// values too large to display.
    pub fn parse(text: &str) -> Option<Price> {
        let text = text.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits =
            |s: &str, max| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int, 12) || (text.contains('.') && !digits(frac, 6)) {
            return None;
        }
        let d = Decimal::from_str_exact(text).ok()?;
        if d.is_sign_negative() || d.scale() > 6 {
            return None;
        }
        let factor = 10i128.checked_pow(6 - d.scale())?;
        d.mantissa().checked_mul(factor).map(Price)
    }

    /// Micro-tenge per unit.
    pub fn micro(self) -> i128 {
        self.0
    }

    /// The price as a decimal, trailing zeros beyond 2 decimals removed.
    pub fn to_decimal(self) -> Decimal {
        let d = Decimal::from_i128_with_scale(self.0, 6).normalize();
        if d.scale() < 2 {
            let mut d = d;
            d.rescale(2);
            d
        } else {
            d
        }
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

/// The three kinds of ICT service a bill is broken down into (R-BIL-03, 003 p.25).
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Software (catalog items, per instance-hour or core-hour).
    Software,
    /// Compute: CPU, memory, storage.
    Compute,
    /// Telecom: network traffic.
    Telecom,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 3] = [Category::Software, Category::Compute, Category::Telecom];

    /// The category of a tariff resource name.
    pub fn of(resource: &str) -> Category {
        if resource.starts_with("software/") {
            Category::Software
        } else if resource.starts_with("network.") {
            Category::Telecom
        } else {
            Category::Compute
        }
    }

    /// The stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Software => "software",
            Category::Compute => "compute",
            Category::Telecom => "telecom",
        }
    }
}

/// What happens to a line's usage (R-BIL-01, R-ENV-04).
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Treatment {
    /// Billed: production, or non-production after the free period under `bill`.
    Billed,
    /// Non-production within the free period: listed, not billed.
    Free,
    /// Non-production after the free period under `flag`: listed and flagged, not billed.
    Flagged,
    /// No rate in the tariff in force: listed as a data-quality finding, not billed.
    Unpriced,
}

impl Treatment {
    /// The stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Billed => "billed",
            Treatment::Free => "free",
            Treatment::Flagged => "flagged",
            Treatment::Unpriced => "unpriced",
        }
    }
}

/// One rate of a tariff version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateEntry {
    /// The unit the price is per.
    pub unit: TariffUnit,
    /// The price.
    pub price: Price,
}

/// A validated tariff version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TariffVersion {
    /// `metadata.name`.
    pub name: String,
    /// The civil date it takes effect (Kazakhstan time).
    pub effective_from: Date,
    /// The first hour it is in force.
    pub starts: Hour,
    /// Rates by tariff resource name.
    pub rates: BTreeMap<String, RateEntry>,
    /// Free months of non-production from the contract.
    pub free_months: i32,
    /// After the free period.
    pub afterwards: AfterFreePeriod,
}

/// Every tariff version, ordered by the hour they take effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TariffBook {
    versions: Vec<TariffVersion>,
}

/// The first hour of a Kazakhstan civil date.
pub fn kz_day_start(date: Date) -> Result<Hour, RatingError> {
    let start = crate::time::day_start(date)
        .ok_or_else(|| RatingError::Date(format!("{date} has no start in Kazakhstan time")))?;
    Ok(Hour::containing(start.as_second()))
}

/// The Kazakhstan civil date an hour falls on.
pub fn kz_date_of(hour: Hour) -> Date {
    jiff::Timestamp::from_second(hour.start())
        .map(crate::time::civil_date)
        .unwrap_or(Date::MIN)
}

impl TariffBook {
    /// Validates tariffs and orders them by effective date.
    pub fn new(tariffs: &[Tariff]) -> Result<Self, RatingError> {
        let mut versions = Vec::with_capacity(tariffs.len());
        for t in tariffs {
            let name = t.metadata.name.clone().ok_or(RatingError::Unnamed)?;
            let np = &t.spec.non_production;
            if !(0..=MAX_FREE_MONTHS).contains(&np.free_months_from_contract) {
                return Err(RatingError::FreeMonths {
                    tariff: name,
                    months: np.free_months_from_contract,
                });
            }
            let mut rates = BTreeMap::new();
            for r in &t.spec.rates {
                let price = Price::parse(&r.price).ok_or_else(|| RatingError::BadPrice {
                    tariff: name.clone(),
                    resource: r.resource.clone(),
                    price: r.price.clone(),
                })?;
                rates.insert(
                    r.resource.clone(),
                    RateEntry {
                        unit: r.unit,
                        price,
                    },
                );
            }
            versions.push(TariffVersion {
                starts: kz_day_start(t.spec.effective_from)?,
                effective_from: t.spec.effective_from,
                name,
                rates,
                free_months: np.free_months_from_contract,
                afterwards: np.afterwards,
            });
        }
        versions.sort_by(|a, b| a.starts.cmp(&b.starts).then(a.name.cmp(&b.name)));
        for pair in versions.windows(2) {
            if pair[0].effective_from == pair[1].effective_from {
                return Err(RatingError::SameEffectiveDate {
                    first: pair[0].name.clone(),
                    second: pair[1].name.clone(),
                    date: pair[0].effective_from,
                });
            }
        }
        Ok(Self { versions })
    }

    /// The tariff in force in `hour`: the latest `effectiveFrom` not after it.
    pub fn in_force(&self, hour: Hour) -> Option<&TariffVersion> {
        self.versions.iter().rev().find(|v| v.starts <= hour)
    }

    /// The tariff in force on a Kazakhstan civil date.
    pub fn in_force_on(&self, date: Date) -> Option<&TariffVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
    }

    /// Every version.
    pub fn versions(&self) -> &[TariffVersion] {
        &self.versions
    }
}

/// The earliest contract date per agency (R-ENV-04: the free period runs from it).
pub type Contracts = BTreeMap<String, Date>;

/// The first hour after an agency's free non-production period of `months`.
pub fn free_until(contract: Date, months: i32) -> Result<Hour, RatingError> {
    kz_day_start(crate::clocks::free_period_end(contract, months))
}

/// How a ledger resource maps onto a tariff resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// A billable resource: the tariff resource name and how to convert the ledger unit.
    Billable {
        /// Tariff resource, e.g. `network.internet`.
        resource: String,
        /// Whether the ledger unit fits this tariff unit, and the factor.
        kind: LedgerKind,
    },
    /// Requested quota (allocated, never billed: R-BIL-01).
    Quota(String),
    /// Availability share of a production environment (R-MON-01).
    Availability,
    /// Anything else (uncatalogued software): data quality only.
    Other,
}

/// The ledger unit family of a billable resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    /// `core_second` (CPU).
    CoreSecond,
    /// `gib_hour` (memory, storage).
    GibHour,
    /// `gigabyte`: decimal GB of traffic.
    Gigabyte,
    /// `instance_hour` of a catalog item.
    InstanceHour,
    /// `core_hour` of a catalog item.
    CoreHour,
}

/// Maps a ledger resource name (`docs/metering.md`) to a tariff resource.
pub fn map_resource(ledger_resource: &str) -> Mapped {
    let billable = |resource: &str, kind| Mapped::Billable {
        resource: resource.to_string(),
        kind,
    };
    if let Some(item) = ledger_resource.strip_prefix("software.instances/") {
        return billable(&format!("software/{item}"), LedgerKind::InstanceHour);
    }
    if let Some(item) = ledger_resource.strip_prefix("software.cores/") {
        return billable(&format!("software/{item}"), LedgerKind::CoreHour);
    }
    if let Some(class) = ledger_resource.strip_prefix("telecom.") {
        return billable(&format!("network.{class}"), LedgerKind::Gigabyte);
    }
    if let Some(q) = ledger_resource.strip_prefix("quota.") {
        return Mapped::Quota(q.to_string());
    }
    match ledger_resource {
        "cpu" => billable("cpu", LedgerKind::CoreSecond),
        "memory" => billable("memory", LedgerKind::GibHour),
        "storage" => billable("storage", LedgerKind::GibHour),
        "availability" => Mapped::Availability,
        _ => Mapped::Other,
    }
}

/// The tariff unit a ledger kind is billed in when the tariff has no rate for it.
fn natural_unit(kind: LedgerKind) -> TariffUnit {
    match kind {
        LedgerKind::CoreSecond | LedgerKind::CoreHour => TariffUnit::CoreHour,
        LedgerKind::GibHour => TariffUnit::GibHour,
        LedgerKind::Gigabyte => TariffUnit::Gib,
        LedgerKind::InstanceHour => TariffUnit::InstanceHour,
    }
}

/// Ledger micro-units → tariff micro-units as a fraction (numerator, denominator), or
/// `None` when the units do not fit (a per-core rate for instance rows, say).
pub fn conversion(kind: LedgerKind, unit: TariffUnit) -> Option<(i128, i128)> {
    match (kind, unit) {
        (LedgerKind::CoreSecond, TariffUnit::CoreHour) => Some((1, 3600)),
        (LedgerKind::GibHour, TariffUnit::GibHour) => Some((1, 1)),
        // 1 GB = 10⁹ / 2³⁰ GiB = 1953125 / 2097152 GiB, exactly.
        (LedgerKind::Gigabyte, TariffUnit::Gib) => Some((1_953_125, 2_097_152)),
        (LedgerKind::InstanceHour, TariffUnit::InstanceHour) => Some((1, 1)),
        (LedgerKind::CoreHour, TariffUnit::CoreHour) => Some((1, 1)),
        _ => None,
    }
}

/// `n / d` rounded half to even (d > 0).
pub fn div_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// `n / d` rounded half away from zero (d > 0): the money rule.
pub fn div_half_away(n: i128, d: i128) -> i128 {
    let (a, r) = (n.abs() / d, n.abs() % d);
    let rounded = if 2 * r >= d { a + 1 } else { a };
    if n < 0 { -rounded } else { rounded }
}

/// The amount in tiyn of `quantity_micro` tariff micro-units at `price`: exact
/// product, rounded once, half away from zero.
pub fn amount_tiyn(
    quantity_micro: i128,
    price: Price,
    resource: &str,
) -> Result<i128, RatingError> {
    // micro-units × micro-tenge = 10⁻¹² KZT; a tiyn is 10⁻² KZT.
    let exact = quantity_micro
        .checked_mul(price.micro())
        .ok_or_else(|| RatingError::Overflow {
            resource: resource.to_string(),
        })?;
    Ok(div_half_away(exact, 10_000_000_000))
}

/// The key of a bill line: everything that makes two usages priced differently.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineKey {
    /// Agency.
    pub agency: String,
    /// Product.
    pub product: String,
    /// Environment: development, testing, trial, production.
    pub environment: String,
    /// The environment's namespace.
    pub namespace: String,
    /// R-BIL-03 category.
    pub category: Category,
    /// Tariff resource.
    pub resource: String,
    /// The tariff version (empty when no tariff was in force).
    pub tariff: String,
    /// Billed, free, flagged, unpriced.
    pub treatment: Treatment,
    /// For adjustments: the closed month the usage belonged to.
    pub adjustment_of: Option<String>,
}

/// A rated bill line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// What it is.
    pub key: LineKey,
    /// The tariff unit.
    pub unit: TariffUnit,
    /// Quantity in micro-units of `unit` (rounded once, half to even).
    pub quantity_micro: i128,
    /// The rate (zero when unpriced).
    pub price: Price,
    /// Quantity × price in tiyn, whatever the treatment ("list" value).
    pub list_tiyn: i128,
    /// The billed amount in tiyn: `list_tiyn` when billed, else 0.
    pub billed_tiyn: i128,
    /// List value in tiyn per Kazakhstan civil day (for charts; each day rounded).
    pub by_day: BTreeMap<Date, i128>,
    /// Hours that contributed.
    pub hours: u32,
}

/// (agency, product, environment, namespace, resource).
pub type AllocationKey = (String, String, String, String, String);

/// Allocated, used and billed quantities of one environment and resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Allocated (quota) in tariff micro-units.
    pub allocated_micro: i128,
    /// Used in tariff micro-units.
    pub used_micro: i128,
    /// Billed in tariff micro-units.
    pub billed_micro: i128,
}

/// Availability of a production environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Availability {
    /// Hours with an availability sample.
    pub hours: u32,
    /// Sum of the hours' available shares, micro-units.
    pub available_micro: i128,
}

/// What rating produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rated {
    /// Lines in key order.
    pub lines: Vec<Line>,
    /// (agency, product, environment, namespace, resource) → allocated/used/billed.
    pub allocation: BTreeMap<AllocationKey, Allocation>,
    /// (agency, product, namespace) → availability.
    pub availability: BTreeMap<(String, String, String), Availability>,
    /// Tariff versions used, with the hours rated at each.
    pub tariffs_used: BTreeMap<String, u32>,
    /// Findings: agencies without a contract, hours with no tariff, unit mismatches.
    pub notes: Vec<String>,
}

impl Rated {
    /// Sum of billed amounts in tiyn.
    pub fn billed_tiyn(&self) -> i128 {
        self.lines.iter().map(|l| l.billed_tiyn).sum()
    }
}

/// Everything rating needs besides the rows.
#[derive(Clone, Debug)]
pub struct RatingInput<'a> {
    /// Tariff versions.
    pub tariffs: &'a TariffBook,
    /// Earliest contract date per agency.
    pub contracts: &'a Contracts,
    /// The calendar of the ledger (billing months).
    pub calendar: &'a Calendar,
}

struct Acc {
    unit: TariffUnit,
    price: Price,
    kind: LedgerKind,
    ledger_micro: i128,
    by_day: BTreeMap<Date, i128>,
    hours: u32,
}

pub use crate::time::UTC_OFFSET_SECONDS as KZ_UTC_OFFSET_SECS;

/// Usage of one environment and resource in some hours of one Kazakhstan civil day:
/// rating's unit. Everything rating decides per hour (the tariff in force, the free
/// period, the day of the chart) changes only at the start of a civil day, so the
/// hours of a day can be rated together.
struct Usage<'a> {
    namespace: &'a str,
    resource: &'a str,
    agency: &'a str,
    product: &'a str,
    environment: &'a str,
    /// The first hour of the civil day.
    day_start: Hour,
    /// Bit `h`: the day's hour `h` is in.
    hours: u32,
    quantity: i64,
    adjustment_of: Option<String>,
}

/// The civil day of an hour: its first hour and the hour's bit.
fn day_of(hour: Hour) -> (Hour, u32) {
    let (start, hour_of_day) = crate::time::civil_day_of_second(hour.start());
    (Hour::containing(start), 1 << hour_of_day)
}

impl<'a> Usage<'a> {
    fn of_row(row: &'a LedgerRow, adjustment_of: Option<String>) -> Self {
        let (day_start, hours) = day_of(row.hour);
        Self {
            namespace: &row.namespace,
            resource: &row.resource,
            agency: &row.identity.agency,
            product: &row.identity.product,
            environment: &row.identity.environment,
            day_start,
            hours,
            quantity: row.quantity,
            adjustment_of,
        }
    }

    fn of_day(d: &'a DayUsage) -> Self {
        Self {
            namespace: &d.namespace,
            resource: &d.resource,
            agency: &d.agency,
            product: &d.product,
            environment: &d.environment,
            day_start: d.day_start,
            hours: d.hours,
            quantity: d.quantity,
            adjustment_of: None,
        }
    }
}

/// Rates a month's ledger rows and the adjustments booked in it.
pub fn rate(
    input: &RatingInput<'_>,
    rows: &[LedgerRow],
    adjustments: &[Adjustment],
) -> Result<Rated, RatingError> {
    let all = rows
        .iter()
        .map(|r| Usage::of_row(r, None))
        .chain(adjustments_usage(input, adjustments));
    rate_usage(input, all)
}

/// Rates a month's usage summed per civil day (`akp_billing::ledger::Ledger::daily_usage`
/// at [`KZ_UTC_OFFSET_SECS`]) and the adjustments booked in it: the same result as
/// [`rate`] of the rows, from about 24 times fewer inputs.
pub fn rate_daily(
    input: &RatingInput<'_>,
    days: &[DayUsage],
    adjustments: &[Adjustment],
) -> Result<Rated, RatingError> {
    let all = days
        .iter()
        .map(Usage::of_day)
        .chain(adjustments_usage(input, adjustments));
    rate_usage(input, all)
}

fn adjustments_usage<'a>(
    input: &'a RatingInput<'_>,
    adjustments: &'a [Adjustment],
) -> impl Iterator<Item = Usage<'a>> {
    adjustments.iter().map(|a| {
        Usage::of_row(
            &a.row,
            Some(input.calendar.month_of(a.row.hour).to_string()),
        )
    })
}

fn rate_usage<'a>(
    input: &RatingInput<'_>,
    all: impl Iterator<Item = Usage<'a>>,
) -> Result<Rated, RatingError> {
    let mut acc: BTreeMap<LineKey, Acc> = BTreeMap::new();
    let mut quota: BTreeMap<AllocationKey, (LedgerKind, i128)> = BTreeMap::new();
    let mut out = Rated::default();
    let mut notes = std::collections::BTreeSet::new();
    // Hours rated with each tariff version: per civil day, the set of its hours.
    let mut hours_by_tariff: BTreeMap<String, BTreeMap<Hour, u32>> = BTreeMap::new();
    // Ledger resource → tariff resource, once per distinct name.
    let mut mapped: BTreeMap<&str, Mapped> = BTreeMap::new();
    for u in all {
        let count = u.hours.count_ones();
        let mapping = mapped
            .entry(u.resource)
            .or_insert_with(|| map_resource(u.resource))
            .clone();
        match mapping {
            Mapped::Billable { resource, kind } => {
                let tariff = input.tariffs.in_force(u.day_start);
                let rate = tariff.and_then(|t| t.rates.get(&resource));
                let fits = rate.and_then(|r| conversion(kind, r.unit).map(|_| r));
                if rate.is_some() && fits.is_none() {
                    notes.insert(format!(
                        "ledger resource {} does not fit the unit of {resource} in tariff {}: listed as unpriced",
                        u.resource,
                        tariff.map(|t| t.name.as_str()).unwrap_or("")
                    ));
                }
                let treatment = match (tariff, fits) {
                    (Some(t), Some(_)) => treatment(
                        t,
                        u.agency,
                        u.environment,
                        u.day_start,
                        input.contracts,
                        &mut notes,
                    )?,
                    _ => Treatment::Unpriced,
                };
                if tariff.is_none() {
                    // One note for all such hours: they all precede the first tariff.
                    notes.insert(
                        "usage before the first tariff's effectiveFrom is listed as unpriced (R-BIL-04)"
                            .to_string(),
                    );
                }
                if let Some(t) = tariff {
                    let days = match hours_by_tariff.get_mut(&t.name) {
                        Some(days) => days,
                        None => hours_by_tariff.entry(t.name.clone()).or_default(),
                    };
                    *days.entry(u.day_start).or_default() |= u.hours;
                }
                let (unit, price) = match fits {
                    Some(r) => (r.unit, r.price),
                    None => (natural_unit(kind), Price(0)),
                };
                let key = LineKey {
                    agency: u.agency.to_owned(),
                    product: u.product.to_owned(),
                    environment: u.environment.to_owned(),
                    namespace: u.namespace.to_owned(),
                    category: Category::of(&resource),
                    resource,
                    tariff: tariff.map(|t| t.name.clone()).unwrap_or_default(),
                    treatment,
                    adjustment_of: u.adjustment_of,
                };
                let a = acc.entry(key).or_insert_with(|| Acc {
                    unit,
                    price,
                    kind,
                    ledger_micro: 0,
                    by_day: BTreeMap::new(),
                    hours: 0,
                });
                a.ledger_micro += i128::from(u.quantity);
                *a.by_day.entry(kz_date_of(u.day_start)).or_default() += i128::from(u.quantity);
                a.hours += count;
            }
            Mapped::Quota(what) => {
                let (resource, kind) = match what.as_str() {
                    "cpu" => ("cpu", LedgerKind::CoreSecond),
                    "memory" => ("memory", LedgerKind::GibHour),
                    "storage" => ("storage", LedgerKind::GibHour),
                    _ => continue,
                };
                if u.adjustment_of.is_some() {
                    continue;
                }
                let key = (
                    u.agency.to_owned(),
                    u.product.to_owned(),
                    u.environment.to_owned(),
                    u.namespace.to_owned(),
                    resource.to_string(),
                );
                quota.entry(key).or_insert((kind, 0)).1 += i128::from(u.quantity);
            }
            Mapped::Availability => {
                if u.adjustment_of.is_some() || u.environment != "production" {
                    continue;
                }
                let a = out
                    .availability
                    .entry((
                        u.agency.to_owned(),
                        u.product.to_owned(),
                        u.namespace.to_owned(),
                    ))
                    .or_default();
                a.hours += count;
                a.available_micro += i128::from(u.quantity);
            }
            Mapped::Other => {}
        }
    }
    for (name, days) in hours_by_tariff {
        let hours: u32 = days.values().map(|m| m.count_ones()).sum();
        out.tariffs_used.insert(name, hours);
    }
    for (key, a) in acc {
        let (num, den) = conversion(a.kind, a.unit).unwrap_or((1, 1));
        let to_tariff = |ledger_micro: i128| -> Result<i128, RatingError> {
            let n = ledger_micro
                .checked_mul(num)
                .ok_or_else(|| RatingError::Overflow {
                    resource: key.resource.clone(),
                })?;
            Ok(div_half_even(n, den))
        };
        let quantity_micro = to_tariff(a.ledger_micro)?;
        let list_tiyn = amount_tiyn(quantity_micro, a.price, &key.resource)?;
        let mut by_day = BTreeMap::new();
        for (day, q) in &a.by_day {
            by_day.insert(*day, amount_tiyn(to_tariff(*q)?, a.price, &key.resource)?);
        }
        let billed_tiyn = if key.treatment == Treatment::Billed {
            list_tiyn
        } else {
            0
        };
        if key.adjustment_of.is_none() && key.category == Category::Compute {
            let al = out
                .allocation
                .entry((
                    key.agency.clone(),
                    key.product.clone(),
                    key.environment.clone(),
                    key.namespace.clone(),
                    key.resource.clone(),
                ))
                .or_default();
            al.used_micro += quantity_micro;
            if key.treatment == Treatment::Billed {
                al.billed_micro += quantity_micro;
            }
        }
        out.lines.push(Line {
            key,
            unit: a.unit,
            quantity_micro,
            price: a.price,
            list_tiyn,
            billed_tiyn,
            by_day,
            hours: a.hours,
        });
    }
    for (key, (kind, micro)) in quota {
        let unit = natural_unit(kind);
        let (num, den) = conversion(kind, unit).unwrap_or((1, 1));
        let allocated = div_half_even(micro.saturating_mul(num), den);
        out.allocation.entry(key).or_default().allocated_micro += allocated;
    }
    out.notes = notes.into_iter().collect();
    Ok(out)
}

/// Production is billed; non-production is free within the tariff's free months of the
/// agency's earliest contract, then billed or flagged (R-BIL-01, R-ENV-04).
fn treatment(
    tariff: &TariffVersion,
    agency: &str,
    environment: &str,
    hour: Hour,
    contracts: &Contracts,
    notes: &mut std::collections::BTreeSet<String>,
) -> Result<Treatment, RatingError> {
    if environment == "production" {
        return Ok(Treatment::Billed);
    }
    match contracts.get(agency) {
        Some(date) if hour < free_until(*date, tariff.free_months)? => return Ok(Treatment::Free),
        Some(_) => {}
        None => {
            // Without a contract there is no free period to grant; the finding is listed.
            notes.insert(format!(
                "agency {agency} has no contract date: its non-production usage gets no free period (R-ENV-04)"
            ));
        }
    }
    Ok(match tariff.afterwards {
        AfterFreePeriod::Bill => Treatment::Billed,
        AfterFreePeriod::Flag => Treatment::Flagged,
    })
}

/// Formats tiyn as KZT with 2 decimals.
pub fn format_tiyn(tiyn: i128) -> String {
    Decimal::from_i128_with_scale(tiyn, 2).to_string()
}

/// Formats micro-units with 6 decimals.
pub fn format_micro(micro: i128) -> String {
    Decimal::from_i128_with_scale(micro, 6).to_string()
}

/// The tariff unit's name as written in tariffs.
pub fn unit_name(unit: TariffUnit) -> &'static str {
    match unit {
        TariffUnit::CoreHour => "core-hour",
        TariffUnit::GibHour => "GiB-hour",
        TariffUnit::Gib => "GiB",
        TariffUnit::InstanceHour => "instance-hour",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/fuzz_targets/tariff_price.rs: prices the CRD refuses were taken
    /// from tariff files, and a large one panicked when displayed.
    #[test]
    fn r_bil_04_price_follows_the_tariff_grammar() {
        for bad in ["+5", "1_000", "1.", ".5", "1e3", "-0", "1.2.3", "0x10", ""] {
            assert_eq!(Price::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Price::parse("9999999999999"), None);
        assert_eq!(Price::parse("79228162514264337593543950335"), None);
        let max = Price::parse("999999999999.999999");
        assert_eq!(max.map(Price::micro), Some(999_999_999_999_999_999));
        assert_eq!(
            max.map(|p| p.to_string()).as_deref(),
            Some("999999999999.999999")
        );
        assert_eq!(Price::parse(" 007.50 ").map(Price::micro), Some(7_500_000));
    }

    #[test]
    fn r_bil_04_prices_are_exact_decimals() {
        assert_eq!(Price::parse("11.20").map(Price::micro), Some(11_200_000));
        assert_eq!(Price::parse("0.021").map(Price::micro), Some(21_000));
        assert_eq!(Price::parse("0").map(Price::micro), Some(0));
        assert!(Price::parse("-1").is_none());
        assert!(Price::parse("1.0000001").is_none());
        assert!(Price::parse("1e3").is_none());
        assert_eq!(
            Price::parse("0.021").map(|p| p.to_string()),
            Some("0.021".into())
        );
        assert_eq!(
            Price::parse("9").map(|p| p.to_string()),
            Some("9.00".into())
        );
    }

    #[test]
    fn r_bil_01_rounding_rules() {
        assert_eq!(div_half_away(5, 10), 1);
        assert_eq!(div_half_away(-5, 10), -1);
        assert_eq!(div_half_away(4, 10), 0);
        assert_eq!(div_half_even(5, 10), 0);
        assert_eq!(div_half_even(15, 10), 2);
        assert_eq!(div_half_even(-5, 10), 0);
        // 1 core-hour at 11.20 → 1120 tiyn; 0.0000005 core-hour rounds to a tiyn's nothing.
        assert_eq!(amount_tiyn(1_000_000, Price(11_200_000), "cpu"), Ok(1120));
        // 0.5 tiyn exactly rounds up.
        assert_eq!(amount_tiyn(500_000, Price(10_000), "cpu"), Ok(1));
    }

    /// Rating the hours of a civil day together gives exactly what rating each hour
    /// does: across a tariff change, the end of a free period, an agency without a
    /// contract, gaps, quota, availability and adjustments.
    #[test]
    fn r_bil_01_rating_by_civil_day_equals_rating_by_hour() {
        use crate::billing::rows::EnvIdentity;
        let tariff = |name: &str, from: &str, afterwards: &str| -> Tariff {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Tariff",
                "metadata": {"name": name},
                "spec": {"currency": "KZT", "effectiveFrom": from,
                    "rates": [
                        {"resource": "cpu", "unit": "core-hour", "price": "10.80"},
                        {"resource": "memory", "unit": "GiB-hour", "price": "1.30"},
                        {"resource": "network.internet", "unit": "GiB", "price": "9.00"},
                        {"resource": "software/postgresql-16", "unit": "core-hour", "price": "6.25"}],
                    "nonProduction": {"freeMonthsFromContract": 3, "afterwards": afterwards}}
            }))
            .expect("tariff")
        };
        let book = TariffBook::new(&[
            tariff("t1", "2026-01-01", "flag"),
            tariff("t2", "2026-10-15", "bill"),
        ])
        .expect("book");
        let contracts = Contracts::from([("a".to_string(), jiff::civil::date(2026, 7, 16))]);
        let calendar = Calendar::kazakhstan();
        let input = RatingInput {
            tariffs: &book,
            contracts: &contracts,
            calendar: &calendar,
        };
        let first = Hour::containing(1_791_900_000); // 2026-10-13
        let mut rows = Vec::new();
        for (agency, env) in [("a", "production"), ("a", "development"), ("b", "testing")] {
            for resource in [
                "cpu",
                "memory",
                "telecom.internet",
                "software.instances/postgresql-16",
                "quota.cpu",
                "availability",
            ] {
                for h in 0..5 * 24 {
                    // Gaps: some hours have no row.
                    if (h * 7 + resource.len() as i64) % 11 == 0 {
                        continue;
                    }
                    rows.push(LedgerRow {
                        namespace: format!("{agency}-p-{env}"),
                        resource: resource.into(),
                        hour: first.plus(h),
                        identity: EnvIdentity {
                            agency: agency.into(),
                            product: "p".into(),
                            environment: env.into(),
                            ..EnvIdentity::default()
                        },
                        unit: "x".into(),
                        quantity: 1_000_003 * (h + 1) + resource.len() as i64,
                    });
                }
            }
        }
        let adjustments = vec![Adjustment {
            row: LedgerRow {
                hour: Hour::containing(1_789_000_000),
                quantity: -5_000_000,
                ..rows[0].clone()
            },
            booked_month: "2026-10".into(),
        }];
        let mut days: BTreeMap<(String, String, Hour), DayUsage> = BTreeMap::new();
        for r in &rows {
            let (day_start, bit) = day_of(r.hour);
            let d = days
                .entry((r.namespace.clone(), r.resource.clone(), day_start))
                .or_insert_with(|| DayUsage {
                    namespace: r.namespace.clone(),
                    resource: r.resource.clone(),
                    agency: r.identity.agency.clone(),
                    product: r.identity.product.clone(),
                    environment: r.identity.environment.clone(),
                    day_start,
                    hours: 0,
                    quantity: 0,
                });
            d.hours |= bit;
            d.quantity += r.quantity;
        }
        let days: Vec<DayUsage> = days.into_values().collect();
        assert!(days.len() * 10 < rows.len());
        let by_hour = rate(&input, &rows, &adjustments).expect("by hour");
        let by_day = rate_daily(&input, &days, &adjustments).expect("by day");
        assert_eq!(by_hour, by_day);
        let treatments: std::collections::BTreeSet<Treatment> =
            by_hour.lines.iter().map(|l| l.key.treatment).collect();
        assert_eq!(
            treatments.len(),
            4,
            "billed, free, flagged and unpriced lines"
        );
        assert_eq!(by_hour.tariffs_used.len(), 2);
    }

    #[test]
    fn r_bil_03_categories() {
        assert_eq!(Category::of("software/postgresql-16"), Category::Software);
        assert_eq!(Category::of("network.internet"), Category::Telecom);
        assert_eq!(Category::of("cpu"), Category::Compute);
        assert_eq!(
            map_resource("telecom.gateway"),
            Mapped::Billable {
                resource: "network.gateway".into(),
                kind: LedgerKind::Gigabyte
            }
        );
    }
}
