//! Admission of PlatformSoftwareProducts: the rules that need other objects.
//!
//! - R-LC-08: a product lives in the namespace of an Agency (`spec.namespace`);
//! - R-ENV-01: its environment namespaces `<agency>-<product>-<env>` fit a DNS label;
//! - R-SW-01, R-ENV-02: the software it requests is in the catalog and allowed in that
//!   environment;
//! - R-SW-02: software whose register documents expired is refused for new use, and
//!   warned about 30 days ahead;
//! - R-LC-01, R-LC-02, R-LC-04: a stage change is re-checked (CEL on the CRD checks it
//!   first; this is defence in depth, with the same wording);
//! - R-LC-02, R-LC-04, R-LC-09: the acts' dates (in stage order, not in the future),
//!   the information-security protocol's result, the acts that opened a gate kept,
//!   and after a return for rework new acts ([`crate::acts::check_acts`], on
//!   the stored object with the stage history the operator wrote);
//! - R-LC-07, R-LC-08, R-LC-10: who may delete the record, appoint participants and
//!   change the legal regime ([`super::roles`], on the requester's `userInfo`);
//! - R-MON-02: a stage change, a revision of the requested resources (R-LC-05) and a
//!   deletion are recorded with the requester ([`stage_act`], [`revision_act`],
//!   [`deletion_act`]), not with a client-chosen field manager.
//!
//! The operator's webhook fetches the inputs of [`check_product`] and
//! [`check_requester`].

use std::collections::{BTreeMap, BTreeSet, HashSet};

use akp_crds::product::ActType;
use akp_crds::{Agency, EnvironmentName, PlatformSoftwareProduct, SoftwareCatalogItem, Stage};
use jiff::civil::Date;
use kube_core::ResourceExt;

use super::roles::{
    Requester, check_authorized_body_change, check_confirmations, check_delete, check_participants,
    check_regime, default_authorized_body_groups, default_sre_groups, reached_trial,
};
use super::verdict::{AuditedAct, Verdict, Violation};
use crate::acts::check_acts;
use crate::catalog::{Standing, standing};
use crate::naming::{MAX_NAMESPACE_LEN, environment_namespace, max_product_name_len};
use crate::ownership::owning_agency;
use crate::stages::{check_transition, missing_acts};

/// R-SW-02: the register entry must be renewed 30 calendar days before its documents
/// expire; the webhook warns from then on.
pub const EXPIRY_WARNING_DAYS: i32 = crate::catalog::RENEWAL_WARNING_DAYS;

/// Everything besides the product that the checks consult.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// Every Agency.
    pub agencies: &'a [Agency],
    /// The catalog items the product names, by name (missing ones do not exist).
    pub catalog: &'a BTreeMap<String, SoftwareCatalogItem>,
    /// Today, in Kazakhstan.
    pub today: Date,
}

/// Judges a product being created (`old` is `None`) or updated.
///
/// On UPDATE, a use of software already present in the old object, in the same
/// environment, is not refused for being expired or gone from the catalog: R-SW-02
/// stops *new* uses, and refusing would block every other change of the product.
/// The environment rule (R-ENV-02) holds for every use.
pub fn check_product(
    namespace: &str,
    name: &str,
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    facts: &Facts<'_>,
) -> Verdict {
    let mut verdict = Verdict::allowed();
    match owning_agency(namespace, facts.agencies) {
        Some(agency) => verdict
            .violations
            .extend(check_name_length(name, &agency.name_any())),
        None => verdict.violations.push(Violation {
            field: "metadata.namespace".into(),
            value: namespace.into(),
            problem: "belongs to no Agency".into(),
            rule: "R-LC-08",
            fix: "create products in your agency's namespace (kubectl get agencies shows it)"
                .into(),
        }),
    }
    check_software(product, old, facts, &mut verdict);
    verdict
        .violations
        .extend(check_stage(product, old.map(|o| o.spec.stage)));
    verdict
        .violations
        .extend(check_acts(old, product, facts.today));
    verdict
}

