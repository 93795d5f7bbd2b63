//! What the acts on a product must say, beyond their presence (R-LC-02, R-LC-04,
//! R-LC-09): dated in stage order and never in the future (Kazakhstan time), the
//! information-security protocol positive, the acts that opened a gate kept as they
//! were, and after a return for rework new acts, dated after the return.
//!
//! The API server checks by CEL what one object shows (the gate's acts present, the
//! protocol's result given); [`check_acts`] needs the stored object and today, so the
//! product webhook calls it.

use akp_crds::product::{Act, ActResult, ActType, PlatformSoftwareProductStatus};
use akp_crds::{PlatformSoftwareProduct, Stage};
use jiff::civil::Date;

use crate::stages::acts_required_for;
use crate::time::civil_date;

/// A refused act: which act and field, the rule and the fix.
pub type ActRefusal = crate::refusal::Violation;

/// An act as people name it: `trialTransferAct 7 of 2026-09-03`.
pub fn describe(act: &Act) -> String {
    format!("{} {} of {}", act.type_.as_str(), act.number, act.date)
}

/// The act of `type_` that counts: the latest by date; of acts of the same date, the
/// later in the list. A rework adds new acts and keeps the old ones (R-LC-09).
pub fn current(acts: &[Act], type_: ActType) -> Option<(usize, &Act)> {
    acts.iter()
        .enumerate()
        .filter(|(_, a)| a.type_ == type_)
        .max_by_key(|(i, a)| (a.date, *i))
}

/// The order of the acts (000 p.33-37): each pair is (earlier, later); acts of the
/// same day are in order. The trial's acts come after the transfer to trial
/// operation; the commissioning order after the completion act and the protocol.
const ORDER: [(ActType, ActType); 6] = [
    (ActType::PreliminaryTestProtocol, ActType::TrialTransferAct),
    (ActType::TrialTransferAct, ActType::TrialCompletionAct),
    (ActType::TrialTransferAct, ActType::InfoSecTestProtocol),
    (ActType::TrialTransferAct, ActType::ResourceConfirmation),
    (ActType::TrialCompletionAct, ActType::CommissioningOrder),
    (ActType::InfoSecTestProtocol, ActType::CommissioningOrder),
];

/// R-LC-09: the civil date (Kazakhstan) of the product's last return for rework, as
/// the operator recorded it in `status.stageHistory`.
pub fn last_return(status: Option<&PlatformSoftwareProductStatus>) -> Option<Date> {
    status?
        .stage_history
        .iter()
        .rev()
        .find(|p| p.rework)
        .map(|p| civil_date(p.since.0))
}

/// The furthest stage the stored record shows: its spec, and what the operator saw.
pub fn furthest_stage(product: &PlatformSoftwareProduct) -> Stage {
    let status = product.status.as_ref();
    let seen = status
        .into_iter()
        .flat_map(|s| s.stage_history.iter().map(|p| p.stage).chain(s.stage))
        .chain(
            status
                .and_then(|s| s.trial_reached_at.as_ref())
                .map(|_| Stage::TrialOperation),
        );
    seen.fold(product.spec.stage, Stage::max)
}

/// Whether the operator saw trial operation in the stored record (R-LC-09).
fn was_in_trial(status: Option<&PlatformSoftwareProductStatus>) -> bool {
    status.is_some_and(|s| {
        s.trial_reached_at.is_some()
            || s.stage_history
                .iter()
                .any(|p| p.stage >= Stage::TrialOperation)
    })
}

/// Two acts are the same document, whatever `uri` says of where it is kept.
fn same_document(a: &Act, b: &Act) -> bool {
    a.type_ == b.type_
        && a.number == b.number
        && a.date == b.date
        && a.sha256 == b.sha256
        && a.result == b.result
}

