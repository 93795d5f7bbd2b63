//! Rating a hand-computed month (R-BIL-01, R-BIL-03, R-ENV-04): several agencies, a
//! stage change mid-month, a tariff change on the 15th, a free period ending on the
//! 20th, an agency without a contract, GB→GiB conversion and per-line rounding.

use std::collections::BTreeMap;

use akp_billing::report::{self, ReportMeta, csv::to_csv};
use akp_crds::tariff::{AfterFreePeriod, Currency, NonProductionPolicy, Rate, Unit};
use akp_crds::{Tariff, TariffSpec};
use akp_rules::billing::period::{Hour, Month};
use akp_rules::billing::rating::{self, Contracts, TariffBook, Treatment};
use akp_rules::billing::rows::{Adjustment, LedgerRow};

mod common;

fn tariff(name: &str, from: &str, prices: [&str; 5], afterwards: AfterFreePeriod) -> Tariff {
    let rate = |resource: &str, unit, price: &str| Rate {
        resource: resource.into(),
        unit,
        price: price.into(),
    };
    Tariff::new(
        name,
        TariffSpec {
            currency: Currency::Kzt,
            effective_from: from.parse().expect("date"),
            rates: vec![
                rate("cpu", Unit::CoreHour, prices[0]),
                rate("memory", Unit::GibHour, prices[1]),
                rate("storage", Unit::GibHour, prices[2]),
                rate("network.internet", Unit::Gib, prices[3]),
                rate("software/postgresql-16", Unit::InstanceHour, prices[4]),
            ],
            non_production: NonProductionPolicy {
                free_months_from_contract: 3,
                afterwards,
            },
        },
    )
}

/// Tariff A from 2026-01-01 (flag after the free period), B from 2026-10-15 (bill).
pub fn tariffs() -> Vec<Tariff> {
    vec![
        tariff(
            "t-a",
            "2026-01-01",
            ["10.80", "1.30", "0.020", "9.00", "38.50"],
            AfterFreePeriod::Flag,
        ),
        tariff(
            "t-b",
            "2026-10-15",
            ["11.20", "1.35", "0.021", "9.00", "40.00"],
            AfterFreePeriod::Bill,
        ),
    ]
}

fn hour(text: &str) -> Hour {
    let ts: jiff::Timestamp = text.parse().expect("timestamp");
    Hour::starting_at(ts.as_second()).expect("aligned")
}

fn unit_of(resource: &str) -> &'static str {
    match resource {
        "cpu" | "quota.cpu" => "core_second",
        "memory" | "storage" | "quota.memory" | "quota.storage" => "gib_hour",
        "telecom.internet" => "gigabyte",
        "availability" => "hour_share",
        _ => "instance_hour",
    }
}

/// One row per hour in `[from, to)` with `quantity` micro-units.
fn hourly(
    rows: &mut Vec<LedgerRow>,
    who: (&str, &str, &str),
    resource: &str,
    from: Hour,
    to: Hour,
    quantity: i64,
) {
    let mut h = from;
    while h < to {
        rows.push(common::row(who, resource, unit_of(resource), h, quantity));
        h = h.plus(1);
    }
}

