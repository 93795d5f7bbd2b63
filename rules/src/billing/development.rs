//! The development cost calculator of R-EST-01: the methodology of order 653/НҚ,
//! Appendix 3 ("ПБӨ әзірлеу құнын есептеу әдістемесі"), with its Appendices 1-4. Pure.
//!
//! Steps (Appendix 3 p.1-11): the functional size SIZE = {C, E, T, I, N}; the basic labour
//! of each of the six processes, formula (1) (person-hours of Appendix 1 ÷ 165 hours per
//! person-month); the correction coefficients KP1..KP3 from K1..K7 of Appendix 2, formulas
//! (1)-(3) of p.4; the corrected labour S, formula (4); the duration from the table of
//! Appendix 3 and R, the mean of its minimum and maximum (p.7); the project years G, (5);
//! the salary of each year indexed by inflation, (6); the labour per year, (7); the cost
//! of the works, (8), whose formula was an image missing from the text and is
//! reconstructed here; support per year at 15 % (Appendix 4), (10), and the total support
//! (9). Every choice the text leaves open is in `docs/decisions.md` and
//! `docs/development-cost.md`.
//!
//! Numbers are exact: the arithmetic runs on exact decimals of unbounded size ([`Exact`])
//! and a value is rounded only when it is shown, half away from zero (money to the tiyn,
//! person-months to 0.0001). Money that enters a sum (the cost of each year) is rounded
//! once, and the sums are sums of the shown figures, as in the bill (`docs/billing.md`).

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Person-hours in one person-month (Appendix 3 p.3).
pub const HOURS_PER_PERSON_MONTH: u64 = 165;

/// The support labour coefficient N of Appendix 4: 15 %.
pub const SUPPORT_PERCENT: u64 = 15;

/// The longest planned duration accepted above the table, in months (100 years).
pub const MAX_DURATION_MONTHS: u32 = 1200;

const RULE: &str = "R-EST-01";

// ---------------------------------------------------------------------------------------
// The methodology's tables
// ---------------------------------------------------------------------------------------

/// One process of Appendix 1: its labour per unit of each size element, in 0.01
/// person-hours (C, E, T, I, N), and the coefficient KP that corrects it (formula 4).
struct ProcessRow {
    name: &'static str,
    name_kk: &'static str,
    hundredths: [u64; 5],
    kp: Kp,
}

const fn process(
    name: &'static str,
    name_kk: &'static str,
    hundredths: [u64; 5],
    kp: Kp,
) -> ProcessRow {
    ProcessRow {
        name,
        name_kk,
        hundredths,
        kp,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kp {
    Kp1,
    Kp2,
    Kp3,
}

impl Kp {
    fn label(self) -> &'static str {
        match self {
            Kp::Kp1 => "KP1",
            Kp::Kp2 => "KP2",
            Kp::Kp3 => "KP3",
        }
    }
}

/// Appendix 1 of the methodology: labour indicators per process, person-hours per use
/// case, entity type, entity property, interaction and node type.
const PROCESSES: [ProcessRow; 6] = [
    process(
        "business modelling",
        "Бизнесті модельдеу",
        [3212, 2833, 0, 1415, 0],
        Kp::Kp1,
    ),
    process(
        "requirements management",
        "Талаптарды басқару",
        [5803, 2804, 0, 2032, 0],
        Kp::Kp2,
    ),
    process("design", "Жобалау", [4542, 6175, 3135, 3752, 2402], Kp::Kp2),
    process("development", "Даму", [3157, 8151, 5072, 3611, 0], Kp::Kp2),
    process("testing", "Тестілеу", [8896, 0, 0, 0, 0], Kp::Kp2),
    process("deployment", "Іске асыру", [869, 0, 0, 0, 2374], Kp::Kp3),
];

/// Appendix 2: K2..K7 in hundredths, by class 1, 2, 3.
const K2: [u64; 3] = [105, 100, 98];
const K3: [u64; 3] = [103, 100, 97];
const K4: [u64; 3] = [100, 108, 113];
const K5: [u64; 3] = [115, 100, 92];
const K6: [u64; 3] = [112, 100, 98];
const K7: [u64; 3] = [116, 113, 100];

/// Appendix 3 of the methodology: development months and the labour range (person-months,
/// both ends included) of each row.
pub const DURATION_TABLE: [(u32, u64, u64); 6] = [
    (1, 5, 30),
    (2, 10, 80),
    (3, 17, 140),
    (4, 26, 210),
    (5, 37, 280),
    (6, 50, 340),
];

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

/// The scale of a product (K1, Appendix 2 row 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scale {
    /// 11 to 100 users (K1 = 1).
    Medium,
    /// 101 to 1000 users (K1 = 1.05).
    Large,
    /// More than 1000 users (K1 = 1.08).
    VeryLarge,
}

impl Scale {
    /// The scale of a number of users; fewer than 11 users count as medium (K1 = 1).
    pub fn of_users(users: u64) -> Scale {
        match users {
            0..=100 => Scale::Medium,
            101..=1000 => Scale::Large,
            _ => Scale::VeryLarge,
        }
    }

