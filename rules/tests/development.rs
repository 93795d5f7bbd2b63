//! R-EST-01: the development cost calculator against worked examples computed by hand
//! from the tables of order 653/НҚ Appendix 3 (Appendix 1: labour per process, Appendix 2:
//! K1-K7, Appendix 3: duration, Appendix 4: support 15 %). Every expected number below
//! was computed independently with exact fractions (python3 `fractions`), not by the
//! code under test; the arithmetic is in the comments.

use akp_rules::billing::development::{
    DevelopmentError, DevelopmentEstimate, DurationBasis, Scale, estimate_yaml,
};

fn run(yaml: &str) -> DevelopmentEstimate {
    estimate_yaml(yaml).unwrap_or_else(|e| panic!("estimate refused: {e}\n{yaml}"))
}

fn refused(yaml: &str) -> DevelopmentError {
    match estimate_yaml(yaml) {
        Ok(e) => panic!("expected a refusal, got {e:?}"),
        Err(e) => e,
    }
}

/// An example of `examples/development-cost/`.
fn example(file: &str) -> String {
    let path = format!(
        "{}/../examples/development-cost/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn column<'a>(
    e: &'a DevelopmentEstimate,
    f: impl Fn(&'a akp_rules::billing::development::ProcessLabour) -> &'a str,
) -> Vec<&'a str> {
    e.processes.iter().map(f).collect()
}

/// Appendix 1's columns, one value per process: person-hours, Sj and KPj·Sj.
fn assert_labour(
    e: &DevelopmentEstimate,
    hours: [&str; 6],
    labour: [&str; 6],
    corrected: [&str; 6],
) {
    assert_eq!(column(e, |p| &p.person_hours), hours, "person-hours");
    assert_eq!(column(e, |p| &p.labour), labour, "Sj");
    assert_eq!(column(e, |p| &p.corrected_labour), corrected, "KPj·Sj");
}

/// K1-K7 (Appendix 2) and KP1-KP3.
fn assert_coefficients(e: &DevelopmentEstimate, k: [&str; 7], kp: [&str; 3]) {
    let c = &e.coefficients;
    assert_eq!(
        [&c.k1, &c.k2, &c.k3, &c.k4, &c.k5, &c.k6, &c.k7],
        k,
        "K1-K7"
    );
    assert_eq!([&c.kp1, &c.kp2, &c.kp3], kp, "KP1-KP3");
}

/// Class 2, medium scale. SIZE = {C 10, E 8, T 60, I 12, N 2}.
///
/// Formula (1), person-hours (Appendix 1):
///   1 business modelling: 10·32.12 + 8·28.33 + 12·14.15 = 321.2 + 226.64 + 169.8 = 717.64
///   2 requirements:       10·58.03 + 8·28.04 + 12·20.32 = 580.3 + 224.32 + 243.84 = 1048.46
///   3 design:  10·45.42 + 8·61.75 + 60·31.35 + 12·37.52 + 2·24.02
///            = 454.2 + 494 + 1881 + 450.24 + 48.04 = 3327.48
///   4 development: 10·31.57 + 8·81.51 + 60·50.72 + 12·36.11 = 315.7 + 652.08 + 3043.2 + 433.32 = 4444.3
///   5 testing:    10·88.96 = 889.6
///   6 deployment: 10·8.69 + 2·23.74 = 86.9 + 47.48 = 134.38
///   Sj = hours / 165: 4.3493, 6.3543, 20.1665, 26.9352, 5.3915, 0.8144 (Σ 64.0113)
/// Class 2: K2 1, K3 1, K4 1.08, K5 1, K6 1, K7 1.13; medium: K1 1.
///   KP1 = K7 = 1.13; KP2 = 1.08·1.13 = 1.2204; KP3 = K1·K7 = 1.13.
/// Formula (4), hours: 1.13·717.64 + 1.2204·(1048.46 + 3327.48 + 4444.3 + 889.6) + 1.13·134.38
///   = 810.9332 + 1.2204·9709.84 + 151.8494 = 810.9332 + 11849.888736 + 151.8494
///   = 12812.671336 person-hours; S = 12812.671336 / 165 = 77.652553… → 77.6526
/// Duration: 77.65 is in rows 2 (10-80), 3, 4, 5, 6 → min 2, max 6, R = 4; G = [4/12] + 1 = 1.
/// (6): З1 = 650000·(1 + 8.45/100) = 704925. (7): S1 = S.
/// (8): 12812.671336·704925/165 = 54 739 226.3123… → 54 739 226.31; + testing 1 500 000
///   = 56 239 226.31.
/// (10): 56 239 226.31·0.15·K1 1·K7 1.13 = 9 532 548.859545 → 9 532 548.86.
#[test]
fn r_est_01_class_2_medium_worked_example() {
    let e = run(&example("estimate.yaml"));
    assert_eq!(e.rule, "R-EST-01");
    assert_eq!(e.class, 2);
    assert_eq!(e.scale, Scale::Medium);
    assert_eq!(e.users, Some(60));
    // KPj·Sj: 810.9332/165, 1.2204·1048.46/165, …
    assert_labour(
        &e,
        ["717.64", "1048.46", "3327.48", "4444.3", "889.6", "134.38"],
        ["4.3493", "6.3543", "20.1665", "26.9352", "5.3915", "0.8144"],
        ["4.9147", "7.7548", "24.6113", "32.8717", "6.5798", "0.9203"],
    );
    assert_eq!(
        column(&e, |p| &p.coefficient),
        ["KP1", "KP2", "KP2", "KP2", "KP2", "KP3"]
    );
    assert_eq!(
        column(&e, |p| &p.coefficient_value),
        ["1.13", "1.2204", "1.2204", "1.2204", "1.2204", "1.13"]
    );
    assert_coefficients(
        &e,
        ["1", "1", "1", "1.08", "1", "1", "1.13"],
        ["1.13", "1.2204", "1.13"],
    );
    assert_eq!(e.basic_labour, "64.0113");
    assert_eq!(e.labour, "77.6526");
    assert_eq!(e.duration.rows, [2, 3, 4, 5, 6]);
    assert_eq!((e.duration.min_months, e.duration.max_months), (2, 6));
    assert_eq!(e.duration.months, "4");
    assert_eq!(e.duration.basis, DurationBasis::Table);
    assert_eq!(e.project_years, 1);
    assert_eq!(e.average_monthly_salary, "650000.00");
    assert_eq!(e.average_inflation_percent, "8.45");
    assert_eq!(e.years.len(), 1);
    assert_eq!(e.years[0].average_monthly_salary, "704925.00");
    assert_eq!(e.years[0].labour, "77.6526");
    assert_eq!(e.years[0].cost, "54739226.31");
    assert_eq!(e.works_cost, "54739226.31");
    assert_eq!(e.testing_cost, "1500000.00");
    assert_eq!(e.development_cost, "56239226.31");
    assert_eq!(e.support.coefficient, "0.15");
    assert_eq!(e.support.product_support, "9532548.86");
    assert_eq!(e.support.system_maintenance, "0.00");
    assert_eq!(e.support.total, "9532548.86");
    assert_eq!(e.currency, "KZT");
}

/// Class 1, large scale (K1 1.05). SIZE = {6, 5, 30, 8, 1}, salary 720 000.50, inflation 9.87 %.
///   hours: 1: 6·32.12 + 5·28.33 + 8·14.15 = 192.72 + 141.65 + 113.2 = 447.57
///          2: 348.18 + 140.2 + 162.56 = 650.94
///          3: 272.52 + 308.75 + 940.5 + 300.16 + 24.02 = 1845.95
///          4: 189.42 + 407.55 + 1521.6 + 288.88 = 2407.45
///          5: 533.76;  6: 52.14 + 23.74 = 75.88
///   Class 1: K2 1.05, K3 1.03, K4 1, K5 1.15, K6 1.12, K7 1.16.
///   KP1 = 1.16; KP2 = 1.05·1.05·1.03·1·1.15·1.12·1.16 = 1.696639896; KP3 = 1.05·1.16 = 1.218.
///   S = (1.16·447.57 + 1.696639896·(650.94 + 1845.95 + 2407.45 + 533.76) + 1.218·75.88) / 165
///     = (519.1812 + 1.696639896·5438.1 + 92.42184) / 165 = 9838.3004584… / 165 = 59.6249
///   Rows 2-6 (10-80 … 50-340) → R = 4, G = 1.
///   З1 = 720000.50·1.0987 = 791064.549350 → shown 791064.55, used exactly.
///   cost = 9838.30045843…·791064.54935/165 = 47 167 106.0886… → 47 167 106.09 (no testing cost).
///   support = 47 167 106.09·0.15·1.05·1.16 = 8 617 430.2827… → 8 617 430.28.
#[test]
fn r_est_01_class_1_large_worked_example() {
    let e = run(r#"
size: {useCases: 6, entityTypes: 5, entityProperties: 30, interactions: 8, nodeTypes: 1}
class: 1
scale: large
averageMonthlySalary: "720000.50"
averageInflationPercent: "9.87"
"#);
    assert_labour(
        &e,
        ["447.57", "650.94", "1845.95", "2407.45", "533.76", "75.88"],
        ["2.7125", "3.9451", "11.1876", "14.5906", "3.2349", "0.4599"],
        ["3.1466", "6.6934", "18.9813", "24.7550", "5.4885", "0.5601"],
    );
    assert_coefficients(
        &e,
        ["1.05", "1.05", "1.03", "1", "1.15", "1.12", "1.16"],
        ["1.16", "1.696639896", "1.218"],
    );
    assert_eq!(e.basic_labour, "36.1306");
    assert_eq!(e.labour, "59.6249");
    assert_eq!(e.duration.months, "4");
    assert_eq!(e.years[0].average_monthly_salary, "791064.55");
    assert_eq!(e.years[0].cost, "47167106.09");
    assert_eq!(e.testing_cost, "0.00");
    assert_eq!(e.development_cost, "47167106.09");
    assert_eq!(e.support.product_support, "8617430.28");
    assert!(
        e.notes.iter().any(|n| n.contains("testingCost")),
        "a missing testing cost is noted: {:?}",
        e.notes
    );
}

/// Class 3, very large (K1 1.08), given as users: 5000. SIZE = {20, 15, 100, 30, 3},
/// salary 580 000, inflation 10 %.
///   hours: 1: 642.4 + 424.95 + 424.5 = 1491.85;  2: 1160.6 + 420.6 + 609.6 = 2190.8
///          3: 908.4 + 926.25 + 3135 + 1125.6 + 72.06 = 6167.31
///          4: 631.4 + 1222.65 + 5072 + 1083.3 = 8009.35;  5: 1779.2;  6: 173.8 + 71.22 = 245.02
///   Class 3: K2 0.98, K3 0.97, K4 1.13, K5 0.92, K6 0.98, K7 1.
///   KP1 = 1; KP2 = 1.08·0.98·0.97·1.13·0.92·0.98·1 = 1.04595719558…
///     (= 16343081181/15625000000 = 1.04595719558400); KP3 = 1.08.
///   S = 125.6794 person-months: rows 3 (17-140), 4, 5, 6 → R = (3 + 6)/2 = 4.5, G = 1.
///   З1 = 638 000; cost = S·638000 = 80 183 457.98; support = ·0.15·1.08·1 = 12 989 720.19.
#[test]
fn r_est_01_class_3_very_large_by_users_worked_example() {
    let e = run(r#"
size: {C: 20, E: 15, T: 100, I: 30, N: 3}
class: 3
users: 5000
averageMonthlySalary: "580000"
averageInflationPercent: "10"
"#);
    assert_eq!(e.scale, Scale::VeryLarge);
    assert_eq!(e.coefficients.kp2, "1.045957195584");
    assert_eq!(e.coefficients.kp3, "1.08");
    assert_eq!(
        column(&e, |p| &p.corrected_labour),
        [
            "9.0415", "13.8878", "39.0954", "50.7723", "11.2786", "1.6038"
        ]
    );
    assert_eq!(e.basic_labour, "120.5062");
    assert_eq!(e.labour, "125.6794");
    assert_eq!(e.duration.rows, [3, 4, 5, 6]);
    assert_eq!(e.duration.months, "4.5");
    assert_eq!(e.project_years, 1);
    assert_eq!(e.years[0].average_monthly_salary, "638000.00");
    assert_eq!(e.development_cost, "80183457.98");
    assert_eq!(e.support.product_support, "12989720.19");
}

/// S in exactly one row. Class 3 medium, SIZE = {3, 1, 0, 1, 0}, salary 500 000, 12.5 %:
///   hours 138.84, 222.45, 235.53, 212.33, 266.88, 26.07;
///   KP2 = 0.98·0.97·1.13·0.92·0.98 = 0.9684788848; S = 6.5004: only row 1 (5-30)
///   (row 2 starts at 10) → R = 1. З1 = 562 500; cost 3 656 450.20; support ·0.15 = 548 467.53.
/// And S in the last row only: class 3 large, SIZE = {40, 30, 280, 60, 4}, S = 284.7448
///   (rows 5 ends at 280, row 6 is 50-340) → R = 6; cost 200 723 732.35.
#[test]
fn r_est_01_duration_table_single_rows() {
    let e = run(r#"
size: {C: 3, E: 1, I: 1}
class: 3
scale: medium
averageMonthlySalary: "500000"
averageInflationPercent: "12.5"
"#);
    assert_eq!(e.coefficients.kp2, "0.9684788848");
    assert_eq!(e.labour, "6.5004");
    assert_eq!(e.duration.rows, [1]);
    assert_eq!(e.duration.months, "1");
    assert_eq!(e.years[0].average_monthly_salary, "562500.00");
    assert_eq!(e.development_cost, "3656450.20");
    assert_eq!(e.support.product_support, "548467.53");

    let e = run(r#"
size: {C: 40, E: 30, T: 280, I: 60, N: 4}
class: 3
scale: large
averageMonthlySalary: "650000"
averageInflationPercent: "8.45"
"#);
    assert_eq!(e.basic_labour, "280.2251");
    assert_eq!(e.labour, "284.7448");
    assert_eq!(e.duration.rows, [6]);
    assert_eq!(e.duration.months, "6");
    assert_eq!(e.project_years, 1);
    assert_eq!(e.development_cost, "200723732.35");
    assert_eq!(e.support.product_support, "31613987.85");
}

/// Below the table: one node type, class 1, very large, deflation -1.5 %.
///   hours: design 24.02, deployment 23.74; KP2 = 1.08·1.05·1.03·1.15·1.12·1.16 = 1.745115321…,
///   KP3 = 1.08·1.16 = 1.2528; S = (1.745115321…·24.02 + 1.2528·23.74)/165 = 0.4343 < 5
///   → R = 1 month (noted). З1 = 650000·0.985 = 640 250; cost 278 059.19;
///   support ·0.15·1.08·1.16 = 52 252.88.
/// And one use case, class 2 medium: S = 1.9361, cost 1 364 822.35.
#[test]
fn r_est_01_below_the_duration_table_is_one_month() {
    let e = run(r#"
size: {nodeTypes: 1}
class: 1
scale: veryLarge
averageMonthlySalary: "650000"
averageInflationPercent: "-1.5"
"#);
    assert_eq!(e.labour, "0.4343");
    assert_eq!(e.duration.basis, DurationBasis::BelowTable);
    assert_eq!(e.duration.rows, Vec::<u32>::new());
    assert_eq!(e.duration.months, "1");
    assert_eq!(e.years[0].average_monthly_salary, "640250.00");
    assert_eq!(e.development_cost, "278059.19");
    assert_eq!(e.support.product_support, "52252.88");
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("below the duration table"))
    );

    let e = run(r#"
size: {useCases: 1}
class: 2
users: 11
averageMonthlySalary: "650000"
averageInflationPercent: "8.45"
"#);
    assert_eq!(e.labour, "1.9361");
    assert_eq!(e.development_cost, "1364822.35");
    assert_eq!(e.support.product_support, "231337.39");
}

/// Above the table with a planned duration of 18 months: G = [18/12] + 1 = 2.
///   SIZE = {60, 40, 400, 80, 6}, class 2 large: KP1 1.13, KP2 = 1.05·1.08·1.13 = 1.28142,
///   KP3 = 1.05·1.13 = 1.1865; hours 4192.4, 6229, 20880.92, 28331.4, 5337.6, 663.84;
///   S = 505.5053 (> 340).
///   Иср = (20.3 + 14.4 + 8.6)/3 = 14.4333… → 14.43.
///   З1 = 650000·1.1443 = 743 795; З2 = 743795·1.1443 = 851 124.6185 → shown 851 124.62.
///   S1 = S2 = S/2 = 252.7527.
///   cost1 = S/2·743795 = 187 996 173.82; cost2 = S/2·851124.6185 = 215 124 021.70;
///   works = 403 120 195.52; + testing 2 500 000 = 405 620 195.52.
///   (10): 405 620 195.52·0.15·1.05·1.13 = 72 190 254.2977… → 72 190 254.30;
///   (9): + 1 200 000 + 800 000 = 74 190 254.30.
#[test]
fn r_est_01_above_the_table_uses_the_planned_duration_over_two_years() {
    let e = run(&example("estimate-multi-year.yaml"));
    assert_eq!(e.coefficients.kp2, "1.28142");
    assert_eq!(e.coefficients.kp3, "1.1865");
    assert_eq!(e.labour, "505.5053");
    assert_eq!(e.duration.basis, DurationBasis::Planned);
    assert_eq!(e.duration.months, "18");
    assert_eq!(e.project_years, 2);
    assert_eq!(e.average_inflation_percent, "14.43");
    let years: Vec<(u32, &str, &str, &str)> = e
        .years
        .iter()
        .map(|y| {
            (
                y.year,
                y.average_monthly_salary.as_str(),
                y.labour.as_str(),
                y.cost.as_str(),
            )
        })
        .collect();
    assert_eq!(
        years,
        [
            (1, "743795.00", "252.7527", "187996173.82"),
            (2, "851124.62", "252.7527", "215124021.70")
        ]
    );
    assert_eq!(e.works_cost, "403120195.52");
    assert_eq!(e.development_cost, "405620195.52");
    assert_eq!(e.support.product_support, "72190254.30");
    assert_eq!(e.support.system_maintenance, "1200000.00");
    assert_eq!(e.support.licensed_software_support, "800000.00");
    assert_eq!(e.support.total, "74190254.30");

    // Without the planned duration the same product is refused, naming S and the fix.
    let yaml = example("estimate-multi-year.yaml").replace("durationMonths: 18", "");
    let err = refused(&yaml);
    assert_eq!(
        err,
        DevelopmentError::AboveDurationTable {
            labour: "505.5053".into()
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("durationMonths") && text.contains("R-EST-01"),
        "{text}"
    );
}

#[test]
fn r_est_01_all_zero_size_is_refused() {
    let err = refused(
        r#"
size: {useCases: 0, entityTypes: 0, entityProperties: 0, interactions: 0, nodeTypes: 0}
class: 2
scale: medium
averageMonthlySalary: "650000"
averageInflationPercent: "8.45"
"#,
    );
    assert_eq!(err, DevelopmentError::EmptySize);
    assert!(err.to_string().contains("nothing to estimate"));
}

#[test]
fn r_est_01_refusals_name_the_field_the_value_and_the_fix() {
    let base = |patch: &str| {
        let mut lines = vec![
            (
                "size",
                "size: {C: 10, E: 8, T: 60, I: 12, N: 2}".to_string(),
            ),
            ("class", "class: 2".to_string()),
            ("scale", "scale: medium".to_string()),
            (
                "averageMonthlySalary",
                "averageMonthlySalary: \"650000\"".to_string(),
            ),
            (
                "averageInflationPercent",
                "averageInflationPercent: \"8.45\"".to_string(),
            ),
        ];
        for p in patch.lines().filter(|l| !l.trim().is_empty()) {
            let key = p.split(':').next().unwrap_or_default().trim();
            match lines.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = p.to_string(),
                None => lines.push(("extra", p.to_string())),
            }
        }
        lines
            .into_iter()
            .filter(|(_, l)| !l.ends_with(": DROP"))
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cases: [(&str, DevelopmentError, &str); 11] = [
        (
            "size: {C: -1, E: 8}",
            DevelopmentError::NegativeCount {
                field: "useCases",
                value: -1,
            },
            "size.useCases: -1 is negative",
        ),
        (
            "class: 4",
            DevelopmentError::Class { value: 4 },
            "use 1, 2 or 3",
        ),
        ("scale: DROP", DevelopmentError::NoScale, "give scale"),
        (
            "users: 500",
            DevelopmentError::ScaleMismatch {
                scale: Scale::Medium,
                users: 500,
                implied: Scale::Large,
            },
            "scale: medium contradicts users: 500, which is large",
        ),
        (
            "users: 0",
            DevelopmentError::Users { value: 0 },
            "give 1 or more",
        ),
        (
            "averageMonthlySalary: \"6.5e5\"",
            DevelopmentError::NotDecimal {
                field: "averageMonthlySalary".into(),
                value: "6.5e5".into(),
            },
            "no exponent",
        ),
        (
            "averageMonthlySalary: \"0\"",
            DevelopmentError::OutOfRange {
                field: "averageMonthlySalary".into(),
                value: "0".into(),
                bound: "more than 0 tenge",
            },
            "must be more than 0 tenge",
        ),
        (
            "averageMonthlySalary: \"650000.001\"",
            DevelopmentError::TooManyDecimals {
                field: "averageMonthlySalary".into(),
                value: "650000.001".into(),
                max: 2,
                fix: "amounts are tenge to the tiyn (0.01)",
            },
            "more than 2 decimals",
        ),
        (
            "averageInflationPercent: \"108.45\"",
            DevelopmentError::Inflation {
                field: "averageInflationPercent".into(),
                value: "108.45".into(),
            },
            "price index",
        ),
        (
            "inflationPercentByYear: [\"8\", \"9\"]",
            DevelopmentError::InflationSource {
                problem: "given together with inflationPercentByYear",
            },
            "give either",
        ),
        (
            "durationMonths: 12",
            DevelopmentError::DurationNotNeeded {
                value: 12,
                labour: "77.6526".into(),
            },
            "remove durationMonths",
        ),
    ];
    for (patch, expected, words) in cases {
        let yaml = base(patch);
        let err = refused(&yaml);
        assert_eq!(err, expected, "{patch}");
        let text = err.to_string();
        assert!(text.contains(words), "{patch}: {text}");
        assert!(text.contains("R-EST-01"), "{patch}: {text}");
    }
    // Three yearly rates are needed, and an unknown field is a refusal with its name.
    let err = refused(&base(
        "averageInflationPercent: DROP\ninflationPercentByYear: [\"8\", \"9\"]",
    ));
    assert_eq!(err, DevelopmentError::InflationYears { count: 2 });
    let err = refused(&base("testCost: \"5\""));
    assert!(
        matches!(&err, DevelopmentError::Yaml { message } if message.contains("testCost")),
        "{err}"
    );
}

#[test]
fn r_est_01_few_users_count_as_medium_and_are_noted() {
    let e = run(r#"
size: {C: 10, E: 8, T: 60, I: 12, N: 2}
class: 2
users: 5
averageMonthlySalary: "650000"
averageInflationPercent: "8.45"
testingCost: "1500000"
"#);
    // Same as the class 2 medium example: K1 = 1.
    assert_eq!(e.scale, Scale::Medium);
    assert_eq!(e.development_cost, "56239226.31");
    assert!(
        e.notes.iter().any(|n| n.contains("5 users")),
        "{:?}",
        e.notes
    );
}
