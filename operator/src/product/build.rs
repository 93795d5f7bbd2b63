//! The pure `build` step: from a validated product, the environments its stage needs
//! and every object in them (R-ENV-01, R-LC-08, R-SEG-04). No client here.

use std::collections::BTreeMap;

use akp_crds::product::{Participants, ResourceRequest};
use akp_crds::{EnvironmentName, PlatformSoftwareProduct, Site};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use crate::rbac;
use crate::rules::naming::{environment_namespace, labels, pod_security_labels};
use crate::rules::placement::{HOME_COUNTRY, allowed_sites, own_infrastructure, standby};
use crate::rules::quantity::{format_nanos, parse_nanos};
use crate::rules::stages::environments_at;

use super::segmentation::{Placement, Segmentation, policies};
use super::validate::Validated;

/// Everything one environment consists of.
#[derive(Clone, Debug)]
pub struct EnvironmentPlan {
    /// Which environment.
    pub env: EnvironmentName,
    /// Its namespace.
    pub namespace: Namespace,
    /// The objects inside it.
    pub objects: Vec<Child>,
    /// The Sites it may run at (R-PLC-01, R-PLC-02), or why none may host it: what
    /// the pods' placement and the remote sites' environments follow.
    pub sites: Result<Vec<String>, String>,
    /// Whether those are an ICT-infrastructure provider's (R-PLC-03).
    pub at_provider: bool,
    /// Production's standby by class (R-PLC-02, R-PLC-04), or why there is none.
    pub standby: Result<Option<akp_crds::product::StandbyStatus>, String>,
}

impl EnvironmentPlan {
    /// Whether it may run at the Site `name`.
    pub fn at_site(&self, name: &str) -> bool {
        self.sites
            .as_ref()
            .is_ok_and(|sites| sites.iter().any(|s| s == name))
    }
}

/// An object inside an environment namespace.
#[derive(Clone, Debug)]
pub enum Child {
    /// The quota of the requested resources.
    Quota(ResourceQuota),
    /// Defaults and maximums per container and volume claim.
    Limits(LimitRange),
    /// A project role bound to its people.
    Binding(RoleBinding),
    /// A network policy.
    Policy(NetworkPolicy),
}

/// The plan for a product: environments to have, and those its stage needs but that
/// have no resource request yet.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The environments to create or keep.
    pub environments: Vec<EnvironmentPlan>,
    /// Environments the stage needs whose resources are not requested.
    pub not_requested: Vec<EnvironmentName>,
}

/// Default per-container request and limit caps (a LimitRange fills them in for
/// containers that say nothing, so that a quota on requests does not refuse them).
const DEFAULT_REQUEST_CPU: &str = "100m";
const DEFAULT_REQUEST_MEMORY: &str = "128Mi";
const DEFAULT_LIMIT_CPU: &str = "1";
const DEFAULT_LIMIT_MEMORY: &str = "1Gi";
/// Scratch space (logs, writable layers, emptyDir on disk) of a container that says
/// nothing: enough for logs and a small cache; a container needing more says so.
const DEFAULT_REQUEST_EPHEMERAL: &str = "256Mi";
const DEFAULT_LIMIT_EPHEMERAL: &str = "1Gi";

/// What a product's request (000 App.2) does not name but one environment must not
/// exhaust, with why each number (issue 14, item 7). Node-local disk is shared by
/// every tenant on a node; objects live in the API server's etcd; addresses and
/// ports are the cluster's.
const DEFAULT_BOUNDS: &[(&str, &str)] = &[
    // Node disk: 40 containers at their default request; a limit twice that.
    ("requests.ephemeral-storage", "10Gi"),
    ("limits.ephemeral-storage", "20Gi"),
    // Pods not finished: a few dozen replicas and jobs of a product's services; also
    // caps what a runaway controller (a crash-looping Job) can put on the nodes.
    ("pods", "100"),
    // Services and their endpoints: one or two per component.
    ("services", "30"),
    // Secrets and ConfigMaps: a product's configuration, plus Helm's release history
    // (10 revisions per release, as Secrets) and the kube-root-ca.crt ConfigMap of
    // every namespace.
    ("secrets", "100"),
    ("configmaps", "100"),
    // Volume claims: one per stateful replica; storage is bounded by requests.storage.
    ("persistentvolumeclaims", "20"),
];