/// What a request is decided on before anything is looked up, or `None` when it
/// needs the Agencies and the catalog ([`judge`]):
/// - a delete (R-LC-07): who may delete the record, and the deletion act to record;
/// - a change by the authorized body that is more than its confirmations (R-LC-10),
///   metadata included;
/// - an update of metadata or status only, or of a product being deleted: allowed
///   (removing a finalizer must go through even when the product breaks a rule that
///   appeared after it was admitted).
pub fn judge_before_lookup(
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    deleting: bool,
    requester: Requester<'_>,
    groups: &Groups,
) -> Option<Verdict> {
    let mut verdict = Verdict::allowed();
    if deleting {
        verdict
            .violations
            .extend(check_delete(product, requester, &groups.sre));
        verdict.acts.push(deletion_act(product));
        return Some(verdict);
    }
    verdict.violations = check_authorized_body_change(
        product,
        old,
        requester,
        &groups.authorized_body,
        &groups.sre,
    );
    let unchanged = old.is_some_and(|old| {
        product.metadata.deletion_timestamp.is_some() || product.spec == old.spec
    });
    (!verdict.violations.is_empty() || unchanged).then_some(verdict)
}

/// The catalog items the product names, each once: what [`judge`] needs looked up.
pub fn catalog_names(product: &PlatformSoftwareProduct) -> Vec<String> {
    let names: BTreeSet<&str> = software_uses(product)
        .into_iter()
        .map(|(_, item)| item)
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

/// A create or update judged on what was looked up: [`check_product`],
/// [`check_requester`], and the acts the audit trail records with the requester (a
/// stage change, a revision of the requested resources).
pub fn judge(
    namespace: &str,
    name: &str,
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    facts: &Facts<'_>,
    requester: Requester<'_>,
    groups: &Groups,
) -> Verdict {
    let mut verdict = check_product(namespace, name, product, old, facts);
    verdict.violations.extend(check_requester(
        namespace,
        product,
        old,
        facts.agencies,
        requester,
        groups,
    ));
    verdict.acts.extend(stage_act(product, old));
    verdict.acts.extend(revision_act(product, old));
    verdict
}

/// R-ENV-01: every environment of the product is a namespace
/// `<agency>-<product>-<env>`, which must fit in a DNS label.
pub fn check_name_length(name: &str, agency: &str) -> Option<Violation> {
    let limit = max_product_name_len(agency);
    if name.len() <= limit {
        return None;
    }
    let longest = environment_namespace(agency, name, EnvironmentName::Production);
    Some(Violation {
        field: "metadata.name".into(),
        value: name.into(),
        problem: format!(
            "is {} characters, too long for agency {agency}: its environment namespace {longest} would be {} characters, over the {MAX_NAMESPACE_LEN} a namespace name may have",
            name.len(),
            longest.len()
        ),
        rule: "R-ENV-01",
        fix: format!("choose a name of at most {limit} characters (the limit for agency {agency})"),
    })
}

/// R-SW-01, R-ENV-02, R-SW-02: the software of every environment.
fn check_software(
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    facts: &Facts<'_>,
    verdict: &mut Verdict,
) {
    let already_used: HashSet<(EnvironmentName, &str)> = old.map(software_uses).unwrap_or_default();
    for env in EnvironmentName::ALL {
        let Some(request) = product.spec.environments.get(env) else {
            continue;
        };
        for (index, software) in request.software.iter().enumerate() {
            let item_name = software.item.as_str();
            let field = format!("spec.environments.{}.software[{index}].item", env.as_str());
            let existing_use = already_used.contains(&(env, item_name));
            let Some(item) = facts.catalog.get(item_name) else {
                if !existing_use {
                    verdict.violations.push(Violation {
                        field,
                        value: item_name.into(),
                        problem: "names no SoftwareCatalogItem".into(),
                        rule: "R-SW-01",
                        fix: "request software of the catalog (kubectl get swc), or ask the platform operator to register it".into(),
                    });
                }
                continue;
            };
            if !item.spec.allowed_environments.contains(&env) {
                let allowed: Vec<&str> = item
                    .spec
                    .allowed_environments
                    .iter()
                    .map(|e| e.as_str())
                    .collect();
                verdict.violations.push(Violation {
                    field: field.clone(),
                    value: item_name.into(),
                    problem: format!(
                        "may not run in the {} environment, only in {}",
                        env.as_str(),
                        allowed.join(", ")
                    ),
                    rule: "R-ENV-02",
                    fix: format!(
                        "remove it from spec.environments.{}.software, or request it only where it may run",
                        env.as_str()
                    ),
                });
            }
            match standing(item, facts.today) {
                Standing::Expired { entry, until } if !existing_use => {
                    verdict.violations.push(Violation {
                        field,
                        value: item_name.into(),
                        problem: format!(
                            "is trusted software whose register documents (entry {entry}) were valid until {until} only"
                        ),
                        rule: "R-SW-02",
                        fix: "new uses of expired software are refused: request other catalog software, or ask the platform operator to renew the register entry".into(),
                    });
                }
                Standing::Removed { entry, on, basis } if !existing_use => {
                    verdict.violations.push(Violation {
                        field,
                        value: item_name.into(),
                        problem: format!(
                            "is software whose register entry {entry} was removed from the register of trusted software on {on} ({basis})"
                        ),
                        rule: "R-SW-02",
                        fix: "new uses of software removed from the register are refused: request other catalog software (kubectl get swc)".into(),
                    });
                }
                Standing::Expiring { entry, until } => verdict.warnings.push(format!(
                    "{field} {item_name:?}: the register documents (entry {entry}) expire after {until}; from then on no new use is admitted (R-SW-02)"
                )),
                _ => {}
            }
        }
    }
}

/// Each (environment, catalog item) the product requests.
fn software_uses(product: &PlatformSoftwareProduct) -> HashSet<(EnvironmentName, &str)> {
    EnvironmentName::ALL
        .into_iter()
        .filter_map(|env| product.spec.environments.get(env).map(|r| (env, r)))
        .flat_map(|(env, request)| request.software.iter().map(move |s| (env, s.item.as_str())))
        .collect()
}

/// R-LC-01, R-LC-02, R-LC-04: when the stage is new to the object (CREATE, or an
/// UPDATE that changes it), the move must be allowed and the gate's acts present.
/// The CRD's CEL refuses the same with the same words before webhooks are called;
/// this guards a cluster whose CRD lags behind.
pub fn check_stage(product: &PlatformSoftwareProduct, old_stage: Option<Stage>) -> Vec<Violation> {
    let stage = product.spec.stage;
    if old_stage == Some(stage) {
        return Vec::new();
    }
    let mut violations = Vec::new();
    if let Some(from) = old_stage
        && check_transition(from, stage).is_err()
    {
        violations.push(Violation {
            field: "spec.stage".into(),
            value: stage.as_str().into(),
            problem: format!("may not follow {}", from.as_str()),
            rule: "R-LC-01",
            fix: "stages go development, preliminaryTesting, trialOperation, production, decommissioned one at a time; before production a product may go back to development or preliminaryTesting for rework; decommissioned is final".into(),
        });
    }
    let missing = missing_acts(stage, &product.spec.acts);
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().copied().map(ActType::as_str).collect();
        let rule = if missing.iter().all(|t| {
            matches!(
                t,
                ActType::PreliminaryTestProtocol | ActType::TrialTransferAct
            )
        }) {
            "R-LC-02"
        } else {
            "R-LC-04"
        };
        violations.push(Violation {
            field: "spec.stage".into(),
            value: stage.as_str().into(),
            problem: format!("needs acts that are missing: {}", names.join(", ")),
            rule,
            fix: "add them to spec.acts with number, date and sha256".into(),
        });
    }
    violations
}

