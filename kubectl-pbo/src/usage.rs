//! `kubectl pbo usage <pbo> --month YYYY-MM`: the product's usage for a month. Agency
//! users read their agency's UsageStatement (billing's rating of the month so far, in
//! their namespace, with their own rights); SREs with `--ledger` read the billing
//! ledger itself (SQLite or PostgreSQL, read only, never migrated): the metered usage
//! per environment and resource and the amounts rated at the tariffs in force when
//! tariffs are available (R-BIL-01, R-BIL-03, R-ENV-04).

use std::collections::BTreeMap;
use std::path::PathBuf;

use akp_billing::ledger::Ledger;
use akp_crds::statement::UsageStatementSpec;
use akp_crds::{PlatformSoftwareProduct, UsageStatement};
use akp_rules::billing::period::{Calendar, Month};
use akp_rules::billing::rating::{
    self, Contracts, RatingInput, Treatment, format_micro, format_tiyn,
};
use akp_rules::billing::report::LineReport;
use akp_rules::billing::rows::{Adjustment, LedgerRow};
use akp_rules::billing::statement::statement_name;
use kube::api::Api;
use serde::Serialize;

use crate::cluster::{Cluster, ClusterArgs, get_error};
use crate::error::CliError;
use crate::inputs::{
    agency_named, agency_of_namespace, book, earliest_contract, parse_month, tariffs_from_cluster,
    tariffs_from_files,
};
use crate::output::{Color, Fields, Output, Style, Table, heading};

/// Arguments of `kubectl pbo usage`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PlatformSoftwareProduct's name.
    pub name: String,
    /// The billing month (Kazakhstan time, UTC+5).
    #[arg(long, value_parser = parse_month, value_name = "YYYY-MM")]
    pub month: Month,
    /// The billing ledger, for SREs: sqlite:///path/ledger.db or postgres://user@host/db
    /// (read-only credentials suffice). Without it: the agency's UsageStatement.
    #[arg(
        long,
        env = "AKP_LEDGER_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub ledger: Option<String>,
    /// The product's agency; default: read from the product in the cluster.
    #[arg(long, value_name = "NAME")]
    pub agency: Option<String>,
    /// Tariffs from these files instead of the cluster's Tariff objects (repeatable).
    #[arg(long = "tariff", value_name = "FILE")]
    pub tariffs: Vec<PathBuf>,
}

/// Usage of one environment and resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    pub environment: String,
    pub namespace: String,
    pub resource: String,
    /// The ledger unit (`core_second`, `gib_hour`, `gigabyte`, …).
    pub unit: String,
    /// Exact, 6 decimals.
    pub quantity: String,
    /// Hours with a row.
    pub hours: u32,
    /// For late data of a closed month booked in this one: that month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment_of: Option<String>,
}

/// A rated line: the report's line and the environment it is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatedLine {
    pub environment: String,
    #[serde(flatten)]
    pub line: LineReport,
}

/// The rated amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rated {
    pub currency: String,
    pub lines: Vec<RatedLine>,
    /// Sum of billed amounts.
    pub billed: String,
    /// Sum of list amounts (billed, free and flagged).
    pub list: String,
    pub notes: Vec<String>,
}

/// What `usage` prints with `-o json|yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub product: String,
    pub namespace: Option<String>,
    pub agency: String,
    pub month: String,
    /// Whether the month is closed in the ledger (its figures are final).
    pub closed: bool,
    pub usage: Vec<UsageLine>,
    /// `None` when no tariff was available.
    pub rated: Option<Rated>,
    pub notes: Vec<String>,
}

/// The rows and adjustments of one product.
pub fn of_product(
    rows: &[LedgerRow],
    adjustments: &[Adjustment],
    agency: &str,
    product: &str,
) -> (Vec<LedgerRow>, Vec<Adjustment>) {
    let mine = |r: &LedgerRow| r.identity.agency == agency && r.identity.product == product;
    (
        rows.iter().filter(|r| mine(r)).cloned().collect(),
        adjustments
            .iter()
            .filter(|a| mine(&a.row))
            .cloned()
            .collect(),
    )
}

