//! `kubectl pbo status <pbo>`: the stage, the gates and the acts still missing, the
//! legal clocks, the environments, placement and conditions of a product.
//!
//! The view is computed by [`view`], a pure function of the object, the time and the
//! calendar, from the rules the operator calls (`akp_rules`), so the plugin and
//! the operator never disagree about a gate or a deadline. The free period is the
//! status's, which the operator computes from the Tariffs as billing rates them.

use akp_crds::product::Act;
use akp_crds::{PlatformSoftwareProduct, Stage};
use akp_rules::calendar::Calendar;
use akp_rules::{clocks, stages};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use crate::cluster::{ClusterArgs, get_error};
use crate::error::CliError;
use crate::output::{Cell, Color, Fields, Output, Style, Table, heading, plain};

/// Arguments of `kubectl pbo status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PlatformSoftwareProduct's name.
    pub name: String,
}

/// Everything `status` shows, as `-o json|yaml` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub name: String,
    pub namespace: String,
    pub display_name: String,
    pub agency: Option<String>,
    pub class: i32,
    pub contour: String,
    pub internet_facing: bool,
    /// `spec.stage`: the stage asked for.
    pub stage: String,
    /// `status.stage`: the stage the environments were last reconciled for.
    pub reconciled_stage: Option<String>,
    pub stage_since: Option<String>,
    /// Whether the operator has seen the latest spec.
    pub up_to_date: bool,
    /// The next stage forward and what it still needs.
    pub next: Option<NextStage>,
    /// The act gates of the lifecycle (R-LC-02, R-LC-04).
    pub gates: Vec<Gate>,
    pub acts: Vec<ActView>,
    pub clocks: Clocks,
    pub environments: Vec<EnvironmentView>,
    pub placement: Placement,
    /// R-MON-01: the service-quality targets and where they are measured.
    pub quality: Quality,
    pub conditions: Vec<ConditionView>,
}

/// R-MON-01: what the product promised; Prometheus measures it continuously (the
/// chart's alerts) and the monthly report gives the month's availability against it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    pub availability_percent: Option<String>,
    pub response_time_ms: Option<i64>,
}

/// The next stage forward.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextStage {
    pub stage: String,
    /// Whether the gate is open: every act and field the stage needs is there.
    pub open: bool,
    /// The acts still missing (types).
    pub missing_acts: Vec<String>,
    /// Fields still missing (`spec.environments.production`).
    pub missing_fields: Vec<String>,
    /// The rules that guard the move.
    pub rules: Vec<String>,
}

/// A gate: the acts a stage needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    pub stage: String,
    pub rule: String,
    pub open: bool,
    pub missing: Vec<String>,
}

/// An act on the product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActView {
    #[serde(rename = "type")]
    pub type_: String,
    pub number: String,
    pub date: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// An information-security protocol's conclusion (R-LC-04).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// The legal clocks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Clocks {
    /// R-LC-03.
    pub trial: Option<TrialClock>,
    /// R-LC-06.
    pub warranty: Option<WarrantyClock>,
    /// R-ENV-04.
    pub free_period: Option<FreePeriod>,
    /// R-ENV-03, per environment.
    pub provisioning: Vec<ProvisioningClock>,
    /// R-LC-05, R-LC-10: the revisions of the requested resources.
    pub revisions: Revisions,
}

/// R-LC-05, R-LC-10: the revisions of the requested resources the status keeps (the
/// last 50; the audit trail keeps every one, and each month's reach the authorized
/// body in its report).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revisions {
    pub recorded: usize,
    pub last_at: Option<String>,
    pub last_stage: Option<String>,
}

/// R-LC-03: trial operation, at most one calendar month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrialClock {
    pub started_at: String,
    pub deadline: String,
    /// Whether the deadline has passed while the product is still in trial operation.
    pub overdue: bool,
    /// Whether the product is still in trial operation (else the record of the trial).
    pub running: bool,
    /// The act of transfer to trial operation the clock runs from (R-LC-03), as
    /// `<number> of <date>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<String>,
}

