//! Inputs shared by `usage` and `estimate`: tariffs (files or the cluster), the
//! agency's contract date (R-ENV-04), months and dates.

use std::path::{Path, PathBuf};

use akp_crds::{Agency, Tariff};
use akp_rules::billing::period::Month;
use akp_rules::billing::rating::TariffBook;
use anyhow::Context;
use jiff::civil::Date;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::cluster::server_error;
use crate::error::CliError;

/// The documents of a YAML file (or `-` for stdin) as JSON values.
pub fn yaml_documents(path: &Path) -> Result<Vec<serde_json::Value>, CliError> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read {}: {e}: check the path",
                path.display()
            ))
        })?
    };
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| CliError::Usage(format!("{} is not valid YAML: {e}", path.display())))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The Tariff documents of the files.
pub fn tariffs_from_files(files: &[PathBuf]) -> Result<Vec<Tariff>, CliError> {
    let mut out = Vec::new();
    for file in files {
        for doc in yaml_documents(file)? {
            if doc["kind"] != "Tariff" {
                continue;
            }
            let name = doc["metadata"]["name"].as_str().unwrap_or("?").to_string();
            let t: Tariff = serde_json::from_value(doc).map_err(|e| {
                CliError::Usage(format!(
                    "Tariff {name} in {} does not fit the Tariff schema: {e}",
                    file.display()
                ))
            })?;
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage(format!(
            "no Tariff in {}: pass a file with `kind: Tariff` documents (examples/tariffs.yaml)",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// The cluster's Tariffs.
pub async fn tariffs_from_cluster(client: &Client) -> Result<Vec<Tariff>, CliError> {
    let list = Api::<Tariff>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| server_error(e, "listing Tariffs"))?;
    Ok(list.items)
}

/// A validated tariff book, with the rule in the message when a tariff is bad.
pub fn book(tariffs: &[Tariff]) -> Result<TariffBook, CliError> {
    TariffBook::new(tariffs).map_err(|e| CliError::Other(anyhow::anyhow!("{e}")))
}

/// The Agency whose namespace is `namespace` (products live in their agency's
/// namespace, R-LC-08).
pub async fn agency_of_namespace(
    client: &Client,
    namespace: &str,
) -> Result<Option<Agency>, CliError> {
    let list = Api::<Agency>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| server_error(e, "listing Agencies"))?;
    Ok(list
        .items
        .into_iter()
        .find(|a| a.spec.namespace == namespace))
}

/// The Agency named `name`, if it exists.
pub async fn agency_named(client: &Client, name: &str) -> Result<Option<Agency>, CliError> {
    Api::<Agency>::all(client.clone())
        .get_opt(name)
        .await
        .map_err(|e| server_error(e, &format!("reading Agency {name}")))
}

/// The agency's earliest contract date (R-ENV-04: the free period runs from it).
pub fn earliest_contract(agency: &Agency) -> Option<Date> {
    agency.spec.contracts.iter().map(|c| c.signed_on).min()
}

/// The agency's name.
pub fn agency_name(agency: &Agency) -> String {
    agency.name_any()
}

/// `YYYY-MM`.
pub fn parse_month(text: &str) -> Result<Month, String> {
    Month::parse(text)
        .map_err(|_| format!("{text:?} is not a month: write YYYY-MM, such as 2026-10"))
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    text.parse::<Date>()
        .map_err(|_| format!("{text:?} is not a date: write YYYY-MM-DD, such as 2026-10-15"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_dates_are_refused_with_the_format() {
        assert!(parse_month("2026-10").is_ok());
        let err = parse_month("10.2026").expect_err("bad");
        assert!(err.contains("write YYYY-MM"), "{err}");
        assert!(parse_month("2026-13").is_err());
        assert!(parse_date("2026-10-15").is_ok());
        assert!(
            parse_date("15.10.2026")
                .expect_err("bad")
                .contains("YYYY-MM-DD")
        );
    }

    #[test]
    fn r_bil_04_tariff_files_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.yaml");
        std::fs::write(
            &path,
            "apiVersion: akp.egov.kz/v1alpha1\nkind: Tariff\nmetadata: {name: t1}\nspec:\n  currency: KZT\n  effectiveFrom: \"2026-01-01\"\n  rates:\n    - {resource: cpu, unit: core-hour, price: \"10.80\"}\n---\nkind: Agency\nmetadata: {name: x}\n",
        )
        .expect("write");
        let tariffs = tariffs_from_files(std::slice::from_ref(&path)).expect("tariffs");
        assert_eq!(tariffs.len(), 1);
        assert!(book(&tariffs).is_ok());
        std::fs::write(&path, "kind: Agency\nmetadata: {name: x}\n").expect("write");
        let err = tariffs_from_files(&[path]).expect_err("none");
        assert!(err.to_string().contains("no Tariff in"), "{err}");
    }
}