    fn k1_hundredths(self) -> u64 {
        match self {
            Scale::Medium => 100,
            Scale::Large => 105,
            Scale::VeryLarge => 108,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scale::Medium => "medium",
            Scale::Large => "large",
            Scale::VeryLarge => "veryLarge",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SIZE = {C, E, T, I, N} as written (Appendix 3 p.2); checked by [`estimate`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SizeInput {
    /// C: use cases.
    #[serde(default, alias = "C")]
    pub use_cases: i64,
    /// E: entity (business object) types.
    #[serde(default, alias = "E")]
    pub entity_types: i64,
    /// T: properties of the entity types.
    #[serde(default, alias = "T")]
    pub entity_properties: i64,
    /// I: interactions between entity types.
    #[serde(default, alias = "I")]
    pub interactions: i64,
    /// N: node types.
    #[serde(default, alias = "N")]
    pub node_types: i64,
}

/// The calculator's input as written (YAML, camelCase). Decimal amounts are text, so no
/// float ever touches them; [`estimate`] checks every field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevelopmentInput {
    /// The product, shown in the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SIZE = {C, E, T, I, N}.
    pub size: SizeInput,
    /// The product's class, 1 to 3 (K2..K7).
    pub class: i64,
    /// The scale (K1); or give `users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// The number of users, mapped to the scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<i64>,
    /// Зо ср: the average monthly salary of an engineer-programmer in the last completed
    /// year, tenge (stat.gov.kz).
    pub average_monthly_salary: String,
    /// Иср: the average inflation of the last three completed years, percent per year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_inflation_percent: Option<String>,
    /// Or the three yearly inflation rates, percent; their mean is Иср.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflation_percent_by_year: Option<Vec<String>>,
    /// Сисп.ыт: the cost of testing the product, tenge (0 when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testing_cost: Option<String>,
    /// Ссто: system and technical maintenance per year, tenge (formula 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_maintenance_cost: Option<String>,
    /// Слпо: technical support of licensed software per year, tenge (formula 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed_software_support_cost: Option<String>,
    /// The planned duration in months, only when S is above the duration table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_months: Option<i64>,
}

impl DevelopmentInput {
    /// Reads the input from YAML.
    pub fn from_yaml(text: &str) -> Result<Self, DevelopmentError> {
        serde_saphyr::from_str(text).map_err(|e| DevelopmentError::Yaml {
            message: e.to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Why an estimate was refused: the field, the value, the rule and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevelopmentError {
    /// The YAML does not fit the input.
    #[error(
        "the input does not fit the calculator (R-EST-01): {message}; see examples/development-cost/estimate.yaml"
    )]
    Yaml {
        /// The parser's message, with the line.
        message: String,
    },
    /// A size element below zero.
    #[error(
        "size.{field}: {value} is negative: a count of the functional size is 0 or more (R-EST-01, 000 App.3 p.2)"
    )]
    NegativeCount {
        /// The field.
        field: &'static str,
        /// The value.
        value: i64,
    },
    /// Every size element is zero.
    #[error(
        "size: C, E, T, I and N are all 0, so there is nothing to estimate (R-EST-01, 000 App.3 p.2): give the counts of use cases, entity types, their properties, interactions and node types from the reengineered business process"
    )]
    EmptySize,
    /// Not a class of the classifier.
    #[error(
        "class: {value} is not a product class (R-EST-01, 000 App.3 Appendix 2): use 1, 2 or 3"
    )]
    Class {
        /// The value.
        value: i64,
    },
    /// Neither scale nor users.
    #[error(
        "scale: missing (R-EST-01, 000 App.3 Appendix 2, K1): give scale (medium, large or veryLarge) or users (the number of users)"
    )]
    NoScale,
    /// A number of users below one.
    #[error("users: {value} is not a number of users (R-EST-01, K1): give 1 or more")]
    Users {
        /// The value.
        value: i64,
    },
    /// Scale and users disagree.
    #[error(
        "scale: {scale} contradicts users: {users}, which is {implied} (R-EST-01, K1: medium is 11-100 users, large 101-1000, veryLarge more than 1000): give one of them, or make them agree"
    )]
    ScaleMismatch {
        /// The scale given.
        scale: Scale,
        /// The users given.
        users: i64,
        /// The scale of the users.
        implied: Scale,
    },
    /// Text that is not a plain decimal.
    #[error(
        "{field}: {value:?} is not a decimal number such as \"650000\" or \"8.45\" (R-EST-01): digits with an optional point, no exponent, spaces or commas"
    )]
    NotDecimal {
        /// The field.
        field: String,
        /// The value.
        value: String,
    },
    /// Too many decimals.
    #[error("{field}: {value:?} has more than {max} decimals (R-EST-01): {fix}")]
    TooManyDecimals {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// The most decimals allowed.
        max: u32,
        /// The fix.
        fix: &'static str,
    },
    /// An amount that must be positive or zero.
    #[error("{field}: {value:?} must be {bound} (R-EST-01)")]
    OutOfRange {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// The bound, in words.
        bound: &'static str,
    },
    /// An inflation rate that is a price index or impossible.
    #[error(
        "{field}: {value:?} is not an inflation rate in percent (R-EST-01, 000 App.3 p.8, formula 6): give a rate above -100 and below 100, e.g. \"8.6\" for prices 8.6 % higher; a price index (previous year = 100) such as 108.6 is the rate + 100"
    )]
    Inflation {
        /// The field.
        field: String,
        /// The value.
        value: String,
    },
    /// Inflation given twice or not at all.
    #[error(
        "averageInflationPercent: {problem} (R-EST-01, 000 App.3 p.8): give either averageInflationPercent (Иср) or inflationPercentByYear (the three last completed years)"
    )]
    InflationSource {
        /// What is wrong.
        problem: &'static str,
    },
    /// Not three years.
    #[error(
        "inflationPercentByYear: {count} values; Иср is the mean of the last three completed years (R-EST-01, 000 App.3 p.8): give exactly three"
    )]
    InflationYears {
        /// How many were given.
        count: usize,
    },
    /// S is above the duration table and no planned duration was given.
    #[error(
        "the corrected labour S = {labour} person-months is above the duration table of 000 App.3 Appendix 3, which ends at 340 person-months in 6 months (R-EST-01): give durationMonths, the planned development time in months (6 to 1200), or estimate the product in releases of at most 340 person-months"
    )]
    AboveDurationTable {
        /// S, person-months.
        labour: String,
    },
    /// A planned duration where the table decides.
    #[error(
        "durationMonths: {value} is given, but the corrected labour S = {labour} person-months is within the duration table of 000 App.3 Appendix 3, which gives R (R-EST-01): remove durationMonths"
    )]
    DurationNotNeeded {
        /// The value.
        value: i64,
        /// S, person-months.
        labour: String,
    },
    /// A planned duration shorter than the table's last row or absurdly long.
    #[error(
        "durationMonths: {value} is out of range (R-EST-01): above the table's 340 person-months development takes at least 6 months (its last row); give 6 to 1200"
    )]
    Duration {
        /// The value.
        value: i64,
    },
    /// A result too large for a decimal amount.
    #[error("{what} is too large to show as a decimal amount (R-EST-01): check the input")]
    TooLarge {
        /// The result.
        what: &'static str,
    },
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// SIZE = {C, E, T, I, N}, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Size {
    /// C.
    pub use_cases: u64,
    /// E.
    pub entity_types: u64,
    /// T.
    pub entity_properties: u64,
    /// I.
    pub interactions: u64,
    /// N.
    pub node_types: u64,
}

