//! The CSV form of a report, for machines: RFC 4180 (comma, CRLF line ends, quotes
//! where needed), UTF-8 without BOM, one header row, rows in the report's order.
//!
//! Rows are `line` (one per bill line), then `agency-total` per agency,
//! `category-total` per R-BIL-03 category, and one `total`.

use super::{ReportDocument, ReportError};

/// The header row.
pub const HEADER: [&str; 16] = [
    "record",
    "period",
    "agency",
    "product",
    "environment",
    "namespace",
    "category",
    "resource",
    "unit",
    "quantity",
    "rate",
    "list_amount",
    "amount",
    "treatment",
    "tariff",
    "adjustment_of",
];

/// Writes the report as RFC 4180 CSV.
pub fn to_csv(doc: &ReportDocument) -> Result<Vec<u8>, ReportError> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    w.write_record(HEADER)?;
    let p = doc.period.as_str();
    for a in &doc.agencies {
        for pr in &a.products {
            for e in &pr.environments {
                for l in &e.lines {
                    w.write_record([
                        "line",
                        p,
                        &a.agency,
                        &pr.product,
                        &e.environment,
                        &e.namespace,
                        l.category.as_str(),
                        &l.resource,
                        &l.unit,
                        &l.quantity,
                        &l.rate,
                        &l.list_amount,
                        &l.amount,
                        l.treatment.as_str(),
                        &l.tariff,
                        l.adjustment_of.as_deref().unwrap_or(""),
                    ])?;
                }
            }
        }
    }
    for a in &doc.agencies {
        w.write_record(total_row(
            "agency-total",
            p,
            &a.agency,
            "",
            &a.totals.billed,
        ))?;
    }
    for (category, amount) in &doc.totals.by_category {
        w.write_record(total_row("category-total", p, "", category, amount))?;
    }
    w.write_record(total_row("total", p, "", "", &doc.totals.billed))?;
    w.into_inner()
        .map_err(|e| ReportError::Csv(e.into_error().into()))
}

/// A summary row: only the record kind, period, agency, category and amount are set.
fn total_row<'a>(
    record: &'a str,
    period: &'a str,
    agency: &'a str,
    category: &'a str,
    amount: &'a str,
) -> [&'a str; 16] {
    let mut row = [""; 16];
    row[0] = record;
    row[1] = period;
    row[2] = agency;
    row[6] = category;
    row[12] = amount;
    row
}
