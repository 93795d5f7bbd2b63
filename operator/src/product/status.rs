//! The pure `status` step: the product's status computed from what was applied and
//! the clock, and the events its transitions deserve (events only on transitions).

use std::collections::BTreeMap;

use akp_crds::product::{
    ActType, EnvironmentStatus, PlatformSoftwareProductStatus, ProductionStatus, RequestRecord,
    StagePeriod, TrialStatus,
};
use akp_crds::{Agency, EnvironmentName, Stage};
use jiff::Timestamp;
use jiff::civil::Date;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::rules::acts;
use crate::rules::calendar::Calendar;
use crate::rules::clocks;
use crate::rules::conditions::{ConditionType, Observed};

use crate::rules::ownership::{Holder, Owner, taken_message};

use super::build::{EnvironmentPlan, Plan};
use super::validate::{Invalid, Validated};

/// How many request records the status keeps.
pub const REQUEST_HISTORY_LIMIT: usize = 50;

/// How many stage periods the status keeps (`status.stageHistory`, R-LC-09).
pub const STAGE_HISTORY_LIMIT: usize = 256;

/// Condition types of a product, as the API writes them.
pub mod conditions {
    use crate::rules::conditions::ConditionType;

    /// All environments of the stage exist and are provisioned.
    pub const READY: &str = ConditionType::Ready.as_str();
    /// Environments are being created or retired.
    pub const PROGRESSING: &str = ConditionType::Progressing.as_str();
    /// The product cannot be reconciled as it is.
    pub const DEGRADED: &str = ConditionType::Degraded.as_str();
    /// R-LC-03: trial operation within one calendar month.
    pub const TRIAL_WITHIN_LIMIT: &str = ConditionType::TrialWithinLimit.as_str();
    /// R-ENV-03: environments provided within 10 working days.
    pub const PROVISIONED_WITHIN_SLA: &str = ConditionType::ProvisionedWithinSla.as_str();
    /// R-PLC-01, R-PLC-02: every pod on nodes attested in Kazakhstan, at allowed sites.
    pub const PLACED: &str = ConditionType::Placed.as_str();
    /// R-ENV-03: the provisioning deadlines fall in years whose movable holidays are
    /// known.
    pub const CALENDAR_KNOWN: &str = ConditionType::CalendarKnown.as_str();
    /// R-LC-10: production's resources in force are the authorized body's confirmed ones.
    pub const RESOURCES_CONFIRMED: &str = ConditionType::ResourcesConfirmed.as_str();
    /// R-PLC-04: production's standby by class is placed.
    pub const STANDBY_PLACED: &str = ConditionType::StandbyPlaced.as_str();
    /// R-SW-02, R-SW-03: the catalog items requested are still trusted.
    pub const SOFTWARE_TRUSTED: &str = ConditionType::SoftwareTrusted.as_str();
}

/// What placement found for one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementView {
    /// The sites the environment is bound to, or why there are none.
    pub allowed: Result<Vec<String>, String>,
    /// Where its pods run.
    pub audit: crate::rules::placement::Audit,
}

/// An event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// A Warning rather than Normal.
    pub warning: bool,
    /// PascalCase reason.
    pub reason: &'static str,
    /// What happened, for people.
    pub note: String,
}

/// An environment whose namespace another product or Agency holds (R-LC-08).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceTaken {
    /// Which environment.
    pub env: EnvironmentName,
    /// Its namespace.
    pub namespace: String,
    /// The site of the other cluster it was to be placed in; None: at home.
    pub site: Option<String>,
    /// Who holds it.
    pub holder: Holder,
}

impl NamespaceTaken {
    /// Environment `env`, whose namespace `holder` holds.
    pub fn new(env: &EnvironmentPlan, site: Option<String>, holder: &Holder) -> Self {
        Self {
            env: env.env,
            namespace: env.namespace.metadata.name.clone().unwrap_or_default(),
            site,
            holder: holder.clone(),
        }
    }
}

/// What the status step sees.
pub struct Observation<'a> {
    /// Now, from the operator's clock.
    pub now: Timestamp,
    /// The working-day calendar.
    pub calendar: &'a Calendar,
    /// The product's generation.
    pub generation: Option<i64>,
    /// The status as it is.
    pub old: Option<&'a PlatformSoftwareProductStatus>,
    /// Each published Tariff's first day and free months of non-production (R-ENV-04).
    pub tariffs: &'a [(Date, i32)],
    /// The software catalog (R-SW-02, R-SW-03), as the cache holds it.
    pub catalog: &'a [std::sync::Arc<akp_crds::SoftwareCatalogItem>],
}

impl Observation<'_> {
    fn old_conditions(&self) -> &[Condition] {
        self.old
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default()
    }
}