impl Size {
    fn counts(&self) -> [u64; 5] {
        [
            self.use_cases,
            self.entity_types,
            self.entity_properties,
            self.interactions,
            self.node_types,
        ]
    }
}

/// The labour of one process (formula 1) and its correction (formula 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessLabour {
    /// j, 1 to 6.
    pub number: u32,
    /// The process, in English.
    pub name: String,
    /// The process, as in Appendix 1.
    pub name_kk: String,
    /// C·Sj(C) + E·Sj(E) + T·Sj(T) + I·Sj(I) + N·Sj(N), person-hours, exact.
    pub person_hours: String,
    /// Sj = person-hours / 165, person-months (0.0001).
    pub labour: String,
    /// KP1, KP2 or KP3.
    pub coefficient: String,
    /// Its value, exact.
    pub coefficient_value: String,
    /// KPj·Sj, person-months (0.0001).
    pub corrected_labour: String,
}

/// K1..K7 (Appendix 2) and KP1..KP3 (p.4, formulas 1-3), exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coefficients {
    /// Scale.
    pub k1: String,
    /// Protection from unauthorized access.
    pub k2: String,
    /// Protection of programs and data.
    pub k3: String,
    /// Audit trail of operations.
    pub k4: String,
    /// Fault tolerance.
    pub k5: String,
    /// Recovery.
    pub k6: String,
    /// Criticality.
    pub k7: String,
    /// KP1 = K7.
    pub kp1: String,
    /// KP2 = K1·K2·K3·K4·K5·K6·K7.
    pub kp2: String,
    /// KP3 = K1·K7.
    pub kp3: String,
}

/// Where the duration R came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DurationBasis {
    /// The rows of the table whose range contains S.
    Table,
    /// S is below the table's first row (5 person-months): one month.
    BelowTable,
    /// S is above the table: the planned duration of the input.
    Planned,
}

/// The duration (p.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Duration {
    /// The fewest months of the matching rows.
    pub min_months: u32,
    /// The most months of the matching rows.
    pub max_months: u32,
    /// R = (min + max) / 2, months.
    pub months: String,
    /// The rows (months) whose range contains S; empty outside the table.
    pub rows: Vec<u32>,
    /// Where R came from.
    pub basis: DurationBasis,
}

/// One year of the project (formulas 6-8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct YearCost {
    /// i, 1 to G.
    pub year: u32,
    /// Зi ср = Зо ср·(1 + Иср/100)^i, tenge per month (shown to the tiyn; exact inside).
    pub average_monthly_salary: String,
    /// Si = S / G, person-months (0.0001).
    pub labour: String,
    /// Si·Зi ср, tenge, rounded to the tiyn.
    pub cost: String,
}

/// Support per year (p.10-11, formulas 9-10, Appendix 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Support {
    /// N, the support labour coefficient: 0.15.
    pub coefficient: String,
    /// Ссппп = development cost·N·K1·K7 (10), tenge per year.
    pub product_support: String,
    /// Ссто, tenge per year (input).
    pub system_maintenance: String,
    /// Слпо, tenge per year (input).
    pub licensed_software_support: String,
    /// Сспп = Ссппп + Ссто + Слпо (9), tenge per year.
    pub total: String,
}

/// The result of the calculator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevelopmentEstimate {
    /// The product, from the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// R-EST-01.
    pub rule: String,
    /// SIZE.
    pub size: Size,
    /// 1, 2 or 3.
    pub class: u8,
    /// The scale used for K1.
    pub scale: Scale,
    /// The number of users, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Formula (1) and the correction of each process.
    pub processes: Vec<ProcessLabour>,
    /// K1..K7, KP1..KP3.
    pub coefficients: Coefficients,
    /// Σ Sj, person-months (0.0001).
    pub basic_labour: String,
    /// S, formula (4), person-months (0.0001).
    pub labour: String,
    /// The duration (p.7).
    pub duration: Duration,
    /// G = [R/12] + 1, formula (5).
    pub project_years: u32,
    /// Зо ср, tenge.
    pub average_monthly_salary: String,
    /// Иср, percent.
    pub average_inflation_percent: String,
    /// Formulas (6)-(7) and the cost of each year.
    pub years: Vec<YearCost>,
    /// Σ Si·Зi ср, tenge.
    pub works_cost: String,
    /// Сисп.ыт, tenge.
    pub testing_cost: String,
    /// The cost of developing the product, formula (8) as reconstructed: Σ Si·Зi ср + Сисп.ыт.
    pub development_cost: String,
    /// Support per year.
    pub support: Support,
    /// KZT.
    pub currency: String,
    /// What the reader should know about this estimate.
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// The calculator
// ---------------------------------------------------------------------------------------

