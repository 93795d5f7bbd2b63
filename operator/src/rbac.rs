//! The ClusterRoles of the project roles (R-LC-08), defined once and bound per
//! environment by the product controller and per agency namespace by the agency
//! controller. The Helm chart ships the same objects (tests/tests/chart.rs).
//!
//! Least privilege (issue 14, item 7). No role may:
//! - write Endpoints or EndpointSlices (a hand-written endpoint sends a Service's
//!   traffic anywhere, past the segmentation of R-SEG-04); reading them is fine;
//! - reach a pod's node or network through the API server: `pods/attach`,
//!   `pods/ephemeralcontainers`, `pods/binding` (which chooses the node, past the
//!   placement of R-PLC-01), `pods/proxy`, `services/proxy` are granted to nobody;
//!   `pods/exec` and `pods/portforward` only to administrators;
//! - mint tokens (`serviceaccounts/token`), grant or widen roles (`bind`, `escalate`,
//!   RoleBindings), `impersonate`, `deletecollection`, or write a product's status
//!   (the operator's);
//! - read a Secret by mounting it where it cannot read it directly. Whoever may create
//!   pods in a namespace can mount, and so read, every Secret there; so the rule is the
//!   converse: whoever may create workloads in a namespace is also given the reading
//!   of its Secrets (developers in development and testing, administrators), and
//!   whoever may not read Secrets (viewers, security officers, developers in trial and
//!   production, the agency and its head) may create no workload there. The grant
//!   states the real power instead of hiding it behind a mount.
//!
//! The agency namespace holds the agency's records (products), not workloads: no role
//! bound there grants pods, workloads, Services or Secrets.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::ObjectMeta;

use crate::rules::naming::labels;

/// Reads an environment, without secrets: agencies, their heads and project heads.
pub const VIEWER: &str = "akp:environment-viewer";
/// Changes workloads, their configuration and their secrets: developers in
/// development and testing.
pub const DEVELOPER: &str = "akp:environment-developer";
/// Everything a developer does, plus exec, port-forward and reading access bindings.
pub const ADMINISTRATOR: &str = "akp:environment-administrator";
/// Reads everything that matters for security but secrets: bindings, policies,
/// events, quotas.
pub const SECURITY_OFFICER: &str = "akp:environment-security-officer";
/// Manages the products of an agency in the agency's own namespace.
pub const PRODUCT_EDITOR: &str = "akp:product-editor";
/// What 000 p.25-28 gives the digitalization head in the agency namespace: the
/// agency's products and their participants, their status and events, and who is
/// bound there. Its reading of the environments is the viewer binding the product
/// controller makes in each (product/build.rs).
pub const DIGITALIZATION_HEAD: &str = "akp:digitalization-head";

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

/// The workloads and their configuration. Services stay writable (admission refuses
/// externalIPs and exposing types outside the external contour); Endpoints are in
/// `read_only_extras`.
fn workload_rules(verbs: &[&str]) -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &["pods", "services", "configmaps", "persistentvolumeclaims"],
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
            &[
                "pods/log",
                "events",
                "resourcequotas",
                "limitranges",
                "endpoints",
            ],
            READ,
        ),
        rule(&["events.k8s.io"], &["events"], READ),
        rule(&["networking.k8s.io"], &["networkpolicies"], READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
    ]
}