/// October 2026 in Kazakhstan time: 2026-09-30T19:00Z to 2026-10-31T19:00Z, 744 hours.
pub fn october_rows() -> Vec<LedgerRow> {
    let start = hour("2026-09-30T19:00:00Z");
    let end = hour("2026-10-31T19:00:00Z");
    let stage_change = hour("2026-10-09T19:00:00Z"); // 2026-10-10 00:00 in Astana
    let mut rows = Vec::new();
    let core = 3_600_000_000; // one core for an hour, in micro core-seconds
    let prod = ("mof", "tax", "production");
    hourly(&mut rows, prod, "cpu", start, end, 2 * core);
    hourly(&mut rows, prod, "memory", start, end, 4_000_000);
    hourly(&mut rows, prod, "storage", start, end, 100_000_000);
    hourly(
        &mut rows,
        prod,
        "software.instances/postgresql-16",
        start,
        end,
        1_000_000,
    );
    hourly(
        &mut rows,
        prod,
        "telecom.internet",
        start,
        start.plus(10),
        1_000_000,
    );
    hourly(
        &mut rows,
        ("mof", "tax", "development"),
        "cpu",
        start,
        end,
        core / 2,
    );
    hourly(
        &mut rows,
        ("mon", "e-license", "testing"),
        "cpu",
        start,
        end,
        core,
    );
    hourly(
        &mut rows,
        ("mon", "e-license", "trial"),
        "cpu",
        start,
        stage_change,
        3 * core,
    );
    hourly(
        &mut rows,
        ("mon", "e-license", "production"),
        "cpu",
        stage_change,
        end,
        4 * core,
    );
    hourly(
        &mut rows,
        ("mon", "e-license", "production"),
        "quota.cpu",
        stage_change,
        end,
        8 * core,
    );
    hourly(
        &mut rows,
        ("mon", "e-license", "production"),
        "availability",
        stage_change,
        end,
        1_000_000,
    );
    // Two half-available hours.
    for r in rows
        .iter_mut()
        .filter(|r| r.resource == "availability")
        .take(2)
    {
        r.quantity = 500_000;
    }
    // 1234.5678 core-seconds = 0.3429355 core-hours: rounds half to even to 0.342936.
    hourly(
        &mut rows,
        ("mzh", "med", "production"),
        "cpu",
        start,
        start.plus(1),
        1_234_567_800,
    );
    hourly(
        &mut rows,
        ("mzh", "med", "development"),
        "cpu",
        end.plus(-1),
        end,
        core,
    );
    rows
}

/// mof's contract is long past; mon's free period ends 2026-10-20; mzh has none.
pub fn contracts() -> Contracts {
    BTreeMap::from([
        ("mof".to_string(), "2025-01-01".parse().expect("date")),
        ("mon".to_string(), "2026-07-20".parse().expect("date")),
    ])
}

const EXPECTED_CSV: &str = "\
record,period,agency,product,environment,namespace,category,resource,unit,quantity,rate,list_amount,amount,treatment,tariff,adjustment_of\r
line,2026-10,mof,tax,development,mof-tax-development,compute,cpu,core-hour,168.000000,10.80,1814.40,0.00,flagged,t-a,\r
line,2026-10,mof,tax,development,mof-tax-development,compute,cpu,core-hour,204.000000,11.20,2284.80,2284.80,billed,t-b,\r
line,2026-10,mof,tax,production,mof-tax-production,software,software/postgresql-16,instance-hour,336.000000,38.50,12936.00,12936.00,billed,t-a,\r
line,2026-10,mof,tax,production,mof-tax-production,software,software/postgresql-16,instance-hour,408.000000,40.00,16320.00,16320.00,billed,t-b,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,cpu,core-hour,672.000000,10.80,7257.60,7257.60,billed,t-a,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,cpu,core-hour,816.000000,11.20,9139.20,9139.20,billed,t-b,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,memory,GiB-hour,1344.000000,1.30,1747.20,1747.20,billed,t-a,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,memory,GiB-hour,1632.000000,1.35,2203.20,2203.20,billed,t-b,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,storage,GiB-hour,33600.000000,0.02,672.00,672.00,billed,t-a,\r
line,2026-10,mof,tax,production,mof-tax-production,compute,storage,GiB-hour,40800.000000,0.021,856.80,856.80,billed,t-b,\r
line,2026-10,mof,tax,production,mof-tax-production,telecom,network.internet,GiB,9.313226,9.00,83.82,83.82,billed,t-a,\r
line,2026-10,mon,e-license,production,mon-e-license-production,compute,cpu,core-hour,480.000000,10.80,5184.00,5184.00,billed,t-a,\r
line,2026-10,mon,e-license,production,mon-e-license-production,compute,cpu,core-hour,1632.000000,11.20,18278.40,18278.40,billed,t-b,\r
line,2026-10,mon,e-license,testing,mon-e-license-testing,compute,cpu,core-hour,336.000000,10.80,3628.80,0.00,free,t-a,\r
line,2026-10,mon,e-license,testing,mon-e-license-testing,compute,cpu,core-hour,288.000000,11.20,3225.60,3225.60,billed,t-b,\r
line,2026-10,mon,e-license,testing,mon-e-license-testing,compute,cpu,core-hour,120.000000,11.20,1344.00,0.00,free,t-b,\r
line,2026-10,mon,e-license,trial,mon-e-license-trial,compute,cpu,core-hour,648.000000,10.80,6998.40,0.00,free,t-a,\r
line,2026-10,mzh,med,development,mzh-med-development,compute,cpu,core-hour,1.000000,11.20,11.20,11.20,billed,t-b,\r
line,2026-10,mzh,med,production,mzh-med-production,compute,cpu,core-hour,0.342936,10.80,3.70,3.70,billed,t-a,\r
agency-total,2026-10,mof,,,,,,,,,,53500.62,,,\r
agency-total,2026-10,mon,,,,,,,,,,26688.00,,,\r
agency-total,2026-10,mzh,,,,,,,,,,14.90,,,\r
category-total,2026-10,,,,,compute,,,,,,50863.70,,,\r
category-total,2026-10,,,,,software,,,,,,29256.00,,,\r
category-total,2026-10,,,,,telecom,,,,,,83.82,,,\r
total,2026-10,,,,,,,,,,,80203.52,,,\r
";

