//! `PlatformSoftwareProduct` (ПБӨ): the product record of 000 Appendix 2, the resources
//! requested per environment, the stage and the acts that open the stage gates.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    Contour, EnvironmentName, Stage, bin_schema, conditions_schema, date_schema,
    non_negative_quantity, object_name, plain_prose, plain_text, user_domains, user_names,
};

/// A platform software product (ПБӨ) developed by an agency on the e-government
/// platform. Created by the agency in its own namespace; the operator gives it the
/// environments of its stage.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "akp.egov.kz",
    doc = "A platform software product (PBO) of an agency, with its stage, requested resources and acts.",
    version = "v1alpha1",
    kind = "PlatformSoftwareProduct",
    plural = "platformsoftwareproducts",
    singular = "platformsoftwareproduct",
    shortname = "pbo",
    shortname = "pbos",
    category = "akp",
    namespaced,
    status = "PlatformSoftwareProductStatus",
    printcolumn = r#"{"name":"Agency","type":"string","jsonPath":".status.agency"}"#,
    printcolumn = r#"{"name":"Stage","type":"string","jsonPath":".spec.stage"}"#,
    printcolumn = r#"{"name":"Class","type":"integer","jsonPath":".spec.class"}"#,
    printcolumn = r#"{"name":"Contour","type":"string","jsonPath":".spec.contour"}"#,
    printcolumn = r#"{"name":"Crypto-Level","type":"integer","priority":1,"jsonPath":".status.protectionLevel"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Trial-Deadline","type":"string","priority":1,"jsonPath":".status.trial.deadline"}"#,
    printcolumn = r#"{"name":"Warranty-Until","type":"string","priority":1,"jsonPath":".status.production.warrantyUntil"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!self.internetFacing || self.contour == 'external'",
        "fieldPath": ".contour",
        "reason": "FieldValueForbidden",
        "message": "a product with internetFacing: true must be placed in a dedicated segment of the external contour (R-SEG-02): set contour: external, or internetFacing: false"
    },
    {
        "rule": "!(self.stage in ['trialOperation', 'production']) || (self.acts.exists(a, a.type == 'preliminaryTestProtocol') && self.acts.exists(a, a.type == 'trialTransferAct'))",
        "fieldPath": ".stage",
        "reason": "FieldValueForbidden",
        "messageExpression": "'stage ' + self.stage + ' needs the signed preliminary test protocol and the act of transfer to trial operation (R-LC-02, 000 p.33.5-6); missing:' + (self.acts.exists(a, a.type == 'preliminaryTestProtocol') ? '' : ' preliminaryTestProtocol') + (self.acts.exists(a, a.type == 'trialTransferAct') ? '' : ' trialTransferAct') + '. Add them to spec.acts with number, date and sha256'"
    },
    {
        "rule": "self.stage != 'production' || (['trialCompletionAct', 'commissioningOrder', 'resourceConfirmation'].all(t, self.acts.exists(a, a.type == t)) && self.acts.exists(a, a.type == 'infoSecTestProtocol' && has(a.result) && a.result == 'positive'))",
        "fieldPath": ".stage",
        "reason": "FieldValueForbidden",
        "messageExpression": "'stage production needs the trial completion act, a positive information-security test protocol, the commissioning order and the confirmed production resources (R-LC-04, 000 p.34.4-38); missing:' + (self.acts.exists(a, a.type == 'trialCompletionAct') ? '' : ' trialCompletionAct') + (self.acts.exists(a, a.type == 'infoSecTestProtocol' && has(a.result) && a.result == 'positive') ? '' : ' infoSecTestProtocol (result: positive)') + (self.acts.exists(a, a.type == 'commissioningOrder') ? '' : ' commissioningOrder') + (self.acts.exists(a, a.type == 'resourceConfirmation') ? '' : ' resourceConfirmation') + '. Add them to spec.acts with number, date and sha256'"
    },
    {
        "rule": "self.stage != 'production' || has(self.environments.production)",
        "fieldPath": ".environments.production",
        "reason": "FieldValueRequired",
        "message": "stage production needs the confirmed production resources (R-LC-04, 000 p.38): set spec.environments.production"
    },
    {
        "rule": "self.stage == oldSelf.stage || (oldSelf.stage == 'development' && self.stage == 'preliminaryTesting') || (oldSelf.stage == 'preliminaryTesting' && self.stage in ['development', 'trialOperation']) || (oldSelf.stage == 'trialOperation' && self.stage in ['development', 'preliminaryTesting', 'production']) || (oldSelf.stage == 'production' && self.stage == 'decommissioned')",
        "fieldPath": ".stage",
        "reason": "FieldValueForbidden",
        "messageExpression": "'stage may not change from ' + oldSelf.stage + ' to ' + self.stage + ' (R-LC-01): stages go development, preliminaryTesting, trialOperation, production, decommissioned one at a time; before production a product may go back to development or preliminaryTesting for rework; decommissioned is final'"
    }
]))]
pub struct PlatformSoftwareProductSpec {
    /// The product's name as published.
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
    pub display_name: String,
    /// The ICT project code on the architecture portal (000 App.2).
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
        extend("x-kubernetes-validations" = [{
            "rule": "self.matches('^[A-Za-z0-9][A-Za-z0-9._/-]*$')",
            "messageExpression": "'\"' + self + '\" is not an ICT project code of the architecture portal (000 App.2): write it as the portal does, in Latin letters, digits and . _ / -, such as \"AKT-2026-0042\" (look-alike Cyrillic letters are not Latin)'"
        }])
    )]
    pub ict_project_code: String,
    /// The object this product is part of, if it is not standalone (000 App.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), transform = plain_text)]
    pub part_of: Option<String>,
    /// What the product is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096), transform = plain_prose)]
    pub purpose: Option<String>,
    /// The developer (supplier) that builds the product (000 p.3.7). Recorded; gets no
    /// access by default.
    pub developer: Organization,
    /// The service integrator, if there is one (000 p.3.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_integrator: Option<Organization>,
    /// The class of the object: 1, 2 or 3 (000 App.2 p.6.5). It sets the availability
    /// scheme (R-PLC-02) and the cryptographic protection level (class 1 → level 3).
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self >= 1 && self <= 3",
        "message": "class must be 1, 2 or 3 (000 App.2 p.6.5, R-PLC-02): write 1, 2 or 3"
    }]), range(min = 1, max = 3))]
    pub class: i32,
    /// The category of the information the product processes (000 App.2).
    pub information_category: InformationCategory,
    /// The product's scale (000 App.2); it weighs in the cost estimate (R-EST-01).
    pub scale: Scale,
    /// Capacity at peak: concurrent users and/or transactions per hour (000 App.2).
    pub capacity: Capacity,
    /// Channel bandwidth the product needs (000 App.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// The operating mode, for example "24x7" or "working hours" (000 App.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), transform = plain_text)]
    pub operating_mode: Option<String>,
    /// The architecture type (000 App.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// The contour of the platform's local network the product is placed in (R-SEG-01).
    pub contour: Contour,
    /// Whether the product talks to the Internet. Such a product is placed in a
    /// dedicated segment of the external contour (R-SEG-02).
    #[serde(default)]
    pub internet_facing: bool,
    /// Other objects the product talks to, and how (R-SEG-02).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub integrations: Vec<Integration>,
    /// Service-level indicators the product promises (000 App.2, R-MON-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    /// The lifecycle stage (R-LC-01). Forward one stage at a time, each gate opened by
    /// its acts; back to development or preliminaryTesting for rework.
    #[serde(default)]
    pub stage: Stage,
    /// Resources requested per environment (R-ENV-01, R-LC-05).
    #[serde(default)]
    pub environments: EnvironmentRequests,
    /// Documents that open the stage gates (R-LC-02, R-LC-04).
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub acts: Vec<Act>,
    /// The people in the project roles (000 p.26-28, R-LC-08), bound in every
    /// environment; members of the group `<agency group>:<product>:<role>` are bound too.
    #[serde(default, skip_serializing_if = "Participants::is_empty")]
    pub participants: Participants,
}