/// Addresses outside the cluster (R-SEG-02): NodePort and LoadBalancer Services only
/// for an Internet-facing product of the external contour; none elsewhere, as the
/// admission policy on Services says too. Node ports count each port of a NodePort or
/// LoadBalancer Service (the API server's quota evaluator).
const EXPOSED_LOAD_BALANCERS: &str = "2";
const EXPOSED_NODE_PORTS: &str = "4";

/// Builds the plan of a validated product, its environments placed among `sites`.
pub fn plan(v: &Validated, segmentation: &Segmentation, sites: &[Site]) -> Plan {
    let mut plan = Plan::default();
    for &env in environments_at(v.stage) {
        match in_force(v, env) {
            Some(request) => {
                let mut e = environment(v, env, request, segmentation);
                let spec = &v.product.spec;
                let placed = allowed_sites(sites, HOME_COUNTRY, spec.contour, spec.class, env);
                if let Ok(main) = &placed {
                    e.at_provider = main.iter().any(|s| !own_infrastructure(s));
                    e.standby = standby(sites, HOME_COUNTRY, spec.contour, spec.class, env, main)
                        .map(|s| {
                            s.map(|(kind, site)| akp_crds::product::StandbyStatus {
                                kind,
                                site: site.name_any(),
                                storage_classes: site.spec.storage_classes.clone(),
                            })
                        })
                        .map_err(|e| e.to_string());
                }
                e.sites = placed
                    .map(|s| s.iter().map(|s| s.name_any()).collect())
                    .map_err(|e| e.to_string());
                plan.environments.push(e);
            }
            None => plan.not_requested.push(env),
        }
    }
    plan
}

/// The request the operator allocates for `env`: the spec's, except in production,
/// where a revision waits for the authorized body's confirmation and the request it
/// confirmed stays in force (R-LC-10).
fn in_force(v: &Validated, env: EnvironmentName) -> Option<&ResourceRequest> {
    use crate::rules::confirmation::{Production, production_request};
    let requested = v.product.spec.environments.get(env);
    if env != EnvironmentName::Production || v.stage != akp_crds::Stage::Production {
        return requested;
    }
    match production_request(&v.product) {
        Production::AwaitingConfirmation {
            in_force: Some(confirmed),
            ..
        } => Some(confirmed),
        _ => requested,
    }
}

