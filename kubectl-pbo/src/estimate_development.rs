//! `kubectl pbo estimate-development`: the development cost calculator of R-EST-01
//! (order 653/НҚ, Appendix 3). Reads the input YAML (a file, or `-` for stdin), runs
//! `akp_rules::billing::development::estimate` and prints every step: the labour of each
//! process, the coefficients, the duration, the years, the cost and the support.

use std::io::Read;
use std::path::PathBuf;

use akp_rules::billing::development::{DevelopmentEstimate, DurationBasis, estimate_yaml};
use anyhow::Context;

use crate::output::{Color, Fields, Output, Style, Table, heading};

/// Arguments of `kubectl pbo estimate-development`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The estimate's input (YAML): size {C,E,T,I,N}, class, scale, salary and inflation.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
}

/// Runs the calculator and returns what to print.
pub fn run(args: &Args, output: Output) -> anyhow::Result<String> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the estimate's input from stdin")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let source = if args.file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    let estimate = estimate_yaml(&text).with_context(|| format!("{source}: estimate refused"))?;
    if let Some(text) = output.serialize(&estimate)? {
        return Ok(text);
    }
    Ok(render(&estimate, Style::detect(output)))
}

/// The estimate as text for people: each step of the methodology with its formula.
pub fn render(e: &DevelopmentEstimate, style: Style) -> String {
    let kzt = |v: &str| format!("{} {}", group(v), e.currency);
    let mut out = String::new();
    let mut f = Fields::new();
    if let Some(name) = &e.name {
        f.add("Product", name.clone());
    }
    let s = &e.size;
    f.add(
        "Size",
        format!(
            "C {} use cases, E {} entity types, T {} properties, I {} interactions, N {} node types",
            s.use_cases, s.entity_types, s.entity_properties, s.interactions, s.node_types
        ),
    );
    f.add(
        "Class, scale",
        format!(
            "class {}, {}{}",
            e.class,
            e.scale,
            e.users.map(|u| format!(" ({u} users)")).unwrap_or_default()
        ),
    );
    out.push_str(&f.render(style));

    out.push_str(&heading(
        style,
        "Labour per process, person-months (1: Sj = person-hours / 165; 4: corrected = KPj·Sj)",
    ));
    let mut t = Table::new(&["j", "process", "person-hours", "labour", "kp", "corrected"]);
    for p in &e.processes {
        t.row(vec![
            p.number.to_string().into(),
            format!("{} ({})", p.name, p.name_kk).into(),
            p.person_hours.clone().into(),
            p.labour.clone().into(),
            format!("{} = {}", p.coefficient, p.coefficient_value).into(),
            p.corrected_labour.clone().into(),
        ]);
    }
    t.row(vec![
        "".into(),
        "total".into(),
        "".into(),
        e.basic_labour.clone().into(),
        "".into(),
        e.labour.clone().into(),
    ]);
    out.push_str(&t.render(style));

    out.push_str(&heading(style, "Coefficients (Appendix 2)"));
    let k = &e.coefficients;
    let mut f = Fields::new();
    f.add(
        "K1..K7",
        format!(
            "{}, {}, {}, {}, {}, {}, {}",
            k.k1, k.k2, k.k3, k.k4, k.k5, k.k6, k.k7
        ),
    );
    f.add("KP1 = K7", k.kp1.clone());
    f.add("KP2 = K1·…·K7", k.kp2.clone());
    f.add("KP3 = K1·K7", k.kp3.clone());
    out.push_str(&f.render(style));

    out.push_str(&heading(style, "Labour and duration (Appendix 3)"));
    let d = &e.duration;
    let mut f = Fields::new();
    f.add_colored("S", format!("{} person-months", e.labour), Color::Bold);
    let basis = match d.basis {
        DurationBasis::Table => format!(
            "table rows {} → min {}, max {} months",
            d.rows
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            d.min_months,
            d.max_months
        ),
        DurationBasis::BelowTable => "below the table's first row: 1 month".to_string(),
        DurationBasis::Planned => "above the table: the planned duration".to_string(),
    };
    f.add("Duration", basis);
    f.add("R", format!("{} months", d.months));
    f.add("Years G", format!("{} ([R/12] + 1)", e.project_years));
    f.add(
        "Salary Зо ср",
        format!("{} a month", kzt(&e.average_monthly_salary)),
    );
    f.add(
        "Inflation Иср",
        format!("{} % a year", e.average_inflation_percent),
    );
    out.push_str(&f.render(style));

    out.push_str(&heading(
        style,
        "Cost per year (6: Зi = Зi-1·(1 + Иср/100); 7: Si = S/G; Si·Зi)",
    ));
    let mut t = Table::new(&["year", "salary", "labour", "cost"]);
    for y in &e.years {
        t.row(vec![
            y.year.to_string().into(),
            group(&y.average_monthly_salary).into(),
            y.labour.clone().into(),
            group(&y.cost).into(),
        ]);
    }
    out.push_str(&t.render(style));

    out.push_str(&heading(style, "Development cost (8: Σ Si·Зi + Сисп.ыт)"));
    let mut f = Fields::new();
    f.add("Works", kzt(&e.works_cost));
    f.add("Testing", kzt(&e.testing_cost));
    f.add_colored("Development cost", kzt(&e.development_cost), Color::Bold);
    out.push_str(&f.render(style));

    let sp = &e.support;
    out.push_str(&heading(style, "Support per year (9, 10; Appendix 4)"));
    let mut f = Fields::new();
    f.add(
        "Product support",
        format!(
            "{} (development cost × N {} × K1 × K7)",
            kzt(&sp.product_support),
            sp.coefficient
        ),
    );
    f.add("System maintenance", kzt(&sp.system_maintenance));
    f.add("Licensed software", kzt(&sp.licensed_software_support));
    f.add_colored("Support per year", kzt(&sp.total), Color::Bold);
    out.push_str(&f.render(style));
    out.push_str(&format!(
        "{}: order 653/НҚ Appendix 3; formula (8) reconstructed, see docs/development-cost.md.\n",
        e.rule
    ));
    for n in &e.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// Thousands separated by spaces, as Kazakhstan writes amounts: 56 239 226.31.
fn group(amount: &str) -> String {
    let (sign, digits) = match amount.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", amount),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(name)
    }

    #[test]
    fn r_est_01_table_shows_every_step_of_the_example() {
        let text = std::fs::read_to_string(example("development-cost/estimate.yaml"))
            .expect("the example exists");
        let e = estimate_yaml(&text).expect("the example estimates");
        let out = render(&e, Style::PLAIN);
        // The numbers are those computed by hand in billing/tests/development.rs.
        for expected in [
            "Product:",
            "school-enrolment",
            "class 2, medium (60 users)",
            "1   business modelling (Бизнесті модельдеу)",
            "717.64",
            "KP2 = 1.2204",
            "77.6526",
            "table rows 2, 3, 4, 5, 6 → min 2, max 6 months",
            "R:",
            "4 months",
            "704 925.00",
            "54 739 226.31",
            "Development cost:  56 239 226.31 KZT",
            "9 532 548.86 KZT",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
        }
        // Columns: the KP column starts at the same character in the header and in the
        // six process rows.
        let kp_columns: Vec<usize> = out
            .lines()
            .filter(|l| l.starts_with("J ") || l.contains(" = 1.") && l.contains("   KP"))
            .filter_map(|l| {
                let byte = l.find("   KP")?;
                Some(l[..byte].chars().count())
            })
            .collect();
        assert_eq!(kp_columns.len(), 7, "{out}");
        assert!(
            kp_columns.iter().all(|&c| c == kp_columns[0]),
            "{kp_columns:?}\n{out}"
        );
    }

    #[test]
    fn r_est_01_json_and_yaml_carry_the_same_estimate() {
        let args = Args {
            file: example("development-cost/estimate.yaml"),
        };
        let json = run(&args, Output::Json).expect("json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["developmentCost"], "56239226.31");
        assert_eq!(v["support"]["total"], "9532548.86");
        assert_eq!(v["duration"]["months"], "4");
        assert_eq!(v["processes"][2]["personHours"], "3327.48");
        let yaml = run(&args, Output::Yaml).expect("yaml");
        let back: DevelopmentEstimate = serde_saphyr::from_str(&yaml).expect("valid YAML");
        assert_eq!(back.development_cost, "56239226.31");
        assert_eq!(
            back,
            estimate_yaml(&std::fs::read_to_string(&args.file).expect("read")).expect("estimate")
        );
    }

    #[test]
    fn r_est_01_refusal_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.yaml");
        std::fs::write(
            &file,
            "size: {C: 1}\nclass: 5\nscale: medium\naverageMonthlySalary: \"1\"\naverageInflationPercent: \"8\"\n",
        )
        .expect("write");
        let err = run(&Args { file: file.clone() }, Output::Table).expect_err("refused");
        let text = format!("{err:#}");
        assert!(text.contains("bad.yaml"), "{text}");
        assert!(text.contains("class: 5 is not a product class"), "{text}");
        assert!(text.contains("use 1, 2 or 3"), "{text}");
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(group("56239226.31"), "56 239 226.31");
        assert_eq!(group("704925.00"), "704 925.00");
        assert_eq!(group("925.00"), "925.00");
        assert_eq!(group("-1000"), "-1 000");
    }
}