/// Users in each project role (000 p.26-28). The digitalization head appoints project
/// heads (p.27), project heads and the digitalization head appoint the others (p.28);
/// nobody appoints himself; every name is a user of the agency, the developer or the
/// service integrator (their `userDomains`), never a `system:` name (R-LC-08). The
/// product webhook checks who appoints whom.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participants {
    /// The project head: reads every environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), transform = user_names)]
    pub project_heads: Vec<String>,
    /// Administrators: manage workloads and secrets in every environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), transform = user_names)]
    pub administrators: Vec<String>,
    /// Information-security officers: read everything, including access bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), transform = user_names)]
    pub security_officers: Vec<String>,
    /// Technical specialists (developers): change workloads in development and
    /// testing, read trial and production.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), transform = user_names)]
    pub developers: Vec<String>,
}

impl Participants {
    /// Whether no one is named.
    pub fn is_empty(&self) -> bool {
        self.project_heads.is_empty()
            && self.administrators.is_empty()
            && self.security_officers.is_empty()
            && self.developers.is_empty()
    }
}

/// An organization with its business identification number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// The organization's name.
    #[schemars(length(min = 1, max = 512), transform = plain_text)]
    pub name: String,
    /// Its business identification number (BIN), 12 digits.
    #[schemars(schema_with = "bin_schema")]
    pub bin: String,
    /// The domains of its people's user names (`dev1@digital-solutions.kz` →
    /// `digital-solutions.kz`): its users may be appointed to the product's project
    /// roles (R-LC-08). None: none of its people can be appointed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), transform = user_domains)]
    pub user_domains: Vec<String>,
}