/// The status of a product whose environments were applied; `ready` says which
/// environments are provisioned now.
pub fn applied(
    obs: &Observation,
    v: &Validated,
    agency: &Agency,
    plan: &Plan,
    ready: &BTreeMap<EnvironmentName, bool>,
    placement: &BTreeMap<EnvironmentName, PlacementView>,
) -> (PlatformSoftwareProductStatus, Vec<Notice>) {
    let now = obs.now;
    let old = obs.old.cloned().unwrap_or_default();
    let stage_changed = old.stage != Some(v.stage);
    let stage_since = if stage_changed {
        Time(now)
    } else {
        old.stage_since.clone().unwrap_or(Time(now))
    };
    let mut notices = Vec::new();

    let environments: Vec<EnvironmentStatus> = plan
        .environments
        .iter()
        .map(|e| {
            let before = old.environments.iter().find(|o| o.name == e.env);
            let is_ready = ready.get(&e.env).copied().unwrap_or(false);
            // The clock starts at the stage change that asked for the environment.
            let requested_at = before
                .and_then(|b| b.requested_at.clone())
                .unwrap_or_else(|| stage_since.clone());
            let ready_at = match (before.and_then(|b| b.ready_at.clone()), is_ready) {
                (Some(t), true) => Some(t),
                (None, true) => Some(Time(now)),
                (_, false) => None,
            };
            EnvironmentStatus {
                name: e.env,
                namespace: e.namespace.metadata.name.clone().unwrap_or_default(),
                // The sites in use; before any pod runs, the sites it is bound to.
                sites: placement
                    .get(&e.env)
                    .map(|p| {
                        if p.audit.sites.is_empty() {
                            p.allowed.clone().unwrap_or_default()
                        } else {
                            p.audit.sites.clone()
                        }
                    })
                    .unwrap_or_default(),
                ready: is_ready,
                requested_at: Some(requested_at),
                ready_at,
                at_provider: e.at_provider,
                standby: e.standby.clone().ok().flatten(),
            }
        })
        .collect();
    notices.extend(transition(&old, v.stage, &environments, &[]));

    let acts_of = &v.product.spec.acts;
    let trial = match v.stage {
        // R-LC-03: the clock runs from the act of transfer that counts, the latest
        // (a new trial needs a new act, R-LC-09); without one (a record older than the
        // API server's gate), from when the operator saw the stage.
        Stage::TrialOperation => Some(
            match acts::current(acts_of, ActType::TrialTransferAct)
                .and_then(|(_, a)| clocks::trial_from_act(a.date).map(|t| (a, t)))
            {
                Some((act, (started, deadline))) => TrialStatus {
                    started_at: Time(started),
                    deadline: Time(deadline),
                    act: Some(format!("{} of {}", act.number, act.date)),
                },
                None => {
                    let started = old
                        .trial
                        .as_ref()
                        .filter(|_| old.stage == Some(Stage::TrialOperation))
                        .map(|t| t.started_at.0)
                        .unwrap_or(stage_since.0);
                    TrialStatus {
                        started_at: Time(started),
                        deadline: Time(clocks::trial_deadline(started)),
                        act: None,
                    }
                }
            },
        ),
        // The record of the trial stays once the product has gone on.
        Stage::Production | Stage::Decommissioned => old.trial.clone(),
        Stage::Development | Stage::PreliminaryTesting => None,
    };
    // R-LC-07: once at trial operation, always so; the product webhook reads it to
    // keep such a record from being deleted by an agency.
    let trial_reached_at = old.trial_reached_at.clone().or_else(|| {
        matches!(
            v.stage,
            Stage::TrialOperation | Stage::Production | Stage::Decommissioned
        )
        .then(|| {
            trial
                .as_ref()
                .map(|t| t.started_at.clone())
                .unwrap_or_else(|| stage_since.clone())
        })
    });
    // R-LC-06: production and the warranty run from the commissioning order.
    let production = match v.stage {
        Stage::Production | Stage::Decommissioned => Some(
            match acts::current(acts_of, ActType::CommissioningOrder)
                .and_then(|(_, a)| clocks::production_from_order(a.date))
            {
                Some((since, warranty_until)) => ProductionStatus {
                    since: Time(since),
                    warranty_until,
                },
                None => {
                    let since = old
                        .production
                        .as_ref()
                        .map(|p| p.since.0)
                        .unwrap_or(stage_since.0);
                    ProductionStatus {
                        since: Time(since),
                        warranty_until: clocks::warranty_until(since),
                    }
                }
            },
        ),
        _ => None,
    };
    let stage_history = stage_history(&old, v, &stage_since, trial.as_ref(), now);

    let mut conditions = obs.old_conditions().to_vec();
    let all_ready = plan.not_requested.is_empty() && environments.iter().all(|e| e.ready);
    let not_requested: Vec<&str> = plan.not_requested.iter().map(|e| e.as_str()).collect();
    let (ready_reason, ready_message) = if !plan.not_requested.is_empty() {
        (
            "ResourcesNotRequested",
            format!(
                "stage {} needs spec.environments.{} (R-ENV-01): request its resources",
                v.stage.as_str(),
                not_requested.join(", spec.environments.")
            ),
        )
    } else if all_ready {
        (
            "Provisioned",
            format!(
                "{} environment(s) provisioned for stage {}",
                environments.len(),
                v.stage.as_str()
            ),
        )
    } else {
        (
            "Provisioning",
            "environments are being provisioned".to_owned(),
        )
    };
    set(
        &mut conditions,
        obs,
        ConditionType::Ready,
        all_ready,
        ready_reason,
        &ready_message,
    );
    set(
        &mut conditions,
        obs,
        ConditionType::Progressing,
        !all_ready && plan.not_requested.is_empty(),
        ready_reason,
        &ready_message,
    );
    set(
        &mut conditions,
        obs,
        ConditionType::Degraded,
        false,
        "Valid",
        "the product is valid",
    );

    // R-LC-03
    if let Some(t) = trial.as_ref().filter(|_| v.stage == Stage::TrialOperation) {
        let within = !clocks::trial_overdue(t.started_at.0, now);
        let message = if within {
            format!(
                "trial operation ends by {} (R-LC-03: at most one calendar month)",
                t.deadline.0
            )
        } else {
            format!(
                "trial operation was due to end by {} (R-LC-03: at most one calendar month): complete it (trialCompletionAct) or return the product to rework",
                t.deadline.0
            )
        };
        flag(
            (&mut conditions, &mut notices, obs),
            ConditionType::TrialWithinLimit,
            within,
            ["WithinLimit", "Overdue", "TrialOverdue"],
            &message,
        );
    } else {
        conditions.retain(|c| c.type_ != conditions::TRIAL_WITHIN_LIMIT);
    }

    // R-ENV-03
    let late: Vec<String> = environments
        .iter()
        .filter_map(|e| {
            let requested = e.requested_at.as_ref()?.0;
            let done = e.ready_at.as_ref().map(|t| t.0).unwrap_or(now);
            (!clocks::provisioned_within_sla(obs.calendar, requested, done)).then(|| {
                format!(
                    "{} (requested {}, due by {})",
                    e.name.as_str(),
                    clocks::civil_date(requested),
                    clocks::provisioning_deadline(obs.calendar, requested)
                )
            })
        })
        .collect();
    let within_sla = late.is_empty();
    let sla_message = if within_sla {
        format!(
            "environments provided within {} working days (R-ENV-03)",
            clocks::PROVISIONING_WORKING_DAYS
        )
    } else {
        format!(
            "provisioning exceeded {} working days (R-ENV-03): {}",
            clocks::PROVISIONING_WORKING_DAYS,
            late.join("; ")
        )
    };
    flag(
        (&mut conditions, &mut notices, obs),
        ConditionType::ProvisionedWithinSla,
        within_sla,
        ["WithinSla", "Breached", "ProvisioningSlaBreached"],
        &sla_message,
    );

    // R-ENV-03: a deadline through a year of unknown movable holidays is flagged.
    let unknown: Vec<String> = environments
        .iter()
        .filter_map(|e| {
            let requested = e.requested_at.as_ref()?.0;
            let years = clocks::provisioning_deadline_unknown_years(obs.calendar, requested);
            (!years.is_empty()).then(|| {
                let years: Vec<String> = years.iter().map(i16::to_string).collect();
                format!(
                    "{} (due by {}, in {})",
                    e.name.as_str(),
                    clocks::provisioning_deadline(obs.calendar, requested),
                    years.join(", ")
                )
            })
        })
        .collect();
    let calendar_known = unknown.is_empty();
    let calendar_message = if calendar_known {
        "the provisioning deadlines fall in years whose movable holidays are known (R-ENV-03)"
            .to_owned()
    } else {
        format!(
            "the movable holidays (Kurban Ait) of a year are unknown, so these deadlines count no movable holiday and may be early (R-ENV-03): {}; add the year's days to operator.config.calendar.movableHolidays",
            unknown.join("; ")
        )
    };
    flag(
        (&mut conditions, &mut notices, obs),
        ConditionType::CalendarKnown,
        calendar_known,
        ["Known", "MovableHolidaysUnknown", "CalendarYearUnknown"],
        &calendar_message,
    );

    // R-PLC-01, R-PLC-02
    let mut problems: Vec<String> = Vec::new();
    let mut pods = 0;
    for (env, p) in placement {
        pods += p.audit.pods;
        if let Err(why) = &p.allowed {
            problems.push(format!("{}: {why}", env.as_str()));
        }
        problems.extend(
            p.audit
                .violations
                .iter()
                .map(|v| format!("{}: {v} outside KZ", env.as_str())),
        );
    }
    let placed = problems.is_empty();
    let placed_message = if placed {
        format!("{pods} pod(s) on nodes attested in KZ at their allowed sites (R-PLC-01)")
    } else {
        format!(
            "{} (R-PLC-01, R-PLC-02): drain the pods or fix the node labels",
            problems.join("; ")
        )
    };
    flag(
        (&mut conditions, &mut notices, obs),
        ConditionType::Placed,
        placed,
        ["InCountry", "OutsideCountry", "PlacedOutsideCountry"],
        &placed_message,
    );

    // R-PLC-04: production's standby by class, flagged when there is none.
    match plan
        .environments
        .iter()
        .find(|e| e.env == EnvironmentName::Production)
        .map(|e| &e.standby)
    {
        Some(standby) => {
            let message = match standby {
                Ok(Some(s)) => format!(
                    "production's {} standby is at site {} (R-PLC-02, R-PLC-04)",
                    match s.kind {
                        akp_crds::product::StandbyKind::Hot => "hot",
                        akp_crds::product::StandbyKind::Cold => "cold",
                        akp_crds::product::StandbyKind::Backup => "backup-storage",
                    },
                    s.site
                ),
                Ok(None) => "production needs no standby site (R-PLC-04)".to_owned(),
                Err(why) => why.clone(),
            };
            flag(
                (&mut conditions, &mut notices, obs),
                ConditionType::StandbyPlaced,
                standby.is_ok(),
                ["Placed", "NoStandbySite", "NoStandbySite"],
                &message,
            );
        }
        None => conditions.retain(|c| c.type_ != conditions::STANDBY_PLACED),
    }

    // R-LC-10: in production, a revision waits for the authorized body's confirmation.
    if v.stage == Stage::Production {
        use crate::rules::confirmation::{Production, production_request};
        let (confirmed, message) = match production_request(&v.product) {
            Production::Confirmed { on } => (
                true,
                match on {
                    Some(on) => format!(
                        "the production resources in force were confirmed by the authorized body on {on} (R-LC-10)"
                    ),
                    None => "no confirmation of the production resources (R-LC-10)".to_owned(),
                },
            ),
            Production::AwaitingConfirmation {
                revised_on,
                confirmed_on,
                in_force,
            } => (
                false,
                format!(
                    "spec.environments.production was revised{} after the authorized body's confirmation of {confirmed_on} (R-LC-10): {}; the authorized body adds a resourceConfirmation dated on or after the revision",
                    revised_on.map(|d| format!(" on {d}")).unwrap_or_default(),
                    if in_force.is_some() {
                        "the environment keeps the request confirmed then"
                    } else {
                        "the confirmed request is no longer in status.requestHistory, so the revised one is applied"
                    }
                ),
            ),
        };
        flag(
            (&mut conditions, &mut notices, obs),
            ConditionType::ResourcesConfirmed,
            confirmed,
            [
                "Confirmed",
                "AwaitingConfirmation",
                "ResourcesAwaitingConfirmation",
            ],
            &message,
        );
    } else {
        conditions.retain(|c| c.type_ != conditions::RESOURCES_CONFIRMED);
    }

    // R-SW-02, R-SW-03: software expired, removed from the register or depending on
    // untrusted software shows on every product that requests it.
    let requested = crate::rules::admission::product::catalog_names(&v.product);
    let untrusted = crate::rules::catalog::untrusted_items(
        requested.iter().map(String::as_str),
        obs.catalog,
        clocks::civil_date(now),
    );
    let trusted = untrusted.is_empty();
    let trusted_message = if trusted {
        "every catalog item requested is in the register of trusted software, with its dependencies (R-SW-01 to R-SW-03)".to_owned()
    } else {
        format!(
            "{}: running workloads are kept, new ones are refused; replace the software or have the register entry renewed",
            untrusted.join("; ")
        )
    };
    flag(
        (&mut conditions, &mut notices, obs),
        ConditionType::SoftwareTrusted,
        trusted,
        ["Trusted", "Untrusted", "SoftwareUntrusted"],
        &trusted_message,
    );

    // R-LC-05: a new record when the stage or the request changes.
    let mut request_history = old.request_history.clone();
    let same_as_last = request_history
        .last()
        .is_some_and(|r| r.stage == v.stage && r.environments == v.product.spec.environments);
    // R-LC-05, R-LC-10: a revision of what was requested (not a stage change alone)
    // is an event on the product too: the authorized body reads it, as it reads the
    // monthly report's section and the audit trail.
    let revised = request_history
        .last()
        .is_some_and(|r| r.environments != v.product.spec.environments);
    if revised {
        notices.push(Notice {
            warning: false,
            reason: "ResourcesRevised",
            note: format!(
                "requested resources revised at stage {} (generation {}): kept in status.requestHistory, the audit trail and the monthly report to the authorized body (R-LC-05, R-LC-10)",
                v.stage.as_str(),
                obs.generation.unwrap_or_default()
            ),
        });
    }
    if !same_as_last {
        request_history.push(RequestRecord {
            observed_at: Time(now),
            generation: obs.generation,
            stage: v.stage,
            environments: v.product.spec.environments.clone(),
        });
        let excess = request_history.len().saturating_sub(REQUEST_HISTORY_LIMIT);
        request_history.drain(..excess);
    }

    // R-ENV-04: the free months of the published Tariffs, as billing rates them.
    let non_production_free_until = agency
        .spec
        .contracts
        .iter()
        .map(|c| c.signed_on)
        .min()
        .and_then(|d| clocks::free_period_end_under(d, obs.tariffs));

    let status = PlatformSoftwareProductStatus {
        agency: Some(v.agency_name.clone()),
        stage: Some(v.stage),
        stage_since: Some(stage_since),
        observed_generation: obs.generation,
        conditions,
        environments,
        trial,
        trial_reached_at,
        production,
        non_production_free_until,
        request_history,
        stage_history,
        protection_level: crate::rules::security::protection_level(v.product.spec.class),
    };
    (status, notices)
}