/// R-LC-07, R-LC-08, R-LC-10: the checks on who asks, for a product of the Agency
/// owning `namespace` (none: [`check_product`] refuses the namespace already).
pub fn check_requester(
    namespace: &str,
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    agencies: &[Agency],
    requester: Requester<'_>,
    groups: &Groups,
) -> Vec<Violation> {
    let Some(agency) = owning_agency(namespace, agencies) else {
        return Vec::new();
    };
    let mut violations = check_participants(
        &product.spec,
        old.map(|o| &o.spec),
        agency,
        agencies,
        requester,
    );
    if let Some(old) = old {
        violations.extend(check_regime(&product.spec, old, requester, &groups.sre));
    }
    violations.extend(check_confirmations(
        &product.spec,
        old.map(|o| &o.spec),
        requester,
        &groups.authorized_body,
    ));
    violations
}

/// The groups the requester checks read: the platform's SREs (`--sre-group`) and the
/// authorized body's (`--authorized-body-group`).
#[derive(Clone, Debug)]
pub struct Groups {
    /// R-LC-07, R-LC-10: the SREs.
    pub sre: Vec<String>,
    /// R-LC-10: the authorized body.
    pub authorized_body: Vec<String>,
}

impl Default for Groups {
    fn default() -> Self {
        Self {
            sre: default_sre_groups(),
            authorized_body: default_authorized_body_groups(),
        }
    }
}