/// Estimates the development cost of a product (R-EST-01).
pub fn estimate(input: &DevelopmentInput) -> Result<DevelopmentEstimate, DevelopmentError> {
    let mut notes = Vec::new();
    let size = check_size(&input.size)?;
    let class = match input.class {
        1..=3 => input.class as usize,
        value => return Err(DevelopmentError::Class { value }),
    };
    let (scale, users) = check_scale(input.scale, input.users, &mut notes)?;
    let salary = money(
        "averageMonthlySalary",
        &input.average_monthly_salary,
        Sign::Positive,
    )?;
    let inflation = inflation(input, &mut notes)?;
    let testing = optional_money("testingCost", input.testing_cost.as_deref())?;
    if input.testing_cost.is_none() {
        notes.push(
            "testingCost (Сисп.ыт) was not given: the development cost includes no testing cost"
                .to_string(),
        );
    }
    let maintenance = optional_money(
        "systemMaintenanceCost",
        input.system_maintenance_cost.as_deref(),
    )?;
    let licences = optional_money(
        "licensedSoftwareSupportCost",
        input.licensed_software_support_cost.as_deref(),
    )?;

    // Coefficients, exact, in hundredths.
    let c = class - 1;
    let k1 = scale.k1_hundredths();
    let ks = [k1, K2[c], K3[c], K4[c], K5[c], K6[c], K7[c]];
    let k: Vec<Exact> = ks.iter().map(|&v| Exact::new(v, 2)).collect();
    let kp1 = k[6].clone();
    let kp2 = k.iter().fold(Exact::new(1, 0), |acc, x| acc.mul(x));
    let kp3 = k[0].mul(&k[6]);

    // Formula (1) per process, and formula (4).
    let counts = size.counts();
    let mut processes = Vec::with_capacity(PROCESSES.len());
    let mut basic_hours = Exact::zero();
    let mut corrected_hours = Exact::zero();
    for (j, row) in PROCESSES.iter().enumerate() {
        let hundredths: u128 = counts
            .iter()
            .zip(row.hundredths)
            .map(|(&n, h)| u128::from(n) * u128::from(h))
            .sum();
        let hours = Exact::from_u128(hundredths, 2);
        let kp = match row.kp {
            Kp::Kp1 => &kp1,
            Kp::Kp2 => &kp2,
            Kp::Kp3 => &kp3,
        };
        let corrected = hours.mul(kp);
        processes.push(ProcessLabour {
            number: j as u32 + 1,
            name: row.name.to_string(),
            name_kk: row.name_kk.to_string(),
            person_hours: hours.to_string(),
            labour: hours.div_round(HOURS_PER_PERSON_MONTH, 4),
            coefficient: row.kp.label().to_string(),
            coefficient_value: kp.to_string(),
            corrected_labour: corrected.div_round(HOURS_PER_PERSON_MONTH, 4),
        });
        basic_hours = basic_hours.add(&hours);
        corrected_hours = corrected_hours.add(&corrected);
    }
    let labour = corrected_hours.div_round(HOURS_PER_PERSON_MONTH, 4);

    // The duration (p.7): compare S·165 with the table's bounds·165, exactly.
    let duration = duration(&corrected_hours, &labour, input.duration_months, &mut notes)?;
    // R in half months: the mean of two whole months.
    let r_halves = match duration.basis {
        DurationBasis::Planned => 2 * duration.min_months,
        _ => duration.min_months + duration.max_months,
    };
    // Formula (5): G = [R/12] + 1 = [R_halves/24] + 1.
    let years = r_halves / 24 + 1;

    // Formulas (6)-(8): Зi = Зi-1·(1 + Иср/100), Si = S/G, cost = Σ Si·Зi + Сисп.ыт.
    let growth = Exact::new(10_000, 4)
        .add_signed(&inflation.hundredths_percent_as_fraction())
        .expect_non_negative();
    let mut year_salary = Exact::from_decimal(salary);
    let mut year_costs = Vec::with_capacity(years as usize);
    let mut works = Decimal::ZERO;
    for i in 1..=years {
        year_salary = year_salary.mul(&growth);
        // Si·Зi = S_hours·Зi / (165·G).
        let divisor = HOURS_PER_PERSON_MONTH * u64::from(years);
        let cost_text = corrected_hours.mul(&year_salary).div_round(divisor, 2);
        let cost = parse_result(&cost_text, "the cost of a year")?;
        works = works.checked_add(cost).ok_or(DevelopmentError::TooLarge {
            what: "the cost of the works",
        })?;
        year_costs.push(YearCost {
            year: i,
            average_monthly_salary: year_salary.div_round(1, 2),
            labour: corrected_hours.div_round(divisor, 4),
            cost: cost_text,
        });
    }
    let development = works
        .checked_add(testing)
        .ok_or(DevelopmentError::TooLarge {
            what: "the development cost",
        })?;

    // Formula (10): Ссппп = Сппп·N·K1·K7, from the development cost as shown; (9) adds the
    // inputs.
    let product_support_text = Exact::from_decimal(development)
        .mul(&Exact::new(SUPPORT_PERCENT, 2))
        .mul(&k[0])
        .mul(&k[6])
        .div_round(1, 2);
    let product_support = parse_result(&product_support_text, "the support cost")?;
    let support_total = product_support
        .checked_add(maintenance)
        .and_then(|v| v.checked_add(licences))
        .ok_or(DevelopmentError::TooLarge {
            what: "the support cost",
        })?;

    if years > 1 {
        notes.push(format!(
            "the project spans {years} years (G = [R/12] + 1): the labour is split equally and each year's salary is indexed by inflation once more"
        ));
    }

    Ok(DevelopmentEstimate {
        name: input.name.clone(),
        rule: RULE.to_string(),
        size,
        class: class as u8,
        scale,
        users,
        processes,
        coefficients: Coefficients {
            k1: k[0].to_string(),
            k2: k[1].to_string(),
            k3: k[2].to_string(),
            k4: k[3].to_string(),
            k5: k[4].to_string(),
            k6: k[5].to_string(),
            k7: k[6].to_string(),
            kp1: kp1.to_string(),
            kp2: kp2.to_string(),
            kp3: kp3.to_string(),
        },
        basic_labour: basic_hours.div_round(HOURS_PER_PERSON_MONTH, 4),
        labour,
        duration,
        project_years: years,
        average_monthly_salary: tiyn(salary),
        average_inflation_percent: inflation.text,
        years: year_costs,
        works_cost: tiyn(works),
        testing_cost: tiyn(testing),
        development_cost: tiyn(development),
        support: Support {
            coefficient: Exact::new(SUPPORT_PERCENT, 2).to_string(),
            product_support: product_support_text,
            system_maintenance: tiyn(maintenance),
            licensed_software_support: tiyn(licences),
            total: tiyn(support_total),
        },
        currency: "KZT".to_string(),
        notes,
    })
}