fn rate_october(adjustments: &[Adjustment]) -> (rating::Rated, TariffBook) {
    common::rate(&tariffs(), &contracts(), &october_rows(), adjustments)
}

fn meta() -> ReportMeta {
    ReportMeta {
        name: "2026-10".into(),
        period: "2026-10".into(),
        generated_at: "2026-11-04T00:00:00Z".into(),
        period_start: "2026-09-30T19:00:00Z".into(),
        period_end: "2026-10-31T19:00:00Z".into(),
        ..ReportMeta::default()
    }
}

#[test]
fn r_bil_01_r_bil_03_r_env_04_hand_computed_month_gives_exact_csv_lines_and_totals() {
    let (rated, book) = rate_october(&[]);
    let doc = report::build(&meta(), &rated, &book);
    let csv = String::from_utf8(to_csv(&doc).expect("csv")).expect("utf-8");
    assert_eq!(csv, EXPECTED_CSV);
    assert_eq!(doc.totals.billed, "80203.52");
    assert_eq!(doc.totals.free, "11971.20");
    assert_eq!(doc.totals.flagged, "1814.40");
    assert_eq!(rated.billed_tiyn(), 8_020_352);
    // Totals are sums of the rounded lines.
    let lines: i128 = rated.lines.iter().map(|l| l.billed_tiyn).sum();
    assert_eq!(lines, rated.billed_tiyn());
    // Both tariff versions, with their hours: 336 before the 15th, 408 from it.
    let used: Vec<(String, u32)> = doc
        .tariffs
        .iter()
        .map(|t| (t.name.clone(), t.hours))
        .collect();
    assert_eq!(
        used,
        vec![("t-a".to_string(), 336), ("t-b".to_string(), 408)]
    );
    // The agency without a contract gets a finding.
    assert!(
        rated
            .notes
            .iter()
            .any(|n| n.contains("mzh") && n.contains("R-ENV-04")),
        "{:?}",
        rated.notes
    );
}

#[test]
fn r_bil_01_allocated_vs_used_vs_billed_and_availability() {
    let (rated, book) = rate_october(&[]);
    let doc = report::build(&meta(), &rated, &book);
    let prod = doc
        .allocation
        .iter()
        .find(|a| a.namespace == "mon-e-license-production" && a.resource == "cpu")
        .expect("allocation");
    assert_eq!(
        (
            prod.allocated.as_str(),
            prod.used.as_str(),
            prod.billed.as_str()
        ),
        ("4224.000000", "2112.000000", "2112.000000")
    );
    let testing = doc
        .allocation
        .iter()
        .find(|a| a.namespace == "mon-e-license-testing")
        .expect("allocation");
    assert_eq!(
        (testing.used.as_str(), testing.billed.as_str()),
        ("744.000000", "288.000000")
    );
    assert_eq!(doc.availability.len(), 1);
    assert_eq!(doc.availability[0].hours, 528);
    // 527 of 528 hours, truncated to micro-units.
    assert_eq!(doc.availability[0].availability, "0.998106");
}

