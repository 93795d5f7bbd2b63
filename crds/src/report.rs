//! `BillingReport`: the monthly bill sent to the authorized body (R-BIL-01, R-BIL-02).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{conditions_schema, object_name};

/// The billing report of one calendar month: actually consumed resources of products
/// in production, rated and signed, delivered once to the authorized body.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "The monthly billing report for the authorized body (R-BIL-01, R-BIL-02).",
    version = "v1alpha1",
    kind = "BillingReport",
    plural = "billingreports",
    singular = "billingreport",
    shortname = "br",
    category = "akp",
    status = "BillingReportStatus",
    printcolumn = r#"{"name":"Period","type":"string","jsonPath":".spec.period"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Total-KZT","type":"string","jsonPath":".status.totals.KZT"}"#,
    printcolumn = r#"{"name":"Coverage","type":"string","jsonPath":".status.dataQuality.coverage"}"#,
    printcolumn = r#"{"name":"Delivered","type":"date","jsonPath":".status.deliveredAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.period == oldSelf.period",
    "fieldPath": ".period",
    "reason": "FieldValueForbidden",
    "message": "a report's period and corrects are immutable (R-BIL-02): create a new BillingReport, with corrects naming this one if it is a correction"
}, {
    "rule": "!has(oldSelf.corrects) || (has(self.corrects) && self.corrects == oldSelf.corrects)",
    "fieldPath": ".corrects",
    "reason": "FieldValueForbidden",
    "message": "a report's period and corrects are immutable (R-BIL-02): create a new BillingReport, with corrects naming this one if it is a correction"
}]))]
pub struct BillingReportSpec {
    /// The calendar month, YYYY-MM.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^[0-9]{4}-(0[1-9]|1[0-2])$')",
        "messageExpression": "'\"' + self + '\" is not a month (R-BIL-02): write YYYY-MM, such as \"2026-10\"'"
    }]), length(max = 16))]
    pub period: String,
    /// Send the report to the authorized body once it is signed.
    #[serde(default = "yes")]
    pub deliver: bool,
    /// The report this one corrects; a delivered report is never changed, a correction
    /// is a new report (R-BIL-02).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), transform = object_name)]
    pub corrects: Option<String>,
}

fn yes() -> bool {
    true
}

/// Where the report is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ReportPhase {
    /// Waiting for the month to close.
    #[default]
    Pending,
    /// Reading the ledger.
    Collecting,
    /// Rated at the tariffs in force.
    Rated,
    /// Artifacts written and the manifest signed.
    Signed,
    /// Accepted by the authorized body.
    Delivered,
    /// Failed; see the conditions and events.
    Failed,
}

/// What the billing daemon did with the report.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingReportStatus {
    /// The phase.
    #[serde(default)]
    pub phase: ReportPhase,
    /// The total per currency, as exact decimal strings.
    #[serde(default)]
    pub totals: BTreeMap<String, String>,
    /// The files of the report and their SHA-256.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// How complete the usage data was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_quality: Option<DataQuality>,
    /// The tariffs the report was rated with.
    #[serde(default)]
    pub tariffs: Vec<String>,
    /// When the report was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<Time>,
    /// When the authorized body accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Time>,
    /// How many delivery attempts were made.
    #[serde(default)]
    pub delivery_attempts: i32,
    /// Collected, Rated, Signed, Delivered.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

/// One file of the report.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Artifact {
    /// csv, json, html, pdf, manifest or signature.
    pub format: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Where the file is.
    pub path: String,
}

/// How complete the usage data was (R-BIL-01).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct DataQuality {
    /// The share of environment-hours with data, a decimal string from 0 to 1.
    pub coverage: String,
    /// Hours without data.
    #[serde(default)]
    pub gaps: Vec<Gap>,
}

/// A stretch of hours without usage data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Gap {
    /// The environment's namespace.
    pub namespace: String,
    /// The resource.
    pub resource: String,
    /// The first hour without data.
    pub from: Time,
    /// The first hour with data again.
    pub to: Time,
}