/// R-LC-03, R-LC-09: the stage periods, with a new one when the stage changed (the
/// last one closed), marked as a return for rework when it comes back from trial
/// operation; a trial period names its transfer act and deadline, a production one
/// its commissioning order. A record from before the history began gets its current
/// period. The oldest periods go past [`STAGE_HISTORY_LIMIT`].
fn stage_history(
    old: &PlatformSoftwareProductStatus,
    v: &Validated,
    stage_since: &Time,
    trial: Option<&TrialStatus>,
    now: Timestamp,
) -> Vec<StagePeriod> {
    let mut history = old.stage_history.clone();
    let current_act = match v.stage {
        Stage::TrialOperation => trial
            .and_then(|t| t.act.as_ref())
            .map(|a| format!("{} {a}", ActType::TrialTransferAct.as_str())),
        Stage::Production => acts::current(&v.product.spec.acts, ActType::CommissioningOrder)
            .map(|(_, a)| acts::describe(a)),
        _ => None,
    };
    let deadline = trial
        .filter(|_| v.stage == Stage::TrialOperation)
        .map(|t| t.deadline.clone());
    let open_at_stage = history
        .last()
        .is_some_and(|p| p.stage == v.stage && p.until.is_none());
    if old.stage != Some(v.stage) || !open_at_stage {
        if let Some(last) = history.last_mut().filter(|p| p.until.is_none()) {
            last.until = Some(Time(now));
        }
        history.push(StagePeriod {
            stage: v.stage,
            since: stage_since.clone(),
            until: None,
            rework: old.stage == Some(Stage::TrialOperation)
                && matches!(v.stage, Stage::Development | Stage::PreliminaryTesting),
            act: None,
            deadline: None,
        });
        let excess = history.len().saturating_sub(STAGE_HISTORY_LIMIT);
        history.drain(..excess);
    }
    if let Some(last) = history.last_mut() {
        last.act = current_act;
        last.deadline = deadline;
    }
    history
}