/// Category of information (000 App.2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InformationCategory {
    /// Publicly available information.
    Public,
    /// Confidential information.
    Confidential,
    /// Personal data of restricted access.
    RestrictedPersonalData,
}

/// Scale of the object (000 App.2; App.3 uses it in K-coefficients).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Scale {
    /// Object level.
    Object,
    /// Local.
    Local,
    /// Departmental.
    Departmental,
    /// Interdepartmental.
    Interdepartmental,
    /// Republican.
    Republican,
}

/// Architecture type (000 App.2).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Architecture {
    /// A monolith.
    Monolith,
    /// Service-oriented architecture.
    Soa,
    /// Event-driven architecture.
    EventDriven,
    /// Microservices.
    Microservice,
    /// Client-server.
    ClientServer,
}

/// Capacity at peak load (000 App.2).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.concurrentUsers) || has(self.peakTransactionsPerHour)",
    "reason": "FieldValueRequired",
    "message": "capacity needs concurrentUsers and/or peakTransactionsPerHour (000 App.2): give at least one"
}]))]
pub struct Capacity {
    /// Concurrent users at peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100_000_000))]
    pub concurrent_users: Option<i64>,
    /// Transactions per hour at peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000_000_000i64))]
    pub peak_transactions_per_hour: Option<i64>,
    /// Required response time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub response_time_ms: Option<i64>,
}

/// Channel bandwidth, in megabits per second (000 App.2).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidth {
    /// To the Internet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub internet_mbps: Option<i64>,
    /// Over the state bodies' unified transport network (ЕТС ГО).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub unified_transport_network_mbps: Option<i64>,
    /// Over the local network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000))]
    pub local_network_mbps: Option<i64>,
}

/// A link to another object (000 App.2), and the path the traffic takes (R-SEG-02).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// The other object, as `<namespace>/<product>` for a product on the platform, or
    /// its name in the e-government architecture portal.
    #[schemars(length(min = 1, max = 253), transform = plain_text)]
    pub target: String,
    /// How the traffic goes: through the e-government gateway (ЭҮІШ) or a screened
    /// subnet (R-SEG-02).
    pub via: IntegrationPath,
}

/// The path between contours (R-SEG-02).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum IntegrationPath {
    /// The e-government gateway (ЭҮІШ).
    Gateway,
    /// A screened subnet (DMZ).
    ScreenedSubnet,
}