/// Reads YAML and estimates.
pub fn estimate_yaml(text: &str) -> Result<DevelopmentEstimate, DevelopmentError> {
    estimate(&DevelopmentInput::from_yaml(text)?)
}

fn check_size(size: &SizeInput) -> Result<Size, DevelopmentError> {
    let count = |field: &'static str, value: i64| {
        u64::try_from(value).map_err(|_| DevelopmentError::NegativeCount { field, value })
    };
    let checked = Size {
        use_cases: count("useCases", size.use_cases)?,
        entity_types: count("entityTypes", size.entity_types)?,
        entity_properties: count("entityProperties", size.entity_properties)?,
        interactions: count("interactions", size.interactions)?,
        node_types: count("nodeTypes", size.node_types)?,
    };
    if checked.counts().iter().all(|&n| n == 0) {
        return Err(DevelopmentError::EmptySize);
    }
    Ok(checked)
}

fn check_scale(
    scale: Option<Scale>,
    users: Option<i64>,
    notes: &mut Vec<String>,
) -> Result<(Scale, Option<u64>), DevelopmentError> {
    let users = match users {
        None => None,
        Some(value) if value < 1 => return Err(DevelopmentError::Users { value }),
        Some(value) => Some((value, value as u64)),
    };
    match (scale, users) {
        (None, None) => Err(DevelopmentError::NoScale),
        (Some(scale), None) => Ok((scale, None)),
        (scale, Some((raw, users))) => {
            let implied = Scale::of_users(users);
            if let Some(scale) = scale
                && scale != implied
            {
                return Err(DevelopmentError::ScaleMismatch {
                    scale,
                    users: raw,
                    implied,
                });
            }
            if users <= 10 {
                notes.push(format!(
                    "{users} users is below the smallest scale of K1 (11-100 users): counted as medium, K1 = 1"
                ));
            }
            Ok((implied, Some(users)))
        }
    }
}

/// Иср, checked, with its text and value in hundredths of a percent.
struct Inflation {
    text: String,
    hundredths: i64,
}

impl Inflation {
    /// Иср/100 as an exact decimal with 4 places (may be negative: deflation).
    fn hundredths_percent_as_fraction(&self) -> SignedExact {
        SignedExact {
            negative: self.hundredths < 0,
            value: Exact::new(self.hundredths.unsigned_abs(), 4),
        }
    }
}

fn inflation(
    input: &DevelopmentInput,
    notes: &mut Vec<String>,
) -> Result<Inflation, DevelopmentError> {
    let rate = |field: String, text: &str| -> Result<i64, DevelopmentError> {
        let value = decimal(&field, text, 2, "give the rate to 0.01 %")?;
        let hundredths = value.mantissa() * 10i128.pow(2 - value.scale());
        if hundredths <= -10_000 || hundredths >= 10_000 {
            return Err(DevelopmentError::Inflation {
                field,
                value: text.to_string(),
            });
        }
        Ok(hundredths as i64)
    };
    match (
        &input.average_inflation_percent,
        &input.inflation_percent_by_year,
    ) {
        (Some(_), Some(_)) => Err(DevelopmentError::InflationSource {
            problem: "given together with inflationPercentByYear",
        }),
        (None, None) => Err(DevelopmentError::InflationSource { problem: "missing" }),
        (Some(text), None) => {
            let hundredths = rate("averageInflationPercent".to_string(), text)?;
            Ok(Inflation {
                text: percent_text(hundredths),
                hundredths,
            })
        }
        (None, Some(years)) => {
            if years.len() != 3 {
                return Err(DevelopmentError::InflationYears { count: years.len() });
            }
            let mut sum = 0i64;
            for (i, text) in years.iter().enumerate() {
                sum += rate(format!("inflationPercentByYear[{i}]"), text)?;
            }
            // The mean to 0.01 %, half away from zero.
            let hundredths = div_half_away(sum, 3);
            notes.push(format!(
                "Иср = ({}) / 3 = {} %, rounded to 0.01 % half away from zero",
                years.join(" + "),
                percent_text(hundredths)
            ));
            Ok(Inflation {
                text: percent_text(hundredths),
                hundredths,
            })
        }
    }
}

