//! `kubectl pbo estimate -f pbo.yaml` (R-BIL-04): the monthly cost of the resources a
//! product requests, at the tariff in force, with the non-production policy of
//! R-ENV-04. The arithmetic is `akp_rules::billing::estimate`, the same as the bill's.

use std::path::PathBuf;

use akp_crds::PlatformSoftwareProduct;
use akp_rules::billing::estimate::{ProductEstimate, estimate};
use akp_rules::clocks;
use jiff::civil::Date;
use kube::ResourceExt;
use serde::Serialize;

use crate::cluster::ClusterArgs;
use crate::error::CliError;
use crate::inputs::{
    agency_of_namespace, book, earliest_contract, parse_date, tariffs_from_cluster,
    tariffs_from_files, yaml_documents,
};
use crate::output::{Color, Fields, Output, Style, Table, heading, plain};

/// Arguments of `kubectl pbo estimate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The product's manifest (YAML, `-` for stdin); the first PlatformSoftwareProduct
    /// in it is estimated.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    /// Tariffs from these files instead of the cluster's Tariff objects (repeatable).
    #[arg(long = "tariff", value_name = "FILE")]
    pub tariffs: Vec<PathBuf>,
    /// The date to estimate for (Kazakhstan time); default: today.
    #[arg(long = "as-of", value_parser = parse_date, value_name = "YYYY-MM-DD")]
    pub as_of: Option<Date>,
    /// The agency's earliest contract date (R-ENV-04); default: read from the cluster's
    /// Agency of the product's namespace.
    #[arg(long = "contract-date", value_parser = parse_date, value_name = "YYYY-MM-DD")]
    pub contract_date: Option<Date>,
}

/// What `estimate` prints with `-o json|yaml`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateView {
    pub product: String,
    pub namespace: Option<String>,
    pub contract_date: Option<String>,
    pub tariff_source: String,
    #[serde(flatten)]
    pub estimate: ProductEstimate,
    pub notes: Vec<String>,
}

/// Runs `estimate`.
pub async fn run(args: &Args, cluster: &ClusterArgs, output: Output) -> Result<String, CliError> {
    let doc = yaml_documents(&args.file)?
        .into_iter()
        .find(|d| d["kind"] == "PlatformSoftwareProduct")
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no PlatformSoftwareProduct: pass a product manifest (examples/products/)",
                args.file.display()
            ))
        })?;
    let product: PlatformSoftwareProduct = serde_json::from_value(doc).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a valid PlatformSoftwareProduct: {e}: `kubectl explain pbo.spec` documents the fields",
            args.file.display()
        ))
    })?;
    let as_of = args
        .as_of
        .unwrap_or_else(|| clocks::civil_date(jiff::Timestamp::now()));
    let mut notes = Vec::new();
    // The cluster is needed only for what the flags do not give.
    let needs_cluster = args.tariffs.is_empty() || args.contract_date.is_none();
    let connected = if needs_cluster {
        Some(cluster.connect().await)
    } else {
        None
    };
    let (tariffs, source) = if args.tariffs.is_empty() {
        let c = match &connected {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return Err(CliError::Config(format!(
                    "{e}; or pass --tariff <file> to estimate without a cluster"
                )));
            }
            None => {
                return Err(CliError::Config(
                    "no cluster connection: pass --tariff <file> and --contract-date".into(),
                ));
            }
        };
        let t = tariffs_from_cluster(&c.client).await?;
        if t.is_empty() {
            return Err(CliError::NotFound(
                "the cluster has no Tariff: publish one (kubectl apply -f examples/tariffs.yaml) or pass --tariff <file>".into(),
            ));
        }
        (t, "cluster".to_string())
    } else {
        (
            tariffs_from_files(&args.tariffs)?,
            args.tariffs
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let namespace = product
        .namespace()
        .or_else(|| cluster.namespace.clone())
        .or_else(|| match &connected {
            Some(Ok(c)) => Some(c.namespace.clone()),
            _ => None,
        });
    let contract = match (args.contract_date, &connected, &namespace) {
        (Some(d), _, _) => Some(d),
        (None, Some(Ok(c)), Some(ns)) => match agency_of_namespace(&c.client, ns).await {
            Ok(Some(a)) => earliest_contract(&a),
            Ok(None) => {
                notes.push(format!(
                    "no Agency owns namespace {ns}: no free period assumed (R-ENV-04); pass --contract-date"
                ));
                None
            }
            Err(e) => {
                notes.push(format!(
                    "agencies not readable ({e}): no free period assumed; pass --contract-date"
                ));
                None
            }
        },
        _ => {
            notes.push(
                "no contract date: no free period assumed (R-ENV-04); pass --contract-date".into(),
            );
            None
        }
    };
    let book = book(&tariffs)?;
    let est = estimate(&product.spec, &book, as_of, contract)
        .map_err(|e| CliError::Other(anyhow::anyhow!("{e}")))?;
    let v = EstimateView {
        product: product.name_any(),
        namespace,
        contract_date: contract.map(|d| d.to_string()),
        tariff_source: source,
        estimate: est,
        notes,
    };
    if let Some(text) = output.serialize(&v)? {
        return Ok(text);
    }
    Ok(render(&v, Style::detect(output)))
}

/// The estimate as text.
pub fn render(v: &EstimateView, style: Style) -> String {
    let e = &v.estimate;
    let mut out = String::new();
    let mut f = Fields::new();
    f.add("Product", v.product.clone());
    f.add("Tariff", format!("{} (from {})", e.tariff, v.tariff_source));
    f.add(
        "As of",
        format!("{}, a month of {} hours", e.as_of, e.hours_per_month),
    );
    f.add(
        "Contract",
        v.contract_date.clone().unwrap_or_else(|| "none".into()),
    );
    out.push_str(&f.render(style));
    for env in &e.environments {
        out.push_str(&heading(
            style,
            &format!(
                "{} ({}{})",
                env.environment,
                env.policy,
                env.free_until
                    .as_ref()
                    .map(|d| format!(", free until {d}"))
                    .unwrap_or_default()
            ),
        ));
        let mut t = Table::new(&["category", "resource", "quantity", "unit", "rate", "amount"]);
        for l in &env.lines {
            t.row(plain(&[
                l.category.as_str(),
                &l.resource,
                &l.quantity,
                &l.unit,
                &l.rate,
                &l.amount,
            ]));
        }
        out.push_str(&t.render(style));
        out.push_str(&format!(
            "monthly {} {}, billed now {}, after the free period {}\n",
            env.monthly, e.currency, env.billed_now, env.billed_after_free_period
        ));
    }
    out.push_str(&heading(style, "Total per month"));
    let mut f = Fields::new();
    f.add_colored(
        "List value",
        format!("{} {}", e.monthly, e.currency),
        Color::Bold,
    );
    f.add("Billed now", format!("{} {}", e.billed_now, e.currency));
    out.push_str(&f.render(style));
    out.push_str("An upper bound: requests priced as fully used all month; the bill counts only what is used (R-BIL-01).\n");
    for n in &v.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