/// Service-level indicators (000 App.2, R-MON-01).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sla {
    /// Availability target in percent, a decimal string such as "99.9".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^(100(\\\\.0+)?|[0-9]{1,2}(\\\\.[0-9]{1,4})?)$')",
        "message": "availabilityPercent must be a decimal from 0 to 100 with at most 4 decimals, such as \"99.9\" (R-MON-01)"
    }]), length(max = 16))]
    pub availability_percent: Option<String>,
    /// Recovery time objective, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 525_600))]
    pub recovery_time_minutes: Option<i64>,
    /// Recovery point objective, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 525_600))]
    pub recovery_point_minutes: Option<i64>,
}

/// Resources requested for each environment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct EnvironmentRequests {
    /// The development environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub development: Option<ResourceRequest>,
    /// The testing environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub testing: Option<ResourceRequest>,
    /// The trial-operation environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<ResourceRequest>,
    /// The production environment; its presence is the confirmation of production
    /// resources (R-LC-04, 000 p.38).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<ResourceRequest>,
}

impl EnvironmentRequests {
    /// The request for one environment.
    pub fn get(&self, env: EnvironmentName) -> Option<&ResourceRequest> {
        match env {
            EnvironmentName::Development => self.development.as_ref(),
            EnvironmentName::Testing => self.testing.as_ref(),
            EnvironmentName::Trial => self.trial.as_ref(),
            EnvironmentName::Production => self.production.as_ref(),
        }
    }
}

/// The compute, storage, telecom and software resources requested for an environment.
/// They become the environment's ResourceQuota; the bill counts what is used (R-BIL-01).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ResourceRequest {
    /// CPU cores, for example "4" or "500m".
    #[schemars(schema_with = "non_negative_quantity")]
    pub cpu: Quantity,
    /// Memory, for example "8Gi".
    #[schemars(schema_with = "non_negative_quantity")]
    pub memory: Quantity,
    /// Persistent storage, for example "50Gi".
    #[schemars(schema_with = "non_negative_quantity")]
    pub storage: Quantity,
    /// Outbound traffic per month, for example "20Gi".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "non_negative_quantity")]
    pub egress: Option<Quantity>,
    /// Catalog software the environment runs (R-SW-01).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub software: Vec<SoftwareRequest>,
}

/// Catalog software requested for an environment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SoftwareRequest {
    /// The SoftwareCatalogItem's name.
    #[schemars(length(min = 1, max = 253), transform = object_name)]
    pub item: String,
    /// How many instances.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10_000))]
    pub instances: i32,
}

fn one() -> i32 {
    1
}

/// A signed document that opens a stage gate. Once it has opened a gate it cannot be
/// changed or removed (R-LC-09); the operator's webhook checks its date against the
/// other acts and today (`akp_rules::acts`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self.type != 'infoSecTestProtocol' || has(self.result)",
        "fieldPath": ".result",
        "reason": "FieldValueRequired",
        "messageExpression": "'the information-security test protocol ' + self.number + ' needs its result (R-LC-04, 000 p.36): set result: positive or result: negative, as the protocol concludes; only a positive one opens production'"
    },
    {
        "rule": "self.type == 'infoSecTestProtocol' || !has(self.result)",
        "fieldPath": ".result",
        "reason": "FieldValueForbidden",
        "messageExpression": "'the ' + self.type + ' ' + self.number + ' has no result to record (R-LC-04): result is the conclusion of an infoSecTestProtocol only; remove it'"
    }
]))]
pub struct Act {
    /// What the document is.
    #[serde(rename = "type")]
    pub type_: ActType,
    /// The document's number.
    #[schemars(length(min = 1, max = 64), transform = plain_text)]
    pub number: String,
    /// The document's date.
    #[schemars(schema_with = "date_schema")]
    pub date: jiff::civil::Date,
    /// SHA-256 of the signed document, 64 lowercase hex digits; `kubectl pbo promote`
    /// computes it from the file.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self.matches('^[0-9a-f]{64}$')",
        "message": "sha256 must be the SHA-256 of the signed document, 64 lowercase hex digits (R-LC-02, R-LC-04): compute it with sha256sum or kubectl pbo promote",
        "messageExpression": "'\"' + self + '\" is not a SHA-256 (R-LC-02, R-LC-04): write the 64 lowercase hex digits of the signed document, as sha256sum prints them, or let kubectl pbo promote compute them'"
    }]), length(max = 128))]
    pub sha256: String,
    /// Where the document is kept, for example a link in the document system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), transform = plain_text)]
    pub uri: Option<String>,
    /// The conclusion of an information-security test protocol (000 p.36): only a
    /// positive one opens production (R-LC-04); a negative one is kept as the record
    /// of the failed test, and the product goes back to rework (R-LC-09). Required on
    /// `infoSecTestProtocol`, refused on the other acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ActResult>,
}