fn div_half_away(n: i64, d: i64) -> i64 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

fn percent_text(hundredths: i64) -> String {
    let sign = if hundredths < 0 { "-" } else { "" };
    let abs = hundredths.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn duration(
    corrected_hours: &Exact,
    labour: &str,
    planned: Option<i64>,
    notes: &mut Vec<String>,
) -> Result<Duration, DevelopmentError> {
    let bound = |person_months: u64| {
        Exact::from_u128(u128::from(person_months * HOURS_PER_PERSON_MONTH), 0)
    };
    let rows: Vec<u32> = DURATION_TABLE
        .iter()
        .filter(|&&(_, lo, hi)| {
            corrected_hours.cmp(&bound(lo)) != Ordering::Less
                && corrected_hours.cmp(&bound(hi)) != Ordering::Greater
        })
        .map(|&(months, _, _)| months)
        .collect();
    let (first_lo, last_hi) = (DURATION_TABLE[0].1, DURATION_TABLE[5].2);
    let above = corrected_hours.cmp(&bound(last_hi)) == Ordering::Greater;
    if let Some(value) = planned {
        if !above {
            return Err(DevelopmentError::DurationNotNeeded {
                value,
                labour: labour.to_string(),
            });
        }
        let months = u32::try_from(value)
            .ok()
            .filter(|m| (6..=MAX_DURATION_MONTHS).contains(m))
            .ok_or(DevelopmentError::Duration { value })?;
        notes.push(format!(
            "S is above the duration table (340 person-months): R = {months} months, the planned duration given"
        ));
        return Ok(Duration {
            min_months: months,
            max_months: months,
            months: months.to_string(),
            rows: Vec::new(),
            basis: DurationBasis::Planned,
        });
    }
    if above {
        return Err(DevelopmentError::AboveDurationTable {
            labour: labour.to_string(),
        });
    }
    let (min, max, basis) = match (rows.first(), rows.last()) {
        (Some(&min), Some(&max)) => (min, max, DurationBasis::Table),
        _ => {
            notes.push(format!(
                "S is below the duration table's first row ({first_lo} person-months): one month"
            ));
            (1, 1, DurationBasis::BelowTable)
        }
    };
    if rows.len() > 1 {
        notes.push(format!(
            "S lies in {} rows of the duration table ({} to {} months): R is their mean",
            rows.len(),
            min,
            max
        ));
    }
    let halves = min + max;
    let months = if halves % 2 == 0 {
        (halves / 2).to_string()
    } else {
        format!("{}.5", halves / 2)
    };
    Ok(Duration {
        min_months: min,
        max_months: max,
        months,
        rows,
        basis,
    })
}

#[derive(Clone, Copy)]
enum Sign {
    Positive,
    NonNegative,
}

fn money(field: &str, text: &str, sign: Sign) -> Result<Decimal, DevelopmentError> {
    let value = decimal(field, text, 2, "amounts are tenge to the tiyn (0.01)")?;
    let ok = match sign {
        Sign::Positive => value > Decimal::ZERO,
        Sign::NonNegative => value >= Decimal::ZERO,
    };
    if !ok {
        return Err(DevelopmentError::OutOfRange {
            field: field.to_string(),
            value: text.to_string(),
            bound: match sign {
                Sign::Positive => "more than 0 tenge",
                Sign::NonNegative => "0 tenge or more",
            },
        });
    }
    Ok(value)
}

fn optional_money(field: &str, text: Option<&str>) -> Result<Decimal, DevelopmentError> {
    text.map_or(Ok(Decimal::ZERO), |t| money(field, t, Sign::NonNegative))
}

/// A plain decimal: optional minus, digits, optional point and digits; nothing else.
fn decimal(
    field: &str,
    text: &str,
    max: u32,
    fix: &'static str,
) -> Result<Decimal, DevelopmentError> {
    let not_decimal = || DevelopmentError::NotDecimal {
        field: field.to_string(),
        value: text.to_string(),
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && frac.is_empty())
    {
        return Err(not_decimal());
    }
    if frac.len() > max as usize {
        return Err(DevelopmentError::TooManyDecimals {
            field: field.to_string(),
            value: text.to_string(),
            max,
            fix,
        });
    }
    Decimal::from_str_exact(text).map_err(|_| not_decimal())
}

fn parse_result(text: &str, what: &'static str) -> Result<Decimal, DevelopmentError> {
    Decimal::from_str_exact(text).map_err(|_| DevelopmentError::TooLarge { what })
}

/// A money amount shown to the tiyn.
fn tiyn(value: Decimal) -> String {
    let mut v = value;
    v.rescale(2);
    v.to_string()
}

// ---------------------------------------------------------------------------------------
// Exact decimals of any size
// ---------------------------------------------------------------------------------------

/// A non-negative exact decimal: `digits` × 10^-`scale`, the digits most significant
/// first. Products of the methodology's factors (hours, seven coefficients, the salary
/// indexed year after year) outgrow the 28 digits of `rust_decimal`; this type never
/// rounds, and [`Exact::div_round`] is the one place where a value is rounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exact {
    digits: Vec<u8>,
    scale: u32,
}

/// A signed exact decimal, only to add a negative inflation rate to 1.
struct SignedExact {
    negative: bool,
    value: Exact,
}