/// R-LC-06: the warranty, one year from commissioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarrantyClock {
    pub production_since: String,
    pub until: String,
    pub expired: bool,
}

/// R-ENV-04: non-production environments free until this date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreePeriod {
    /// The first day no longer free.
    pub until: String,
    pub ended: bool,
}

/// R-ENV-03: an environment due by the end of the 10th working day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningClock {
    pub environment: String,
    pub requested_at: String,
    /// The last civil date (UTC+5) it may become ready.
    pub due: String,
    pub ready_at: Option<String>,
    /// `met`, `pending` or `breached`.
    pub state: String,
}

/// One environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView {
    pub name: String,
    pub namespace: String,
    pub ready: bool,
    pub requested_at: Option<String>,
    pub ready_at: Option<String>,
    pub sites: Vec<String>,
    /// R-PLC-03: at an ICT-infrastructure provider's site.
    pub at_provider: bool,
    /// R-PLC-04: production's standby, as `<kind> at <site>`.
    pub standby: Option<String>,
}

/// Placement (R-PLC-01, R-PLC-02): the `Placed` condition and the sites in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// `True`, `False`, or `None` before the operator looked.
    pub placed: Option<String>,
    pub message: Option<String>,
    /// The sites of every environment, deduplicated.
    pub sites: Vec<String>,
}

/// A condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

/// The next stage forward (R-LC-01), if any.
pub fn next_stage(stage: Stage) -> Option<Stage> {
    match stage {
        Stage::Development => Some(Stage::PreliminaryTesting),
        Stage::PreliminaryTesting => Some(Stage::TrialOperation),
        Stage::TrialOperation => Some(Stage::Production),
        Stage::Production => Some(Stage::Decommissioned),
        Stage::Decommissioned => None,
    }
}

/// An instant in Kazakhstan time, to the minute: `2026-09-03 10:00 +05`.
pub fn kz_time(t: Timestamp) -> String {
    t.to_zoned(clocks::kazakhstan())
        .strftime("%Y-%m-%d %H:%M %:::z")
        .to_string()
}