/// The reasons of the Normal event of a product's transition ([`transition`]).
pub mod reasons {
    /// The stage changed (with the environments provisioned and retired for it).
    pub const STAGE_CHANGED: &str = "StageChanged";
    /// Environments were provisioned, the stage unchanged (a new product).
    pub const ENVIRONMENTS_PROVISIONED: &str = "EnvironmentsProvisioned";
    /// Environments were retired, the stage unchanged.
    pub const ENVIRONMENTS_RETIRED: &str = "EnvironmentsRetired";
    /// Environments were provisioned and others retired, the stage unchanged.
    pub const ENVIRONMENTS_CHANGED: &str = "EnvironmentsChanged";
    /// All of them.
    pub const TRANSITION: [&str; 4] = [
        STAGE_CHANGED,
        ENVIRONMENTS_PROVISIONED,
        ENVIRONMENTS_RETIRED,
        ENVIRONMENTS_CHANGED,
    ];
}

/// The one event of a product's transition from `old` to `stage` with `environments`:
/// the stage change and every environment provisioned or retired, in one note. An
/// Event per environment was a write per environment (issue 18, P1: 1,000 for 500
/// new products) and told a reader the parts of one transition. Environments whose
/// namespace is `held` by another (R-LC-08) are not announced as provisioned.
fn transition(
    old: &PlatformSoftwareProductStatus,
    stage: Stage,
    environments: &[EnvironmentStatus],
    held: &[NamespaceTaken],
) -> Option<Notice> {
    let list = |envs: &[&EnvironmentStatus]| {
        let named: Vec<String> = envs
            .iter()
            .map(|e| format!("{} (namespace {})", e.name.as_str(), e.namespace))
            .collect();
        named.join(", ")
    };
    let provisioned: Vec<&EnvironmentStatus> = environments
        .iter()
        .filter(|e| !old.environments.iter().any(|o| o.name == e.name))
        .filter(|e| !held.iter().any(|t| t.namespace == e.namespace))
        .collect();
    let retired: Vec<&EnvironmentStatus> = old
        .environments
        .iter()
        .filter(|o| !environments.iter().any(|e| e.name == o.name))
        .collect();
    let mut changes = Vec::new();
    if !provisioned.is_empty() {
        changes.push(format!("provisioned {}", list(&provisioned)));
    }
    if !retired.is_empty() {
        changes.push(format!("retired {}", list(&retired)));
    }
    let changes = changes.join("; ");
    let (reason, note) = match old.stage.filter(|s| *s != stage) {
        Some(previous) => (
            reasons::STAGE_CHANGED,
            format!("stage {} → {}", previous.as_str(), stage.as_str()),
        ),
        None if changes.is_empty() => return None,
        None => (
            match (provisioned.is_empty(), retired.is_empty()) {
                (false, true) => reasons::ENVIRONMENTS_PROVISIONED,
                (true, false) => reasons::ENVIRONMENTS_RETIRED,
                _ => reasons::ENVIRONMENTS_CHANGED,
            },
            format!("stage {}", stage.as_str()),
        ),
    };
    Some(Notice {
        warning: false,
        reason,
        note: if changes.is_empty() {
            note
        } else {
            format!("{note}: {changes}")
        },
    })
}