/// Judges the acts of `new` (R-LC-02, R-LC-04, R-LC-09), `old` being the stored
/// object on UPDATE (with the status the operator wrote) and `today` the civil date
/// in Kazakhstan:
///
/// - an act added or changed is not dated in the future, nor before the act of the
///   stage before it;
/// - entering a gate's stage, the gate's acts that count ([`current`]) are in order,
///   the information-security protocol among them positive, and, after a return for
///   rework, each dated after the return;
/// - an act that opened a gate the product has passed is neither changed nor removed,
///   and a protocol's result is never rewritten.
pub fn check_acts(
    old: Option<&PlatformSoftwareProduct>,
    new: &PlatformSoftwareProduct,
    today: Date,
) -> Vec<ActRefusal> {
    let acts = &new.spec.acts;
    let old_acts: &[Act] = old.map(|o| o.spec.acts.as_slice()).unwrap_or_default();
    let mut refusals = Vec::new();

    for (i, act) in acts.iter().enumerate() {
        if old_acts.iter().any(|o| same_document(o, act)) {
            continue;
        }
        if act.date > today {
            refusals.push(ActRefusal {
                field: format!("spec.acts[{i}].date"),
                value: act.date.to_string(),
                problem: format!(
                    "is the date of {}, after today ({today} in Kazakhstan, UTC+5)",
                    describe(act)
                ),
                rule: "R-LC-09",
                fix: "an act is recorded once it is signed: write the date it bears, today at the latest"
                    .into(),
            });
        }
        for (earlier, _) in ORDER.iter().filter(|(_, later)| *later == act.type_) {
            if let Some((_, before)) = current(acts, *earlier).filter(|(_, b)| b.date > act.date) {
                refusals.push(order_refusal(i, act, before));
            }
        }
        if let Some(o) = old_acts
            .iter()
            .find(|o| o.sha256 == act.sha256 && o.type_ == act.type_ && o.result != act.result)
        {
            refusals.push(ActRefusal {
                field: format!("spec.acts[{i}].result"),
                value: act.result.map(ActResult::as_str).unwrap_or("").into(),
                problem: format!(
                    "rewrites the result of {} (it was {}): the result is what the signed protocol concludes",
                    describe(o),
                    o.result.map(ActResult::as_str).unwrap_or("not given")
                ),
                rule: "R-LC-09",
                fix: "keep the protocol as it was; after a new test, add the new protocol with its own number, date, sha256 and result"
                    .into(),
            });
        }
    }

    if let Some(old) = old {
        refusals.extend(check_gate_acts_kept(old, acts));
    }

    let stage = new.spec.stage;
    let entering = old.is_none_or(|o| o.spec.stage != stage);
    if entering && matches!(stage, Stage::TrialOperation | Stage::Production) {
        for refusal in check_gate(old, new, stage) {
            if !refusals.contains(&refusal) {
                refusals.push(refusal);
            }
        }
    }
    refusals
}

fn order_refusal(i: usize, act: &Act, before: &Act) -> ActRefusal {
    ActRefusal {
        field: format!("spec.acts[{i}].date"),
        value: act.date.to_string(),
        problem: format!(
            "is the date of {}, before {} of the stage before it",
            describe(act),
            describe(before)
        ),
        rule: "R-LC-09",
        fix: format!(
            "acts are dated in stage order (000 p.33-37): date the {} on or after {}, or correct the date of the {}",
            act.type_.as_str(),
            before.date,
            before.type_.as_str()
        ),
    }
}

/// R-LC-09: the acts of the gates the stored product has passed stay as they were.
/// An act of a gate the product is past now is frozen; after a return, so is an
/// act of a gate passed before the return and dated before it (it can never open a
/// gate again, and it is the record of the one it opened).
fn check_gate_acts_kept(old: &PlatformSoftwareProduct, acts: &[Act]) -> Vec<ActRefusal> {
    let now_passed = acts_required_for(old.spec.stage);
    let once_passed = acts_required_for(furthest_stage(old));
    let returned = last_return(old.status.as_ref());
    let frozen = |a: &Act| {
        now_passed.contains(&a.type_)
            || (once_passed.contains(&a.type_) && returned.is_none_or(|r| a.date <= r))
    };
    let mut refusals = Vec::new();
    for kept in old.spec.acts.iter().filter(|a| frozen(a)) {
        if acts.iter().any(|a| same_document(a, kept)) {
            continue;
        }
        let fix = "an act that opened a gate is the record of that gate: restore it as it was; a new document is a new act, added beside it".to_owned();
        match acts
            .iter()
            .position(|a| a.type_ == kept.type_ && a.number == kept.number)
        {
            Some(i) => refusals.push(ActRefusal {
                field: format!("spec.acts[{i}]"),
                value: describe(&acts[i]),
                problem: format!(
                    "changes {} (sha256 {}), which opened a gate the product has passed",
                    describe(kept),
                    kept.sha256
                ),
                rule: "R-LC-09",
                fix,
            }),
            None => refusals.push(ActRefusal {
                field: "spec.acts".into(),
                value: describe(kept),
                problem: "is removed, and it opened a gate the product has passed".into(),
                rule: "R-LC-09",
                fix,
            }),
        }
    }
    refusals
}

