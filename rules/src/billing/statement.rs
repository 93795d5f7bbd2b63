//! The agencies' month-to-date statements (issue 20): the rated lines of each agency,
//! summed as the monthly report sums them, with the agency's budget against them. One
//! statement per agency and month, provisional until the month closes.

use std::collections::BTreeMap;

use akp_crds::statement::{
    BudgetUse, CategoryAmount, ProductUsage, StatementLine, StatementTotals, UsageStatementSpec,
};
use rust_decimal::Decimal;

use super::period::Month;
use super::rating::{Category, Line, Rated, format_micro, format_tiyn, unit_name};
use super::report::{Sum, Totals};

/// The name of an agency's statement of `month`: `<agency>-<YYYY-MM>`.
pub fn statement_name(agency: &str, month: Month) -> String {
    format!("{agency}-{month}")
}

/// What a statement says besides the lines.
#[derive(Clone, Debug)]
pub struct StatementContext<'a> {
    /// The month.
    pub month: Month,
    /// Whether the month is closed in the ledger.
    pub final_: bool,
    /// End of the last metered hour included (RFC 3339).
    pub through: String,
    /// When computed (RFC 3339).
    pub updated_at: String,
    /// Each agency's monthly budget, KZT (`Agency.spec.budget.monthly`).
    pub budgets: &'a BTreeMap<String, String>,
    /// Alert thresholds, percent of the budget.
    pub thresholds: &'a [u32],
}

/// One agency's month so far, for its statement and billing's cost metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct AgencyMonth {
    /// The statement.
    pub spec: UsageStatementSpec,
    /// Billed tiyn by product and category.
    pub billed: BTreeMap<(String, Category), i128>,
    /// Billed over budget, when there is a budget (1.0 = all of it).
    pub budget_ratio: Option<f64>,
}

/// The statement of every agency with rated lines or a budget: the lines of `rated`
/// (rated as the monthly report rates them) grouped by agency and product.
pub fn statements(rated: &Rated, ctx: &StatementContext<'_>) -> BTreeMap<String, AgencyMonth> {
    let mut by_agency: BTreeMap<&str, BTreeMap<&str, Vec<&Line>>> = BTreeMap::new();
    for l in &rated.lines {
        by_agency
            .entry(&l.key.agency)
            .or_default()
            .entry(&l.key.product)
            .or_default()
            .push(l);
    }
    for agency in ctx.budgets.keys() {
        by_agency.entry(agency).or_default();
    }
    by_agency
        .into_iter()
        .map(|(agency, products)| {
            (
                agency.to_string(),
                agency_month(agency, &products, rated, ctx),
            )
        })
        .collect()
}

fn agency_month(
    agency: &str,
    products: &BTreeMap<&str, Vec<&Line>>,
    rated: &Rated,
    ctx: &StatementContext<'_>,
) -> AgencyMonth {
    let mut sum = Sum::default();
    let mut billed = BTreeMap::new();
    let mut usage = Vec::new();
    for (product, lines) in products {
        let mut product_sum = Sum::default();
        for l in lines {
            sum.add(l);
            product_sum.add(l);
            *billed
                .entry((product.to_string(), l.key.category))
                .or_insert(0) += l.billed_tiyn;
        }
        usage.push(ProductUsage {
            product: product.to_string(),
            totals: totals(&product_sum.totals()),
            lines: lines.iter().map(|l| line(l)).collect(),
        });
    }
    let budget = ctx.budgets.get(agency).and_then(|monthly| {
        let budget = monthly
            .parse::<Decimal>()
            .ok()
            .filter(|b| *b > Decimal::ZERO)?;
        let spent = Decimal::from_i128_with_scale(sum.billed, 2);
        let percent = (spent * Decimal::ONE_HUNDRED / budget).round_dp(2);
        let reached = ctx
            .thresholds
            .iter()
            .copied()
            .filter(|t| percent >= Decimal::from(*t))
            .collect();
        let ratio = (spent / budget).to_string().parse::<f64>().ok();
        Some((
            BudgetUse {
                monthly: monthly.clone(),
                used: format!("{percent:.2}%"),
                reached,
            },
            ratio,
        ))
    });
    let total = sum.totals();
    AgencyMonth {
        spec: UsageStatementSpec {
            agency: agency.to_string(),
            month: ctx.month.to_string(),
            final_: ctx.final_,
            through: ctx.through.clone(),
            updated_at: ctx.updated_at.clone(),
            totals: totals(&total),
            by_category: Category::ALL
                .iter()
                .map(|c| CategoryAmount {
                    category: c.as_str().to_string(),
                    billed: format_tiyn(sum.by_category.get(c).copied().unwrap_or(0)),
                })
                .collect(),
            budget: budget.as_ref().map(|(b, _)| b.clone()),
            products: usage,
            notes: rated
                .notes
                .iter()
                // Notes of other agencies stay out; the rest concern everyone.
                .filter(|n| {
                    !n.starts_with("agency ") || n.starts_with(&format!("agency {agency} "))
                })
                .cloned()
                .collect(),
        },
        billed,
        budget_ratio: budget.and_then(|(_, r)| r),
    }
}

fn totals(t: &Totals) -> StatementTotals {
    StatementTotals {
        list: t.list.clone(),
        billed: t.billed.clone(),
        free: t.free.clone(),
        flagged: t.flagged.clone(),
    }
}

fn line(l: &Line) -> StatementLine {
    StatementLine {
        environment: l.key.environment.clone(),
        category: l.key.category.as_str().to_string(),
        resource: l.key.resource.clone(),
        quantity: format_micro(l.quantity_micro),
        unit: unit_name(l.unit).to_string(),
        rate: l.price.to_string(),
        list: format_tiyn(l.list_tiyn),
        billed: format_tiyn(l.billed_tiyn),
        treatment: l.key.treatment.as_str().to_string(),
        adjustment_of: l.key.adjustment_of.clone(),
    }
}