/// The conclusion of a test protocol (000 p.36).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ActResult {
    /// The object passed the test.
    Positive,
    /// The object failed the test.
    Negative,
}

impl ActResult {
    /// The name as the API writes it (`spec.acts[].result`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActResult::Positive => "positive",
            ActResult::Negative => "negative",
        }
    }
}

/// The documents that open stage gates.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ActType {
    /// The signed preliminary test protocol (000 p.33.5, R-LC-02).
    PreliminaryTestProtocol,
    /// The act of transfer to trial operation (000 p.33.6, R-LC-02).
    TrialTransferAct,
    /// The act of completion of trial operation (000 p.34.4, R-LC-04).
    TrialCompletionAct,
    /// A positive information-security test protocol (000 p.35-36, R-LC-04).
    InfoSecTestProtocol,
    /// The head's order on commissioning (000 p.37.1, R-LC-04).
    CommissioningOrder,
    /// The confirmed resources for production (000 p.38, R-LC-04).
    ResourceConfirmation,
}

impl ActType {
    /// All act types, in the order of the gates they open.
    pub const ALL: [ActType; 6] = [
        ActType::PreliminaryTestProtocol,
        ActType::TrialTransferAct,
        ActType::TrialCompletionAct,
        ActType::InfoSecTestProtocol,
        ActType::CommissioningOrder,
        ActType::ResourceConfirmation,
    ];

    /// The name as the API writes it (`spec.acts[].type`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActType::PreliminaryTestProtocol => "preliminaryTestProtocol",
            ActType::TrialTransferAct => "trialTransferAct",
            ActType::TrialCompletionAct => "trialCompletionAct",
            ActType::InfoSecTestProtocol => "infoSecTestProtocol",
            ActType::CommissioningOrder => "commissioningOrder",
            ActType::ResourceConfirmation => "resourceConfirmation",
        }
    }
}

/// What the operator observed of the product.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSoftwareProductStatus {
    /// The Agency that owns the product's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The stage the environments were last reconciled for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// When the operator first saw the product at this stage; the provisioning clock
    /// starts here (R-ENV-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_since: Option<Time>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Placed, Segmented, TrialWithinLimit, ProvisionedWithinSla, ...
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The environments the product has now.
    #[serde(default)]
    pub environments: Vec<EnvironmentStatus>,
    /// The trial-operation clock (R-LC-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialStatus>,
    /// When the operator first saw the product in trial operation or later; kept for
    /// good, also through rework. Such a product leaves through `decommissioned`, and
    /// only the SREs delete its record (R-LC-07). Written by the operator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_reached_at: Option<Time>,
    /// Production operation and warranty (R-LC-06).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<ProductionStatus>,
    /// The first day non-production environments are no longer free: 3 months after
    /// the agency's earliest contract (R-ENV-04). The tariff decides what follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::date_schema")]
    pub non_production_free_until: Option<jiff::civil::Date>,
    /// The resources requested at each stage, oldest first, the last 50 changes
    /// (R-LC-05: revisions during trial operation go to the authorized body).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub request_history: Vec<RequestRecord>,
    /// Every stage period the operator saw, oldest first, at most 256 (the oldest
    /// periods of development go first): each trial period with the act of transfer
    /// that started it and its deadline (R-LC-03), each return for rework (R-LC-09).
    /// The product webhook reads the last return from here: a gate passed before it
    /// opens again only with acts dated after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub stage_history: Vec<StagePeriod>,
    /// The level of cryptographic protection the class requires (R-SEC-01, 000 App.2
    /// p.6.4: class 1 → 3, class 2 → 2, class 3 → 1). Recorded by the operator; the
    /// means of protection are the agency's to certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection_level: Option<i32>,
}

