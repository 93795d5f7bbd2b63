//! Admission of Agencies (R-LC-08): an agency's namespace is its tenancy, so no two
//! Agencies may claim the same one. The schema cannot see other objects; this hook
//! can.
//!
//! The operator's webhook fetches the Agencies for [`check_agency`]. Two creates
//! racing past each other can still both be admitted; then
//! [`crate::ownership::owning_agency`] lets the first by name own the namespace.

use akp_crds::Agency;
use kube_core::ResourceExt;

use super::verdict::{Verdict, Violation};
use crate::ownership::owning_agency;

/// Judges the Agency `name` being created, given every Agency.
pub fn check_agency(name: &str, agency: &Agency, agencies: &[Agency]) -> Verdict {
    let namespace = &agency.spec.namespace;
    // The holder is whom products in the namespace belong to: the same rule.
    let others: Vec<Agency> = agencies
        .iter()
        .filter(|a| a.name_any() != name)
        .cloned()
        .collect();
    let Some(holder) = owning_agency(namespace, &others) else {
        return Verdict::allowed();
    };
    Verdict {
        violations: vec![Violation {
            field: "spec.namespace".into(),
            value: namespace.clone(),
            problem: format!(
                "is already the namespace of Agency {} (BIN {}); an agency's namespace is its alone",
                holder.name_any(),
                holder.spec.bin
            ),
            rule: "R-LC-08",
            fix: format!(
                "choose a namespace no Agency claims (kubectl get agencies lists them), or change Agency {} instead of creating a second one",
                holder.name_any()
            ),
        }],
        ..Verdict::default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An Agency `name` claiming `namespace`, for the admission unit tests.
    pub(crate) fn agency(name: &str, namespace: &str) -> Agency {
        crate::examples::agency(name, namespace, "head@example.kz")
    }

    #[test]
    fn r_lc_08_a_namespace_claimed_by_another_agency_is_refused() {
        let existing = [
            agency("mzdr", "agency-health"),
            agency("mf", "agency-finance"),
        ];
        let verdict = check_agency("health-2", &agency("health-2", "agency-health"), &existing);
        let message = verdict.message();
        assert!(!verdict.is_allowed());
        for part in [
            "spec.namespace",
            "\"agency-health\"",
            "Agency mzdr",
            "R-LC-08",
            "kubectl get agencies",
        ] {
            assert!(message.contains(part), "{part} missing from: {message}");
        }
    }

    #[test]
    fn r_lc_08_a_free_namespace_or_the_agency_itself_is_allowed() {
        let existing = [agency("mzdr", "agency-health")];
        assert!(check_agency("mf", &agency("mf", "agency-finance"), &existing).is_allowed());
        // The object itself may already be in the list (a retried create).
        assert!(check_agency("mzdr", &agency("mzdr", "agency-health"), &existing).is_allowed());
        assert!(check_agency("mf", &agency("mf", "agency-finance"), &[]).is_allowed());
    }

    #[test]
    fn r_lc_08_of_two_conflicting_holders_the_first_by_name_is_named() {
        let existing = [agency("zz", "ns"), agency("aa", "ns")];
        let message = check_agency("new", &agency("new", "ns"), &existing).message();
        assert!(message.contains("Agency aa"), "{message}");
    }
}
