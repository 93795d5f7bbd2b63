//! The billing report: its content is a pure rule (`akp_rules::billing::report`); here
//! are its reading from the ledger, its renderings (CSV, HTML in Kazakh and Russian),
//! signing, delivery and the BillingReport controller.

pub mod controller;
pub mod csv;
pub mod delivery;
pub mod html;
pub mod i18n;
pub mod sign;

use akp_rules::billing::rating;
pub use akp_rules::billing::report::*;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// JSON serialization failed.
    #[error("cannot write the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// CSV writing failed.
    #[error("cannot write the CSV report: {0}")]
    Csv(#[from] ::csv::Error),
    /// The HTML template failed (a value's formatting failed).
    #[error("cannot render the HTML report: {0}")]
    Html(#[from] askama::Error),
    /// Text that is not UTF-8 (cannot happen with our writers).
    #[error("report text is not UTF-8")]
    Utf8,
}

/// Why a report could not be generated from the ledger.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// Rating failed.
    #[error(transparent)]
    Rating(#[from] rating::RatingError),
    /// The month is not closed yet: its numbers could still change.
    #[error(
        "month {0} is not closed in the ledger yet (R-BIL-02): reports are made of closed months only"
    )]
    NotClosed(String),
}

/// Everything about a report besides the ledger: the caller's choices.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    /// The BillingReport's name.
    pub name: String,
    /// The month.
    pub month: akp_rules::billing::period::Month,
    /// The report corrected.
    pub corrects: Option<String>,
    /// Generation time, RFC 3339 UTC (injected: regeneration is byte-identical).
    pub generated_at: String,
    /// Residency statement, if placement provides one.
    pub residency: Option<Vec<ResidencyStatement>>,
}

/// Reads a closed month from the ledger (rows, adjustments booked in it, coverage,
/// unbilled usage), rates it and builds the report.
pub async fn from_ledger(
    ledger: &crate::ledger::Ledger,
    request: &ReportRequest,
    book: &rating::TariffBook,
    contracts: &rating::Contracts,
) -> Result<ReportDocument, GenerateError> {
    let month = request.month;
    if ledger.closed_through().await?.is_none_or(|c| c < month) {
        return Err(GenerateError::NotClosed(month.to_string()));
    }
    // The month's rows summed per environment, resource and civil day in the
    // database: rating needs nothing finer (docs/benchmarks.md, P4).
    let days = ledger
        .daily_usage(month, rating::KZ_UTC_OFFSET_SECS)
        .await?;
    let adjustments = ledger.adjustments(month).await?;
    let calendar = ledger.calendar().clone();
    let rated = rating::rate_daily(
        &rating::RatingInput {
            tariffs: book,
            contracts,
            calendar: &calendar,
        },
        &days,
        &adjustments,
    )?;
    let coverage = ledger.coverage(month).await?;
    let unbilled = ledger.data_quality(month).await?;
    let rfc3339 = |h: akp_rules::billing::period::Hour| {
        jiff::Timestamp::from_second(h.start())
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let meta = ReportMeta {
        name: request.name.clone(),
        period: month.to_string(),
        corrects: request.corrects.clone(),
        generated_at: request.generated_at.clone(),
        period_start: rfc3339(calendar.month_start(month)),
        period_end: rfc3339(calendar.month_end(month)),
        data_quality: DataQualityInput {
            environments: coverage
                .iter()
                .map(EnvironmentCoverage::from_ledger)
                .collect(),
            gaps: Vec::new(),
            unbilled: UnbilledEntry::from_ledger(&unbilled),
        },
        residency: request.residency.clone(),
    };
    Ok(build(&meta, &rated, book))
}