/// A duration as `12d 3h` / `3h 20m` / `45m`.
fn span_text(seconds: i64) -> String {
    let s = seconds.abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

fn missing_for(stage: Stage, acts: &[Act]) -> Vec<String> {
    stages::missing_acts(stage, acts)
        .into_iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

/// The view of a product at `now`.
pub fn view(p: &PlatformSoftwareProduct, now: Timestamp, calendar: &Calendar) -> StatusView {
    let spec = &p.spec;
    let status = p.status.clone().unwrap_or_default();
    let next = next_stage(spec.stage).map(|to| {
        let missing_acts = missing_for(to, &spec.acts);
        let mut missing_fields = Vec::new();
        if to == Stage::Production && spec.environments.production.is_none() {
            missing_fields.push("spec.environments.production".to_string());
        }
        let mut rules = vec!["R-LC-01".to_string()];
        match to {
            Stage::TrialOperation => rules.push("R-LC-02".into()),
            Stage::Production => rules.push("R-LC-04".into()),
            _ => {}
        }
        NextStage {
            stage: to.as_str().to_string(),
            open: missing_acts.is_empty()
                && missing_fields.is_empty()
                && stages::check_transition(spec.stage, to).is_ok(),
            missing_acts,
            missing_fields,
            rules,
        }
    });
    let gates = [
        (Stage::TrialOperation, "R-LC-02"),
        (Stage::Production, "R-LC-04"),
    ]
    .into_iter()
    .map(|(stage, rule)| {
        let missing = missing_for(stage, &spec.acts);
        Gate {
            stage: stage.as_str().to_string(),
            rule: rule.to_string(),
            open: missing.is_empty(),
            missing,
        }
    })
    .collect();
    let acts = spec
        .acts
        .iter()
        .map(|a| ActView {
            type_: a.type_.as_str().to_string(),
            number: a.number.clone(),
            date: a.date.to_string(),
            sha256: a.sha256.clone(),
            uri: a.uri.clone(),
            result: a.result.map(|r| r.as_str().to_string()),
        })
        .collect();

    let in_trial =
        spec.stage == Stage::TrialOperation && status.stage == Some(Stage::TrialOperation);
    let trial = status.trial.as_ref().map(|t| TrialClock {
        started_at: t.started_at.0.to_string(),
        deadline: t.deadline.0.to_string(),
        overdue: in_trial && clocks::trial_overdue(t.started_at.0, now),
        running: in_trial,
        act: t.act.clone(),
    });
    let today = clocks::civil_date(now);
    let warranty = status.production.as_ref().map(|pr| WarrantyClock {
        production_since: pr.since.0.to_string(),
        until: pr.warranty_until.to_string(),
        expired: today > pr.warranty_until,
    });
    let free_period = status.non_production_free_until.map(|d| FreePeriod {
        until: d.to_string(),
        ended: today >= d,
    });
    let provisioning = status
        .environments
        .iter()
        .filter_map(|e| {
            let requested = e.requested_at.as_ref()?.0;
            let due = clocks::provisioning_deadline(calendar, requested);
            let ready_at = e.ready_at.as_ref().map(|t| t.0);
            let state = match ready_at {
                Some(r) if clocks::provisioned_within_sla(calendar, requested, r) => "met",
                Some(_) => "breached",
                None if clocks::provisioned_within_sla(calendar, requested, now) => "pending",
                None => "breached",
            };
            Some(ProvisioningClock {
                environment: e.name.as_str().to_string(),
                requested_at: requested.to_string(),
                due: due.to_string(),
                ready_at: ready_at.map(|t| t.to_string()),
                state: state.to_string(),
            })
        })
        .collect();

    let environments: Vec<EnvironmentView> = status
        .environments
        .iter()
        .map(|e| EnvironmentView {
            name: e.name.as_str().to_string(),
            namespace: e.namespace.clone(),
            ready: e.ready,
            requested_at: e.requested_at.as_ref().map(|t| t.0.to_string()),
            ready_at: e.ready_at.as_ref().map(|t| t.0.to_string()),
            sites: e.sites.clone(),
            at_provider: e.at_provider,
            standby: e
                .standby
                .as_ref()
                .map(|s| format!("{} at {}", s.kind.as_str(), s.site)),
        })
        .collect();
    let placed = status.conditions.iter().find(|c| c.type_ == "Placed");
    let mut sites: Vec<String> = environments.iter().flat_map(|e| e.sites.clone()).collect();
    sites.sort();
    sites.dedup();
    let placement = Placement {
        placed: placed.map(|c| c.status.clone()),
        message: placed.map(|c| c.message.clone()),
        sites,
    };
    let conditions = status
        .conditions
        .iter()
        .map(|c| ConditionView {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition_time: c.last_transition_time.0.to_string(),
        })
        .collect();
    StatusView {
        name: p.name_any(),
        namespace: p.namespace().unwrap_or_default(),
        display_name: spec.display_name.clone(),
        agency: status.agency.clone(),
        class: spec.class,
        contour: serde_json::to_value(spec.contour)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        internet_facing: spec.internet_facing,
        stage: spec.stage.as_str().to_string(),
        reconciled_stage: status.stage.map(|s| s.as_str().to_string()),
        stage_since: status.stage_since.as_ref().map(|t| t.0.to_string()),
        up_to_date: status.observed_generation.is_some()
            && status.observed_generation == p.metadata.generation,
        next,
        gates,
        acts,
        clocks: Clocks {
            trial,
            warranty,
            free_period,
            provisioning,
            revisions: Revisions {
                recorded: status.request_history.len(),
                last_at: status
                    .request_history
                    .last()
                    .map(|r| r.observed_at.0.to_string()),
                last_stage: status
                    .request_history
                    .last()
                    .map(|r| r.stage.as_str().to_owned()),
            },
        },
        environments,
        placement,
        quality: Quality {
            availability_percent: p
                .spec
                .sla
                .as_ref()
                .and_then(|s| s.availability_percent.clone()),
            response_time_ms: p.spec.capacity.response_time_ms,
        },
        conditions,
    }
}

fn ts(text: &str) -> String {
    text.parse::<Timestamp>()
        .map(kz_time)
        .unwrap_or_else(|_| text.to_string())
}

fn opt(text: Option<&String>) -> String {
    text.map(|t| ts(t)).unwrap_or_else(|| "-".into())
}

fn yes_no(ok: bool, yes: &str, no: &str) -> Cell {
    if ok {
        Cell::colored(yes, Color::Green)
    } else {
        Cell::colored(no, Color::Red)
    }
}

/// The view as text for a terminal.
pub fn render(v: &StatusView, now: Timestamp, style: Style) -> String {
    let mut out = String::new();
    let mut f = Fields::new();
    f.add("Product", format!("{}/{}", v.namespace, v.name));
    f.add("Name", v.display_name.clone());
    f.add("Agency", v.agency.clone().unwrap_or_else(|| "-".into()));
    f.add(
        "Class",
        format!(
            "{}, contour {}{}",
            v.class,
            v.contour,
            if v.internet_facing {
                ", Internet-facing"
            } else {
                ""
            }
        ),
    );
    // R-SEC-01: the level follows the class, as the operator records it.
    if let Some(level) = akp_rules::security::protection_level(v.class) {
        f.add(
            "Crypto level",
            format!("{level} (required by class {}, R-SEC-01)", v.class),
        );
    }
    let mut stage = v.stage.clone();
    if let Some(since) = &v.stage_since {
        stage.push_str(&format!(" since {}", ts(since)));
    }
    match (&v.reconciled_stage, v.up_to_date) {
        (Some(r), true) if *r == v.stage => {}
        (Some(r), _) if *r != v.stage => stage.push_str(&format!(" (environments still at {r})")),
        _ => stage.push_str(" (not reconciled yet)"),
    }
    f.add("Stage", stage);
    match &v.next {
        Some(n) if n.open => f.add_colored(
            "Next stage",
            format!("{}: gate open ({})", n.stage, n.rules.join(", ")),
            Color::Green,
        ),
        Some(n) => {
            let mut missing: Vec<String> = n.missing_acts.clone();
            missing.extend(n.missing_fields.iter().cloned());
            f.add_colored(
                "Next stage",
                format!(
                    "{}: gate closed ({}), missing {}",
                    n.stage,
                    n.rules.join(", "),
                    missing.join(", ")
                ),
                Color::Yellow,
            );
        }
        None => f.add("Next stage", "none: decommissioned is final (R-LC-07)"),
    }
    out.push_str(&f.render(style));
    if let Some(n) = v.next.as_ref().filter(|n| !n.missing_acts.is_empty()) {
        out.push_str(&format!(
            "  to promote: kubectl pbo promote {} -n {} --to {}",
            v.name, v.namespace, n.stage
        ));
        for t in &n.missing_acts {
            out.push_str(&format!(
                " \\\n                --act type={t},file=<signed document>"
            ));
        }
        out.push('\n');
    }
    if let Some(n) = v.next.as_ref() {
        for field in &n.missing_fields {
            out.push_str(&format!(
                "  and set {field} (the confirmed production resources, R-LC-04)\n"
            ));
        }
    }

    out.push_str(&heading(style, "Gates"));
    let mut t = Table::new(&["stage", "rule", "gate", "missing acts"]);
    for g in &v.gates {
        t.row(vec![
            g.stage.clone().into(),
            g.rule.clone().into(),
            yes_no(g.open, "open", "closed"),
            if g.missing.is_empty() {
                "-".to_string()
            } else {
                g.missing.join(", ")
            }
            .into(),
        ]);
    }
    out.push_str(&t.render(style));

    out.push_str(&heading(style, "Acts"));
    if v.acts.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(&["type", "number", "date", "sha256"]);
        for a in &v.acts {
            t.row(plain(&[&a.type_, &a.number, &a.date, &a.sha256]));
        }
        out.push_str(&t.render(style));
    }

    out.push_str(&heading(style, "Clocks (Kazakhstan time, UTC+5)"));
    let mut t = Table::new(&["clock", "rule", "date", "state"]);
    // One row per clock: (clock, rule, date, state).
    let mut clocks: Vec<(String, &str, String, Cell)> = Vec::new();
    clocks.push(match &v.clocks.trial {
        Some(tr) => {
            let deadline = tr.deadline.parse::<Timestamp>().ok();
            let state = match (tr.running, tr.overdue, deadline) {
                (true, true, Some(d)) => Cell::colored(
                    format!(
                        "overdue by {}: complete the trial or return to rework",
                        span_text(now.as_second() - d.as_second())
                    ),
                    Color::Red,
                ),
                (true, false, Some(d)) => Cell::colored(
                    format!("{} left", span_text(d.as_second() - now.as_second())),
                    Color::Green,
                ),
                _ => Cell::plain("trial completed"),
            };
            let clock = match &tr.act {
                Some(act) => format!("trial deadline (transfer act {act})"),
                None => "trial deadline".into(),
            };
            (clock, "R-LC-03", ts(&tr.deadline), state)
        }
        None => (
            "trial deadline".into(),
            "R-LC-03",
            "-".into(),
            "not in trial operation".into(),
        ),
    });
    clocks.push(match &v.clocks.warranty {
        Some(w) => (
            "warranty until".into(),
            "R-LC-06",
            w.until.clone(),
            if w.expired {
                Cell::colored("expired", Color::Yellow)
            } else {
                Cell::colored("running", Color::Green)
            },
        ),
        None => (
            "warranty until".into(),
            "R-LC-06",
            "-".into(),
            "starts in production".into(),
        ),
    });
    clocks.push(match &v.clocks.free_period {
        Some(fp) => (
            "non-production free until".into(),
            "R-ENV-04",
            fp.until.clone(),
            if fp.ended {
                Cell::colored("ended: the tariff's policy applies", Color::Yellow)
            } else {
                Cell::colored("free", Color::Green)
            },
        ),
        None => (
            "non-production free until".into(),
            "R-ENV-04",
            "-".into(),
            "no contract date on the agency".into(),
        ),
    });
    let revisions = &v.clocks.revisions;
    clocks.push((
        "last revision of resources".into(),
        "R-LC-05",
        opt(revisions.last_at.as_ref()),
        match &revisions.last_stage {
            Some(stage) => format!(
                "{} recorded, the last at {stage}; each goes to the authorized body (audit trail, monthly report)",
                revisions.recorded
            )
            .into(),
            None => "none recorded yet".into(),
        },
    ));
    for pc in &v.clocks.provisioning {
        let state = match pc.state.as_str() {
            "met" => Cell::colored(
                format!("met (ready {})", opt(pc.ready_at.as_ref())),
                Color::Green,
            ),
            "pending" => Cell::colored("pending", Color::Yellow),
            _ => Cell::colored("breached", Color::Red),
        };
        clocks.push((
            format!("provisioning {}", pc.environment),
            "R-ENV-03",
            format!("due {}", pc.due),
            state,
        ));
    }
    for (clock, rule, date, state) in clocks {
        t.row(vec![clock.into(), rule.into(), date.into(), state]);
    }
    out.push_str(&t.render(style));

    out.push_str(&heading(style, "Environments"));
    if v.environments.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(&[
            "environment",
            "namespace",
            "ready",
            "requested",
            "ready at",
            "sites",
            "standby",
        ]);
        for e in &v.environments {
            t.row(vec![
                e.name.clone().into(),
                e.namespace.clone().into(),
                yes_no(e.ready, "yes", "no"),
                opt(e.requested_at.as_ref()).into(),
                opt(e.ready_at.as_ref()).into(),
                match (e.sites.is_empty(), e.at_provider) {
                    (true, _) => "-".to_string(),
                    (false, false) => e.sites.join(","),
                    (false, true) => format!("{} (provider)", e.sites.join(",")),
                }
                .into(),
                e.standby.clone().unwrap_or_else(|| "-".into()).into(),
            ]);
        }
        out.push_str(&t.render(style));
    }

    out.push_str(&heading(style, "Placement"));
    let mut f = Fields::new();
    match v.placement.placed.as_deref() {
        Some("True") => f.add_colored("Placed", "True", Color::Green),
        Some(other) => f.add_colored("Placed", other, Color::Red),
        None => f.add("Placed", "unknown (not reconciled yet)"),
    }
    f.add(
        "Sites",
        if v.placement.sites.is_empty() {
            "-".to_string()
        } else {
            v.placement.sites.join(", ")
        },
    );
    if let Some(m) = &v.placement.message {
        f.add("Message", m.clone());
    }
    out.push_str(&f.render(style));

    out.push_str(&heading(style, "Service quality (R-MON-01)"));
    let mut f = Fields::new();
    f.add(
        "Availability target",
        v.quality.availability_percent.as_ref().map_or_else(
            || "none (spec.sla.availabilityPercent)".to_string(),
            |p| format!("{p} %"),
        ),
    );
    f.add(
        "Response time target",
        v.quality.response_time_ms.map_or_else(
            || "none (spec.capacity.responseTimeMs)".to_string(),
            |ms| format!("{ms} ms"),
        ),
    );
    f.add(
        "Measured",
        "in production: continuously by Prometheus (alerts AkpProductBelowAvailabilitySla, AkpProductResponseTimeAboveSla), monthly in the billing report",
    );
    out.push_str(&f.render(style));

    out.push_str(&heading(style, "Conditions"));
    if v.conditions.is_empty() {
        out.push_str("none\n");
    } else {
        let mut t = Table::new(&["type", "status", "reason", "since", "message"]);
        for c in &v.conditions {
            // Degraded is good when False; the others when True.
            let good = (c.status == "True") != (c.type_ == "Degraded");
            t.row(vec![
                c.type_.clone().into(),
                if good {
                    Cell::colored(c.status.clone(), Color::Green)
                } else {
                    Cell::colored(c.status.clone(), Color::Red)
                },
                c.reason.clone().into(),
                ts(&c.last_transition_time).into(),
                c.message.clone().into(),
            ]);
        }
        out.push_str(&t.render(style));
    }
    out
}