/// R-LC-08: environments whose namespace another holds make the product Degraded and
/// not Ready (`NamespaceTaken`), with a Warning event when that is new; they stay in
/// the status as not ready, and the transition's event does not announce them.
/// Nothing to do when none is taken ([`applied`] has set Degraded=False).
pub fn namespaces_taken(
    obs: &Observation,
    status: &mut PlatformSoftwareProductStatus,
    notices: &mut Vec<Notice>,
    taken: &[NamespaceTaken],
    owner: &Owner,
) {
    if taken.is_empty() {
        return;
    }
    // The transition again, without the environments held by another.
    notices.retain(|n| !reasons::TRANSITION.contains(&n.reason));
    if let Some(stage) = status.stage {
        let none = PlatformSoftwareProductStatus::default();
        let old = obs.old.unwrap_or(&none);
        notices.extend(transition(old, stage, &status.environments, taken));
    }
    let sites: Vec<String> = taken
        .iter()
        .map(|t| {
            t.site
                .as_ref()
                .map(|s| format!(" at site {s}"))
                .unwrap_or_default()
        })
        .collect();
    let message = taken_message(
        taken
            .iter()
            .zip(&sites)
            .map(|(t, at)| (t.namespace.as_str(), at.as_str(), &t.holder)),
        owner,
    );
    const REASON: &str = "NamespaceTaken";
    warn_degraded(obs, notices, REASON, &message);
    for (type_, value) in [
        (ConditionType::Degraded, true),
        (ConditionType::Ready, false),
        (ConditionType::Progressing, false),
    ] {
        set(&mut status.conditions, obs, type_, value, REASON, &message);
    }
}

/// The status of a product that cannot be reconciled: everything else is kept.
pub fn invalid(obs: &Observation, why: &Invalid) -> (PlatformSoftwareProductStatus, Vec<Notice>) {
    let mut status = obs.old.cloned().unwrap_or_default();
    let message = why.to_string();
    let mut notices = Vec::new();
    warn_degraded(obs, &mut notices, why.reason(), &message);
    for (type_, value) in [
        (ConditionType::Degraded, true),
        (ConditionType::Ready, false),
    ] {
        set(
            &mut status.conditions,
            obs,
            type_,
            value,
            why.reason(),
            &message,
        );
    }
    status.observed_generation = obs.generation;
    (status, notices)
}

/// Whether condition `type_` is about to change to `value` (or appear).
fn changes(obs: &Observation, type_: &str, value: bool) -> bool {
    let wanted = if value { "True" } else { "False" };
    obs.old_conditions()
        .iter()
        .find(|c| c.type_ == type_)
        .is_none_or(|c| c.status != wanted)
}