fn environment(
    v: &Validated,
    env: EnvironmentName,
    request: &ResourceRequest,
    segmentation: &Segmentation,
) -> EnvironmentPlan {
    let ns = environment_namespace(&v.agency_name, &v.product_name, env);
    let spec = &v.product.spec;
    let labels = BTreeMap::from([
        (labels::AGENCY.to_owned(), v.agency_name.clone()),
        (labels::PRODUCT.to_owned(), v.product_name.clone()),
        (
            labels::PRODUCT_NAMESPACE.to_owned(),
            v.product_namespace.clone(),
        ),
        (labels::ENVIRONMENT.to_owned(), env.as_str().to_owned()),
        (labels::CONTOUR.to_owned(), contour_label(&v.product)),
        (labels::CLASS.to_owned(), spec.class.to_string()),
        (labels::MANAGED_BY.to_owned(), labels::OPERATOR.to_owned()),
    ]);
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.clone()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    // The namespace alone carries what admission reads: the Pod Security level and
    // whether the product may expose Services (admission_policy.rs).
    let mut ns_labels = labels.clone();
    ns_labels.extend(pod_security_labels());
    if spec.internet_facing {
        ns_labels.insert(labels::INTERNET_FACING.to_owned(), "true".to_owned());
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.clone()),
            labels: Some(ns_labels),
            annotations: Some(BTreeMap::from([(
                labels::OWNER_ANNOTATION.to_owned(),
                format!("{}/{}", v.product_namespace, v.product_name),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let mut objects = vec![
        Child::Quota(quota(meta("akp-requested"), request, exposed(&v.product))),
        Child::Limits(limits(meta("akp-defaults"), request)),
    ];
    objects.extend(bindings(v, env, &meta).into_iter().map(Child::Binding));
    let placement = Placement {
        contour: spec.contour,
        internet_facing: spec.internet_facing,
        config: segmentation,
    };
    objects.extend(policies(&placement, &meta).into_iter().map(Child::Policy));
    EnvironmentPlan {
        env,
        namespace,
        objects,
        sites: Ok(Vec::new()),
        at_provider: false,
        standby: Ok(None),
    }
}

fn contour_label(p: &PlatformSoftwareProduct) -> String {
    match p.spec.contour {
        akp_crds::Contour::Internal => "internal".into(),
        akp_crds::Contour::External => "external".into(),
    }
}

/// Whether the product may have addresses outside the cluster (R-SEG-02).
fn exposed(p: &PlatformSoftwareProduct) -> bool {
    p.spec.internet_facing && p.spec.contour == akp_crds::Contour::External
}

/// R-ENV-01: the requested compute and storage become the environment's hard limits;
/// what the request does not name is bounded by `DEFAULT_BOUNDS`, and addresses
/// outside the cluster exist only for an exposed product.
fn quota(metadata: ObjectMeta, r: &ResourceRequest, exposed: bool) -> ResourceQuota {
    let (load_balancers, node_ports) = if exposed {
        (EXPOSED_LOAD_BALANCERS, EXPOSED_NODE_PORTS)
    } else {
        ("0", "0")
    };
    let mut hard = BTreeMap::from([
        ("requests.cpu".to_owned(), r.cpu.clone()),
        ("limits.cpu".to_owned(), r.cpu.clone()),
        ("requests.memory".to_owned(), r.memory.clone()),
        ("limits.memory".to_owned(), r.memory.clone()),
        ("requests.storage".to_owned(), r.storage.clone()),
        (
            "services.loadbalancers".to_owned(),
            Quantity(load_balancers.into()),
        ),
        ("services.nodeports".to_owned(), Quantity(node_ports.into())),
    ]);
    hard.extend(
        DEFAULT_BOUNDS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned()))),
    );
    ResourceQuota {
        metadata,
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The smaller of a default and the environment's quota, exactly.
fn capped(default: &str, quota: &Quantity) -> Quantity {
    match (parse_nanos(default), parse_nanos(&quota.0)) {
        (Ok(d), Ok(q)) => Quantity(format_nanos(d.min(q))),
        _ => Quantity(default.to_owned()),
    }
}

/// The quota of one resource in `DEFAULT_BOUNDS`.
fn bound(resource: &str) -> Quantity {
    let value = DEFAULT_BOUNDS
        .iter()
        .find(|(k, _)| *k == resource)
        .map_or("0", |(_, v)| v);
    Quantity(value.to_owned())
}

/// Container defaults, never above the quota: pods that say nothing pass the quota
/// (which refuses them without cpu and memory), and are counted and limited on
/// ephemeral storage (which the quota would count as zero, and no one would limit).
fn limits(metadata: ObjectMeta, r: &ResourceRequest) -> LimitRange {
    let ephemeral_requests = bound("requests.ephemeral-storage");
    let ephemeral_limits = bound("limits.ephemeral-storage");
    let triple = |cpu: Quantity, memory: Quantity, ephemeral: Quantity| {
        BTreeMap::from([
            ("cpu".to_owned(), cpu),
            ("memory".to_owned(), memory),
            ("ephemeral-storage".to_owned(), ephemeral),
        ])
    };
    let container = LimitRangeItem {
        type_: "Container".into(),
        default_request: Some(triple(
            capped(DEFAULT_REQUEST_CPU, &r.cpu),
            capped(DEFAULT_REQUEST_MEMORY, &r.memory),
            capped(DEFAULT_REQUEST_EPHEMERAL, &ephemeral_requests),
        )),
        default: Some(triple(
            capped(DEFAULT_LIMIT_CPU, &r.cpu),
            capped(DEFAULT_LIMIT_MEMORY, &r.memory),
            capped(DEFAULT_LIMIT_EPHEMERAL, &ephemeral_limits),
        )),
        max: Some(triple(r.cpu.clone(), r.memory.clone(), ephemeral_limits)),
        ..Default::default()
    };
    let claim = LimitRangeItem {
        type_: "PersistentVolumeClaim".into(),
        max: Some(BTreeMap::from([("storage".to_owned(), r.storage.clone())])),
        ..Default::default()
    };
    LimitRange {
        metadata,
        spec: Some(LimitRangeSpec {
            limits: vec![container, claim],
        }),
    }
}

fn subjects(users: &[String], group: String) -> Vec<Subject> {
    let user = |name: &String| Subject {
        kind: "User".into(),
        name: name.clone(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    };
    let mut all: Vec<Subject> = users.iter().map(user).collect();
    all.push(Subject {
        kind: "Group".into(),
        name: group,
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    });
    all
}

/// R-LC-08: the project roles, bound to the people named on the product and to the
/// conventional groups `<agency group>:<product>:<role>`; the agency and its
/// digitalization head (a user, maybe not in the agency's group) read its
/// environments. Developers change only development and testing; where they only
/// read, they read no Secrets (rbac.rs).
fn bindings(
    v: &Validated,
    env: EnvironmentName,
    meta: &dyn Fn(&str) -> ObjectMeta,
) -> Vec<RoleBinding> {
    let Participants {
        project_heads,
        administrators,
        security_officers,
        developers,
    } = &v.product.spec.participants;
    let group = |role: &str| format!("{}:{}:{role}", v.agency_group, v.product_name);
    let developer_role = match env {
        EnvironmentName::Development | EnvironmentName::Testing => rbac::DEVELOPER,
        EnvironmentName::Trial | EnvironmentName::Production => rbac::VIEWER,
    };
    let binding = |name: &str, role: &str, subjects: Vec<Subject>| RoleBinding {
        metadata: meta(name),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    };
    vec![
        binding(
            "akp-agency",
            rbac::VIEWER,
            subjects(&[], v.agency_group.clone()),
        ),
        binding(
            "akp-digitalization-head",
            rbac::VIEWER,
            vec![Subject {
                kind: "User".into(),
                name: v.digitalization_head.clone(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                ..Default::default()
            }],
        ),
        binding(
            "akp-project-head",
            rbac::VIEWER,
            subjects(project_heads, group("project-head")),
        ),
        binding(
            "akp-administrator",
            rbac::ADMINISTRATOR,
            subjects(administrators, group("administrator")),
        ),
        binding(
            "akp-security-officer",
            rbac::SECURITY_OFFICER,
            subjects(security_officers, group("security-officer")),
        ),
        binding(
            "akp-developer",
            developer_role,
            subjects(developers, group("developer")),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_crds::Stage;

    fn validated(p: PlatformSoftwareProduct) -> Validated {
        Validated {
            stage: p.spec.stage,
            agency_name: "mon".into(),
            agency_group: "agency-mon".into(),
            digitalization_head: "alice@mon.gov.kz".into(),
            product_name: "e-license".into(),
            product_namespace: "agency-mon".into(),
            product: p,
        }
    }

    fn plan_of(v: &Validated) -> Plan {
        plan(v, &Segmentation::default(), &[])
    }

    fn example() -> PlatformSoftwareProduct {
        crate::examples::load("products/e-license.yaml").remove(0)
    }

    #[test]
    fn r_env_01_trial_operation_has_three_environments_with_their_quotas() {
        let plan = plan_of(&validated(example()));
        let names: Vec<_> = plan
            .environments
            .iter()
            .map(|e| e.namespace.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "mon-e-license-development",
                "mon-e-license-testing",
                "mon-e-license-trial"
            ]
        );
        assert!(plan.not_requested.is_empty());
        let trial = &plan.environments[2];
        let Some(Child::Quota(q)) = trial.objects.first() else {
            panic!("quota first")
        };
        let hard = q
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default();
        assert_eq!(hard["requests.cpu"].0, "8");
        assert_eq!(hard["limits.memory"].0, "16Gi");
        assert_eq!(hard["requests.storage"].0, "200Gi");
        assert_eq!(hard["pods"].0, "100");
        assert_eq!(hard["requests.ephemeral-storage"].0, "10Gi");
        let ns_labels = trial.namespace.metadata.labels.clone().unwrap_or_default();
        assert_eq!(ns_labels[labels::CONTOUR], "external");
        assert_eq!(ns_labels[labels::CLASS], "1");
        assert_eq!(ns_labels[labels::ENVIRONMENT], "trial");
    }

    #[test]
    fn r_lc_08_developers_change_development_only_and_read_trial() {
        let plan = plan_of(&validated(example()));
        let developer_role = |i: usize| {
            plan.environments[i]
                .objects
                .iter()
                .find_map(|c| match c {
                    Child::Binding(b) if b.metadata.name.as_deref() == Some("akp-developer") => {
                        Some(b.clone())
                    }
                    _ => None,
                })
                .expect("developer binding")
        };
        assert_eq!(developer_role(0).role_ref.name, rbac::DEVELOPER);
        assert_eq!(developer_role(2).role_ref.name, rbac::VIEWER);
        let subjects = developer_role(0).subjects.unwrap_or_default();
        assert!(
            subjects
                .iter()
                .any(|s| s.kind == "User" && s.name == "dev1@digital-solutions.kz")
        );
        assert!(
            subjects
                .iter()
                .any(|s| s.kind == "Group" && s.name == "agency-mon:e-license:developer")
        );
    }

    fn hard_of(plan: &Plan, i: usize) -> BTreeMap<String, String> {
        let Some(Child::Quota(q)) = plan.environments[i].objects.first() else {
            panic!("quota first")
        };
        q.spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    }

    /// Issue 14, item 7: the quota bounds every resource a tenant can exhaust, from the
    /// request or the documented defaults.
    #[test]
    fn r_env_01_quota_bounds_ephemeral_storage_objects_and_addresses() {
        let mut p = example();
        p.spec.stage = Stage::Development;
        let hard = hard_of(&plan_of(&validated(p.clone())), 0);
        let keys: Vec<&str> = hard.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "configmaps",
                "limits.cpu",
                "limits.ephemeral-storage",
                "limits.memory",
                "persistentvolumeclaims",
                "pods",
                "requests.cpu",
                "requests.ephemeral-storage",
                "requests.memory",
                "requests.storage",
                "secrets",
                "services",
                "services.loadbalancers",
                "services.nodeports",
            ]
        );
        // e-license is Internet-facing in the external contour: a few addresses.
        assert_eq!(hard["services.loadbalancers"], "2");
        assert_eq!(hard["services.nodeports"], "4");
        for parsed in hard.values() {
            assert!(parse_nanos(parsed).is_ok(), "{parsed} is a quantity");
        }
        p.spec.internet_facing = false;
        let hard = hard_of(&plan_of(&validated(p.clone())), 0);
        assert_eq!(hard["services.loadbalancers"], "0");
        assert_eq!(hard["services.nodeports"], "0");
        p.spec.contour = akp_crds::Contour::Internal;
        let hard = hard_of(&plan_of(&validated(p)), 0);
        assert_eq!(hard["services.loadbalancers"], "0");
        assert_eq!(hard["services.nodeports"], "0");
    }

    /// A quota on ephemeral storage refuses pods that do not say how much they use,
    /// unless the LimitRange says it for them, within the quota.
    #[test]
    fn r_env_01_limit_defaults_cover_every_quota_on_requests_and_limits() {
        let plan = plan_of(&validated(example()));
        let hard = hard_of(&plan, 0);
        let Some(Child::Limits(l)) = plan.environments[0].objects.get(1) else {
            panic!("limits second")
        };
        let container = &l.spec.as_ref().expect("spec").limits[0];
        let requests = container.default_request.clone().unwrap_or_default();
        let limits = container.default.clone().unwrap_or_default();
        for (key, quota) in &hard {
            let (defaults, resource) = match key.split_once('.') {
                Some(("requests", r)) if r != "storage" => (&requests, r),
                Some(("limits", r)) => (&limits, r),
                _ => continue,
            };
            let default = defaults
                .get(resource)
                .unwrap_or_else(|| panic!("no default for {key}"));
            assert!(
                parse_nanos(&default.0).expect("default") <= parse_nanos(quota).expect("quota"),
                "{key}: default {} above the quota {quota}",
                default.0
            );
        }
        assert_eq!(requests["ephemeral-storage"].0, "256Mi");
        assert_eq!(limits["ephemeral-storage"].0, "1Gi");
    }

    /// R-LC-08: the digitalization head reads every environment by a binding of its
    /// own (it may not be in the agency's group), and nowhere more than reads.
    #[test]
    fn r_lc_08_the_head_reads_every_environment() {
        let plan = plan_of(&validated(example()));
        assert_eq!(plan.environments.len(), 3);
        for env in &plan.environments {
            let head = env
                .objects
                .iter()
                .find_map(|c| match c {
                    Child::Binding(b)
                        if b.metadata.name.as_deref() == Some("akp-digitalization-head") =>
                    {
                        Some(b.clone())
                    }
                    _ => None,
                })
                .expect("head binding");
            assert_eq!(head.role_ref.name, rbac::VIEWER);
            let subjects = head.subjects.unwrap_or_default();
            assert_eq!(subjects.len(), 1);
            assert_eq!(
                (subjects[0].kind.as_str(), subjects[0].name.as_str()),
                ("User", "alice@mon.gov.kz")
            );
        }
    }

    #[test]
    fn limit_defaults_never_exceed_a_small_quota() {
        let mut p = example();
        p.spec.stage = Stage::Development;
        if let Some(dev) = p.spec.environments.development.as_mut() {
            dev.cpu = Quantity("500m".into());
            dev.memory = Quantity("512Mi".into());
        }
        let plan = plan_of(&validated(p));
        let Some(Child::Limits(l)) = plan.environments[0].objects.get(1) else {
            panic!("limits second")
        };
        let container = &l.spec.as_ref().expect("spec").limits[0];
        let default = container.default.clone().unwrap_or_default();
        assert_eq!(default["cpu"].0, "500m");
        assert_eq!(default["memory"].0, "512Mi");
        assert_eq!(
            container.default_request.clone().unwrap_or_default()["cpu"].0,
            "100m"
        );
    }

    #[test]
    fn r_lc_07_decommissioned_has_no_environments_and_missing_requests_are_reported() {
        let mut p = example();
        p.spec.stage = Stage::Decommissioned;
        assert!(plan_of(&validated(p.clone())).environments.is_empty());
        p.spec.stage = Stage::Production;
        p.spec.environments.production = None;
        let plan = plan_of(&validated(p));
        assert_eq!(plan.not_requested, [EnvironmentName::Production]);
        assert_eq!(plan.environments.len(), 2);
    }
}