/// Entering `stage` (trial operation or production): the gate's acts in order, the
/// protocol positive, and after a return for rework, dated after it.
fn check_gate(
    old: Option<&PlatformSoftwareProduct>,
    new: &PlatformSoftwareProduct,
    stage: Stage,
) -> Vec<ActRefusal> {
    let acts = &new.spec.acts;
    let required = acts_required_for(stage);
    let mut refusals = Vec::new();
    for (earlier, later) in ORDER
        .iter()
        .filter(|(e, l)| required.contains(e) && required.contains(l))
    {
        if let (Some((_, before)), Some((i, after))) =
            (current(acts, *earlier), current(acts, *later))
            && before.date > after.date
        {
            refusals.push(order_refusal(i, after, before));
        }
    }
    if stage == Stage::Production
        && let Some((i, protocol)) = current(acts, ActType::InfoSecTestProtocol)
        && protocol.result != Some(ActResult::Positive)
    {
        refusals.push(ActRefusal {
            field: format!("spec.acts[{i}].result"),
            value: protocol.result.map(ActResult::as_str).unwrap_or("").into(),
            problem: format!(
                "is the result of {}, the latest information-security test protocol: only a positive one opens production",
                describe(protocol)
            ),
            rule: "R-LC-04",
            fix: "return the product to rework (spec.stage: development or preliminaryTesting), test it again and add the new protocol with result: positive".into(),
        });
    }
    let Some(old) = old else {
        return refusals;
    };
    let status = old.status.as_ref();
    if stage == Stage::TrialOperation
        && was_in_trial(status)
        && status.and_then(|s| s.stage) != Some(old.spec.stage)
    {
        refusals.push(ActRefusal {
            field: "spec.stage".into(),
            value: stage.as_str().into(),
            problem: format!(
                "follows a return for rework that the operator has not recorded yet (status.stage is {}, the stage was {})",
                status
                    .and_then(|s| s.stage)
                    .map(Stage::as_str)
                    .unwrap_or("not set"),
                old.spec.stage.as_str()
            ),
            rule: "R-LC-09",
            fix: format!(
                "the date of the return comes from status.stageHistory: retry once status.stage shows {}",
                old.spec.stage.as_str()
            ),
        });
    }
    if let Some(returned) = last_return(status) {
        for type_ in required {
            if let Some((i, act)) = current(acts, *type_).filter(|(_, a)| a.date <= returned) {
                refusals.push(ActRefusal {
                    field: format!("spec.acts[{i}].date"),
                    value: act.date.to_string(),
                    problem: format!(
                        "is the date of {}, not after the return for rework on {returned} (status.stageHistory): a gate passed before the return opens again only with acts dated after it",
                        describe(act)
                    ),
                    rule: "R-LC-09",
                    fix: format!(
                        "add a new {} of the new test, dated after {returned}, beside the old one",
                        type_.as_str()
                    ),
                });
            }
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_crds::product::StagePeriod;
    use jiff::civil::date;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn act(type_: ActType, number: &str, on: Date) -> Act {
        Act {
            type_,
            number: number.into(),
            date: on,
            sha256: format!("{:0>64}", number),
            uri: None,
            result: (type_ == ActType::InfoSecTestProtocol).then_some(ActResult::Positive),
        }
    }

    fn product(stage: Stage, acts: Vec<Act>) -> PlatformSoftwareProduct {
        let mut p: PlatformSoftwareProduct = serde_json::from_value(serde_json::json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "PlatformSoftwareProduct",
            "metadata": {"name": "e-license", "namespace": "agency-mon"},
            "spec": {
                "displayName": "e-license", "ictProjectCode": "AKT-2026-0042",
                "developer": {"name": "NIT", "bin": "000740001307"},
                "class": 2, "informationCategory": "confidential", "scale": "republican",
                "capacity": {"concurrentUsers": 100}, "contour": "internal"
            }
        }))
        .expect("product");
        p.spec.stage = stage;
        p.spec.acts = acts;
        p
    }

    fn gate1() -> Vec<Act> {
        vec![
            act(ActType::PreliminaryTestProtocol, "1", date(2026, 9, 1)),
            act(ActType::TrialTransferAct, "7", date(2026, 9, 3)),
        ]
    }

    fn all_acts() -> Vec<Act> {
        let mut acts = gate1();
        acts.extend([
            act(ActType::TrialCompletionAct, "3", date(2026, 10, 1)),
            act(ActType::InfoSecTestProtocol, "5", date(2026, 9, 28)),
            act(ActType::ResourceConfirmation, "9", date(2026, 9, 30)),
            act(ActType::CommissioningOrder, "41", date(2026, 10, 2)),
        ]);
        acts
    }

    const TODAY: Date = date(2026, 10, 5);

    fn messages(r: &[ActRefusal]) -> Vec<String> {
        r.iter().map(ToString::to_string).collect()
    }

    /// The status of a product the operator saw go to trial on `trial` and back to
    /// `back_to` on `returned`.
    fn returned_status(
        trial: &str,
        back_to: Stage,
        returned: &str,
    ) -> PlatformSoftwareProductStatus {
        let t = |s: &str| Time(s.parse().expect("timestamp"));
        PlatformSoftwareProductStatus {
            stage: Some(back_to),
            trial_reached_at: Some(t(trial)),
            stage_history: vec![
                StagePeriod {
                    stage: Stage::TrialOperation,
                    since: t(trial),
                    until: Some(t(returned)),
                    rework: false,
                    act: None,
                    deadline: None,
                },
                StagePeriod {
                    stage: back_to,
                    since: t(returned),
                    until: None,
                    rework: true,
                    act: None,
                    deadline: None,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn r_lc_02_r_lc_04_acts_in_order_and_in_the_past_pass() {
        let new = product(Stage::Production, all_acts());
        assert_eq!(check_acts(None, &new, TODAY), []);
        let old = product(Stage::TrialOperation, all_acts());
        assert_eq!(check_acts(Some(&old), &new, TODAY), []);
    }

    #[test]
    fn r_lc_09_an_act_dated_in_the_future_in_kazakhstan_is_refused() {
        let mut acts = gate1();
        acts.push(act(ActType::TrialCompletionAct, "3", date(2026, 10, 6)));
        let new = product(Stage::TrialOperation, acts);
        // 2026-10-05T19:30Z is already 6 October in Astana.
        let astana_today = civil_date("2026-10-05T19:30:00Z".parse().expect("ts"));
        assert_eq!(check_acts(None, &new, astana_today), []);
        assert_eq!(
            messages(&check_acts(None, &new, TODAY)),
            [
                r#"spec.acts[2].date "2026-10-06" is the date of trialCompletionAct 3 of 2026-10-06, after today (2026-10-05 in Kazakhstan, UTC+5) (R-LC-09): an act is recorded once it is signed: write the date it bears, today at the latest"#
            ]
        );
        // An act already stored is not judged again.
        assert_eq!(check_acts(Some(&new), &new, TODAY), []);
    }

    #[test]
    fn r_lc_09_acts_are_dated_in_stage_order() {
        // The transfer act before the preliminary test protocol.
        let acts = vec![
            act(ActType::PreliminaryTestProtocol, "1", date(2026, 9, 4)),
            act(ActType::TrialTransferAct, "7", date(2026, 9, 3)),
        ];
        let new = product(Stage::TrialOperation, acts.clone());
        assert_eq!(
            messages(&check_acts(None, &new, TODAY)),
            [
                r#"spec.acts[1].date "2026-09-03" is the date of trialTransferAct 7 of 2026-09-03, before preliminaryTestProtocol 1 of 2026-09-04 of the stage before it (R-LC-09): acts are dated in stage order (000 p.33-37): date the trialTransferAct on or after 2026-09-04, or correct the date of the preliminaryTestProtocol"#
            ]
        );
        // The commissioning order before the protocol, added during trial.
        let old = product(Stage::TrialOperation, gate1());
        let mut acts = all_acts();
        acts[5].date = date(2026, 9, 27);
        let new = product(Stage::TrialOperation, acts);
        let refused = check_acts(Some(&old), &new, TODAY);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused.iter().all(|r| r.field == "spec.acts[5].date"));
        // Acts of the same day are in order.
        let same_day = vec![
            act(ActType::PreliminaryTestProtocol, "1", date(2026, 9, 3)),
            act(ActType::TrialTransferAct, "7", date(2026, 9, 3)),
        ];
        assert_eq!(
            check_acts(None, &product(Stage::TrialOperation, same_day), TODAY),
            []
        );
    }

    #[test]
    fn r_lc_04_only_a_positive_infosec_protocol_opens_production() {
        let old = product(Stage::TrialOperation, all_acts());
        let mut acts = all_acts();
        acts[3].result = Some(ActResult::Negative);
        let negative = product(Stage::TrialOperation, acts.clone());
        // Recording a failed test during trial is allowed ...
        let refused = check_acts(
            Some(&product(Stage::TrialOperation, gate1())),
            &negative,
            TODAY,
        );
        assert_eq!(refused, []);
        // ... promoting with it is not.
        let new = product(Stage::Production, acts.clone());
        assert_eq!(
            messages(&check_acts(Some(&negative), &new, TODAY)),
            [
                r#"spec.acts[3].result "negative" is the result of infoSecTestProtocol 5 of 2026-09-28, the latest information-security test protocol: only a positive one opens production (R-LC-04): return the product to rework (spec.stage: development or preliminaryTesting), test it again and add the new protocol with result: positive"#
            ]
        );
        // Rewriting the result of the same protocol is refused.
        let refused = check_acts(
            Some(&negative),
            &product(Stage::Production, all_acts()),
            TODAY,
        );
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].field, "spec.acts[3].result");
        assert!(refused[0].problem.starts_with(
            "rewrites the result of infoSecTestProtocol 5 of 2026-09-28 (it was negative)"
        ));
        let _ = old;
    }

    #[test]
    fn r_lc_09_acts_that_opened_a_gate_are_not_changed_or_removed() {
        let old = product(Stage::TrialOperation, gate1());
        let mut changed = gate1();
        changed[1].date = date(2026, 9, 10);
        let refused = check_acts(Some(&old), &product(Stage::TrialOperation, changed), TODAY);
        assert_eq!(
            messages(&refused),
            [
                r#"spec.acts[1] "trialTransferAct 7 of 2026-09-10" changes trialTransferAct 7 of 2026-09-03 (sha256 0000000000000000000000000000000000000000000000000000000000000007), which opened a gate the product has passed (R-LC-09): an act that opened a gate is the record of that gate: restore it as it was; a new document is a new act, added beside it"#
            ]
        );
        let removed = vec![gate1().remove(0)];
        let refused = check_acts(Some(&old), &product(Stage::TrialOperation, removed), TODAY);
        assert_eq!(
            messages(&refused),
            [
                r#"spec.acts "trialTransferAct 7 of 2026-09-03" is removed, and it opened a gate the product has passed (R-LC-09): an act that opened a gate is the record of that gate: restore it as it was; a new document is a new act, added beside it"#
            ]
        );
        // Removing them on the way back is refused too.
        let refused = check_acts(Some(&old), &product(Stage::Development, vec![]), TODAY);
        assert_eq!(refused.len(), 2, "{refused:?}");
        // Where it is kept may change.
        let mut moved = gate1();
        moved[0].uri = Some("https://docs.example.kz/1".into());
        assert_eq!(
            check_acts(Some(&old), &product(Stage::TrialOperation, moved), TODAY),
            []
        );
        // An act of a gate not passed yet may still be corrected.
        let mut acts = gate1();
        acts.push(act(ActType::TrialCompletionAct, "3", date(2026, 10, 1)));
        let before = product(Stage::TrialOperation, acts.clone());
        acts[2].number = "3a".into();
        assert_eq!(
            check_acts(Some(&before), &product(Stage::TrialOperation, acts), TODAY),
            []
        );
    }

    #[test]
    fn r_lc_09_rework_reopens_the_trial_gate_only_with_acts_dated_after_the_return() {
        // In trial from 3 September, back to preliminary testing on 20 September.
        let mut old = product(Stage::PreliminaryTesting, gate1());
        old.status = Some(returned_status(
            "2026-09-03T10:00:00+05:00",
            Stage::PreliminaryTesting,
            "2026-09-20T10:00:00+05:00",
        ));
        // The old acts do not reopen the gate.
        let refused = check_acts(Some(&old), &product(Stage::TrialOperation, gate1()), TODAY);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert_eq!(
            refused[1].to_string(),
            r#"spec.acts[1].date "2026-09-03" is the date of trialTransferAct 7 of 2026-09-03, not after the return for rework on 2026-09-20 (status.stageHistory): a gate passed before the return opens again only with acts dated after it (R-LC-09): add a new trialTransferAct of the new test, dated after 2026-09-20, beside the old one"#
        );
        // Nor does an act of the day of the return.
        let acts = regated(20, 21);
        let refused = check_acts(Some(&old), &product(Stage::TrialOperation, acts), TODAY);
        assert_eq!(messages(&refused).len(), 1, "{refused:?}");
        assert_eq!(refused[0].field, "spec.acts[2].date");
        // New acts dated after the return do, the old ones kept beside them.
        let acts = regated(21, 22);
        assert_eq!(
            check_acts(
                Some(&old),
                &product(Stage::TrialOperation, acts.clone()),
                TODAY
            ),
            []
        );
        // The old acts stay frozen after the return.
        let refused = check_acts(
            Some(&old),
            &product(Stage::PreliminaryTesting, acts[2..].to_vec()),
            TODAY,
        );
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused.iter().all(|r| r.problem.contains("is removed")));
    }

    /// The first gate's acts and, for a second trial, a new protocol of September `ptp`
    /// and a new transfer act of September `transfer`.
    fn regated(ptp: i8, transfer: i8) -> Vec<Act> {
        let mut acts = gate1();
        acts.push(act(
            ActType::PreliminaryTestProtocol,
            "2",
            date(2026, 9, ptp),
        ));
        acts.push(act(ActType::TrialTransferAct, "8", date(2026, 9, transfer)));
        acts
    }

    #[test]
    fn r_lc_09_a_return_the_operator_has_not_recorded_yet_holds_the_gate() {
        let mut old = product(Stage::PreliminaryTesting, gate1());
        let mut status = returned_status(
            "2026-09-03T10:00:00+05:00",
            Stage::PreliminaryTesting,
            "2026-09-20T10:00:00+05:00",
        );
        status.stage = Some(Stage::Development);
        old.status = Some(status);
        let acts = regated(21, 22);
        let refused = check_acts(Some(&old), &product(Stage::TrialOperation, acts), TODAY);
        assert_eq!(
            messages(&refused),
            [
                r#"spec.stage "trialOperation" follows a return for rework that the operator has not recorded yet (status.stage is development, the stage was preliminaryTesting) (R-LC-09): the date of the return comes from status.stageHistory: retry once status.stage shows preliminaryTesting"#
            ]
        );
        // A first trial needs no recorded history.
        let first = product(Stage::PreliminaryTesting, gate1());
        assert_eq!(
            check_acts(
                Some(&first),
                &product(Stage::TrialOperation, gate1()),
                TODAY
            ),
            []
        );
    }

    #[test]
    fn r_lc_09_production_after_rework_needs_the_new_trials_acts() {
        // Back from trial on 20 September after a negative protocol of 18 September.
        let mut acts = gate1();
        let mut negative = act(ActType::InfoSecTestProtocol, "5", date(2026, 9, 18));
        negative.result = Some(ActResult::Negative);
        acts.push(negative);
        acts.push(act(
            ActType::PreliminaryTestProtocol,
            "2",
            date(2026, 9, 21),
        ));
        acts.push(act(ActType::TrialTransferAct, "8", date(2026, 9, 22)));
        let mut old = product(Stage::TrialOperation, acts.clone());
        let mut status = returned_status(
            "2026-09-03T10:00:00+05:00",
            Stage::PreliminaryTesting,
            "2026-09-20T10:00:00+05:00",
        );
        status.stage = Some(Stage::TrialOperation);
        old.status = Some(status);
        acts.extend([
            act(ActType::TrialCompletionAct, "3", date(2026, 10, 1)),
            act(ActType::ResourceConfirmation, "9", date(2026, 9, 30)),
            act(ActType::CommissioningOrder, "41", date(2026, 10, 2)),
        ]);
        // The negative protocol is the latest: production stays closed.
        let refused = check_acts(Some(&old), &product(Stage::Production, acts.clone()), TODAY);
        assert!(
            refused
                .iter()
                .any(|r| r.rule == "R-LC-04" && r.field == "spec.acts[2].result"),
            "{refused:?}"
        );
        assert!(
            refused
                .iter()
                .any(|r| r.rule == "R-LC-09" && r.field == "spec.acts[2].date"),
            "{refused:?}"
        );
        // A new positive protocol of the new trial opens it.
        acts.push(act(ActType::InfoSecTestProtocol, "6", date(2026, 9, 29)));
        assert_eq!(
            check_acts(Some(&old), &product(Stage::Production, acts), TODAY),
            []
        );
    }

    #[test]
    fn furthest_stage_reads_the_record() {
        let mut p = product(Stage::Development, vec![]);
        assert_eq!(furthest_stage(&p), Stage::Development);
        p.status = Some(returned_status(
            "2026-09-03T10:00:00+05:00",
            Stage::Development,
            "2026-09-20T10:00:00+05:00",
        ));
        assert_eq!(furthest_stage(&p), Stage::TrialOperation);
        assert_eq!(last_return(p.status.as_ref()), Some(date(2026, 9, 20)));
    }
}