impl Exact {
    /// `value` × 10^-`scale`.
    pub fn new(value: u64, scale: u32) -> Exact {
        Exact::from_u128(u128::from(value), scale)
    }

    /// `value` × 10^-`scale`.
    pub fn from_u128(value: u128, scale: u32) -> Exact {
        let digits = if value == 0 {
            Vec::new()
        } else {
            value.to_string().bytes().map(|b| b - b'0').collect()
        };
        Exact { digits, scale }
    }

    /// Zero.
    pub fn zero() -> Exact {
        Exact {
            digits: Vec::new(),
            scale: 0,
        }
    }

    /// A non-negative `Decimal`, exactly (negative values are taken as their magnitude).
    pub fn from_decimal(value: Decimal) -> Exact {
        Exact::from_u128(value.mantissa().unsigned_abs(), value.scale())
    }

    /// The digits at `scale`, which must be at least `self.scale`.
    fn at_scale(&self, scale: u32) -> Vec<u8> {
        let mut d = self.digits.clone();
        if !d.is_empty() {
            d.extend(std::iter::repeat_n(0, (scale - self.scale) as usize));
        }
        d
    }

    /// The exact product.
    pub fn mul(&self, other: &Exact) -> Exact {
        if self.digits.is_empty() || other.digits.is_empty() {
            return Exact::zero();
        }
        let (a, b) = (&self.digits, &other.digits);
        // Little-endian accumulation, then carries.
        let mut acc = vec![0u64; a.len() + b.len()];
        for (i, &x) in a.iter().rev().enumerate() {
            for (j, &y) in b.iter().rev().enumerate() {
                acc[i + j] += u64::from(x) * u64::from(y);
            }
        }
        let mut carry = 0u64;
        for slot in acc.iter_mut() {
            let v = *slot + carry;
            *slot = v % 10;
            carry = v / 10;
        }
        while carry > 0 {
            acc.push(carry % 10);
            carry /= 10;
        }
        Exact::from_little_endian(acc, self.scale + other.scale)
    }

    /// The exact sum.
    pub fn add(&self, other: &Exact) -> Exact {
        let scale = self.scale.max(other.scale);
        let a: Vec<u8> = self.at_scale(scale).into_iter().rev().collect();
        let b: Vec<u8> = other.at_scale(scale).into_iter().rev().collect();
        let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
        let mut carry = 0u64;
        for i in 0..a.len().max(b.len()) {
            let v = u64::from(*a.get(i).unwrap_or(&0)) + u64::from(*b.get(i).unwrap_or(&0)) + carry;
            out.push(v % 10);
            carry = v / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        Exact::from_little_endian(out, scale)
    }

    fn from_little_endian(le: Vec<u64>, scale: u32) -> Exact {
        let mut digits: Vec<u8> = le.into_iter().rev().map(|d| d as u8).collect();
        let zeros = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..zeros);
        Exact { digits, scale }
    }

    /// The exact value / `divisor`, rounded to `places` decimals, half away from zero,
    /// as text with exactly `places` decimals.
    pub fn div_round(&self, divisor: u64, places: u32) -> String {
        let d = u128::from(divisor.max(1));
        // value·10^places = digits·10^(places − scale).
        let (high, low): (Vec<u8>, Vec<u8>) = if places >= self.scale {
            (self.at_scale(places), Vec::new())
        } else {
            let cut = (self.scale - places) as usize;
            let n = self.digits.len();
            if n > cut {
                (
                    self.digits[..n - cut].to_vec(),
                    self.digits[n - cut..].to_vec(),
                )
            } else {
                let mut low = vec![0u8; cut - n];
                low.extend_from_slice(&self.digits);
                (Vec::new(), low)
            }
        };
        // high / d by long division; low are the digits below the last place.
        let mut quotient = Vec::with_capacity(high.len());
        let mut rem: u128 = 0;
        for &digit in &high {
            let cur = rem * 10 + u128::from(digit);
            quotient.push((cur / d) as u8);
            rem = cur % d;
        }
        // The fraction left is (rem + 0.low) / d; it is at least a half when
        // 2·rem + 2·0.low ≥ d. 2·0.low is in [0, 2): decide by its first digit.
        let low_first = low.first().copied().unwrap_or(0);
        let twice = 2 * rem;
        let up = if twice >= d {
            true
        } else if twice + 1 == d {
            // Exactly half missing: 2·0.low ≥ 1 ⇔ 0.low ≥ 0.5.
            low_first >= 5
        } else {
            // twice ≤ d − 2 and 2·0.low < 2, so the fraction is below a half.
            false
        };
        let mut le: Vec<u64> = quotient.into_iter().rev().map(u64::from).collect();
        if up {
            let mut i = 0;
            loop {
                if i == le.len() {
                    le.push(1);
                    break;
                }
                if le[i] == 9 {
                    le[i] = 0;
                    i += 1;
                } else {
                    le[i] += 1;
                    break;
                }
            }
        }
        let rounded = Exact::from_little_endian(le, places);
        rounded.fixed(places)
    }

    /// The text with exactly `places` decimals; `places` must be at least `self.scale`.
    fn fixed(&self, places: u32) -> String {
        let mut d: Vec<u8> = self.at_scale(places);
        let places = places as usize;
        if d.len() <= places {
            let mut padded = vec![0u8; places + 1 - d.len()];
            padded.extend(d);
            d = padded;
        }
        let int: String = d[..d.len() - places]
            .iter()
            .map(|x| char::from(b'0' + x))
            .collect();
        let frac: String = d[d.len() - places..]
            .iter()
            .map(|x| char::from(b'0' + x))
            .collect();
        if places == 0 {
            int
        } else {
            format!("{int}.{frac}")
        }
    }