fn product_rules() -> Vec<PolicyRule> {
    vec![
        rule(&["akp.egov.kz"], &["platformsoftwareproducts"], WRITE),
        // The agency's month-to-date costs, written by billing (issue 20): read only.
        rule(
            &["akp.egov.kz"],
            &["platformsoftwareproducts/status", "usagestatements"],
            READ,
        ),
        rule(&[""], &["events"], READ),
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
    // Secrets read and written together with the workloads that can mount them (see
    // the module comment).
    let developer = [
        workload_rules(WRITE),
        read_only_extras(),
        vec![rule(&[""], &["secrets"], WRITE)],
    ]
    .concat();
    let bindings_read = rule(
        &["rbac.authorization.k8s.io"],
        &["roles", "rolebindings"],
        READ,
    );
    let administrator = [
        developer.clone(),
        vec![
            rule(&[""], &["pods/exec", "pods/portforward"], &["create"]),
            bindings_read.clone(),
        ],
    ]
    .concat();
    let security_officer = [viewer.clone(), vec![bindings_read]].concat();
    let head = [
        product_rules(),
        vec![rule(
            &["rbac.authorization.k8s.io"],
            &["rolebindings"],
            READ,
        )],
    ]
    .concat();
    vec![
        cluster_role(VIEWER, viewer),
        cluster_role(DEVELOPER, developer),
        cluster_role(ADMINISTRATOR, administrator),
        cluster_role(SECURITY_OFFICER, security_officer),
        cluster_role(PRODUCT_EDITOR, product_rules()),
        cluster_role(DIGITALIZATION_HEAD, head),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(role: &ClusterRole, group: &str, resource: &str, verb: &str) -> bool {
        role.rules.iter().flatten().any(|r| {
            r.api_groups
                .iter()
                .flatten()
                .any(|g| g == group || g == "*")
                && r.resources
                    .iter()
                    .flatten()
                    .any(|x| x == resource || x == "*")
                && r.verbs.iter().any(|v| v == verb || v == "*")
        })
    }

    fn get(name: &str) -> ClusterRole {
        cluster_roles()
            .into_iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .unwrap_or_default()
    }

    const ALL: [&str; 6] = [
        VIEWER,
        DEVELOPER,
        ADMINISTRATOR,
        SECURITY_OFFICER,
        PRODUCT_EDITOR,
        DIGITALIZATION_HEAD,
    ];

    #[test]
    fn r_lc_08_roles_grant_what_each_project_role_needs() {
        let viewer = get(VIEWER);
        assert!(allows(&viewer, "apps", "deployments", "list"));
        assert!(
            !allows(&viewer, "", "secrets", "get"),
            "viewers do not read secrets"
        );
        assert!(!allows(&viewer, "apps", "deployments", "create"));
        assert!(allows(&get(DEVELOPER), "apps", "deployments", "create"));
        assert!(allows(&get(ADMINISTRATOR), "", "secrets", "get"));
        assert!(allows(&get(ADMINISTRATOR), "", "pods/exec", "create"));
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
        for role in [PRODUCT_EDITOR, DIGITALIZATION_HEAD] {
            assert!(allows(
                &get(role),
                "akp.egov.kz",
                "platformsoftwareproducts",
                "create"
            ));
        }
    }

    /// Whoever may create pods may read Secrets: nobody reads one by mounting it.
    #[test]
    fn r_lc_08_who_creates_workloads_reads_secrets_directly() {
        for name in ALL {
            let role = get(name);
            let mounts = allows(&role, "", "pods", "create")
                || allows(&role, "apps", "deployments", "create")
                || allows(&role, "batch", "jobs", "create");
            assert_eq!(
                mounts,
                allows(&role, "", "secrets", "get"),
                "{name}: creating workloads and reading secrets go together"
            );
        }
    }

    /// Least privilege: what no project role holds.
    #[test]
    fn r_lc_08_no_role_writes_endpoints_or_takes_a_privilege() {
        let forbidden = [
            ("", "endpoints", "create"),
            ("", "endpoints", "update"),
            ("", "endpoints", "patch"),
            ("discovery.k8s.io", "endpointslices", "create"),
            ("discovery.k8s.io", "endpointslices", "patch"),
            ("", "pods/attach", "create"),
            ("", "pods/ephemeralcontainers", "patch"),
            ("", "pods/binding", "create"),
            ("", "pods/proxy", "get"),
            ("", "services/proxy", "get"),
            ("", "serviceaccounts/token", "create"),
            ("", "serviceaccounts", "create"),
            ("rbac.authorization.k8s.io", "rolebindings", "create"),
            ("rbac.authorization.k8s.io", "roles", "bind"),
            ("rbac.authorization.k8s.io", "clusterroles", "bind"),
            ("rbac.authorization.k8s.io", "clusterroles", "escalate"),
            ("", "users", "impersonate"),
            ("", "groups", "impersonate"),
            ("", "serviceaccounts", "impersonate"),
            ("akp.egov.kz", "platformsoftwareproducts/status", "patch"),
            ("networking.k8s.io", "networkpolicies", "create"),
            ("", "resourcequotas", "update"),
        ];
        for name in ALL {
            let role = get(name);
            for (group, resource, verb) in forbidden {
                assert!(
                    !allows(&role, group, resource, verb),
                    "{name} grants {verb} on {group}/{resource}"
                );
            }
            for rule in role.rules.iter().flatten() {
                assert!(
                    !rule
                        .verbs
                        .iter()
                        .any(|v| v == "*" || v == "deletecollection"),
                    "{name}: {rule:?}"
                );
            }
        }
    }

    /// The agency namespace holds records: the roles bound there grant no workload.
    #[test]
    fn r_lc_08_agency_roles_grant_no_workload_or_secret() {
        for name in [PRODUCT_EDITOR, DIGITALIZATION_HEAD] {
            let role = get(name);
            for (group, resource) in [
                ("", "pods"),
                ("", "secrets"),
                ("", "services"),
                ("", "configmaps"),
                ("apps", "deployments"),
                ("apps", "daemonsets"),
                ("batch", "cronjobs"),
            ] {
                assert!(!allows(&role, group, resource, "get"), "{name} {resource}");
                assert!(
                    !allows(&role, group, resource, "create"),
                    "{name} {resource}"
                );
            }
        }
    }
}
