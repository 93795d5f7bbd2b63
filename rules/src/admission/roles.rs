//! Who may do what to a product record, judged on the requester the API server
//! authenticated (the AdmissionReview's `userInfo`):
//!
//! - R-LC-07: a product that ever reached trial operation leaves through
//!   `decommissioned`; its record stays, and only the platform's SREs delete it;
//! - R-LC-08: roles are assigned, not taken (000 p.27-28): the digitalization head
//!   appoints project heads, the head and the project heads appoint the other roles,
//!   nobody appoints himself, and only people of the agency, the developer or the
//!   service integrator are appointed, never a `system:` user or group;
//! - R-LC-10: past development, a change of the fields that decide the product's legal
//!   regime (class, contour, internetFacing, informationCategory) is the SREs' act, on
//!   the authorized body's decision, not the agency's; the confirmation of production
//!   resources (`resourceConfirmation`) is the authorized body's own act, added by its
//!   users and by nobody else, and it is the only change they make.
//!
//! `system:masters` passes the requester checks: it bypasses RBAC and could remove this
//! webhook anyway; its requests are in the audit trail like everyone's. The content
//! checks (who is appointed) hold for everyone.
//!
//! [`super::product::check_requester`] calls these.

use std::collections::BTreeSet;

use akp_crds::product::{Act, ActType, Organization, Participants};
use akp_crds::{Agency, PlatformSoftwareProduct, PlatformSoftwareProductSpec, Stage};
use kube_core::ResourceExt;

use super::verdict::Violation;

/// The group of the API server's superusers.
pub const MASTERS: &str = "system:masters";

/// The prefix the API server reserves for its own users and groups.
pub const SYSTEM_PREFIX: &str = "system:";

/// The SRE groups when none is configured: the chart's default `users.sre.groups`.
pub fn default_sre_groups() -> Vec<String> {
    vec!["akp:sre".to_owned()]
}

/// The authorized body's groups when none is configured: the chart's default
/// `users.authorizedBody.groups`.
pub fn default_authorized_body_groups() -> Vec<String> {
    vec!["akp:authorized-body".to_owned()]
}

/// Who asks, as the API server authenticated them.
#[derive(Clone, Copy, Debug)]
pub struct Requester<'a> {
    /// The user name.
    pub user: &'a str,
    /// The user's groups.
    pub groups: &'a [String],
}

