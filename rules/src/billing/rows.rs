//! The rows billing's rules read: what the ledger stores and returns. The ledger
//! (`billing/src/ledger/`) depends on these types, not the reverse.

use super::period::Hour;

/// Who an environment belongs to: the operator's `akp.egov.kz/*` labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvIdentity {
    /// `akp.egov.kz/agency`.
    pub agency: String,
    /// `akp.egov.kz/product`.
    pub product: String,
    /// `akp.egov.kz/product-namespace`.
    pub product_namespace: String,
    /// `akp.egov.kz/environment`: development, testing, trial, production.
    pub environment: String,
    /// `akp.egov.kz/contour`.
    pub contour: String,
    /// `akp.egov.kz/class`.
    pub class: String,
}

/// A ledger row: an environment's usage of a resource in an hour.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LedgerRow {
    /// The environment's namespace.
    pub namespace: String,
    /// The resource (see `akp_billing::metering::meter::Resource`).
    pub resource: String,
    /// The hour.
    pub hour: Hour,
    /// The environment's identity in that hour.
    pub identity: EnvIdentity,
    /// The unit.
    pub unit: String,
    /// Micro-units of `unit`.
    pub quantity: i64,
}

/// An adjustment: a change to an hour of a closed month, booked in a later month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Adjustment {
    /// The row it corrects.
    pub row: LedgerRow,
    /// The month the correction is billed in.
    pub booked_month: String,
}

/// Usage of one environment and resource over the hours of one civil day: the ledger's
/// rows of that day summed in the database, so rating reads ~24 times fewer rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayUsage {
    /// The environment's namespace.
    pub namespace: String,
    /// The resource.
    pub resource: String,
    /// The agency of those hours.
    pub agency: String,
    /// The product of those hours.
    pub product: String,
    /// The environment of those hours.
    pub environment: String,
    /// The first hour of the civil day (UTC).
    pub day_start: Hour,
    /// Bit `h` is set when the day's hour `h` (0..24) has a row.
    pub hours: u32,
    /// Sum of the rows' micro-units.
    pub quantity: i64,
}

/// Unbilled usage, per reason, resource and hour.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct QualityRow {
    /// `not-an-environment` or `uncatalogued-image`.
    pub reason: String,
    /// The resource.
    pub resource: String,
    /// The hour.
    pub hour: Hour,
    /// The unit.
    pub unit: String,
    /// Micro-units of `unit`, summed over namespaces.
    pub quantity: i64,
    /// How many namespaces contributed.
    pub namespaces: i64,
}

/// Coverage of one environment over a month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvCoverage {
    /// The environment's namespace.
    pub namespace: String,
    /// Hours of the month the environment existed (first to last seen).
    pub hours: i64,
    /// Milliseconds of those hours covered by samples.
    pub covered_ms: i64,
    /// Hours not fully covered.
    pub gap_hours: i64,
}

impl EnvCoverage {
    /// Covered share in parts per million.
    pub fn ppm(&self) -> i64 {
        if self.hours == 0 {
            return 1_000_000;
        }
        let full = i128::from(self.hours) * 3_600_000;
        i64::try_from(i128::from(self.covered_ms) * 1_000_000 / full).unwrap_or(1_000_000)
    }
}