/// Sums rows per (environment, namespace, resource, unit, adjustment-of), exactly.
pub fn usage_lines(
    rows: &[LedgerRow],
    adjustments: &[Adjustment],
    calendar: &Calendar,
) -> Vec<UsageLine> {
    type Key = (String, String, String, String, Option<String>);
    let mut sums: BTreeMap<Key, (i128, u32)> = BTreeMap::new();
    let all = rows.iter().map(|r| (r, None)).chain(
        adjustments
            .iter()
            .map(|a| (&a.row, Some(calendar.month_of(a.row.hour).to_string()))),
    );
    for (r, of) in all {
        let e = sums
            .entry((
                r.identity.environment.clone(),
                r.namespace.clone(),
                r.resource.clone(),
                r.unit.clone(),
                of,
            ))
            .or_default();
        e.0 += i128::from(r.quantity);
        e.1 += 1;
    }
    sums.into_iter()
        .map(
            |((environment, namespace, resource, unit, adjustment_of), (q, hours))| UsageLine {
                environment,
                namespace,
                resource,
                unit,
                quantity: format_micro(q),
                hours,
                adjustment_of,
            },
        )
        .collect()
}

/// Rates the product's rows (pure).
pub fn rate(
    rows: &[LedgerRow],
    adjustments: &[Adjustment],
    book: &rating::TariffBook,
    contracts: &Contracts,
    calendar: &Calendar,
) -> Result<Rated, CliError> {
    let rated = rating::rate(
        &RatingInput {
            tariffs: book,
            contracts,
            calendar,
        },
        rows,
        adjustments,
    )
    .map_err(|e| CliError::Other(anyhow::anyhow!("{e}")))?;
    let lines = rated
        .lines
        .iter()
        .map(|l| RatedLine {
            environment: l.key.environment.clone(),
            line: LineReport::of(l),
        })
        .collect();
    Ok(Rated {
        currency: "KZT".into(),
        lines,
        billed: format_tiyn(rated.billed_tiyn()),
        list: format_tiyn(rated.lines.iter().map(|l| l.list_tiyn).sum()),
        notes: rated.notes.clone(),
    })
}

/// Refuses a SQLite ledger file that does not exist: opening would create an empty one
/// and report no usage, which reads like a month without usage.
pub fn check_ledger_url(url: &str) -> Result<(), CliError> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(());
        }
        return Err(CliError::Usage(format!(
            "--ledger {url:?} is not a ledger URL: write sqlite:///path/ledger.db or postgres://user@host/db"
        )));
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Err(CliError::Usage(format!(
            "--ledger {url:?} names no ledger file: write sqlite:///path/ledger.db"
        )));
    }
    if !std::path::Path::new(path).is_file() {
        return Err(CliError::NotFound(format!(
            "the ledger {path} does not exist: check --ledger or AKP_LEDGER_URL (the billing daemon's --database)"
        )));
    }
    Ok(())
}

/// Runs `usage`.
pub async fn run(args: &Args, cluster: &ClusterArgs, output: Output) -> Result<String, CliError> {
    let v = match &args.ledger {
        Some(url) => from_ledger(args, url, cluster).await?,
        None => from_statement(args, &cluster.connect().await?).await?,
    };
    if let Some(text) = output.serialize(&v)? {
        return Ok(text);
    }
    Ok(render(&v, Style::detect(output)))
}

/// The agency in the status of product `name` of the current namespace.
async fn status_agency(c: &Cluster, name: &str) -> Result<Option<String>, CliError> {
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(c.client.clone(), &c.namespace);
    let p = api
        .get(name)
        .await
        .map_err(|e| get_error(e, "PlatformSoftwareProduct", name, Some(&c.namespace)))?;
    Ok(p.status.and_then(|s| s.agency))
}

