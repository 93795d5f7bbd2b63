//! What makes the report a document the authorized body can file (issue 19): who
//! issues it and to whom, its number and date, who signs it, and the agencies as
//! their Agency objects name them (kk/ru names, BINs, contracts). The parties come
//! from the daemon's configuration (`--report-document`, YAML), the agencies from the
//! cluster; [`complete`] writes both into a built [`ReportDocument`].

use akp_crds::Agency;
use kube_core::ResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgencyReport, ReportDocument};

/// A text in Kazakh and Russian.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// Kazakh (the state language).
    pub kk: String,
    /// Russian.
    pub ru: String,
}

/// An organization on the document: the issuer or the recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Party {
    /// Its name.
    pub name: Localized,
    /// Its business identification number (БСН/БИН), 12 digits.
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub bin: String,
    /// Its postal address.
    pub address: Localized,
}

/// The person who signs for the issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Signatory {
    /// Full name, as in the signing certificate.
    pub name: Localized,
    /// Position.
    pub position: Localized,
}

/// The document settings of the daemon (`--report-document <file>`, YAML).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentConfig {
    /// The platform operator, who issues the report.
    pub issuer: Party,
    /// The authorized body, who receives it.
    pub recipient: Party,
    /// Who signs it.
    pub signatory: Signatory,
    /// The document number is `<numberPrefix>-<report name>`, e.g. `ЭҮ-2026-10`.
    pub number_prefix: String,
}

/// Why a document configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentConfigError {
    /// The file could not be read.
    #[error("cannot read the report document settings {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not the expected YAML.
    #[error("the report document settings {path} are not valid: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// A field is empty or malformed.
    #[error("{field} is {value:?}: {why} (R-BIL-02); {fix}")]
    Field {
        /// The field.
        field: String,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
        /// What to do.
        fix: &'static str,
    },
}

impl DocumentConfig {
    /// Reads and checks the YAML file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, DocumentConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| DocumentConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let config: Self =
            serde_saphyr::from_str(&text).map_err(|e| DocumentConfigError::Yaml {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        config.check()?;
        Ok(config)
    }

    /// Every name and address given in both languages, BINs of 12 digits, a prefix.
    pub fn check(&self) -> Result<(), DocumentConfigError> {
        let empty = |field: String, value: &str| -> Result<(), DocumentConfigError> {
            if value.trim().is_empty() {
                return Err(DocumentConfigError::Field {
                    field,
                    value: value.to_string(),
                    why: "the report names it on every page the authorized body files",
                    fix: "give it in the report document settings",
                });
            }
            Ok(())
        };
        for (party, p) in [("issuer", &self.issuer), ("recipient", &self.recipient)] {
            for (what, l) in [("name", &p.name), ("address", &p.address)] {
                empty(format!("{party}.{what}.kk"), &l.kk)?;
                empty(format!("{party}.{what}.ru"), &l.ru)?;
            }
            if p.bin.len() != 12 || !p.bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DocumentConfigError::Field {
                    field: format!("{party}.bin"),
                    value: p.bin.clone(),
                    why: "a business identification number is 12 digits",
                    fix: "give the 12-digit BIN from the state register",
                });
            }
        }
        let s = &self.signatory;
        for (what, l) in [("name", &s.name), ("position", &s.position)] {
            empty(format!("signatory.{what}.kk"), &l.kk)?;
            empty(format!("signatory.{what}.ru"), &l.ru)?;
        }
        empty("numberPrefix".into(), &self.number_prefix)?;
        Ok(())
    }
}

/// The document's identity, in the JSON report as `document`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentInfo {
    /// Document number: `<prefix>-<report name>`.
    pub number: String,
    /// Document date: the civil date (Astana, UTC+5) it was generated.
    pub date: String,
    /// The platform operator.
    pub issuer: Party,
    /// The authorized body.
    pub recipient: Party,
    /// Who signs for the issuer.
    pub signatory: Signatory,
}

/// An agency's contract, as its Agency object lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractRef {
    /// Contract id.
    pub id: String,
    /// Signing date.
    pub signed_on: String,
}

/// An agency as the document names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyInfo {
    /// metadata.name, the id in the ledger.
    pub id: String,
    /// kk/ru names.
    pub name: Localized,
    /// BIN.
    pub bin: String,
    /// Contracts.
    pub contracts: Vec<ContractRef>,
}

impl AgencyInfo {
    /// From an Agency object.
    pub fn of(a: &Agency) -> Self {
        Self {
            id: a.name_any(),
            name: Localized {
                kk: a.spec.display_name.kk.clone(),
                ru: a.spec.display_name.ru.clone(),
            },
            bin: a.spec.bin.clone(),
            contracts: a
                .spec
                .contracts
                .iter()
                .map(|c| ContractRef {
                    id: c.id.clone(),
                    signed_on: c.signed_on.to_string(),
                })
                .collect(),
        }
    }
}

/// An RFC 3339 instant in Astana civil time (UTC+5); `None` if unreadable.
pub fn astana(rfc3339: &str) -> Option<jiff::Zoned> {
    let t: jiff::Timestamp = rfc3339.parse().ok()?;
    let seconds = i32::try_from(crate::billing::rating::KZ_UTC_OFFSET_SECS).ok()?;
    let offset = jiff::tz::Offset::from_seconds(seconds).ok()?;
    Some(t.to_zoned(jiff::tz::TimeZone::fixed(offset)))
}

/// The civil date (UTC+5) of an RFC 3339 instant; `None` if unreadable.
pub fn astana_date(rfc3339: &str) -> Option<jiff::civil::Date> {
    astana(rfc3339).map(|z| z.date())
}

/// The first and last civil days (UTC+5) of a period given as `[start, end)` instants.
pub fn civil_period(start: &str, end: &str) -> (String, String) {
    let first = astana_date(start)
        .map(|d| d.to_string())
        .unwrap_or_default();
    // The end is exclusive: the last day is the one of the last second.
    let last = end
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| t.checked_sub(jiff::SignedDuration::from_secs(1)).ok())
        .and_then(|t| astana_date(&t.to_string()))
        .map(|d| d.to_string())
        .unwrap_or_default();
    (first, last)
}

/// Writes the document's identity and the agencies' names, BINs and contracts into
/// `doc`. Agencies without an Agency object keep their id only (the HTML shows it).
pub fn complete(doc: &mut ReportDocument, config: &DocumentConfig, agencies: &[AgencyInfo]) {
    doc.document = Some(DocumentInfo {
        number: format!("{}-{}", config.number_prefix, doc.name),
        date: astana_date(&doc.generated_at)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        issuer: config.issuer.clone(),
        recipient: config.recipient.clone(),
        signatory: config.signatory.clone(),
    });
    for a in &mut doc.agencies {
        describe(a, agencies);
    }
}

fn describe(a: &mut AgencyReport, agencies: &[AgencyInfo]) {
    if let Some(info) = agencies.iter().find(|i| i.id == a.agency) {
        a.name = Some(info.name.clone());
        a.bin = Some(info.bin.clone());
        a.contracts = info.contracts.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_bil_02_the_period_is_given_as_astana_civil_days() {
        assert_eq!(
            civil_period("2026-09-30T19:00:00Z", "2026-10-31T19:00:00Z"),
            ("2026-10-01".to_string(), "2026-10-31".to_string())
        );
        assert_eq!(
            astana_date("2026-10-31T19:00:00Z").map(|d| d.to_string()),
            Some("2026-11-01".to_string())
        );
    }
}
