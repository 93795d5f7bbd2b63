//! The lifecycle: which environments each stage has, which moves are allowed, and
//! which acts open each gate (R-LC-01, R-LC-02, R-LC-04, R-LC-07).
//!
//! The API server enforces the same rules by CEL on the object alone; the operator and
//! `kubectl pbo` use these functions to explain the gates and to build environments.

use akp_crds::product::{Act, ActType};
use akp_crds::{EnvironmentName, Stage};

/// The environments a product has at a stage (api.md): development and testing until
/// production, the trial environment during trial operation, and none once
/// decommissioned (R-ENV-01, R-LC-07).
pub fn environments_at(stage: Stage) -> &'static [EnvironmentName] {
    use EnvironmentName::*;
    match stage {
        Stage::Development | Stage::PreliminaryTesting => &[Development, Testing],
        Stage::TrialOperation => &[Development, Testing, Trial],
        Stage::Production => &[Development, Testing, Production],
        Stage::Decommissioned => &[],
    }
}

/// The acts that must be on the product to be at `stage` (R-LC-02, R-LC-04).
pub fn acts_required_for(stage: Stage) -> &'static [ActType] {
    use ActType::*;
    match stage {
        Stage::Development | Stage::PreliminaryTesting => &[],
        Stage::TrialOperation => &[PreliminaryTestProtocol, TrialTransferAct],
        // Every act: production is the last gate.
        Stage::Production | Stage::Decommissioned => &ActType::ALL,
    }
}

/// The acts still missing to be at `stage`.
pub fn missing_acts(stage: Stage, acts: &[Act]) -> Vec<ActType> {
    acts_required_for(stage)
        .iter()
        .copied()
        .filter(|t| !acts.iter().any(|a| a.type_ == *t))
        .collect()
}

/// Why a stage change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// R-LC-01: stages go one at a time.
    #[error(
        "stage may not change from {from:?} to {to:?} (R-LC-01): stages go development, preliminaryTesting, trialOperation, production, decommissioned one at a time; before production a product may go back to development or preliminaryTesting for rework; decommissioned is final"
    )]
    NotAllowed { from: Stage, to: Stage },
}

/// Whether a product may move from `from` to `to` (R-LC-01): forward one stage at a
/// time, back to development or preliminary testing for rework before production
/// (000 p.31), and decommissioned only from production and for good.
pub fn check_transition(from: Stage, to: Stage) -> Result<(), TransitionError> {
    use Stage::*;
    let allowed = from == to
        || matches!(
            (from, to),
            (Development, PreliminaryTesting)
                | (PreliminaryTesting, Development | TrialOperation)
                | (
                    TrialOperation,
                    Development | PreliminaryTesting | Production
                )
                | (Production, Decommissioned)
        );
    if allowed {
        Ok(())
    } else {
        Err(TransitionError::NotAllowed { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvironmentName::*;

    #[test]
    fn r_env_01_environments_follow_the_stage() {
        assert_eq!(environments_at(Stage::Development), [Development, Testing]);
        assert_eq!(
            environments_at(Stage::PreliminaryTesting),
            [Development, Testing]
        );
        assert_eq!(
            environments_at(Stage::TrialOperation),
            [Development, Testing, Trial]
        );
        // The trial environment is retired in production.
        assert_eq!(
            environments_at(Stage::Production),
            [Development, Testing, Production]
        );
        // R-LC-07: decommissioned keeps the record, removes the environments.
        assert!(environments_at(Stage::Decommissioned).is_empty());
    }

    #[test]
    fn r_lc_01_no_stage_is_skipped_and_rework_goes_back() {
        use Stage::*;
        assert!(check_transition(Development, PreliminaryTesting).is_ok());
        assert!(check_transition(Development, TrialOperation).is_err());
        assert!(check_transition(PreliminaryTesting, Production).is_err());
        assert!(check_transition(TrialOperation, Development).is_ok());
        assert!(check_transition(TrialOperation, Production).is_ok());
        assert!(check_transition(Production, Development).is_err());
        assert!(check_transition(Production, Decommissioned).is_ok());
        assert!(check_transition(Decommissioned, Production).is_err());
        assert!(check_transition(Development, Decommissioned).is_err());
    }

    #[test]
    fn r_lc_02_and_r_lc_04_gates_name_the_missing_acts() {
        let act = |t| Act {
            type_: t,
            number: "1".into(),
            date: jiff::civil::date(2026, 9, 1),
            sha256: "0".repeat(64),
            uri: None,
            result: None,
        };
        assert_eq!(
            missing_acts(
                Stage::TrialOperation,
                &[act(ActType::PreliminaryTestProtocol)]
            ),
            [ActType::TrialTransferAct]
        );
        let gate2 = [
            act(ActType::PreliminaryTestProtocol),
            act(ActType::TrialTransferAct),
        ];
        assert_eq!(
            missing_acts(Stage::Production, &gate2),
            [
                ActType::TrialCompletionAct,
                ActType::InfoSecTestProtocol,
                ActType::CommissioningOrder,
                ActType::ResourceConfirmation
            ]
        );
        assert!(missing_acts(Stage::Development, &[]).is_empty());
    }
}