#[test]
fn r_env_04_free_period_and_tariff_change_split_by_the_hour() {
    let (rated, _) = rate_october(&[]);
    let testing: Vec<(&str, Treatment, u32)> = rated
        .lines
        .iter()
        .filter(|l| l.key.namespace == "mon-e-license-testing")
        .map(|l| (l.key.tariff.as_str(), l.key.treatment, l.hours))
        .collect();
    assert_eq!(
        testing,
        vec![
            ("t-a", Treatment::Free, 336),
            ("t-b", Treatment::Billed, 288),
            ("t-b", Treatment::Free, 120)
        ]
    );
    let book = TariffBook::new(&tariffs()).expect("tariffs");
    // 2026-10-15 00:00 in Astana is 2026-10-14T19:00Z.
    assert_eq!(
        book.in_force(hour("2026-10-14T18:00:00Z"))
            .map(|t| t.name.as_str()),
        Some("t-a")
    );
    assert_eq!(
        book.in_force(hour("2026-10-14T19:00:00Z"))
            .map(|t| t.name.as_str()),
        Some("t-b")
    );
    assert!(book.in_force(hour("2025-12-31T18:00:00Z")).is_none());
    assert_eq!(
        rating::free_until("2026-07-20".parse().expect("date"), 3).expect("free"),
        hour("2026-10-19T19:00:00Z")
    );
}

#[test]
fn r_bil_01_adjustments_are_rated_at_their_own_hour_and_marked() {
    let mut row = october_rows()
        .into_iter()
        .find(|r| r.namespace == "mof-tax-production" && r.resource == "cpu")
        .expect("row");
    // A late correction of a September hour: one core-hour less, booked in October.
    row.hour = hour("2026-09-10T00:00:00Z");
    row.quantity = -3_600_000_000;
    let adj = Adjustment {
        row,
        booked_month: "2026-10".into(),
    };
    let (rated, _) = rate_october(&[adj]);
    let line = rated
        .lines
        .iter()
        .find(|l| l.key.adjustment_of.is_some())
        .expect("adjustment line");
    assert_eq!(line.key.adjustment_of.as_deref(), Some("2026-09"));
    assert_eq!(line.billed_tiyn, -1080);
    assert_eq!(rated.billed_tiyn(), 8_020_352 - 1080);
    assert_eq!(
        Month::parse("2026-10")
            .map(|m| m.to_string())
            .ok()
            .as_deref(),
        Some("2026-10")
    );
}

#[test]
fn r_bil_04_tariffs_refuse_bad_prices_and_ambiguous_dates() {
    let mut bad = tariffs();
    bad[0].spec.rates[0].price = "10.8000001".into();
    assert!(matches!(
        TariffBook::new(&bad),
        Err(rating::RatingError::BadPrice { .. })
    ));
    let mut same = tariffs();
    same[1].spec.effective_from = same[0].spec.effective_from;
    assert!(matches!(
        TariffBook::new(&same),
        Err(rating::RatingError::SameEffectiveDate { .. })
    ));
    let mut long = tariffs();
    long[0].spec.non_production.free_months_from_contract = 4;
    assert!(matches!(
        TariffBook::new(&long),
        Err(rating::RatingError::FreeMonths { .. })
    ));
}

#[test]
fn r_bil_01_usage_without_a_rate_is_listed_unpriced_not_billed() {
    let mut rows = Vec::new();
    let h = hour("2026-10-01T00:00:00Z");
    hourly(
        &mut rows,
        ("mof", "tax", "production"),
        "software.instances/kafka-3",
        h,
        h.plus(2),
        1_000_000,
    );
    let (rated, _) = common::rate(&tariffs(), &contracts(), &rows, &[]);
    assert_eq!(rated.lines.len(), 1);
    assert_eq!(rated.lines[0].key.treatment, Treatment::Unpriced);
    assert_eq!(rated.billed_tiyn(), 0);
}
