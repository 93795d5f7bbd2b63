//! The ClusterRoles of the project roles (R-LC-08), defined once and bound per
//! environment by the product controller. The Helm chart ships the same objects.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::ObjectMeta;

use crate::rules::naming::labels;

/// Reads an environment, without secrets: agencies and project heads.
pub const VIEWER: &str = "akp:environment-viewer";
/// Changes workloads and their configuration: developers in development and testing.
pub const DEVELOPER: &str = "akp:environment-developer";
/// Everything a developer does, plus secrets, exec and reading access bindings.
pub const ADMINISTRATOR: &str = "akp:environment-administrator";
/// Reads everything that matters for security: bindings, policies, events, quotas.
pub const SECURITY_OFFICER: &str = "akp:environment-security-officer";
/// Manages the products of an agency in the agency's own namespace.
pub const PRODUCT_EDITOR: &str = "akp:product-editor";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn workload_rules(verbs: &[&str]) -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &[
                "pods",
                "services",
                "endpoints",
                "configmaps",
                "persistentvolumeclaims",
            ],
            verbs,
        ),
        rule(
            &["apps"],
            &["deployments", "statefulsets", "replicasets", "daemonsets"],
            verbs,
        ),
        rule(&["batch"], &["jobs", "cronjobs"], verbs),
        rule(&["networking.k8s.io"], &["ingresses"], verbs),
        rule(&["policy"], &["poddisruptionbudgets"], verbs),
    ]
}

fn read_only_extras() -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &["pods/log", "events", "resourcequotas", "limitranges"],
            READ,
        ),
        rule(&["events.k8s.io"], &["events"], READ),
        rule(&["networking.k8s.io"], &["networkpolicies"], READ),
    ]
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some([(labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned())].into()),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
        ..ClusterRole::default()
    }
}

/// The ClusterRoles the operator binds; applied at start-up.
pub fn cluster_roles() -> Vec<ClusterRole> {
    let viewer = [workload_rules(READ), read_only_extras()].concat();
    let developer = [
        workload_rules(WRITE),
        read_only_extras(),
        vec![rule(
            &[""],
            &["secrets"],
            &["create", "update", "patch", "delete"],
        )],
    ]
    .concat();
    let administrator = [
        developer.clone(),
        vec![
            rule(&[""], &["secrets"], READ),
            rule(&[""], &["pods/exec", "pods/portforward"], &["create"]),
            rule(
                &["rbac.authorization.k8s.io"],
                &["roles", "rolebindings"],
                READ,
            ),
        ],
    ]
    .concat();
    let security_officer = [
        viewer.clone(),
        vec![rule(
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
            READ,
        )],
    ]
    .concat();
    let product_editor = vec![
        rule(&["akp.egov.kz"], &["platformsoftwareproducts"], WRITE),
        rule(&["akp.egov.kz"], &["platformsoftwareproducts/status"], READ),
        rule(&[""], &["events"], READ),
    ];
    vec![
        cluster_role(VIEWER, viewer),
        cluster_role(DEVELOPER, developer),
        cluster_role(ADMINISTRATOR, administrator),
        cluster_role(SECURITY_OFFICER, security_officer),
        cluster_role(PRODUCT_EDITOR, product_editor),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(role: &ClusterRole, group: &str, resource: &str, verb: &str) -> bool {
        role.rules.iter().flatten().any(|r| {
            r.api_groups.iter().flatten().any(|g| g == group)
                && r.resources.iter().flatten().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
        })
    }

    #[test]
    fn r_lc_08_roles_grant_what_each_project_role_needs() {
        let roles = cluster_roles();
        let get = |name: &str| {
            roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .cloned()
                .unwrap_or_default()
        };
        let viewer = get(VIEWER);
        assert!(allows(&viewer, "apps", "deployments", "list"));
        assert!(
            !allows(&viewer, "", "secrets", "get"),
            "viewers do not read secrets"
        );
        assert!(!allows(&viewer, "apps", "deployments", "create"));
        assert!(allows(&get(DEVELOPER), "apps", "deployments", "create"));
        assert!(!allows(&get(DEVELOPER), "", "secrets", "get"));
        assert!(allows(&get(ADMINISTRATOR), "", "secrets", "get"));
        assert!(allows(
            &get(SECURITY_OFFICER),
            "rbac.authorization.k8s.io",
            "rolebindings",
            "list"
        ));
        assert!(!allows(
            &get(SECURITY_OFFICER),
            "apps",
            "deployments",
            "update"
        ));
        assert!(allows(
            &get(PRODUCT_EDITOR),
            "akp.egov.kz",
            "platformsoftwareproducts",
            "create"
        ));
    }
}