/// R-MON-02: the stage change a CREATE or UPDATE asks for, to be recorded with the
/// requester; `None` when the stage stays.
pub fn stage_act(
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
) -> Option<AuditedAct> {
    let from = old.map(|o| o.spec.stage);
    let to = product.spec.stage;
    if from == Some(to) {
        return None;
    }
    let from = from.map(Stage::as_str).unwrap_or("none");
    Some(AuditedAct {
        action: crate::audit::STAGE_CHANGE,
        reason: format!("stage {from} → {}", to.as_str()),
        details: serde_json::json!({
            "from": from,
            "to": to.as_str(),
            "generation": product.metadata.generation,
        }),
    })
}

/// R-LC-05, R-LC-10: a revision of the requested resources (`spec.environments`, the
/// first request too), recorded with the requester and both requests in full: the
/// audit trail keeps every one for 3 years, where the status keeps the last 50.
pub fn revision_act(
    product: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
) -> Option<AuditedAct> {
    let from = old.map(|o| &o.spec.environments);
    if from == Some(&product.spec.environments) {
        return None;
    }
    Some(AuditedAct {
        action: crate::audit::RESOURCES_REVISION,
        reason: format!(
            "resources requested at stage {}",
            product.spec.stage.as_str()
        ),
        details: serde_json::json!({
            "stage": product.spec.stage.as_str(),
            "from": from,
            "to": product.spec.environments,
            "generation": product.metadata.generation,
        }),
    })
}