/// One check of the product as a condition, `reasons` = [when true, when false, of
/// the Warning]: the Warning is published when the condition turns false, not on
/// every reconcile.
fn flag(
    (list, notices, obs): (&mut Vec<Condition>, &mut Vec<Notice>, &Observation),
    type_: ConditionType,
    value: bool,
    [yes, no, warning]: [&'static str; 3],
    message: &str,
) {
    if changes(obs, type_.as_str(), value) && !value {
        notices.push(Notice {
            warning: true,
            reason: warning,
            note: message.to_owned(),
        });
    }
    set(
        list,
        obs,
        type_,
        value,
        if value { yes } else { no },
        message,
    );
}

/// A Warning that the product is degraded for `message`, unless it already was for
/// the same.
fn warn_degraded(
    obs: &Observation,
    notices: &mut Vec<Notice>,
    reason: &'static str,
    message: &str,
) {
    let was = obs
        .old_conditions()
        .iter()
        .find(|c| c.type_ == conditions::DEGRADED);
    if !was.is_some_and(|c| c.status == "True" && c.message == message) {
        notices.push(Notice {
            warning: true,
            reason,
            note: message.to_owned(),
        });
    }
}

/// Sets a condition of the product (the one upsert, `rules::conditions`).
fn set(
    list: &mut Vec<Condition>,
    obs: &Observation,
    type_: ConditionType,
    value: bool,
    reason: &str,
    message: &str,
) {
    let observed = Observed {
        old: obs.old_conditions(),
        now: obs.now,
        generation: obs.generation,
    };
    crate::rules::conditions::upsert(list, &observed, type_, value, reason, message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::build::plan;
    use crate::product::validate::validate;
    use jiff::civil::date;

    /// The examples' catalog, as the cluster tests apply it.
    fn catalog() -> &'static [std::sync::Arc<akp_crds::SoftwareCatalogItem>] {
        static CATALOG: std::sync::OnceLock<Vec<std::sync::Arc<akp_crds::SoftwareCatalogItem>>> =
            std::sync::OnceLock::new();
        CATALOG.get_or_init(|| {
            crate::examples::load("catalog.yaml")
                .into_iter()
                .map(std::sync::Arc::new)
                .collect()
        })
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn fixtures() -> (akp_crds::PlatformSoftwareProduct, Agency) {
        let product = crate::examples::load("products/e-license.yaml").remove(0);
        let agencies: Vec<Agency> = crate::examples::load("agencies.yaml");
        let mon = agencies
            .into_iter()
            .find(|a| a.spec.namespace == "agency-mon")
            .expect("mon");
        (product, mon)
    }

    /// One Tariff in force since 2026 with the CRD's default three free months.
    const TARIFFS: &[(Date, i32)] = &[(date(2026, 1, 1), 3)];

    fn step(
        product: &akp_crds::PlatformSoftwareProduct,
        agency: &Agency,
        old: Option<&PlatformSoftwareProductStatus>,
        now: Timestamp,
    ) -> (PlatformSoftwareProductStatus, Vec<Notice>) {
        step_under(product, agency, old, now, TARIFFS)
    }

    /// The reasons and notes of `notices`.
    fn told(notices: &[Notice]) -> Vec<(&str, &str)> {
        notices
            .iter()
            .map(|n| (n.reason, n.note.as_str()))
            .collect()
    }

    /// [`step`] from the status `old` at the RFC 3339 time `now`.
    fn after(
        product: &akp_crds::PlatformSoftwareProduct,
        agency: &Agency,
        old: &PlatformSoftwareProductStatus,
        now: &str,
    ) -> (PlatformSoftwareProductStatus, Vec<Notice>) {
        step(product, agency, Some(old), at(now))
    }

    fn step_under(
        product: &akp_crds::PlatformSoftwareProduct,
        agency: &Agency,
        old: Option<&PlatformSoftwareProductStatus>,
        now: Timestamp,
        tariffs: &[(Date, i32)],
    ) -> (PlatformSoftwareProductStatus, Vec<Notice>) {
        let calendar = Calendar::kazakhstan(2026..=2027);
        let v = validate(product, [agency]).expect("valid");
        let plan = plan(
            &v,
            &crate::product::segmentation::Segmentation::default(),
            &[],
        );
        let ready = plan.environments.iter().map(|e| (e.env, true)).collect();
        applied(
            &Observation {
                now,
                calendar: &calendar,
                generation: Some(1),
                old,
                tariffs,
                catalog: catalog(),
            },
            &v,
            agency,
            &plan,
            &ready,
            &BTreeMap::new(),
        )
    }

    fn condition<'a>(s: &'a PlatformSoftwareProductStatus, t: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition")
    }

    #[test]
    fn r_lc_03_trial_becomes_overdue_after_one_calendar_month_with_one_warning() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        let (s1, _) = step(&product, &agency, None, at("2026-09-03T10:00:00+05:00"));
        assert_eq!(
            condition(&s1, conditions::TRIAL_WITHIN_LIMIT).status,
            "True"
        );
        // The clock runs from the transfer act of 3 September, not from when the
        // operator first saw the product.
        assert_eq!(
            s1.trial.as_ref().map(|t| t.deadline.0),
            Some(at("2026-10-03T00:00:00+05:00"))
        );
        assert_eq!(
            s1.trial.as_ref().and_then(|t| t.act.as_deref()),
            Some("7 of 2026-09-03")
        );
        let (s2, n2) = after(&product, &agency, &s1, "2026-10-03T10:00:01+05:00");
        assert_eq!(
            condition(&s2, conditions::TRIAL_WITHIN_LIMIT).status,
            "False"
        );
        assert!(n2.iter().any(|n| n.warning && n.reason == "TrialOverdue"));
        // The trial's start is kept; the warning is not repeated.
        let (s3, n3) = after(&product, &agency, &s2, "2026-10-05T10:00:00+05:00");
        assert_eq!(s3.trial, s2.trial);
        assert!(n3.is_empty(), "{n3:?}");
    }

    #[test]
    fn r_lc_07_reaching_trial_operation_is_remembered_through_rework() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::PreliminaryTesting;
        let (s0, _) = step(&product, &agency, None, at("2026-09-01T10:00:00+05:00"));
        assert_eq!(s0.trial_reached_at, None);
        product.spec.stage = Stage::TrialOperation;
        let (s1, _) = after(&product, &agency, &s0, "2026-09-03T10:00:00+05:00");
        // The trial started with the transfer act, dated 3 September.
        let reached = Some(Time(at("2026-09-03T00:00:00+05:00")));
        assert_eq!(s1.trial_reached_at, reached);
        // Back to development for rework: the trial clock goes, the fact stays.
        product.spec.stage = Stage::Development;
        let (s2, _) = after(&product, &agency, &s1, "2026-09-10T10:00:00+05:00");
        assert_eq!(s2.trial, None);
        assert_eq!(s2.trial_reached_at, reached);
    }

    fn act(type_: akp_crds::product::ActType, number: &str, on: Date) -> akp_crds::product::Act {
        akp_crds::product::Act {
            type_,
            number: number.into(),
            date: on,
            sha256: "0".repeat(64),
            uri: None,
            result: (type_ == ActType::InfoSecTestProtocol)
                .then_some(akp_crds::product::ActResult::Positive),
        }
    }

    /// R-LC-03, R-LC-06: a product created at production gets the clocks its acts
    /// give: the trial from the transfer act, production and the warranty from the
    /// commissioning order (across Nauryz and the new year), not from when the
    /// operator first saw it.
    #[test]
    fn r_lc_03_r_lc_06_a_product_created_in_production_gets_the_clocks_of_its_acts() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::Production;
        product.spec.acts.extend([
            act(ActType::TrialCompletionAct, "3", date(2026, 12, 20)),
            act(ActType::InfoSecTestProtocol, "5", date(2026, 12, 24)),
            act(ActType::ResourceConfirmation, "9", date(2026, 12, 25)),
            act(ActType::CommissioningOrder, "41", date(2026, 12, 31)),
        ]);
        let (s, _) = step(&product, &agency, None, at("2027-03-22T10:00:00+05:00"));
        let production = s.production.as_ref().expect("production");
        assert_eq!(production.since.0, at("2026-12-31T00:00:00+05:00"));
        assert_eq!(production.warranty_until, date(2027, 12, 31));
        assert_eq!(s.trial, None, "no trial period was seen");
        assert_eq!(
            s.stage_history
                .iter()
                .map(|p| (p.stage, p.act.as_deref()))
                .collect::<Vec<_>>(),
            [(
                Stage::Production,
                Some("commissioningOrder 41 of 2026-12-31")
            )]
        );
    }

    /// R-SEC-01: the status records the protection level the class requires.
    #[test]
    fn r_sec_01_the_status_records_the_protection_level_of_the_class() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::Development;
        for (class, level) in [(1, 3), (2, 2), (3, 1)] {
            product.spec.class = class;
            let (s, _) = step(&product, &agency, None, at("2026-09-01T10:00:00+05:00"));
            assert_eq!(s.protection_level, Some(level), "class {class}");
        }
    }

    /// Issue 18, P1: one Event per product transition, naming every environment of
    /// it, not one per environment.
    #[test]
    fn one_event_per_product_transition_naming_its_environments() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::Development;
        let (s1, n1) = step(&product, &agency, None, at("2026-09-01T10:00:00+05:00"));
        assert_eq!(
            n1,
            [Notice {
                warning: false,
                reason: reasons::ENVIRONMENTS_PROVISIONED,
                note: "stage development: provisioned development (namespace mon-e-license-development), testing (namespace mon-e-license-testing)".into(),
            }]
        );
        product.spec.stage = Stage::PreliminaryTesting;
        let (s2, n2) = after(&product, &agency, &s1, "2026-09-02T10:00:00+05:00");
        assert_eq!(
            told(&n2),
            [(
                reasons::STAGE_CHANGED,
                "stage development → preliminaryTesting"
            )]
        );
        product.spec.stage = Stage::TrialOperation;
        let (_, n3) = after(&product, &agency, &s2, "2026-09-03T10:00:00+05:00");
        assert_eq!(
            told(&n3),
            [(
                reasons::STAGE_CHANGED,
                "stage preliminaryTesting → trialOperation: provisioned trial (namespace mon-e-license-trial)"
            )]
        );
    }

    /// R-LC-03, R-LC-09: going trial → preliminaryTesting → trial with the same
    /// transfer act does not restart the clock or clear the overdue flag; a new act
    /// does, and every trial period stays in the history.
    #[test]
    fn r_lc_09_rework_keeps_the_trial_clock_of_the_act_and_records_every_period() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        // Transferred on 3 September; the operator sees it on 10 October, overdue.
        let (s1, _) = step(&product, &agency, None, at("2026-10-10T10:00:00+05:00"));
        assert_eq!(
            condition(&s1, conditions::TRIAL_WITHIN_LIMIT).status,
            "False"
        );
        product.spec.stage = Stage::PreliminaryTesting;
        let (s2, _) = after(&product, &agency, &s1, "2026-10-12T10:00:00+05:00");
        assert_eq!(s2.trial, None);
        assert!(s2.stage_history[1].rework, "{:?}", s2.stage_history);
        assert_eq!(
            crate::rules::acts::last_return(Some(&s2)),
            Some(date(2026, 10, 12))
        );
        // Back to trial with the old act (the webhook refuses it; if it got in, the
        // clock is still that act's: overdue).
        product.spec.stage = Stage::TrialOperation;
        let (s3, _) = after(&product, &agency, &s2, "2026-10-13T10:00:00+05:00");
        assert_eq!(s3.trial, s1.trial);
        assert_eq!(
            condition(&s3, conditions::TRIAL_WITHIN_LIMIT).status,
            "False"
        );
        // A new transfer act after the return starts a new trial.
        product.spec.stage = Stage::PreliminaryTesting;
        let (s4, _) = after(&product, &agency, &s3, "2026-10-14T10:00:00+05:00");
        product.spec.stage = Stage::TrialOperation;
        product.spec.acts.extend([
            act(ActType::PreliminaryTestProtocol, "13", date(2026, 10, 15)),
            act(ActType::TrialTransferAct, "8", date(2026, 10, 16)),
        ]);
        let (s5, _) = after(&product, &agency, &s4, "2026-10-16T10:00:00+05:00");
        assert_eq!(
            s5.trial.as_ref().map(|t| t.deadline.0),
            Some(at("2026-11-16T00:00:00+05:00"))
        );
        assert_eq!(
            condition(&s5, conditions::TRIAL_WITHIN_LIMIT).status,
            "True"
        );
        let trials: Vec<_> = s5
            .stage_history
            .iter()
            .filter(|p| p.stage == Stage::TrialOperation)
            .map(|p| (p.act.as_deref(), p.until.is_some()))
            .collect();
        assert_eq!(
            trials,
            [
                (Some("trialTransferAct 7 of 2026-09-03"), true),
                (Some("trialTransferAct 7 of 2026-09-03"), true),
                (Some("trialTransferAct 8 of 2026-10-16"), false),
            ]
        );
        assert_eq!(
            s5.stage_history.iter().filter(|p| p.rework).count(),
            2,
            "{:?}",
            s5.stage_history
        );
    }

    #[test]
    fn r_lc_09_the_stage_history_is_bounded() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        let mut status = None;
        for i in 0..(STAGE_HISTORY_LIMIT + 10) {
            product.spec.stage = if i % 2 == 0 {
                Stage::TrialOperation
            } else {
                Stage::PreliminaryTesting
            };
            let now = at("2026-09-03T10:00:00+05:00")
                .checked_add(jiff::SignedDuration::from_mins(i as i64))
                .expect("in range");
            status = Some(step(&product, &agency, status.as_ref(), now).0);
        }
        let history = status.expect("status").stage_history;
        assert_eq!(history.len(), STAGE_HISTORY_LIMIT);
        assert_eq!(
            history.last().map(|p| p.stage),
            Some(Stage::PreliminaryTesting)
        );
    }

    #[test]
    fn a_resync_with_nothing_new_changes_nothing() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        let (s1, _) = step(&product, &agency, None, at("2026-09-03T10:00:00+05:00"));
        let (s2, n2) = after(&product, &agency, &s1, "2026-09-04T10:00:00+05:00");
        assert_eq!(s1, s2);
        assert!(n2.is_empty());
    }

    #[test]
    fn r_lc_06_warranty_and_r_lc_05_request_history_in_production() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        let (s1, _) = step(&product, &agency, None, at("2026-09-03T10:00:00+05:00"));
        product.spec.stage = Stage::Production;
        let (s2, notices) = after(&product, &agency, &s1, "2026-10-01T12:00:00+05:00");
        assert_eq!(
            s2.production.as_ref().map(|p| p.warranty_until),
            Some(date(2027, 10, 1))
        );
        // One event for the transition, naming the environment it retired.
        assert_eq!(
            notices,
            [Notice {
                warning: false,
                reason: reasons::STAGE_CHANGED,
                note: "stage trialOperation → production: provisioned production (namespace mon-e-license-production); retired trial (namespace mon-e-license-trial)".into(),
            }]
        );
        assert_eq!(s2.request_history.len(), 2);
        assert_eq!(s2.request_history[1].stage, Stage::Production);
        // R-ENV-04: three months after the agency's contract of 2026-03-02.
        assert_eq!(s2.non_production_free_until, Some(date(2026, 6, 2)));
    }

    /// R-ENV-04: the status shows the free period of the published Tariffs, the one
    /// billing rates with, not a fixed three months.
    #[test]
    fn r_env_04_the_status_shows_the_tariffs_free_period() {
        let (product, agency) = fixtures();
        let now = at("2026-09-03T10:00:00+05:00");
        let free_until = |tariffs: &[(Date, i32)]| {
            step_under(&product, &agency, None, now, tariffs)
                .0
                .non_production_free_until
        };
        // The agency's contract is of 2026-03-02.
        assert_eq!(free_until(&[(date(2026, 1, 1), 1)]), Some(date(2026, 4, 2)));
        assert_eq!(free_until(&[(date(2026, 1, 1), 0)]), Some(date(2026, 3, 2)));
        // A later Tariff with fewer months ends the period the day it takes effect.
        assert_eq!(
            free_until(&[(date(2026, 1, 1), 3), (date(2026, 5, 1), 1)]),
            Some(date(2026, 5, 1))
        );
        // No Tariff, nothing rated: no free period to show.
        assert_eq!(free_until(&[]), None);
    }

    #[test]
    fn r_lc_08_a_taken_namespace_degrades_with_one_warning_and_no_provisioned_notice() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.metadata.uid = Some("uid-e-license".into());
        product.spec.stage = Stage::Development;
        let calendar = Calendar::kazakhstan(2026..=2026);
        let v = validate(&product, [&agency]).expect("valid");
        let plan = plan(
            &v,
            &crate::product::segmentation::Segmentation::default(),
            &[],
        );
        let owner = Owner::product(&product, "mon").expect("uid");
        let holder = Holder("product agency-mon-e/license (uid u)".into());
        let taken = [NamespaceTaken::new(&plan.environments[0], None, &holder)];
        let step = |old: Option<&PlatformSoftwareProductStatus>| {
            let obs = Observation {
                now: at("2026-03-13T16:00:00+05:00"),
                calendar: &calendar,
                generation: Some(1),
                old,
                tariffs: TARIFFS,
                catalog: catalog(),
            };
            let ready = BTreeMap::from([(EnvironmentName::Development, false)]);
            let (mut s, mut n) = applied(&obs, &v, &agency, &plan, &ready, &BTreeMap::new());
            namespaces_taken(&obs, &mut s, &mut n, &taken, &owner);
            (s, n)
        };
        let (s1, n1) = step(None);
        let degraded = condition(&s1, conditions::DEGRADED);
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "NamespaceTaken")
        );
        assert_eq!(
            degraded.message,
            "namespace mon-e-license-development is held by product agency-mon-e/license (uid u); the operator writes only to namespaces it made for product agency-mon/e-license (R-LC-08: a namespace belongs to one product or Agency) and wrote nothing there: choose another product name (its environments get other namespaces), or, if a namespace is abandoned, ask an SRE to delete it"
        );
        assert_eq!(condition(&s1, conditions::READY).status, "False");
        // Development also has testing, whose namespace is free: the transition
        // announces it alone.
        assert_eq!(
            n1.iter()
                .map(|n| (n.reason, n.note.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    reasons::ENVIRONMENTS_PROVISIONED,
                    "stage development: provisioned testing (namespace mon-e-license-testing)"
                ),
                ("NamespaceTaken", degraded.message.as_str())
            ]
        );
        let (s2, n2) = step(Some(&s1));
        assert_eq!(s1, s2);
        assert!(n2.is_empty(), "{n2:?}");
    }

    /// R-ENV-03: a deadline in a year whose Kurban Ait is not known is flagged with
    /// one warning; once the year is configured, it is known.
    #[test]
    fn r_env_03_a_deadline_in_a_year_of_unknown_movable_holidays_is_flagged() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::Development;
        let v = validate(&product, [&agency]).expect("valid");
        let plan = plan(
            &v,
            &crate::product::segmentation::Segmentation::default(),
            &[],
        );
        let not_ready = BTreeMap::new();
        let run = |calendar: &Calendar, old| {
            applied(
                &Observation {
                    now: at("2027-12-24T10:00:00+05:00"),
                    calendar,
                    generation: Some(1),
                    old,
                    tariffs: TARIFFS,
                    catalog: catalog(),
                },
                &v,
                &agency,
                &plan,
                &not_ready,
                &BTreeMap::new(),
            )
        };
        // Requested on 24 December 2027: the 10th working day is in January 2028.
        let calendar = Calendar::kazakhstan(2026..=2030);
        let (s1, n1) = run(&calendar, None);
        let c = condition(&s1, conditions::CALENDAR_KNOWN);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "MovableHolidaysUnknown")
        );
        assert!(c.message.contains("in 2028"), "{}", c.message);
        assert!(
            c.message
                .contains("operator.config.calendar.movableHolidays")
        );
        assert_eq!(
            n1.iter()
                .filter(|n| n.reason == "CalendarYearUnknown")
                .count(),
            1
        );
        let (_, n2) = run(&calendar, Some(&s1));
        assert!(n2.iter().all(|n| n.reason != "CalendarYearUnknown"));
        let configured = calendar.with_movable_holidays([(2028, vec![date(2028, 5, 4)])]);
        let (s3, _) = run(&configured, Some(&s1));
        assert_eq!(condition(&s3, conditions::CALENDAR_KNOWN).status, "True");
    }

    #[test]
    fn r_env_03_provisioning_not_ready_past_ten_working_days_breaches() {
        let (mut product, agency) = fixtures();
        product.metadata.namespace = Some("agency-mon".into());
        product.spec.stage = Stage::Development;
        let calendar = Calendar::kazakhstan(2026..=2026);
        let v = validate(&product, [&agency]).expect("valid");
        let plan = plan(
            &v,
            &crate::product::segmentation::Segmentation::default(),
            &[],
        );
        let not_ready = BTreeMap::new();
        let obs = |now, old| Observation {
            now,
            calendar: &calendar,
            generation: Some(1),
            old,
            tariffs: TARIFFS,
            catalog: catalog(),
        };
        let step = |now, old| {
            applied(
                &obs(now, old),
                &v,
                &agency,
                &plan,
                &not_ready,
                &BTreeMap::new(),
            )
        };
        let (s1, _) = step(at("2026-03-13T16:00:00+05:00"), None);
        assert_eq!(
            condition(&s1, conditions::PROVISIONED_WITHIN_SLA).status,
            "True"
        );
        let (s2, n2) = step(at("2026-04-01T18:00:00+05:00"), Some(&s1));
        assert_eq!(
            condition(&s2, conditions::PROVISIONED_WITHIN_SLA).status,
            "True",
            "1 April is the 10th working day after Nauryz"
        );
        assert!(n2.is_empty());
        let (s3, n3) = step(at("2026-04-02T09:00:00+05:00"), Some(&s2));
        assert_eq!(
            condition(&s3, conditions::PROVISIONED_WITHIN_SLA).status,
            "False"
        );
        assert!(n3.iter().any(|n| n.reason == "ProvisioningSlaBreached"));
    }
}