/// Runs `status`.
pub async fn run(args: &Args, cluster: &ClusterArgs, output: Output) -> Result<String, CliError> {
    let c = cluster.connect().await?;
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(c.client.clone(), &c.namespace);
    let p = api
        .get(&args.name)
        .await
        .map_err(|e| get_error(e, "PlatformSoftwareProduct", &args.name, Some(&c.namespace)))?;
    let now = Timestamp::now();
    let year = clocks::civil_date(now).year();
    let calendar = Calendar::kazakhstan(year.saturating_sub(2)..=year.saturating_add(1));
    let v = view(&p, now, &calendar);
    if let Some(text) = output.serialize(&v)? {
        return Ok(text);
    }
    Ok(render(&v, now, Style::detect(output)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(stage: &str, acts: &[&str], status: serde_json::Value) -> PlatformSoftwareProduct {
        let acts: Vec<serde_json::Value> = acts
            .iter()
            .map(|t| serde_json::json!({"type": t, "number": "1", "date": "2026-09-01", "sha256": "0".repeat(64)}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "akp.egov.kz/v1alpha1",
            "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "walker", "namespace": "agency-mon", "generation": 3},
            "spec": {
                "displayName": "Walker", "ictProjectCode": "AKT-1",
                "developer": {"name": "Dev", "bin": "180940012345"},
                "class": 2, "informationCategory": "public", "scale": "local",
                "capacity": {"concurrentUsers": 5}, "contour": "internal",
                "stage": stage, "acts": acts,
                "environments": {"development": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"}}
            },
            "status": status
        }))
        .expect("product")
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn r_lc_02_r_lc_04_next_stage_names_the_missing_acts_and_fields() {
        let cal = Calendar::kazakhstan(2026..=2026);
        let p = product(
            "trialOperation",
            &["preliminaryTestProtocol", "trialTransferAct"],
            serde_json::json!({}),
        );
        let v = view(&p, at("2026-09-10T00:00:00Z"), &cal);
        let next = v.next.clone().expect("next");
        assert_eq!(next.stage, "production");
        assert!(!next.open);
        assert_eq!(
            next.missing_acts,
            [
                "trialCompletionAct",
                "infoSecTestProtocol",
                "commissioningOrder",
                "resourceConfirmation"
            ]
        );
        assert_eq!(next.missing_fields, ["spec.environments.production"]);
        assert!(v.gates[0].open, "R-LC-02 gate is open");
        assert!(!v.gates[1].open, "R-LC-04 gate is closed");
        let text = render(&v, at("2026-09-10T00:00:00Z"), Style::PLAIN);
        assert!(
            text.contains("gate closed (R-LC-01, R-LC-04), missing trialCompletionAct, infoSecTestProtocol, commissioningOrder, resourceConfirmation, spec.environments.production"),
            "{text}"
        );
        assert!(
            text.contains("kubectl pbo promote walker -n agency-mon --to production \\\n                --act type=trialCompletionAct,file=<signed document> \\\n"),
            "{text}"
        );
        assert!(
            text.contains("and set spec.environments.production"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour in plain style");
    }

    #[test]
    fn r_lc_03_r_env_03_clocks_from_the_status() {
        let cal = Calendar::kazakhstan(2026..=2026);
        let p = product(
            "trialOperation",
            &["preliminaryTestProtocol", "trialTransferAct"],
            serde_json::json!({
                "stage": "trialOperation",
                "observedGeneration": 3,
                "stageSince": "2026-09-03T05:00:00Z",
                "trial": {"startedAt": "2026-09-03T05:00:00Z", "deadline": "2026-10-03T05:00:00Z", "act": "7 of 2026-09-03"},
                "nonProductionFreeUntil": "2026-06-02",
                "environments": [
                    {"name": "trial", "namespace": "mon-walker-trial", "ready": true, "sites": ["ast-1"],
                     "requestedAt": "2026-03-13T11:00:00Z", "readyAt": "2026-04-02T04:00:00Z"},
                    {"name": "development", "namespace": "mon-walker-development", "ready": false, "sites": [],
                     "requestedAt": "2026-10-01T05:00:00Z"}
                ],
                "conditions": [{"type": "Placed", "status": "True", "reason": "InCountry",
                    "message": "0 pod(s) on nodes attested in KZ", "lastTransitionTime": "2026-09-03T05:00:00Z"}]
            }),
        );
        let now = at("2026-10-04T05:00:00Z");
        let v = view(&p, now, &cal);
        let trial = v.clocks.trial.clone().expect("trial");
        assert!(trial.overdue && trial.running);
        assert_eq!(v.clocks.free_period.as_ref().map(|f| f.ended), Some(true));
        // Requested Friday 2026-03-13: due 1 April (Nauryz); ready 2 April: breached.
        assert_eq!(v.clocks.provisioning[0].due, "2026-04-01");
        assert_eq!(v.clocks.provisioning[0].state, "breached");
        assert_eq!(v.clocks.provisioning[1].state, "pending");
        assert!(v.up_to_date);
        assert_eq!(v.placement.sites, ["ast-1"]);
        let text = render(&v, now, Style::PLAIN);
        assert!(
            text.contains("trial deadline (transfer act 7 of 2026-09-03)"),
            "{text}"
        );
        assert!(text.contains("2026-10-03 10:00 +05"), "{text}");
        assert!(text.contains("overdue by 1d 0h"), "{text}");
        assert!(text.contains("mon-walker-trial"), "{text}");
    }

    #[test]
    fn decommissioned_has_no_next_stage() {
        let cal = Calendar::kazakhstan(2026..=2026);
        let p = product("development", &[], serde_json::json!({}));
        let mut p2 = p.clone();
        p2.spec.stage = Stage::Decommissioned;
        assert!(view(&p2, Timestamp::now(), &cal).next.is_none());
        let v = view(&p, Timestamp::now(), &cal);
        let next = v.next.expect("next");
        assert!(next.open, "development → preliminaryTesting needs no act");
        assert!(!v.up_to_date);
    }
}
