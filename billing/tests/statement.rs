//! The agencies' statements sum the same rated lines as the monthly report (issue 20):
//! an agency reads in its statement what the authorized body reads of it in the report.

use std::collections::BTreeMap;

use akp_rules::billing::period::{Hour, Month};
use akp_rules::billing::report;
use akp_rules::billing::statement::{StatementContext, statements};

mod common;
use common::{example_tariffs as tariffs, row};

#[test]
fn r_bil_01_statements_equal_the_reports_agency_totals_and_show_the_budget() {
    // mon has a contract (its development is free), mf none (its development is billed
    // or flagged by the tariff's policy).
    let contracts = BTreeMap::from([("mon".to_string(), "2026-11-01".parse().expect("date"))]);
    let start = Hour::starting_at(1_796_065_200).expect("2026-11-30T19:00Z");
    let mf = ("mf", "tax", "production");
    let mut hourly = common::mon_hour(1_000_000);
    hourly.push((mf, "cpu", "core_second", 3_600_000_000));
    hourly.push((
        ("mf", "tax", "development"),
        "cpu",
        "core_second",
        3_600_000_000,
    ));
    let mut rows = Vec::new();
    for i in 0..30 {
        for &(ns, resource, unit, quantity) in &hourly {
            rows.push(row(ns, resource, unit, start.plus(i), quantity));
        }
    }
    let (rated, book) = common::rate(&tariffs(), &contracts, &rows, &[]);
    let doc = report::build(
        &common::meta(
            "2026-12",
            "2026-12",
            ("2026-11-30T19:00:00Z", "2026-12-31T19:00:00Z"),
            "2026-12-02T06:00:00Z",
            "1.000000",
        ),
        &rated,
        &book,
    );
    // mon's budget is such that 30 hours spend more than half of it; mz has a budget
    // and no usage: it gets a statement of zeros.
    let mon_billed: rust_decimal::Decimal = doc
        .agencies
        .iter()
        .find(|a| a.agency == "mon")
        .expect("mon in the report")
        .totals
        .billed
        .parse()
        .expect("amount");
    let budget =
        (mon_billed * rust_decimal::Decimal::from(3) / rust_decimal::Decimal::from(2)).round_dp(2);
    let budgets = BTreeMap::from([
        ("mon".to_string(), budget.to_string()),
        ("mz".to_string(), "1000.00".to_string()),
    ]);
    let ctx = StatementContext {
        month: Month::parse("2026-12").expect("month"),
        final_: false,
        through: "2026-12-01T01:00:00Z".into(),
        updated_at: "2026-12-02T06:00:00Z".into(),
        budgets: &budgets,
        thresholds: &[50, 90, 100],
    };
    let all = statements(&rated, &ctx);
    assert_eq!(
        all.keys().map(String::as_str).collect::<Vec<_>>(),
        ["mf", "mon", "mz"]
    );
    for agency in &doc.agencies {
        let s = &all[&agency.agency].spec;
        assert_eq!(s.totals.billed, agency.totals.billed, "{}", agency.agency);
        assert_eq!(s.totals.list, agency.totals.list, "{}", agency.agency);
        assert_eq!(s.totals.free, agency.totals.free, "{}", agency.agency);
        assert_eq!(s.totals.flagged, agency.totals.flagged, "{}", agency.agency);
        for c in &s.by_category {
            assert_eq!(
                Some(&c.billed),
                agency.totals.by_category.get(&c.category),
                "{} {}",
                agency.agency,
                c.category
            );
        }
        let lines: usize = s.products.iter().map(|p| p.lines.len()).sum();
        let in_report: usize = agency
            .products
            .iter()
            .flat_map(|p| &p.environments)
            .map(|e| e.lines.len())
            .sum();
        assert_eq!(lines, in_report, "{}", agency.agency);
    }
    let mon = &all["mon"];
    assert!(mon.spec.totals.free != "0.00", "mon's development is free");
    let used = mon.spec.budget.as_ref().expect("mon's budget");
    assert_eq!(used.used, "66.67%");
    assert_eq!(used.reached, [50]);
    assert!((mon.budget_ratio.expect("ratio") - 2.0 / 3.0).abs() < 1e-6);
    let mz = &all["mz"].spec;
    assert_eq!(mz.totals.billed, "0.00");
    assert_eq!(mz.budget.as_ref().map(|b| b.used.as_str()), Some("0.00%"));
    assert!(all["mf"].spec.budget.is_none());
    assert!(!mon.spec.final_);
}