/// The product's lines of its agency's UsageStatement, read in the current namespace
/// (the agency's, where its products are) with the caller's own rights.
async fn from_statement(args: &Args, c: &Cluster) -> Result<UsageView, CliError> {
    let agency = match &args.agency {
        Some(a) => a.clone(),
        None => status_agency(c, &args.name).await?.ok_or_else(|| {
            CliError::NotFound(format!(
                "product {} has no agency in its status yet: pass --agency <name>",
                args.name
            ))
        })?,
    };
    let name = statement_name(&agency, args.month);
    let statement = Api::<UsageStatement>::namespaced(c.client.clone(), &c.namespace)
        .get(&name)
        .await
        .map_err(|e| get_error(e, "UsageStatement", &name, Some(&c.namespace)))?;
    Ok(statement_view(&args.name, &c.namespace, &statement.spec))
}

/// The view of one product in a statement (pure).
pub fn statement_view(product: &str, namespace: &str, s: &UsageStatementSpec) -> UsageView {
    let mut notes = vec![format!(
        "from the UsageStatement {}-{} (computed {}, usage through {}); metered quantities in ledger units are for SREs (--ledger)",
        s.agency, s.month, s.updated_at, s.through
    )];
    if !s.final_ {
        notes.push(format!(
            "month {} is not closed in the ledger: its figures can still change",
            s.month
        ));
    }
    let mine = s.products.iter().find(|p| p.product == product);
    if mine.is_none() {
        notes.push(format!(
            "the statement has no usage of product {product} in {}",
            s.month
        ));
    }
    fn parse<T: serde::de::DeserializeOwned>(name: &str) -> serde_json::Result<T> {
        serde_json::from_value(serde_json::Value::from(name))
    }
    let lines = mine
        .map(|p| {
            p.lines
                .iter()
                .filter_map(|l| {
                    Some(RatedLine {
                        environment: l.environment.clone(),
                        line: LineReport {
                            category: parse(&l.category).ok()?,
                            resource: l.resource.clone(),
                            unit: l.unit.clone(),
                            quantity: l.quantity.clone(),
                            rate: l.rate.clone(),
                            list_amount: l.list.clone(),
                            amount: l.billed.clone(),
                            treatment: parse(&l.treatment).ok()?,
                            tariff: String::new(),
                            adjustment_of: l.adjustment_of.clone(),
                            hours: 0,
                        },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    UsageView {
        product: product.to_string(),
        namespace: Some(namespace.to_string()),
        agency: s.agency.clone(),
        month: s.month.clone(),
        closed: s.final_,
        usage: Vec::new(),
        rated: Some(Rated {
            currency: "KZT".into(),
            lines,
            billed: mine.map_or("0.00".into(), |p| p.totals.billed.clone()),
            list: mine.map_or("0.00".into(), |p| p.totals.list.clone()),
            notes: s.notes.clone(),
        }),
        notes,
    }
}

/// The product's usage from the ledger itself (SREs).
async fn from_ledger(args: &Args, url: &str, cluster: &ClusterArgs) -> Result<UsageView, CliError> {
    check_ledger_url(url)?;
    let mut notes = Vec::new();
    // The cluster gives the agency, the tariffs and the contract date; with --agency
    // and --tariff it is optional.
    let connected: Option<Cluster> = match cluster.connect().await {
        Ok(c) => Some(c),
        Err(e) if args.agency.is_some() && !args.tariffs.is_empty() => {
            notes.push(format!("cluster not used ({e})"));
            None
        }
        Err(e) => return Err(e),
    };
    let (agency_name, namespace) = match (&args.agency, &connected) {
        (Some(a), c) => (a.clone(), c.as_ref().map(|c| c.namespace.clone())),
        (None, Some(c)) => {
            let agency = match status_agency(c, &args.name).await? {
                Some(a) => a,
                None => agency_of_namespace(&c.client, &c.namespace)
                    .await?
                    .map(|a| crate::inputs::agency_name(&a))
                    .ok_or_else(|| {
                        CliError::NotFound(format!(
                            "no Agency owns namespace {}: pass --agency <name>",
                            c.namespace
                        ))
                    })?,
            };
            (agency, Some(c.namespace.clone()))
        }
        (None, None) => {
            return Err(CliError::Config(
                "the product's agency is needed: connect to the cluster or pass --agency".into(),
            ));
        }
    };

    let calendar = Calendar::kazakhstan();
    let ledger = Ledger::open_read_only(url, calendar.clone())
        .await
        .map_err(|e| CliError::Other(anyhow::anyhow!("{e}: check --ledger or AKP_LEDGER_URL")))?;
    let read = async {
        let closed = ledger.closed_through().await?;
        let rows = ledger.rows(args.month).await?;
        let adjustments = ledger.adjustments(args.month).await?;
        Ok::<_, akp_billing::LedgerError>((closed, rows, adjustments))
    }
    .await;
    ledger.close().await;
    let (closed, rows, adjustments) =
        read.map_err(|e| CliError::Other(anyhow::anyhow!("reading the ledger: {e}")))?;
    let (rows, adjustments) = of_product(&rows, &adjustments, &agency_name, &args.name);
    let closed = closed.is_some_and(|c| c >= args.month);
    if !closed {
        notes.push(format!(
            "month {} is not closed in the ledger: its figures can still change",
            args.month
        ));
    }
    if rows.is_empty() && adjustments.is_empty() {
        notes.push(format!(
            "the ledger has no usage of product {} of agency {} in {}",
            args.name, agency_name, args.month
        ));
    }

    let tariffs = if !args.tariffs.is_empty() {
        Some(tariffs_from_files(&args.tariffs)?)
    } else if let Some(c) = &connected {
        match tariffs_from_cluster(&c.client).await {
            Ok(t) if !t.is_empty() => Some(t),
            Ok(_) => {
                notes.push("the cluster has no Tariff: amounts not rated; pass --tariff".into());
                None
            }
            Err(e) => {
                notes.push(format!(
                    "tariffs not readable ({e}): amounts not rated; pass --tariff"
                ));
                None
            }
        }
    } else {
        None
    };
    let mut contracts = Contracts::new();
    if let Some(c) = &connected {
        match agency_named(&c.client, &agency_name).await {
            Ok(Some(a)) => {
                if let Some(d) = earliest_contract(&a) {
                    contracts.insert(agency_name.clone(), d);
                }
            }
            Ok(None) => notes.push(format!(
                "Agency {agency_name} not found: no free period (R-ENV-04)"
            )),
            Err(e) => notes.push(format!(
                "Agency {agency_name} not readable ({e}): no free period"
            )),
        }
    }
    let rated = match tariffs {
        Some(t) => Some(rate(
            &rows,
            &adjustments,
            &book(&t)?,
            &contracts,
            &calendar,
        )?),
        None => None,
    };
    Ok(UsageView {
        product: args.name.clone(),
        namespace,
        agency: agency_name,
        month: args.month.to_string(),
        closed,
        usage: usage_lines(&rows, &adjustments, &calendar),
        rated,
        notes,
    })
}

/// The usage as text.
pub fn render(v: &UsageView, style: Style) -> String {
    let mut out = String::new();
    let mut f = Fields::new();
    f.add("Product", v.product.clone());
    f.add("Agency", v.agency.clone());
    if v.closed {
        f.add_colored("Month", format!("{} (closed)", v.month), Color::Green);
    } else {
        f.add_colored(
            "Month",
            format!("{} (open: figures can change)", v.month),
            Color::Yellow,
        );
    }
    out.push_str(&f.render(style));
    out.push_str(&heading(style, "Metered usage (ledger units)"));
    if v.usage.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(&[
            "environment",
            "namespace",
            "resource",
            "quantity",
            "unit",
            "hours",
            "adjustment of",
        ]);
        for u in &v.usage {
            t.row(vec![
                u.environment.clone().into(),
                u.namespace.clone().into(),
                u.resource.clone().into(),
                u.quantity.clone().into(),
                u.unit.clone().into(),
                u.hours.to_string().into(),
                u.adjustment_of.clone().unwrap_or_default().into(),
            ]);
        }
        out.push_str(&t.render(style));
    }
    if let Some(r) = &v.rated {
        out.push_str(&heading(style, "Rated (tariff units)"));
        if r.lines.is_empty() {
            out.push_str("no billable usage\n");
        } else {
            let mut t = Table::new(&[
                "environment",
                "resource",
                "quantity",
                "unit",
                "rate",
                "list",
                "billed",
                "treatment",
                "tariff",
            ]);
            for RatedLine {
                environment,
                line: l,
            } in &r.lines
            {
                let name = l.treatment.as_str().to_owned();
                let treatment = match l.treatment {
                    Treatment::Billed => name.into(),
                    Treatment::Unpriced => crate::output::Cell::colored(name, Color::Red),
                    _ => crate::output::Cell::colored(name, Color::Yellow),
                };
                t.row(vec![
                    environment.clone().into(),
                    l.resource.clone().into(),
                    l.quantity.clone().into(),
                    l.unit.clone().into(),
                    l.rate.clone().into(),
                    l.list_amount.clone().into(),
                    l.amount.clone().into(),
                    treatment,
                    l.tariff.clone().into(),
                ]);
            }
            out.push_str(&t.render(style));
        }
        let mut f = Fields::new();
        f.add_colored(
            "Billed",
            format!("{} {}", r.billed, r.currency),
            Color::Bold,
        );
        f.add("List value", format!("{} {}", r.list, r.currency));
        out.push('\n');
        out.push_str(&f.render(style));
        for n in &r.notes {
            out.push_str(&format!("note: {n}\n"));
        }
    }
    for n in &v.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_rules::billing::period::Hour;
    use akp_rules::billing::rows::EnvIdentity;

    fn row(env: &str, product: &str, resource: &str, unit: &str, hour: i64, q: i64) -> LedgerRow {
        LedgerRow {
            namespace: format!("mon-{product}-{env}"),
            resource: resource.into(),
            hour: Hour::containing(hour),
            identity: EnvIdentity {
                agency: "mon".into(),
                product: product.into(),
                environment: env.into(),
                ..EnvIdentity::default()
            },
            unit: unit.into(),
            quantity: q,
        }
    }

    #[test]
    fn r_bil_01_usage_is_summed_exactly_per_environment_and_resource() {
        let cal = Calendar::kazakhstan();
        let h = 1_791_000_000; // 2026-10
        let rows = vec![
            row(
                "production",
                "e-license",
                "cpu",
                "core_second",
                h,
                7_200_000_000,
            ),
            row(
                "production",
                "e-license",
                "cpu",
                "core_second",
                h + 3600,
                3_600_000_001,
            ),
            row("production", "other", "cpu", "core_second", h, 1),
        ];
        let (mine, adj) = of_product(&rows, &[], "mon", "e-license");
        assert_eq!(mine.len(), 2);
        let lines = usage_lines(&mine, &adj, &cal);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].quantity, "10800.000001");
        assert_eq!(lines[0].hours, 2);
    }

    #[test]
    fn ledger_urls_are_checked_before_opening() {
        let err = check_ledger_url("sqlite:///nonexistent/ledger.db").expect_err("missing");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(check_ledger_url("postgres://u@h/db").is_ok());
        let err = check_ledger_url("/tmp/ledger.db").expect_err("not a url");
        assert!(
            err.to_string().contains("sqlite:///path/ledger.db"),
            "{err}"
        );
    }
}