    /// Exact order.
    fn cmp(&self, other: &Exact) -> Ordering {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.at_scale(scale), other.at_scale(scale));
        a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
    }
}

impl SignedExact {
    /// Only ever called with a magnitude below 1 added to 1: the result is positive.
    fn expect_non_negative(self) -> Exact {
        self.value
    }
}

impl Exact {
    fn add_signed(&self, other: &SignedExact) -> SignedExact {
        if !other.negative {
            return SignedExact {
                negative: false,
                value: self.add(&other.value),
            };
        }
        // self − other, with self ≥ other (1 minus a rate below 100 %).
        let scale = self.scale.max(other.value.scale);
        let a: Vec<u8> = self.at_scale(scale).into_iter().rev().collect();
        let b: Vec<u8> = other.value.at_scale(scale).into_iter().rev().collect();
        let mut out = Vec::with_capacity(a.len());
        let mut borrow = 0i64;
        for (i, &digit) in a.iter().enumerate() {
            let mut v = i64::from(digit) - i64::from(*b.get(i).unwrap_or(&0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 10;
                borrow = 1;
            }
            out.push(v as u64);
        }
        SignedExact {
            negative: false,
            value: Exact::from_little_endian(out, scale),
        }
    }
}

impl fmt::Display for Exact {
    /// The exact value without trailing zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.fixed(self.scale);
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_arithmetic_is_exact_beyond_28_digits() {
        // 1.0845^10 has 40 decimals, beyond the 28 digits of rust_decimal.
        let m = Exact::new(10_845, 4);
        let mut p = Exact::new(1, 0);
        for _ in 0..10 {
            p = p.mul(&m);
        }
        assert_eq!(p.scale, 40);
        // python3: Decimal('1.0845')**10 with prec=60
        assert_eq!(p.to_string(), "2.2505857436513231438123437910339853515625");
        assert_eq!(p.div_round(1, 4), "2.2506");
        assert_eq!(Exact::new(999, 2).add(&Exact::new(1, 2)).to_string(), "10");
    }

    #[test]
    fn div_round_is_half_away_from_zero_on_exact_ties() {
        // 0.005 → 0.01; 0.00499… → 0.00; 1/3 → 0.33; 2/3 → 0.67; 165/330 = 0.5 → 1.
        assert_eq!(Exact::new(5, 3).div_round(1, 2), "0.01");
        assert_eq!(Exact::new(4999, 6).div_round(1, 2), "0.00");
        assert_eq!(Exact::new(1, 0).div_round(3, 2), "0.33");
        assert_eq!(Exact::new(2, 0).div_round(3, 2), "0.67");
        assert_eq!(Exact::new(165, 0).div_round(330, 0), "1");
        // 0.0165 / 330 · 100 = 0.005 exactly → 0.01 (the tie decided by the low digits).
        assert_eq!(Exact::new(165, 2).div_round(330, 2), "0.01");
        // 1.6499 / 330 = 0.0049997… → 0.00
        assert_eq!(Exact::new(16499, 4).div_round(330, 2), "0.00");
        assert_eq!(Exact::new(9995, 3).div_round(1, 2), "10.00");
        assert_eq!(Exact::zero().div_round(7, 2), "0.00");
    }

    /// Appendix 3's table at its bounds, from exact person-hours (S·165):
    /// 825 h = 5 → row 1 only (row 2 starts at 10); 824.99 h → below, 1 month;
    /// 4950 h = 30 → rows 1-4 (row 4 starts at 26, row 1 ends at 30) → R = 2.5;
    /// 4950.01 h → rows 2-4 → R = 3; 56100 h = 340 → row 6 → R = 6; 56100.01 h → refused.
    #[test]
    fn r_est_01_duration_table_bounds_are_inclusive_and_exact() {
        let at = |hundredths: u128| {
            let hours = Exact::from_u128(hundredths, 2);
            let labour = hours.div_round(HOURS_PER_PERSON_MONTH, 4);
            duration(&hours, &labour, None, &mut Vec::new())
        };
        let rows = |hundredths: u128| at(hundredths).map(|d| (d.rows, d.months, d.basis));
        assert_eq!(
            rows(82_500),
            Ok((vec![1], "1".into(), DurationBasis::Table))
        );
        assert_eq!(
            rows(82_499),
            Ok((vec![], "1".into(), DurationBasis::BelowTable))
        );
        assert_eq!(
            rows(495_000),
            Ok((vec![1, 2, 3, 4], "2.5".into(), DurationBasis::Table))
        );
        assert_eq!(
            rows(495_001),
            Ok((vec![2, 3, 4], "3".into(), DurationBasis::Table))
        );
        assert_eq!(
            rows(5_610_000),
            Ok((vec![6], "6".into(), DurationBasis::Table))
        );
        assert_eq!(
            at(5_610_001),
            Err(DevelopmentError::AboveDurationTable {
                labour: "340.0001".into()
            })
        );
    }

    #[test]
    fn exact_order_and_negative_inflation() {
        assert_eq!(
            Exact::new(825, 0).cmp(&Exact::new(82500, 2)),
            Ordering::Equal
        );
        assert_eq!(
            Exact::new(82501, 2).cmp(&Exact::new(825, 0)),
            Ordering::Greater
        );
        let one = Exact::new(10_000, 4);
        let minus = SignedExact {
            negative: true,
            value: Exact::new(250, 4),
        };
        assert_eq!(
            one.add_signed(&minus).expect_non_negative().to_string(),
            "0.975"
        );
    }
}