impl Requester<'_> {
    /// Whether the requester acts for the platform operator: a member of an SRE group
    /// or of `system:masters`.
    pub fn is_platform(&self, sre_groups: &[String]) -> bool {
        self.groups
            .iter()
            .any(|g| g == MASTERS || sre_groups.contains(g))
    }

    /// Whether the requester acts for the authorized body: a member of one of its
    /// groups.
    pub fn is_authorized_body(&self, body_groups: &[String]) -> bool {
        self.groups.iter().any(|g| body_groups.contains(g))
    }

    fn is_masters(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

fn sre_list(sre_groups: &[String]) -> String {
    group_list(sre_groups, "--sre-group")
}

fn group_list(groups: &[String], flag: &str) -> String {
    if groups.is_empty() {
        format!("none configured: {flag}")
    } else {
        groups.join(", ")
    }
}

/// R-LC-07: whether the product ever reached trial operation, from what the tenant
/// cannot write: the stored stage, or the status the operator alone writes
/// (`trialReachedAt`, kept through rework; `trial` and `production`, for records the
/// operator wrote before `trialReachedAt` existed). The time, when the status has it.
pub fn reached_trial(product: &PlatformSoftwareProduct) -> Option<Option<String>> {
    let status = product.status.as_ref();
    let when = status.and_then(|s| {
        s.trial_reached_at
            .as_ref()
            .or(s.trial.as_ref().map(|t| &t.started_at))
            .or(s.production.as_ref().map(|p| &p.since))
            .map(|t| t.0.to_string())
    });
    let at_or_after = |stage: Stage| {
        matches!(
            stage,
            Stage::TrialOperation | Stage::Production | Stage::Decommissioned
        )
    };
    let reached = when.is_some()
        || at_or_after(product.spec.stage)
        || status.and_then(|s| s.stage).is_some_and(at_or_after);
    reached.then_some(when)
}

/// R-LC-07: deleting the stored `product` as `requester`. Refused unless the product
/// never reached trial operation, or the requester acts for the platform.
pub fn check_delete(
    product: &PlatformSoftwareProduct,
    requester: Requester<'_>,
    sre_groups: &[String],
) -> Option<Violation> {
    let when = reached_trial(product)?;
    if requester.is_platform(sre_groups) {
        return None;
    }
    let since = when
        .map(|t| format!(" (trial operation reached at {t})"))
        .unwrap_or_default();
    Some(Violation {
        field: "spec.stage".into(),
        value: product.spec.stage.as_str().into(),
        problem: format!(
            "is the stage of a product that reached trial operation{since}: its record stays and {} may not delete it",
            requester.user
        ),
        rule: "R-LC-07",
        fix: format!(
            "take it out of service through the stages (production, then spec.stage: decommissioned, which removes its environments and closes its billing); deleting the record is an act of the platform's SREs (groups {}), written to the audit trail",
            sre_list(sre_groups)
        ),
    })
}

/// The fields whose change moves a product between legal regimes: the class sets the
/// availability scheme and the protection level (R-PLC-02), the contour and Internet
/// exposure its segment (R-SEG-01, R-SEG-02), the information category the rules of
/// the data it holds.
fn regime_fields(spec: &PlatformSoftwareProductSpec) -> [(&'static str, String); 4] {
    let json = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    [
        ("spec.class", spec.class.to_string()),
        (
            "spec.contour",
            json(serde_json::to_value(spec.contour).unwrap_or_default()),
        ),
        ("spec.internetFacing", spec.internet_facing.to_string()),
        (
            "spec.informationCategory",
            json(serde_json::to_value(spec.information_category).unwrap_or_default()),
        ),
    ]
}

/// R-LC-10: a change of the legal-regime fields of a product past development (at
/// another stage, or ever in trial operation) is the SREs' act.
pub fn check_regime(
    new: &PlatformSoftwareProductSpec,
    old: &PlatformSoftwareProduct,
    requester: Requester<'_>,
    sre_groups: &[String],
) -> Vec<Violation> {
    let past_development = old.spec.stage != Stage::Development || reached_trial(old).is_some();
    if !past_development || requester.is_platform(sre_groups) {
        return Vec::new();
    }
    regime_fields(new)
        .into_iter()
        .zip(regime_fields(&old.spec))
        .filter(|((_, now), (_, was))| now != was)
        .map(|((field, now), (_, was))| Violation {
            field: field.into(),
            value: now,
            problem: format!(
                "would change the legal regime of a product past development (it was {was}, the stage is {})",
                old.spec.stage.as_str()
            ),
            rule: "R-LC-10",
            fix: format!(
                "only the platform's SREs (groups {}) change it, on the authorized body's decision: send them the decision, or keep {was}",
                sre_list(sre_groups)
            ),
        })
        .collect()
}

/// The acts of type `resourceConfirmation` in `new` that `old` does not hold as they
/// are (added, or changed in place), with their index.
fn new_confirmations<'a>(
    new: &'a PlatformSoftwareProductSpec,
    old: Option<&PlatformSoftwareProductSpec>,
) -> impl Iterator<Item = (usize, &'a Act)> {
    new.acts.iter().enumerate().filter(move |(_, a)| {
        a.type_ == ActType::ResourceConfirmation && old.is_none_or(|o| !o.acts.contains(a))
    })
}

/// R-LC-10 (000 p.18-19, p.34.3): the confirmation of production resources is the
/// authorized body's act: only its users (and `system:masters`) add, change or remove
/// a `resourceConfirmation`, whatever the act says.
pub fn check_confirmations(
    new: &PlatformSoftwareProductSpec,
    old: Option<&PlatformSoftwareProductSpec>,
    requester: Requester<'_>,
    body_groups: &[String],
) -> Vec<Violation> {
    if requester.is_masters() || requester.is_authorized_body(body_groups) {
        return Vec::new();
    }
    let fix = format!(
        "send the request (spec.environments.production) to the authorized body; its users (groups {}) add the act to spec.acts (kubectl patch pbo --type=json, op add /spec/acts/-), then promote",
        group_list(body_groups, "--authorized-body-group")
    );
    let removed = old
        .into_iter()
        .flat_map(|o| o.acts.iter())
        .filter(|a| a.type_ == ActType::ResourceConfirmation && !new.acts.contains(a))
        .map(|act| Violation {
            field: "spec.acts".into(),
            value: format!("without resourceConfirmation {} of {}", act.number, act.date),
            problem: "removes or changes the authorized body's confirmation of the production resources".into(),
            rule: "R-LC-10",
            fix: "keep the act as the authorized body added it; for a new confirmation, send the revised request to the authorized body".into(),
        });
    let added = new_confirmations(new, old).map(|(i, act)| Violation {
        field: format!("spec.acts[{i}]"),
        value: format!("resourceConfirmation {} of {}", act.number, act.date),
        problem: format!(
            "confirms the production resources, which is the authorized body's act, not {}'s",
            requester.user
        ),
        rule: "R-LC-10",
        fix: fix.clone(),
    });
    removed.chain(added).collect()
}

/// R-LC-10: the authorized body confirms and changes nothing else: a request of its
/// users (unless they are also the platform's) that creates a product, or changes
/// anything but adding `resourceConfirmation` acts (other fields, other acts, labels,
/// annotations, finalizers, owners), is refused.
pub fn check_authorized_body_change(
    new: &PlatformSoftwareProduct,
    old: Option<&PlatformSoftwareProduct>,
    requester: Requester<'_>,
    body_groups: &[String],
    sre_groups: &[String],
) -> Vec<Violation> {
    if !requester.is_authorized_body(body_groups) || requester.is_platform(sre_groups) {
        return Vec::new();
    }
    let refuse = |field: &str, value: String| {
        Violation {
        field: field.to_owned(),
        value,
        problem: "is not the authorized body's to change".into(),
        rule: "R-LC-10",
        fix: "the authorized body adds resourceConfirmation acts to spec.acts only (kubectl patch pbo --type=json, op add /spec/acts/-); the agency writes the rest of its product".into(),
    }
    };
    let Some(old) = old else {
        return vec![refuse("metadata.name", new.name_any())];
    };
    let mut violations = Vec::new();
    let added: Vec<usize> = new_confirmations(&new.spec, Some(&old.spec))
        .map(|(i, _)| i)
        .collect();
    let mut rest = new.spec.clone();
    rest.acts = (0..new.spec.acts.len())
        .filter(|i| !added.contains(i))
        .map(|i| new.spec.acts[i].clone())
        .collect();
    if rest.acts != old.spec.acts {
        violations.push(refuse(
            "spec.acts",
            "an act other than a new resourceConfirmation".into(),
        ));
    }
    rest.acts.clone_from(&old.spec.acts);
    if rest != old.spec {
        violations.push(refuse("spec", "a field other than spec.acts".into()));
    }
    let (m, o) = (&new.metadata, &old.metadata);
    for (field, same) in [
        ("metadata.labels", m.labels == o.labels),
        ("metadata.annotations", m.annotations == o.annotations),
        ("metadata.finalizers", m.finalizers == o.finalizers),
        (
            "metadata.ownerReferences",
            m.owner_references == o.owner_references,
        ),
    ] {
        if !same {
            violations.push(refuse(field, "changed".into()));
        }
    }
    violations
}

/// The roles of `spec.participants`, with their field names.
fn roles(p: &Participants) -> [(&'static str, &[String]); 4] {
    [
        ("projectHeads", &p.project_heads),
        ("administrators", &p.administrators),
        ("securityOfficers", &p.security_officers),
        ("developers", &p.developers),
    ]
}

/// The domains whose users may be appointed to the product's roles: the agency's, the
/// developer's and the service integrator's.
fn organisations<'a>(
    spec: &'a PlatformSoftwareProductSpec,
    agency: &'a Agency,
) -> Vec<(String, Vec<String>)> {
    let org = |what: &str, o: &Organization| (format!("{what} {}", o.name), o.user_domains.clone());
    let mut all = vec![(
        format!("agency {}", agency.name_any()),
        agency.user_domains(),
    )];
    all.push(org("the developer", &spec.developer));
    if let Some(si) = &spec.service_integrator {
        all.push(org("the service integrator", si));
    }
    all
}

/// R-LC-08: the change of `spec.participants` from `old` (`None` on create) to `new`,
/// asked by `requester`, for a product of `agency`; `agencies` are all Agencies, so
/// that a developer's domain cannot be another agency's.
pub fn check_participants(
    new: &PlatformSoftwareProductSpec,
    old: Option<&PlatformSoftwareProductSpec>,
    agency: &Agency,
    agencies: &[Agency],
    requester: Requester<'_>,
) -> Vec<Violation> {
    let empty = Participants::default();
    let was = old.map(|o| &o.participants).unwrap_or(&empty);
    let head = agency.spec.digitalization_head.user.as_str();
    let project_heads: BTreeSet<&str> = was.project_heads.iter().map(String::as_str).collect();
    let mut violations = check_domains(new, old, agency, agencies);
    let organisations = organisations(new, agency);
    for ((role, now), (_, before)) in roles(&new.participants).into_iter().zip(roles(was)) {
        let now_set: BTreeSet<&str> = now.iter().map(String::as_str).collect();
        let before_set: BTreeSet<&str> = before.iter().map(String::as_str).collect();
        let changed: Vec<&str> = now_set.symmetric_difference(&before_set).copied().collect();
        let Some(first) = changed.first() else {
            continue;
        };
        // 000 p.27: the head appoints project heads; p.28: project heads appoint the
        // participants (and the head, who appointed them, may too).
        let may_appoint = requester.is_masters()
            || requester.user == head
            || (role != "projectHeads" && project_heads.contains(requester.user));
        if !may_appoint {
            let who = if role == "projectHeads" {
                format!(
                    "the digitalization head of agency {} ({head})",
                    agency.name_any()
                )
            } else {
                format!(
                    "the digitalization head of agency {} ({head}) or a project head of the product ({})",
                    agency.name_any(),
                    if project_heads.is_empty() {
                        "none yet".to_owned()
                    } else {
                        project_heads.iter().copied().collect::<Vec<_>>().join(", ")
                    }
                )
            };
            violations.push(Violation {
                field: format!("spec.participants.{role}"),
                value: (*first).to_owned(),
                problem: format!(
                    "may be appointed or removed only by {who}, not by {}",
                    requester.user
                ),
                rule: "R-LC-08",
                fix: format!(
                    "ask {who} to change spec.participants.{role} (000 p.27-28: roles are assigned, not taken)"
                ),
            });
        }
        for (index, name) in now.iter().enumerate() {
            if before_set.contains(name.as_str()) {
                continue;
            }
            let field = format!("spec.participants.{role}[{index}]");
            if let Some(v) = check_appointee(&field, name, requester, &organisations) {
                violations.push(v);
            }
        }
    }
    violations
}

/// R-LC-08: one newly appointed name.
fn check_appointee(
    field: &str,
    name: &str,
    requester: Requester<'_>,
    organisations: &[(String, Vec<String>)],
) -> Option<Violation> {
    let violation = |problem: String, fix: String| Violation {
        field: field.to_owned(),
        value: name.to_owned(),
        problem,
        rule: "R-LC-08",
        fix,
    };
    if name == requester.user {
        return Some(violation(
            "is you: nobody appoints himself".into(),
            "ask the digitalization head or a project head of the product to appoint you (000 p.27-28)".into(),
        ));
    }
    if name.starts_with(SYSTEM_PREFIX) {
        return Some(violation(
            "is a name the API server reserves for its own users and groups (system:...), not a person".into(),
            "name the person, as user@domain of the agency, the developer or the service integrator".into(),
        ));
    }
    let domain = name
        .rsplit_once('@')
        .filter(|(local, domain)| !local.is_empty() && !domain.is_empty())
        .map(|(_, domain)| domain);
    if domain.is_some_and(|d| {
        organisations
            .iter()
            .any(|(_, ds)| ds.iter().any(|x| x == d))
    }) {
        return None;
    }
    let known: Vec<String> = organisations
        .iter()
        .map(|(who, ds)| {
            if ds.is_empty() {
                format!("{who}: no userDomains recorded")
            } else {
                format!("{who}: {}", ds.join(", "))
            }
        })
        .collect();
    Some(violation(
        format!(
            "is not a user of the agency, the developer or the service integrator of the product ({})",
            known.join("; ")
        ),
        "appoint a person of one of them by the user name the identity provider gives (user@domain); a group or an outsider cannot be appointed; a developer's or integrator's people need its domain in spec.developer.userDomains or spec.serviceIntegrator.userDomains".into(),
    ))
}

/// R-LC-08: the developer's and integrator's domains are theirs, not another agency's:
/// else an agency could appoint another agency's people by recording that agency's
/// domain as its developer's. Only domains new to the spec are checked.
fn check_domains(
    new: &PlatformSoftwareProductSpec,
    old: Option<&PlatformSoftwareProductSpec>,
    agency: &Agency,
    agencies: &[Agency],
) -> Vec<Violation> {
    let orgs = |s: &PlatformSoftwareProductSpec| -> Vec<(&'static str, Vec<String>)> {
        vec![
            (
                "spec.developer.userDomains",
                s.developer.user_domains.clone(),
            ),
            (
                "spec.serviceIntegrator.userDomains",
                s.service_integrator
                    .as_ref()
                    .map(|o| o.user_domains.clone())
                    .unwrap_or_default(),
            ),
        ]
    };
    let before: BTreeSet<String> = old
        .map(|o| orgs(o).into_iter().flat_map(|(_, d)| d).collect())
        .unwrap_or_default();
    let mut violations = Vec::new();
    for (field, domains) in orgs(new) {
        for (index, domain) in domains.iter().enumerate() {
            if before.contains(domain) {
                continue;
            }
            let owner = agencies
                .iter()
                .filter(|a| a.name_any() != agency.name_any())
                .find(|a| a.user_domains().contains(domain));
            if let Some(other) = owner {
                violations.push(Violation {
                    field: format!("{field}[{index}]"),
                    value: domain.clone(),
                    problem: format!("is the domain of the users of agency {}", other.name_any()),
                    rule: "R-LC-08",
                    fix: "record the developer's or integrator's own domain; people of another agency are not appointed to this agency's product".into(),
                });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Agency `name` in `namespace` whose digitalization head is `<head>@<name>.gov.kz`.
    fn agency(name: &str, namespace: &str) -> Agency {
        let head = if name == "mon" { "alice" } else { "head" };
        crate::examples::agency(name, namespace, &format!("{head}@{name}.gov.kz"))
    }

    const HEAD: &str = "alice@mon.gov.kz";
    const PROJECT_HEAD: &str = "aigerim@mon.gov.kz";

    fn groups(list: &[&str]) -> Vec<String> {
        list.iter().map(|g| (*g).to_owned()).collect()
    }

    fn sre() -> Vec<String> {
        default_sre_groups()
    }

    fn product(stage: &str) -> PlatformSoftwareProduct {
        crate::examples::product_with(
            "agency-mon",
            json!({
                "developer": {"name": "NIT", "bin": "000740001307", "userDomains": ["nit.kz"]},
                "stage": stage,
                "participants": {"projectHeads": [PROJECT_HEAD]}
            }),
        )
    }

    fn with_status(
        mut p: PlatformSoftwareProduct,
        status: serde_json::Value,
    ) -> PlatformSoftwareProduct {
        p.status = Some(serde_json::from_value(status).expect("status"));
        p
    }

    fn mon() -> Agency {
        agency("mon", "agency-mon")
    }

    #[test]
    fn r_lc_07_a_product_is_known_to_have_reached_trial_by_its_stage_or_its_status() {
        assert!(reached_trial(&product("development")).is_none());
        assert!(reached_trial(&product("preliminaryTesting")).is_none());
        for stage in ["trialOperation", "production", "decommissioned"] {
            assert!(reached_trial(&product(stage)).is_some(), "{stage}");
        }
        // Back in development after trial operation: the operator's status remembers.
        let reworked = with_status(
            product("development"),
            json!({"stage": "development", "trialReachedAt": "2026-09-03T05:00:00Z"}),
        );
        assert_eq!(
            reached_trial(&reworked),
            Some(Some("2026-09-03T05:00:00Z".to_owned()))
        );
    }

    #[test]
    fn r_lc_07_only_the_platform_deletes_a_record_that_reached_trial() {
        let member = groups(&["agency-mon"]);
        let agency_member = Requester {
            user: "bolat@mon.gov.kz",
            groups: &member,
        };
        assert_eq!(
            check_delete(&product("development"), agency_member, &sre()),
            None
        );
        let refused = check_delete(&product("production"), agency_member, &sre()).expect("refused");
        assert_eq!(
            refused.to_string(),
            r#"spec.stage "production" is the stage of a product that reached trial operation: its record stays and bolat@mon.gov.kz may not delete it (R-LC-07): take it out of service through the stages (production, then spec.stage: decommissioned, which removes its environments and closes its billing); deleting the record is an act of the platform's SREs (groups akp:sre), written to the audit trail"#
        );
        let reworked = with_status(
            product("development"),
            json!({"trialReachedAt": "2026-09-03T05:00:00Z"}),
        );
        let refused = check_delete(&reworked, agency_member, &sre()).expect("refused");
        assert!(
            refused
                .problem
                .contains("(trial operation reached at 2026-09-03T05:00:00Z)"),
            "{refused}"
        );
        let sre_groups = groups(&["akp:sre", "system:authenticated"]);
        let sre_user = Requester {
            user: "sre@akp.kz",
            groups: &sre_groups,
        };
        assert_eq!(
            check_delete(&product("decommissioned"), sre_user, &sre()),
            None
        );
        // Another deployment's SRE group is not ours.
        assert!(check_delete(&product("decommissioned"), sre_user, &groups(&["ops"])).is_some());
        let masters = groups(&["system:masters"]);
        let admin = Requester {
            user: "admin",
            groups: &masters,
        };
        assert_eq!(check_delete(&product("production"), admin, &sre()), None);
    }

    #[test]
    fn r_lc_10_regime_fields_past_development_are_the_sres_act() {
        let member = groups(&["agency-mon"]);
        let head = Requester {
            user: HEAD,
            groups: &member,
        };
        let old = product("preliminaryTesting");
        let mut new = old.spec.clone();
        new.class = 1;
        new.internet_facing = true;
        new.contour = akp_crds::Contour::External;
        new.information_category = akp_crds::product::InformationCategory::Public;
        let refused = check_regime(&new, &old, head, &sre());
        let fields: Vec<&str> = refused.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.class",
                "spec.contour",
                "spec.internetFacing",
                "spec.informationCategory"
            ]
        );
        assert_eq!(
            refused[0].to_string(),
            r#"spec.class "1" would change the legal regime of a product past development (it was 2, the stage is preliminaryTesting) (R-LC-10): only the platform's SREs (groups akp:sre) change it, on the authorized body's decision: send them the decision, or keep 2"#
        );
        assert_eq!(refused[1].value, "external");
        // In development the agency decides.
        assert!(check_regime(&new, &product("development"), head, &sre()).is_empty());
        // ... unless the product was in trial operation before its rework.
        let reworked = with_status(
            product("development"),
            json!({"trialReachedAt": "2026-09-03T05:00:00Z"}),
        );
        assert_eq!(check_regime(&new, &reworked, head, &sre()).len(), 4);
        let sre_groups = groups(&["akp:sre"]);
        let sre_user = Requester {
            user: "sre@akp.kz",
            groups: &sre_groups,
        };
        assert!(check_regime(&new, &old, sre_user, &sre()).is_empty());
        // Other fields are not the regime.
        let mut other = old.spec.clone();
        other.display_name = "renamed".into();
        assert!(check_regime(&other, &old, head, &sre()).is_empty());
    }

    fn appoint(role: &str, names: &[&str]) -> PlatformSoftwareProductSpec {
        let mut spec = product("development").spec;
        let list: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        match role {
            "projectHeads" => spec.participants.project_heads = list,
            "administrators" => spec.participants.administrators = list,
            "developers" => spec.participants.developers = list,
            _ => spec.participants.security_officers = list,
        }
        spec
    }

    fn messages(v: &[Violation]) -> Vec<String> {
        v.iter().map(Violation::to_string).collect()
    }

    #[test]
    fn r_lc_08_the_head_and_project_heads_appoint_people_of_the_three_organisations() {
        let old = product("development").spec;
        let none: Vec<String> = Vec::new();
        let head = Requester {
            user: HEAD,
            groups: &none,
        };
        let project_head = Requester {
            user: PROJECT_HEAD,
            groups: &none,
        };
        let agencies = [mon()];
        let check = |new: &PlatformSoftwareProductSpec, who: Requester<'_>| {
            check_participants(new, Some(&old), &agencies[0], &agencies, who)
        };
        // A project head appoints an agency user and a developer's user.
        let new = appoint("administrators", &["ops@nit.kz", "infosec@mon.gov.kz"]);
        assert!(
            check(&new, project_head).is_empty(),
            "{:?}",
            messages(&check(&new, project_head))
        );
        assert!(check(&new, head).is_empty());
        // Only the head appoints project heads.
        let mut heads = old.clone();
        heads
            .participants
            .project_heads
            .push("bolat@mon.gov.kz".into());
        assert!(check(&heads, head).is_empty());
        assert_eq!(
            messages(&check(&heads, project_head)),
            [
                r#"spec.participants.projectHeads "bolat@mon.gov.kz" may be appointed or removed only by the digitalization head of agency mon (alice@mon.gov.kz), not by aigerim@mon.gov.kz (R-LC-08): ask the digitalization head of agency mon (alice@mon.gov.kz) to change spec.participants.projectHeads (000 p.27-28: roles are assigned, not taken)"#
            ]
        );
    }

    #[test]
    fn r_lc_08_nobody_appoints_himself_and_others_do_not_appoint() {
        let old = product("development").spec;
        let member_groups = groups(&["agency-mon"]);
        let agencies = [mon()];
        let check = |new: &PlatformSoftwareProductSpec, who: Requester<'_>| {
            messages(&check_participants(
                new,
                Some(&old),
                &agencies[0],
                &agencies,
                who,
            ))
        };
        // A project head makes himself administrator.
        let project_head = Requester {
            user: PROJECT_HEAD,
            groups: &member_groups,
        };
        assert_eq!(
            check(&appoint("administrators", &[PROJECT_HEAD]), project_head),
            [
                r#"spec.participants.administrators[0] "aigerim@mon.gov.kz" is you: nobody appoints himself (R-LC-08): ask the digitalization head or a project head of the product to appoint you (000 p.27-28)"#
            ]
        );
        // An agency member who is neither head nor project head.
        let member = Requester {
            user: "bolat@mon.gov.kz",
            groups: &member_groups,
        };
        let refused = check(&appoint("developers", &["bolat@mon.gov.kz"]), member);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].starts_with(r#"spec.participants.developers "bolat@mon.gov.kz" may be appointed or removed only by the digitalization head of agency mon (alice@mon.gov.kz) or a project head of the product (aigerim@mon.gov.kz), not by bolat@mon.gov.kz (R-LC-08)"#), "{refused:?}");
        assert!(
            refused[1].contains("is you: nobody appoints himself"),
            "{refused:?}"
        );
        // A developer of the product appoints a colleague.
        let developer = Requester {
            user: "dev@nit.kz",
            groups: &[],
        };
        let refused = check(&appoint("developers", &["dev2@nit.kz"]), developer);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("not by dev@nit.kz (R-LC-08)"));
        // Removing someone is a change too.
        let mut with_dev = old.clone();
        with_dev.participants.developers = vec!["dev2@nit.kz".into()];
        let refused = messages(&check_participants(
            &old,
            Some(&with_dev),
            &agencies[0],
            &agencies,
            developer,
        ));
        assert_eq!(refused.len(), 1, "{refused:?}");
    }

    #[test]
    fn r_lc_08_outsiders_groups_and_system_names_are_not_appointed() {
        let old = product("development").spec;
        let none: Vec<String> = Vec::new();
        let head = Requester {
            user: HEAD,
            groups: &none,
        };
        let agencies = [mon(), agency("mz", "agency-mz")];
        let refused = messages(&check_participants(
            &appoint(
                "administrators",
                &[
                    "system:anonymous",
                    "system:serviceaccount:agency-mon:default",
                    "agency-mon",
                    "mallory@evil.example",
                    "@mon.gov.kz",
                ],
            ),
            Some(&old),
            &agencies[0],
            &agencies,
            head,
        ));
        assert_eq!(refused.len(), 5, "{refused:?}");
        assert_eq!(
            refused[0],
            r#"spec.participants.administrators[0] "system:anonymous" is a name the API server reserves for its own users and groups (system:...), not a person (R-LC-08): name the person, as user@domain of the agency, the developer or the service integrator"#
        );
        assert!(refused[1].contains("reserves for its own users"));
        assert_eq!(
            refused[2],
            r#"spec.participants.administrators[2] "agency-mon" is not a user of the agency, the developer or the service integrator of the product (agency mon: mon.gov.kz; the developer NIT: nit.kz) (R-LC-08): appoint a person of one of them by the user name the identity provider gives (user@domain); a group or an outsider cannot be appointed; a developer's or integrator's people need its domain in spec.developer.userDomains or spec.serviceIntegrator.userDomains"#
        );
        assert!(refused[3].starts_with(
            r#"spec.participants.administrators[3] "mallory@evil.example" is not a user"#
        ));
        assert!(refused[4].contains(r#""@mon.gov.kz" is not a user"#));
        // Names already there are not judged again (they may predate the rule).
        let mut stored = old.clone();
        stored.participants.developers = vec!["legacy".into()];
        let mut renamed = stored.clone();
        renamed.display_name = "renamed".into();
        assert!(
            check_participants(&renamed, Some(&stored), &agencies[0], &agencies, head).is_empty()
        );
    }

    #[test]
    fn r_lc_08_a_developer_domain_is_not_another_agencys() {
        let old = product("development").spec;
        let none: Vec<String> = Vec::new();
        let head = Requester {
            user: HEAD,
            groups: &none,
        };
        let mut mz = agency("mz", "agency-mz");
        mz.spec.user_domains = vec!["dsm.gov.kz".into()];
        let agencies = [mon(), mz];
        let mut new = appoint("developers", &["berik@dsm.gov.kz"]);
        new.developer.user_domains.push("dsm.gov.kz".into());
        let refused = messages(&check_participants(
            &new,
            Some(&old),
            &agencies[0],
            &agencies,
            head,
        ));
        assert_eq!(
            refused,
            [
                r#"spec.developer.userDomains[1] "dsm.gov.kz" is the domain of the users of agency mz (R-LC-08): record the developer's or integrator's own domain; people of another agency are not appointed to this agency's product"#
            ]
        );
    }

    #[test]
    fn r_lc_08_on_create_only_the_head_names_participants() {
        let new = product("development").spec;
        let agencies = [mon()];
        let member_groups = groups(&["agency-mon"]);
        let member = Requester {
            user: "bolat@mon.gov.kz",
            groups: &member_groups,
        };
        assert_eq!(
            check_participants(&new, None, &agencies[0], &agencies, member).len(),
            1
        );
        let head = Requester {
            user: HEAD,
            groups: &member_groups,
        };
        assert!(check_participants(&new, None, &agencies[0], &agencies, head).is_empty());
        let mut bare = new.clone();
        bare.participants = Participants::default();
        assert!(check_participants(&bare, None, &agencies[0], &agencies, member).is_empty());
    }

    fn with_act(
        mut p: PlatformSoftwareProduct,
        type_: &str,
        number: &str,
    ) -> PlatformSoftwareProduct {
        p.spec.acts.push(
            serde_json::from_value(json!({
                "type": type_, "number": number, "date": "2026-09-20",
                "sha256": "c3473eac51f8ba0ad96144af9c53e98b93df17caa578f1dc242dc6565de3f606"
            }))
            .expect("act"),
        );
        p
    }

    fn body() -> Vec<String> {
        default_authorized_body_groups()
    }

    #[test]
    fn r_lc_10_only_the_authorized_body_adds_changes_or_removes_a_confirmation() {
        let old = product("trialOperation");
        let confirmed = with_act(old.clone(), "resourceConfirmation", "R-1");
        let agency_head = Requester {
            user: HEAD,
            groups: &groups(&["agency-mon"]),
        };
        let an_sre = Requester {
            user: "sre@akp.kz",
            groups: &groups(&["akp:sre"]),
        };
        let auditor = Requester {
            user: "auditor@mdai.gov.kz",
            groups: &groups(&["akp:authorized-body"]),
        };
        let masters = Requester {
            user: "admin",
            groups: &groups(&[MASTERS]),
        };
        // Added by the agency or an SRE: refused, naming the act, the rule and the fix.
        for who in [agency_head, an_sre] {
            let v = check_confirmations(&confirmed.spec, Some(&old.spec), who, &body());
            assert_eq!(v.len(), 1, "{v:?}");
            assert_eq!(v[0].field, "spec.acts[0]");
            assert_eq!(v[0].value, "resourceConfirmation R-1 of 2026-09-20");
            assert_eq!(v[0].rule, "R-LC-10");
            assert!(
                v[0].fix.contains("groups akp:authorized-body"),
                "{}",
                v[0].fix
            );
        }
        // On create too (a product made at production with its own confirmation).
        assert_eq!(
            check_confirmations(&confirmed.spec, None, agency_head, &body()).len(),
            1
        );
        // The authorized body and system:masters add it.
        assert!(check_confirmations(&confirmed.spec, Some(&old.spec), auditor, &body()).is_empty());
        assert!(check_confirmations(&confirmed.spec, Some(&old.spec), masters, &body()).is_empty());
        // Once there, other changes by the agency pass; changing or removing it does not.
        let more = with_act(confirmed.clone(), "trialCompletionAct", "5");
        assert!(
            check_confirmations(&more.spec, Some(&confirmed.spec), agency_head, &body()).is_empty()
        );
        let mut changed = confirmed.clone();
        changed.spec.acts[0].number = "R-2".into();
        let v = check_confirmations(&changed.spec, Some(&confirmed.spec), agency_head, &body());
        assert_eq!(v.len(), 2, "the old one is gone, a new one appears: {v:?}");
        let v = check_confirmations(&old.spec, Some(&confirmed.spec), agency_head, &body());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].problem.contains("removes"), "{v:?}");
        // Without configured groups the fix says which flag to set.
        let v = check_confirmations(&confirmed.spec, Some(&old.spec), agency_head, &[]);
        assert!(
            v[0].fix
                .contains("none configured: --authorized-body-group"),
            "{v:?}"
        );
    }

    #[test]
    fn r_lc_10_the_authorized_body_changes_nothing_but_its_confirmations() {
        let old = product("trialOperation");
        let auditor = Requester {
            user: "auditor@mdai.gov.kz",
            groups: &groups(&["akp:authorized-body"]),
        };
        let check = |new: &PlatformSoftwareProduct, old: Option<&PlatformSoftwareProduct>| {
            check_authorized_body_change(new, old, auditor, &body(), &sre())
        };
        assert!(
            check(
                &with_act(old.clone(), "resourceConfirmation", "R-1"),
                Some(&old)
            )
            .is_empty()
        );
        let fields = |v: Vec<Violation>| v.into_iter().map(|v| v.field).collect::<Vec<_>>();
        assert_eq!(fields(check(&old, None)), ["metadata.name"], "no creation");
        assert_eq!(
            fields(check(
                &with_act(old.clone(), "commissioningOrder", "7"),
                Some(&old)
            )),
            ["spec.acts"]
        );
        let mut renamed = with_act(old.clone(), "resourceConfirmation", "R-1");
        renamed.spec.display_name = "Other".into();
        renamed.spec.stage = Stage::Production;
        assert_eq!(fields(check(&renamed, Some(&old))), ["spec"]);
        let mut labelled = old.clone();
        labelled.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
        labelled.metadata.finalizers = Some(vec![]);
        assert_eq!(
            fields(check(&labelled, Some(&old))),
            ["metadata.labels", "metadata.finalizers"]
        );
        // A member of both the authorized body and the SREs acts as an SRE.
        let both = Requester {
            user: "x",
            groups: &groups(&["akp:authorized-body", "akp:sre"]),
        };
        assert!(
            check_authorized_body_change(&renamed, Some(&old), both, &body(), &sre()).is_empty()
        );
        // Nobody else is judged here.
        let head = Requester {
            user: HEAD,
            groups: &groups(&["agency-mon"]),
        };
        assert!(
            check_authorized_body_change(&renamed, Some(&old), head, &body(), &sre()).is_empty()
        );
    }
}