/// One period of a product at a stage (R-LC-03, R-LC-09).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StagePeriod {
    /// The stage.
    pub stage: Stage,
    /// When the operator first saw the product at it.
    pub since: Time,
    /// When the operator saw the product leave it; none while it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
    /// Whether the product came to this stage back from trial operation: a return
    /// for rework (000 p.31, R-LC-09).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rework: bool,
    /// The act the period's clock runs from: the act of transfer to trial operation
    /// for a trial period, the commissioning order for production, as `<type> <number>
    /// of <date>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub act: Option<String>,
    /// A trial period's deadline, one calendar month after its act (R-LC-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Time>,
}

/// The resources requested at one point of the product's life (R-LC-05).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// When the operator saw this request.
    pub observed_at: Time,
    /// The product's generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The stage at the time.
    pub stage: Stage,
    /// What was requested per environment (as spec.environments was; validated there).
    #[schemars(schema_with = "recorded_requests")]
    pub environments: EnvironmentRequests,
}

/// The record keeps what the spec held, already validated, so its schema carries no
/// rules of its own (CEL rules in a list of 50 would exceed the API server's budget).
fn recorded_requests(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "The resources requested per environment, as spec.environments was.",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// One environment of the product.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    /// Which environment.
    pub name: EnvironmentName,
    /// Its namespace, `<agency>-<product>-<environment>`.
    pub namespace: String,
    /// The sites it is placed on.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Whether it is fully provisioned.
    #[serde(default)]
    pub ready: bool,
    /// When it was requested (R-ENV-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    /// When it became ready (R-ENV-03).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<Time>,
    /// R-PLC-03: it runs at an ICT-infrastructure provider's site, because no site of
    /// the platform or the operator hosts its contour (classes 2 and 3 only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_provider: bool,
    /// R-PLC-02, R-PLC-04: production's standby by class: hot (class 1, its reserve
    /// site), cold (class 2, a reserve site) or backup storage (class 3, a site near
    /// the main building).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<StandbyStatus>,
}

/// Where production's standby is (R-PLC-02, R-PLC-04).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandbyStatus {
    /// Hot, cold or backup.
    pub kind: StandbyKind,
    /// The Site.
    #[schemars(length(max = 253))]
    pub site: String,
    /// Its storage classes, which the environment's volume claims may use for the
    /// standby's data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub storage_classes: Vec<String>,
}

/// The standby a class gets (000 App.2 p.6.5).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StandbyKind {
    /// Class 1: running at the reserve site too.
    Hot,
    /// Class 2: capacity and data at a reserve site, started there on failover.
    Cold,
    /// Class 3: backup storage at a site near the main building.
    Backup,
}

impl StandbyKind {
    /// The kind as the API writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            StandbyKind::Hot => "hot",
            StandbyKind::Cold => "cold",
            StandbyKind::Backup => "backup",
        }
    }
}

/// The trial-operation clock (R-LC-03).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialStatus {
    /// When trial operation started: the start of the day (Kazakhstan time) of the act
    /// of transfer to trial operation (R-LC-03).
    pub started_at: Time,
    /// The end of the day one calendar month after the act (R-LC-03).
    pub deadline: Time,
    /// The act of transfer to trial operation the clock runs from, as `<number> of
    /// <date>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub act: Option<String>,
}

/// Production operation (R-LC-06).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductionStatus {
    /// When production operation started: the start of the day (Kazakhstan time) of
    /// the head's commissioning order (R-LC-06).
    pub since: Time,
    /// The end of the warranty, at least one year after commissioning (R-LC-06).
    #[schemars(schema_with = "date_schema")]
    pub warranty_until: jiff::civil::Date,
}

#[cfg(test)]
mod tests {
    use super::StandbyKind;

    #[test]
    fn standby_kinds_read_as_the_api_writes_them() {
        for kind in [StandbyKind::Hot, StandbyKind::Cold, StandbyKind::Backup] {
            assert_eq!(serde_json::to_value(kind).ok(), Some(kind.as_str().into()));
        }
    }
}