/// R-MON-02, R-LC-07: the deletion of a product's record, to be recorded with the
/// requester, with what the record was.
pub fn deletion_act(product: &PlatformSoftwareProduct) -> AuditedAct {
    let reached = reached_trial(product);
    AuditedAct {
        action: crate::audit::RECORD_DELETE,
        reason: format!(
            "delete the record of product {} at stage {}",
            product.name_any(),
            product.spec.stage.as_str()
        ),
        details: serde_json::json!({
            "stage": product.spec.stage.as_str(),
            "reachedTrialOperation": reached.is_some(),
            "trialReachedAt": reached.flatten(),
            "generation": product.metadata.generation,
            "resourceVersion": product.metadata.resource_version,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::agency::tests::agency;
    use serde_json::json;

    fn item(name: &str, envs: &[&str], valid_until: Option<&str>) -> SoftwareCatalogItem {
        let mut spec = json!({
            "displayName": name, "category": "system",
            "images": [format!("registry.akp.kz/platform/{name}")],
            "allowedEnvironments": envs,
        });
        if let Some(until) = valid_until {
            spec["trustedRegister"] =
                json!({"entry": "RU-2025-0113", "documentsValidUntil": until});
        }
        serde_json::from_value(json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "SoftwareCatalogItem",
            "metadata": {"name": name}, "spec": spec
        }))
        .expect("item")
    }

    /// A product in development whose development environment runs `software`.
    fn product(software: &[&str]) -> PlatformSoftwareProduct {
        let software: Vec<_> = software.iter().map(|s| json!({"item": s})).collect();
        crate::examples::product_with(
            "agency-mon",
            json!({"environments": {
                "development": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "software": software}
            }}),
        )
    }

    struct World {
        agencies: Vec<Agency>,
        catalog: BTreeMap<String, SoftwareCatalogItem>,
        today: Date,
    }

    impl World {
        fn new() -> Self {
            let items = [
                item(
                    "postgresql-16",
                    &["development", "testing", "trial", "production"],
                    Some("2027-04-30"),
                ),
                item("portal", &["trial", "production"], None),
                item(
                    "redis-7",
                    &["development", "testing", "trial", "production"],
                    Some("2026-09-30"),
                ),
                item(
                    "kafka-3",
                    &["development", "testing", "trial", "production"],
                    Some("2026-10-20"),
                ),
            ];
            Self {
                agencies: vec![agency("mon", "agency-mon")],
                catalog: items.into_iter().map(|i| (i.name_any(), i)).collect(),
                today: jiff::civil::date(2026, 10, 1),
            }
        }

        fn check(
            &self,
            namespace: &str,
            name: &str,
            new: &PlatformSoftwareProduct,
            old: Option<&PlatformSoftwareProduct>,
        ) -> Verdict {
            let facts = Facts {
                agencies: &self.agencies,
                catalog: &self.catalog,
                today: self.today,
            };
            check_product(namespace, name, new, old, &facts)
        }
    }

    #[test]
    fn a_valid_product_is_allowed() {
        let verdict = World::new().check(
            "agency-mon",
            "e-license",
            &product(&["postgresql-16"]),
            None,
        );
        assert_eq!(verdict, Verdict::allowed());
    }

    #[test]
    fn r_lc_08_a_product_outside_every_agency_namespace_is_refused() {
        let verdict = World::new().check("foo", "e-license", &product(&[]), None);
        assert_eq!(
            verdict.message(),
            r#"metadata.namespace "foo" belongs to no Agency (R-LC-08): create products in your agency's namespace (kubectl get agencies shows it)"#
        );
    }

    #[test]
    fn r_env_01_the_name_must_leave_room_for_the_environment_namespaces() {
        let world = World::new();
        // 63 - len("mon") - 2 dashes - len("production") = 48.
        let longest = "p".repeat(48);
        assert!(
            world
                .check("agency-mon", &longest, &product(&[]), None)
                .is_allowed()
        );
        let too_long = "p".repeat(49);
        let message = world
            .check("agency-mon", &too_long, &product(&[]), None)
            .message();
        assert!(
            message.starts_with(&format!(
                "metadata.name {too_long:?} is 49 characters, too long for agency mon"
            )),
            "{message}"
        );
        assert!(
            message.contains("would be 64 characters, over the 63"),
            "{message}"
        );
        assert!(
            message.contains("(R-ENV-01): choose a name of at most 48 characters"),
            "{message}"
        );
    }

    #[test]
    fn r_sw_01_r_env_02_unknown_and_misplaced_software_are_all_listed() {
        let verdict = World::new().check(
            "agency-mon",
            "e-license",
            &product(&["nosuch", "portal"]),
            None,
        );
        assert_eq!(verdict.violations.len(), 2);
        assert_eq!(
            verdict.violations[0].to_string(),
            r#"spec.environments.development.software[0].item "nosuch" names no SoftwareCatalogItem (R-SW-01): request software of the catalog (kubectl get swc), or ask the platform operator to register it"#
        );
        assert_eq!(
            verdict.violations[1].to_string(),
            r#"spec.environments.development.software[1].item "portal" may not run in the development environment, only in trial, production (R-ENV-02): remove it from spec.environments.development.software, or request it only where it may run"#
        );
        assert!(verdict.message().starts_with("2 problems: "));
    }

    #[test]
    fn r_sw_02_expired_software_is_refused_for_new_use_only() {
        let world = World::new();
        let verdict = world.check("agency-mon", "e-license", &product(&["redis-7"]), None);
        assert_eq!(
            verdict.message(),
            r#"spec.environments.development.software[0].item "redis-7" is trusted software whose register documents (entry RU-2025-0113) were valid until 2026-09-30 only (R-SW-02): new uses of expired software are refused: request other catalog software, or ask the platform operator to renew the register entry"#
        );
        // Already used there: an update that keeps it is allowed ...
        let old = product(&["redis-7"]);
        let mut new = old.clone();
        new.spec.capacity.concurrent_users = Some(200);
        assert!(
            world
                .check("agency-mon", "e-license", &new, Some(&old))
                .is_allowed()
        );
        // ... but not its use in another environment.
        let mut elsewhere = new.clone();
        let mut testing = elsewhere
            .spec
            .environments
            .development
            .clone()
            .expect("development");
        testing.software = vec![akp_crds::product::SoftwareRequest {
            item: "redis-7".into(),
            instances: 1,
        }];
        elsewhere.spec.environments.testing = Some(testing);
        let verdict = world.check("agency-mon", "e-license", &elsewhere, Some(&old));
        assert_eq!(verdict.violations.len(), 1);
        assert!(
            verdict.violations[0]
                .field
                .starts_with("spec.environments.testing")
        );
    }

    #[test]
    fn r_sw_02_software_removed_from_the_register_is_refused_for_new_use_only() {
        let mut world = World::new();
        if let Some(r) = world
            .catalog
            .get_mut("postgresql-16")
            .and_then(|i| i.spec.trusted_register.as_mut())
        {
            r.removed = Some(akp_crds::catalog::RegisterRemoval {
                on: jiff::civil::date(2026, 9, 15),
                basis: "order 12 of 2026-09-14".into(),
            });
        }
        let verdict = world.check(
            "agency-mon",
            "e-license",
            &product(&["postgresql-16"]),
            None,
        );
        assert_eq!(
            verdict.message(),
            r#"spec.environments.development.software[0].item "postgresql-16" is software whose register entry RU-2025-0113 was removed from the register of trusted software on 2026-09-15 (order 12 of 2026-09-14) (R-SW-02): new uses of software removed from the register are refused: request other catalog software (kubectl get swc)"#
        );
        // A use already there stays.
        let used = product(&["postgresql-16"]);
        let mut more_users = used.clone();
        more_users.spec.capacity.concurrent_users = Some(200);
        let kept = world.check("agency-mon", "e-license", &more_users, Some(&used));
        assert!(kept.is_allowed(), "{}", kept.message());
    }

    #[test]
    fn r_sw_02_the_last_valid_day_is_valid_and_expiry_is_warned_30_days_ahead() {
        let mut world = World::new();
        world.today = jiff::civil::date(2026, 9, 30);
        let verdict = world.check("agency-mon", "e-license", &product(&["redis-7"]), None);
        assert!(verdict.is_allowed());
        assert_eq!(verdict.warnings.len(), 1);
        assert!(
            verdict.warnings[0].contains("expire after 2026-09-30"),
            "{:?}",
            verdict.warnings
        );
        // Exactly 30 days ahead is within the warning window (as in rules::catalog);
        // 31 days ahead is not.
        world.today = jiff::civil::date(2026, 8, 31);
        let verdict = world.check("agency-mon", "e-license", &product(&["redis-7"]), None);
        assert_eq!(verdict.warnings.len(), 1, "{:?}", verdict.warnings);
        world.today = jiff::civil::date(2026, 8, 30);
        let verdict = world.check("agency-mon", "e-license", &product(&["redis-7"]), None);
        assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);
    }

    #[test]
    fn software_gone_from_the_catalog_stays_where_it_was_used() {
        let world = World::new();
        let old = product(&["retired"]);
        let mut new = old.clone();
        new.spec.display_name = "renamed".into();
        assert!(
            world
                .check("agency-mon", "e-license", &new, Some(&old))
                .is_allowed()
        );
    }

    #[test]
    fn r_lc_01_a_stage_change_is_rechecked() {
        let mut old = product(&[]);
        old.spec.stage = Stage::Development;
        let mut new = old.clone();
        new.spec.stage = Stage::TrialOperation;
        let violations = check_stage(&new, Some(old.spec.stage));
        assert_eq!(violations.len(), 2);
        assert_eq!(
            violations[0].to_string(),
            r#"spec.stage "trialOperation" may not follow development (R-LC-01): stages go development, preliminaryTesting, trialOperation, production, decommissioned one at a time; before production a product may go back to development or preliminaryTesting for rework; decommissioned is final"#
        );
        assert_eq!(
            violations[1].to_string(),
            r#"spec.stage "trialOperation" needs acts that are missing: preliminaryTestProtocol, trialTransferAct (R-LC-02): add them to spec.acts with number, date and sha256"#
        );
        // Unchanged: nothing to re-check.
        assert!(check_stage(&new, Some(Stage::TrialOperation)).is_empty());
        // Going back for rework needs no act.
        let mut back = new.clone();
        back.spec.stage = Stage::Development;
        assert!(check_stage(&back, Some(Stage::TrialOperation)).is_empty());
    }

    /// R-LC-09: the webhook judges the acts against the stored object and today: an
    /// act dated after today is refused with the act, the field, the rule and the
    /// fix; one already stored is not judged again.
    #[test]
    fn r_lc_09_the_acts_are_judged_against_today_and_the_stored_object() {
        let world = World::new();
        let mut new = product(&[]);
        new.spec.stage = Stage::TrialOperation;
        new.spec.acts = serde_json::from_value(json!([
            {"type": "preliminaryTestProtocol", "number": "1", "date": "2026-09-01", "sha256": "0".repeat(64)},
            {"type": "trialTransferAct", "number": "7", "date": "2026-10-02", "sha256": "1".repeat(64)}
        ]))
        .expect("acts");
        let verdict = world.check("agency-mon", "e-license", &new, None);
        assert_eq!(
            verdict.message(),
            r#"spec.acts[1].date "2026-10-02" is the date of trialTransferAct 7 of 2026-10-02, after today (2026-10-01 in Kazakhstan, UTC+5) (R-LC-09): an act is recorded once it is signed: write the date it bears, today at the latest"#
        );
        // Removing an act that opened the gate, on the way back to rework.
        let mut old = new.clone();
        old.spec.acts[1].date = jiff::civil::date(2026, 9, 3);
        let mut back = old.clone();
        back.spec.stage = Stage::Development;
        back.spec.acts.truncate(1);
        let verdict = world.check("agency-mon", "e-license", &back, Some(&old));
        assert_eq!(verdict.violations.len(), 1, "{}", verdict.message());
        assert_eq!(verdict.violations[0].rule, "R-LC-09");
        assert_eq!(verdict.violations[0].field, "spec.acts");
    }

    #[test]
    fn r_lc_04_production_names_its_missing_acts() {
        let mut new = product(&[]);
        new.spec.stage = Stage::Production;
        let violations = check_stage(&new, None);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].rule, "R-LC-04");
        assert!(
            violations[0]
                .problem
                .ends_with("commissioningOrder, resourceConfirmation")
        );
    }
}
