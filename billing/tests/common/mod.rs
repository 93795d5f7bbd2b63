//! What billing's test binaries share: the examples, a ledger row, rating on the
//! Kazakhstan calendar. Each binary uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use akp_billing::report::{DataQualityInput, EnvironmentCoverage, ReportMeta, ResidencyStatement};
use akp_crds::Tariff;
use akp_rules::billing::period::{Calendar, Hour};
use akp_rules::billing::rating::{self, Contracts, Rated, RatingInput, TariffBook};
use akp_rules::billing::rows::{Adjustment, EnvIdentity, LedgerRow};

/// The text of `examples/<name>`.
pub fn example(name: &str) -> String {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The tariffs of `examples/tariffs.yaml`.
pub fn example_tariffs() -> Vec<Tariff> {
    example("tariffs.yaml")
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Tariff>(doc).expect("tariff"))
        .collect()
}

/// A row of environment `(agency, product, environment)`.
pub fn row(
    ns: (&str, &str, &str),
    resource: &str,
    unit: &str,
    hour: Hour,
    quantity: i64,
) -> LedgerRow {
    let (agency, product, environment) = ns;
    LedgerRow {
        namespace: format!("{agency}-{product}-{environment}"),
        resource: resource.into(),
        hour,
        identity: EnvIdentity {
            agency: agency.into(),
            product: product.into(),
            environment: environment.into(),
            ..EnvIdentity::default()
        },
        unit: unit.into(),
        quantity,
    }
}

/// `rows` and `adjustments` rated at `tariffs` on the Kazakhstan calendar, and the
/// tariff book they were rated with.
pub fn rate(
    tariffs: &[Tariff],
    contracts: &Contracts,
    rows: &[LedgerRow],
    adjustments: &[Adjustment],
) -> (Rated, TariffBook) {
    let book = TariffBook::new(tariffs).expect("tariffs");
    let calendar = Calendar::kazakhstan();
    let input = RatingInput {
        tariffs: &book,
        contracts,
        calendar: &calendar,
    };
    let rated = rating::rate(&input, rows, adjustments).expect("rated");
    (rated, book)
}

/// An environment `(agency, product, environment)`.
pub type Env = (&'static str, &'static str, &'static str);

/// What an environment used in an hour: `(environment, resource, unit, quantity)`.
pub type Usage = (Env, &'static str, &'static str, i64);

/// mon's e-license, the environment every report test bills.
pub const MON: Env = ("mon", "e-license", "production");

/// What an hour of mon's e-license holds with `availability` (micro hour-shares):
/// production 2 cores, 8 GiB·h, 0.123456 GB through the gateway; development 1 core.
pub fn mon_hour(availability: i64) -> Vec<Usage> {
    vec![
        (MON, "cpu", "core_second", 7_200_000_000),
        (MON, "memory", "gib_hour", 8_000_000),
        (MON, "telecom.gateway", "gigabyte", 123_456),
        (MON, "availability", "hour_share", availability),
        (
            ("mon", "e-license", "development"),
            "cpu",
            "core_second",
            3_600_000_000,
        ),
    ]
}

/// Report metadata of one month: mon's production covered `coverage` of its 744
/// hours with one gap hour, resident in Astana and Almaty.
pub fn meta(
    name: &str,
    period: &str,
    (start, end): (&str, &str),
    generated_at: &str,
    coverage: &str,
) -> ReportMeta {
    ReportMeta {
        name: name.into(),
        period: period.into(),
        corrects: None,
        generated_at: generated_at.into(),
        period_start: start.into(),
        period_end: end.into(),
        data_quality: DataQualityInput {
            environments: vec![EnvironmentCoverage {
                namespace: "mon-e-license-production".into(),
                hours: 744,
                coverage: coverage.into(),
                gap_hours: 1,
            }],
            ..DataQualityInput::default()
        },
        residency: Some(vec![ResidencyStatement {
            agency: "mon".into(),
            product: "e-license".into(),
            sites: vec!["astana-1".into(), "almaty-1".into()],
            node_hours_by_country: BTreeMap::from([("KZ".to_string(), 17_856)]),
        }]),
    }
}
