//! Admission of Pods in environment namespaces: placement (R-PLC-01, R-PLC-02) and
//! trusted software (R-ENV-02, R-SW-01 to R-SW-03).
//!
//! On CREATE a pod may not escape the sites its environment may use: not by its own
//! `spec.nodeName`, `spec.nodeSelector` or required node affinity, nor by tolerating
//! a forbidden taint; and its required node affinity must keep it on those sites
//! (the operator's mutating webhook adds it; its absence means that webhook
//! did not run, and the pod is refused). Every image of its containers, init
//! containers and ephemeral containers must pass [`check_images`].
//!
//! On UPDATE (the pod itself or its `ephemeralcontainers` subresource) only what
//! changed is judged: images that are new or replaced, and tolerations added, as
//! placement fields cannot change once the pod exists.
//!
//! The operator's webhook fetches the inputs of [`check_pod`].

use std::collections::BTreeSet;

use akp_crds::site::COUNTRY_LABEL;
use akp_crds::{Site, SoftwareCatalogItem};
use jiff::civil::Date;
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod, Toleration};
use kube_core::ResourceExt;

use super::environment::{Environment, Labels, PlacementPolicy, listed, sites_for};
use super::verdict::{ExpiringSoftware, Verdict, Violation};
use crate::catalog::check_images;
use crate::placement::node_allowed;

/// The path of a pod's required node affinity.
pub const REQUIRED_AFFINITY: &str =
    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";

/// Everything besides the pod that the checks consult.
#[derive(Clone, Copy, Debug)]
pub struct PodFacts<'a> {
    /// The pod's environment.
    pub environment: &'a Environment,
    /// Every Site.
    pub sites: &'a [Site],
    /// The whole software catalog.
    pub catalog: &'a [SoftwareCatalogItem],
    /// The labels of the node `spec.nodeName` names; `None` if there is none.
    pub node: Option<&'a Labels>,
    /// Today, in Kazakhstan.
    pub today: Date,
    /// Home country and forbidden taints.
    pub policy: &'a PlacementPolicy,
}

/// What an UPDATE changes that the rules care about.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Images that are new or replaced, with their field paths.
    pub images: Vec<(String, String)>,
    /// Tolerations that are new, with their index.
    pub tolerations: Vec<(usize, Toleration)>,
}

impl Changes {
    /// Nothing to judge.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.tolerations.is_empty()
    }
}

/// Every image of a pod with its field path: containers, init containers, ephemeral
/// containers and image volumes (an image mounted as a volume is software too).
pub fn images(pod: &Pod) -> Vec<(String, String)> {
    let volumes = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten().enumerate())
        .filter_map(|(i, v)| {
            let reference = v.image.as_ref()?.reference.clone()?;
            Some((format!("spec.volumes[{i}].image.reference"), reference))
        });
    containers(pod)
        .into_iter()
        .filter_map(|(field, _, image)| image.map(|i| (format!("{field}.image"), i.to_owned())))
        .chain(volumes)
        .collect()
}

/// R-PLC-01: an inline CSI volume reaches whatever storage its driver serves, so only
/// the drivers the platform allows may be used; claims go through the claim webhook.
/// (Every other volume type that leaves the platform is refused by the API server's
/// own policy, `admission_policy::POD_ISOLATION`.)
pub fn check_volumes(pod: &Pod, policy: &PlacementPolicy) -> Vec<Violation> {
    let allowed = if policy.allowed_csi_drivers.is_empty() {
        "none is allowed".to_owned()
    } else {
        format!("allowed: {}", listed(&policy.allowed_csi_drivers))
    };
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten().enumerate())
        .filter_map(|(i, v)| {
            let driver = &v.csi.as_ref()?.driver;
            (!policy.allowed_csi_drivers.contains(driver)).then(|| Violation {
                field: format!("spec.volumes[{i}].csi.driver"),
                value: driver.clone(),
                problem: format!(
                    "is not a CSI driver of the platform's storage ({allowed}): an inline volume of it reaches storage outside the sites the environment may use"
                ),
                rule: "R-PLC-01",
                fix: "use a persistentVolumeClaim of a storage class of the environment's sites (kubectl get storageclass)".into(),
            })
        })
        .collect()
}

/// `(field path, name, image)` of every container of every kind.
fn containers(pod: &Pod) -> Vec<(String, &str, Option<&str>)> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let regular = spec.containers.iter().map(|c| (&c.name, &c.image));
    let init = spec.init_containers.iter().flatten();
    let init = init.map(|c| (&c.name, &c.image));
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    let ephemeral = ephemeral.map(|c| (&c.name, &c.image));
    let kinds: [(&str, Vec<_>); 3] = [
        ("containers", regular.collect()),
        ("initContainers", init.collect()),
        ("ephemeralContainers", ephemeral.collect()),
    ];
    let mut all = Vec::new();
    for (field, list) in kinds {
        for (i, (name, image)) in list.into_iter().enumerate() {
            let field = format!("spec.{field}[{i}]");
            all.push((field, name.as_str(), image.as_deref()));
        }
    }
    all
}

/// What `pod` changes compared with `old`: images of containers that are new or whose
/// image differs (matched by kind and name), and tolerations `old` did not have.
pub fn changes(pod: &Pod, old: &Pod) -> Changes {
    // The kind is the field path without its index: spec.containers[0] → spec.containers.
    let kind = |field: &str| field.split('[').next().unwrap_or_default().to_owned();
    let before: BTreeSet<(String, &str, Option<&str>)> = containers(old)
        .into_iter()
        .map(|(field, name, image)| (kind(&field), name, image))
        .collect();
    let images = containers(pod)
        .into_iter()
        .filter(|(field, name, image)| !before.contains(&(kind(field), *name, *image)))
        .filter_map(|(field, _, image)| image.map(|i| (format!("{field}.image"), i.to_owned())))
        .collect();
    let old_tolerations = old
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, t)| !old_tolerations.contains(t))
        .collect();
    Changes {
        images,
        tolerations,
    }
}

/// Judges a pod being created (`old` is `None`) or updated.
pub fn check_pod(pod: &Pod, old: Option<&Pod>, facts: &PodFacts<'_>) -> Verdict {
    let mut verdict = Verdict::allowed();
    let (images, tolerations) = match old {
        None => (
            images(pod),
            pod.spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .collect(),
        ),
        Some(old) => {
            let changed = changes(pod, old);
            (changed.images, changed.tolerations)
        }
    };
    if old.is_none() {
        check_placement(pod, facts, &mut verdict);
        verdict.violations.extend(check_volumes(pod, facts.policy));
    }
    verdict.violations.extend(
        tolerations
            .iter()
            .filter_map(|(i, t)| check_toleration(*i, t, &facts.policy.forbidden_taints)),
    );
    check_software(pod, &images, facts, &mut verdict);
    verdict
}

/// R-PLC-01: `spec.nodeName`, `spec.nodeSelector` and the required node affinity.
fn check_placement(pod: &Pod, facts: &PodFacts<'_>, verdict: &mut Verdict) {
    let home = facts.policy.home_country.as_str();
    let allowed = match sites_for(facts.sites, facts.environment, home) {
        Ok(allowed) => allowed,
        Err(refusal) => {
            verdict.refusals.push(refusal);
            return;
        }
    };
    let place = Place {
        allowed: &allowed,
        sites: facts.sites,
        home,
        environment: facts.environment,
    };
    let Some(spec) = &pod.spec else {
        return;
    };
    if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        verdict
            .violations
            .extend(place.check_node_name(node, facts.node));
    }
    if let Some(selector) = &spec.node_selector {
        verdict
            .violations
            .extend(place.check_node_selector(selector));
    }
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice());
    verdict
        .violations
        .extend(place.check_required_affinity(terms));
}

/// The sites an environment may use, and every site (to name where a pod asks to go).
struct Place<'a> {
    allowed: &'a [&'a Site],
    sites: &'a [Site],
    home: &'a str,
    environment: &'a Environment,
}

impl Place<'_> {
    fn allowed_names(&self) -> String {
        let names: Vec<String> = self.allowed.iter().map(|s| s.name_any()).collect();
        listed(&names)
    }

    /// Whether a node of `site` can satisfy `req`. A label the site does not fix can
    /// only narrow the choice of its nodes, so it is admitted.
    fn site_admits(site: &Site, req: &NodeSelectorRequirement) -> bool {
        let value = if req.key == COUNTRY_LABEL {
            Some(&site.spec.country)
        } else {
            site.spec.node_selector.get(&req.key)
        };
        let Some(value) = value else {
            return true;
        };
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" => values.contains(value),
            "NotIn" => !values.contains(value),
            "DoesNotExist" => false,
            // Exists; Gt and Lt compare numbers, which site labels are not.
            _ => true,
        }
    }

    /// Whether some allowed site admits every requirement.
    fn satisfiable(&self, reqs: &[NodeSelectorRequirement]) -> bool {
        self.allowed
            .iter()
            .any(|s| reqs.iter().all(|r| Self::site_admits(s, r)))
    }

    /// ", but nodes of frankfurt-1 (DE)": the other sites `req` points to.
    fn pointing(&self, req: &NodeSelectorRequirement) -> String {
        let others: Vec<String> = self
            .sites
            .iter()
            .filter(|s| !self.allowed.iter().any(|a| a.name_any() == s.name_any()))
            .filter(|s| {
                (req.key == COUNTRY_LABEL || s.spec.node_selector.contains_key(&req.key))
                    && Self::site_admits(s, req)
            })
            .map(|s| format!("{} ({})", s.name_any(), s.spec.country))
            .collect();
        if others.is_empty() {
            String::new()
        } else {
            format!(", but nodes of {}", listed(&others))
        }
    }

    fn escape(&self, field: String, value: String, req: &NodeSelectorRequirement) -> Violation {
        let allowed = self.allowed_names();
        Violation {
            field,
            value,
            problem: format!(
                "selects no node of {allowed}, the sites the {} environment may use{}",
                self.environment.name.as_str(),
                self.pointing(req)
            ),
            rule: "R-PLC-01",
            fix: format!(
                "remove it: the platform places the pod on nodes of {allowed} in {} by itself",
                self.home
            ),
        }
    }

    /// `spec.nodeName` must name an existing node of an allowed site, attested in the
    /// home country.
    fn check_node_name(&self, node: &str, labels: Option<&Labels>) -> Option<Violation> {
        let allowed = self.allowed_names();
        let problem = match labels {
            None => "names no Node".to_owned(),
            Some(labels) if node_allowed(labels, self.allowed, self.home) => return None,
            Some(labels) => {
                let site = self
                    .sites
                    .iter()
                    .find(|s| {
                        !s.spec.node_selector.is_empty()
                            && s.spec
                                .node_selector
                                .iter()
                                .all(|(k, v)| labels.get(k) == Some(v))
                    })
                    .map_or_else(
                        || "no site".to_owned(),
                        |s| format!("site {}", s.name_any()),
                    );
                let country = labels.get(COUNTRY_LABEL).map_or_else(
                    || "not attested in any country".to_owned(),
                    |c| format!("attested in {c}"),
                );
                format!(
                    "is a node of {site}, {country}, not a node of {allowed} attested in {}",
                    self.home
                )
            }
        };
        Some(Violation {
            field: "spec.nodeName".into(),
            value: node.into(),
            problem,
            rule: "R-PLC-01",
            fix: format!(
                "leave spec.nodeName empty: the scheduler places the pod on a node of {allowed}"
            ),
        })
    }

    /// Each entry of `spec.nodeSelector` must allow some allowed site, and all of them
    /// together too.
    fn check_node_selector(
        &self,
        selector: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Violation> {
        let as_req = |(k, v): (&String, &String)| NodeSelectorRequirement {
            key: k.clone(),
            operator: "In".into(),
            values: Some(vec![v.clone()]),
        };
        let violations: Vec<Violation> = selector
            .iter()
            .map(as_req)
            .filter(|req| !self.satisfiable(std::slice::from_ref(req)))
            .map(|req| {
                let value = req.values.as_deref().unwrap_or_default().join(",");
                self.escape(format!("spec.nodeSelector[{}]", req.key), value, &req)
            })
            .collect();
        if !violations.is_empty() {
            return violations;
        }
        let all: Vec<NodeSelectorRequirement> = selector.iter().map(as_req).collect();
        if self.satisfiable(&all) {
            return Vec::new();
        }
        let value: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let allowed = self.allowed_names();
        vec![Violation {
            field: "spec.nodeSelector".into(),
            value: value.join(","),
            problem: format!(
                "together selects no node of {allowed}, the sites the {} environment may use",
                self.environment.name.as_str()
            ),
            rule: "R-PLC-01",
            fix: format!("remove it: the platform places the pod on nodes of {allowed} by itself"),
        }]
    }

    /// The required node affinity must be satisfiable on an allowed site, and keep
    /// the pod on allowed sites in the home country.
    fn check_required_affinity(&self, terms: Option<&[NodeSelectorTerm]>) -> Vec<Violation> {
        let allowed = self.allowed_names();
        let not_confined = |value: String| {
            Violation {
            field: REQUIRED_AFFINITY.into(),
            value,
            problem: format!(
                "does not keep the pod on nodes of {allowed} in {}: the placement webhook did not run",
                self.home
            ),
            rule: "R-PLC-01",
            fix: "try again; if it persists, tell the platform operator: the MutatingWebhookConfiguration akp-operator must be registered".into(),
        }
        };
        let terms = match terms {
            Some(terms) if !terms.is_empty() => terms,
            _ => return vec![not_confined("none".into())],
        };
        let expressions = |t: &NodeSelectorTerm| t.match_expressions.clone().unwrap_or_default();
        if !terms.iter().any(|t| self.satisfiable(&expressions(t))) {
            // Blame the first expression no allowed site can satisfy.
            let blamed = terms.iter().enumerate().find_map(|(i, t)| {
                expressions(t)
                    .into_iter()
                    .enumerate()
                    .find(|(_, r)| !self.satisfiable(std::slice::from_ref(r)))
                    .map(|(j, r)| (i, j, r))
            });
            return vec![match blamed {
                Some((i, j, req)) => {
                    let value = format!(
                        "{} {} {}",
                        req.key,
                        req.operator,
                        req.values.as_deref().unwrap_or_default().join(",")
                    );
                    self.escape(
                        format!("{REQUIRED_AFFINITY}.nodeSelectorTerms[{i}].matchExpressions[{j}]"),
                        value.trim_end().to_owned(),
                        &req,
                    )
                }
                None => Violation {
                    field: format!("{REQUIRED_AFFINITY}.nodeSelectorTerms"),
                    value: format!("{} terms", terms.len()),
                    problem: format!(
                        "select no node of {allowed}, the sites the {} environment may use",
                        self.environment.name.as_str()
                    ),
                    rule: "R-PLC-01",
                    fix: format!(
                        "remove them: the platform places the pod on nodes of {allowed} by itself"
                    ),
                },
            }];
        }
        match terms
            .iter()
            .position(|t| !confined(t, self.allowed, self.home))
        {
            Some(i) => vec![not_confined(format!("nodeSelectorTerms[{i}]"))],
            None => Vec::new(),
        }
    }
}

/// Whether `term` keeps a pod on `allowed` sites in `home`: it requires the home
/// country and every label of some allowed site. The mutating webhook makes every term
/// so; a term that is already confined is left alone there (idempotence).
pub fn confined(term: &NodeSelectorTerm, allowed: &[&Site], home: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let pins = |key: &str, value: &str| {
        exprs.iter().any(|e| {
            e.key == key
                && e.operator == "In"
                && e.values
                    .as_deref()
                    .is_some_and(|v| !v.is_empty() && v.iter().all(|x| x == value))
        })
    };
    pins(COUNTRY_LABEL, home)
        && allowed.iter().any(|s| {
            !s.spec.node_selector.is_empty() && s.spec.node_selector.iter().all(|(k, v)| pins(k, v))
        })
}

/// A toleration of a forbidden taint, or of every taint, is refused (R-PLC-01): the
/// platform taints nodes that may not host workloads.
pub fn check_toleration(
    index: usize,
    toleration: &Toleration,
    forbidden: &[String],
) -> Option<Violation> {
    if forbidden.is_empty() {
        return None;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    let every = key.is_empty() && toleration.operator.as_deref() == Some("Exists");
    if !every && !forbidden.iter().any(|f| f == key) {
        return None;
    }
    let problem = if every {
        format!(
            "tolerates every taint, including {}, which the platform puts on nodes that may not host workloads",
            listed(forbidden)
        )
    } else {
        "tolerates a taint the platform puts on nodes that may not host workloads".to_owned()
    };
    Some(Violation {
        field: format!("spec.tolerations[{index}]"),
        value: if every { "*".into() } else { key.into() },
        problem,
        rule: "R-PLC-01",
        fix: "remove the toleration; tolerate only the taints you need by their key".into(),
    })
}

/// R-ENV-02, R-SW-01 to R-SW-03 for `images`, with R-SW-02 warnings and the expiring
/// items noted for the event and the metric.
fn check_software(
    pod: &Pod,
    images: &[(String, String)],
    facts: &PodFacts<'_>,
    verdict: &mut Verdict,
) {
    if images.is_empty() {
        return;
    }
    let judged = check_images(
        images.iter().map(|(f, i)| (f.as_str(), i.as_str())),
        facts.environment.name,
        facts.catalog,
        facts.today,
    );
    // The rule dedups neighbours only; the same item may come from several containers.
    let mut seen = BTreeSet::new();
    verdict.refusals.extend(
        judged
            .refusals
            .into_iter()
            .filter(|r| seen.insert(r.clone())),
    );
    verdict.warnings.extend(
        judged
            .warnings
            .into_iter()
            .filter(|w| seen.insert(w.clone())),
    );
    let pod_name = pod
        .metadata
        .name
        .as_deref()
        .unwrap_or_else(|| pod.metadata.generate_name.as_deref().unwrap_or_default());
    for item in judged.expiring {
        let register = facts
            .catalog
            .iter()
            .find(|i| i.name_any() == item)
            .and_then(|i| i.spec.trusted_register.as_ref());
        let until = register.map_or_else(String::new, |r| {
            format!(
                " (register entry {}) expire on {}",
                r.entry, r.documents_valid_until
            )
        });
        verdict.expiring.push(ExpiringSoftware {
            note: format!(
                "pod {}/{pod_name} was admitted with catalog item {item}, whose register documents{until}: renew the entry at least 30 days before, or no new workload of it is admitted (R-SW-02)",
                facts.environment.namespace
            ),
            regarding: facts.environment.regarding(),
            item,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_crds::EnvironmentName;
    use serde_json::json;

    fn sites() -> Vec<Site> {
        crate::examples::load("sites.yaml")
    }

    fn catalog() -> Vec<SoftwareCatalogItem> {
        crate::examples::load("catalog.yaml")
    }

    fn env(name: EnvironmentName, class: i32) -> Environment {
        Environment {
            namespace: "mon-e-license-x".into(),
            name,
            contour: akp_crds::Contour::Internal,
            class,
            product: Some(("agency-mon".into(), "e-license".into())),
        }
    }

    /// A pod as the mutating webhook leaves it in a development environment: confined
    /// to astana-1 in KZ.
    fn pod(extra_spec: serde_json::Value) -> Pod {
        let mut spec = json!({
            "containers": [{"name": "db", "image": "registry.akp.kz/platform/postgresql:16"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["astana-1"]},
                    {"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}
                ]}]
            }}}
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "mon-e-license-x", "labels": {"app": "p"}},
            "spec": spec
        }))
        .expect("pod")
    }

    fn judge(pod: &Pod, old: Option<&Pod>, node: Option<&Labels>, e: &Environment) -> Verdict {
        let sites = sites();
        let catalog = catalog();
        let policy = PlacementPolicy::default();
        check_pod(
            pod,
            old,
            &PodFacts {
                environment: e,
                sites: &sites,
                catalog: &catalog,
                node,
                today: jiff::civil::date(2026, 11, 22),
                policy: &policy,
            },
        )
    }

    fn dev() -> Environment {
        env(EnvironmentName::Development, 2)
    }

    fn node(zone: &str, country: Option<&str>) -> Labels {
        let mut labels: Labels =
            [("topology.kubernetes.io/zone".to_owned(), zone.to_owned())].into();
        if let Some(c) = country {
            labels.insert(COUNTRY_LABEL.into(), c.into());
        }
        labels
    }

    #[test]
    fn r_plc_01_a_confined_pod_with_trusted_images_is_allowed() {
        let verdict = judge(&pod(json!({})), None, None, &dev());
        assert!(verdict.is_allowed(), "{}", verdict.message());
    }

    #[test]
    fn r_plc_01_a_node_name_abroad_or_unknown_is_refused() {
        let on = |name: &str| pod(json!({"nodeName": name}));
        let kz = node("astana-1", Some("KZ"));
        assert!(judge(&on("astana-1-a"), None, Some(&kz), &dev()).is_allowed());
        let de = node("frankfurt-1", Some("DE"));
        let verdict = judge(&on("frankfurt-1-a"), None, Some(&de), &dev());
        assert_eq!(
            verdict.message(),
            r#"spec.nodeName "frankfurt-1-a" is a node of site frankfurt-1, attested in DE, not a node of astana-1 attested in KZ (R-PLC-01): leave spec.nodeName empty: the scheduler places the pod on a node of astana-1"#
        );
        // In the right zone but relabelled: still refused.
        let relabelled = node("astana-1", None);
        assert!(
            judge(&on("astana-1-b"), None, Some(&relabelled), &dev())
                .message()
                .contains("not attested in any country")
        );
        // A KZ node of a site this environment may not use.
        let almaty = node("almaty-1", Some("KZ"));
        assert!(!judge(&on("almaty-1-a"), None, Some(&almaty), &dev()).is_allowed());
        assert!(
            judge(&on("nowhere"), None, None, &dev())
                .message()
                .contains(r#"spec.nodeName "nowhere" names no Node (R-PLC-01)"#)
        );
    }

    #[test]
    fn r_plc_01_a_node_selector_for_a_foreign_site_or_country_is_refused() {
        let verdict = judge(
            &pod(json!({"nodeSelector": {"topology.kubernetes.io/zone": "frankfurt-1"}})),
            None,
            None,
            &dev(),
        );
        assert_eq!(
            verdict.message(),
            r#"spec.nodeSelector[topology.kubernetes.io/zone] "frankfurt-1" selects no node of astana-1, the sites the development environment may use, but nodes of frankfurt-1 (DE) (R-PLC-01): remove it: the platform places the pod on nodes of astana-1 in KZ by itself"#
        );
        let abroad = judge(
            &pod(json!({"nodeSelector": {COUNTRY_LABEL: "DE"}})),
            None,
            None,
            &dev(),
        );
        assert!(
            abroad.message().starts_with(&format!(
                r#"spec.nodeSelector[{COUNTRY_LABEL}] "DE" selects no node"#
            )),
            "{}",
            abroad.message()
        );
        // Narrowing is fine: a label sites do not fix, or the allowed zone itself.
        let narrow = pod(
            json!({"nodeSelector": {"disktype": "ssd", "topology.kubernetes.io/zone": "astana-1"}}),
        );
        assert!(judge(&narrow, None, None, &dev()).is_allowed());
    }

    #[test]
    fn r_plc_02_class_1_production_may_use_the_reserve_site() {
        let prod = env(EnvironmentName::Production, 1);
        let on_reserve = pod(json!({
            "nodeSelector": {"topology.kubernetes.io/zone": "almaty-1"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["almaty-1"]},
                    {"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}
                ]}]
            }}}
        }));
        let verdict = judge(&on_reserve, None, None, &prod);
        assert!(verdict.is_allowed(), "{}", verdict.message());
        assert!(!judge(&on_reserve, None, None, &dev()).is_allowed());
    }

    #[test]
    fn r_plc_01_an_affinity_abroad_is_refused_and_an_unconfined_pod_too() {
        // What the mutating webhook makes of an own term asking for frankfurt-1.
        let abroad = pod(json!({
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["frankfurt-1"]},
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["astana-1"]},
                    {"key": COUNTRY_LABEL, "operator": "In", "values": ["KZ"]}
                ]}]
            }}}
        }));
        let message = judge(&abroad, None, None, &dev()).message();
        assert!(
            message.starts_with(&format!(
                r#"{REQUIRED_AFFINITY}.nodeSelectorTerms[0].matchExpressions[0] "topology.kubernetes.io/zone In frankfurt-1" selects no node of astana-1"#
            )),
            "{message}"
        );
        assert!(
            message.contains("but nodes of frankfurt-1 (DE) (R-PLC-01)"),
            "{message}"
        );

        let unconfined = pod(json!({"affinity": null}));
        let message = judge(&unconfined, None, None, &dev()).message();
        assert!(
            message.contains("the placement webhook did not run"),
            "{message}"
        );
        let zone_only = pod(json!({
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["astana-1"]}
                ]}]
            }}}
        }));
        assert!(judge(&zone_only, None, None, &dev()).message().contains(
            r#""nodeSelectorTerms[0]" does not keep the pod on nodes of astana-1 in KZ"#
        ));
    }

    #[test]
    fn r_plc_01_tolerating_a_forbidden_taint_or_every_taint_is_refused() {
        let tolerating = pod(json!({"tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "akp.egov.kz/quarantine", "operator": "Exists"},
            {"operator": "Exists"}
        ]}));
        let verdict = judge(&tolerating, None, None, &dev());
        assert_eq!(verdict.violations.len(), 2, "{}", verdict.message());
        assert_eq!(
            verdict.violations[0].to_string(),
            r#"spec.tolerations[1] "akp.egov.kz/quarantine" tolerates a taint the platform puts on nodes that may not host workloads (R-PLC-01): remove the toleration; tolerate only the taints you need by their key"#
        );
        assert_eq!(verdict.violations[1].field, "spec.tolerations[2]");
        assert_eq!(verdict.violations[1].value, "*");
    }

    #[test]
    fn r_sw_01_every_kind_of_container_is_checked_and_each_field_named() {
        let untrusted = pod(json!({
            "initContainers": [{"name": "init", "image": "busybox:1.36"}],
            "ephemeralContainers": [{"name": "debug", "image": "registry.akp.kz/platform/postgresql-evil:16"}]
        }));
        let verdict = judge(&untrusted, None, None, &dev());
        assert_eq!(verdict.refusals.len(), 2, "{verdict:?}");
        assert!(
            verdict.refusals[0].starts_with("spec.initContainers[0].image: image \"busybox:1.36\"")
        );
        assert!(verdict.refusals[1].starts_with("spec.ephemeralContainers[0].image: image \"registry.akp.kz/platform/postgresql-evil:16\""));
        assert!(verdict.message().starts_with("2 problems: "));
    }

    #[test]
    fn r_env_02_application_images_stay_out_of_development() {
        let app = pod(
            json!({"containers": [{"name": "web", "image": "registry.akp.kz/agency-mon/e-license-portal:1.0"}]}),
        );
        let verdict = judge(&app, None, None, &dev());
        assert!(
            verdict.message().contains("(R-ENV-02)"),
            "{}",
            verdict.message()
        );
    }

    #[test]
    fn r_sw_02_expiring_software_is_admitted_with_a_warning_and_noted() {
        let redis = pod(json!({"containers": [
            {"name": "a", "image": "registry.akp.kz/platform/redis:7"},
            {"name": "b", "image": "registry.akp.kz/platform/postgresql:16"},
            {"name": "c", "image": "registry.akp.kz/platform/redis:7.2"}
        ]}));
        let verdict = judge(&redis, None, None, &dev());
        assert!(verdict.is_allowed(), "{}", verdict.message());
        assert_eq!(verdict.warnings.len(), 1, "{:?}", verdict.warnings);
        assert!(verdict.warnings[0].contains("redis-7"));
        assert_eq!(verdict.expiring.len(), 1);
        assert_eq!(verdict.expiring[0].item, "redis-7");
        assert_eq!(
            verdict.expiring[0].regarding.name.as_deref(),
            Some("e-license")
        );
        assert!(
            verdict.expiring[0].note.contains("expire on 2026-12-15"),
            "{}",
            verdict.expiring[0].note
        );
    }

    #[test]
    fn r_sw_01_an_update_judges_only_new_images_and_tolerations() {
        let old = pod(json!({}));
        // An ephemeral container with an untrusted image: refused.
        let debug = pod(json!({"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}));
        let verdict = judge(&debug, Some(&old), None, &dev());
        assert_eq!(verdict.refusals.len(), 1, "{verdict:?}");
        assert!(verdict.refusals[0].starts_with("spec.ephemeralContainers[0].image"));
        // Placement is not re-judged on update: the pod's affinity cannot change.
        let mut unconfined_old = old.clone();
        if let Some(spec) = unconfined_old.spec.as_mut() {
            spec.affinity = None;
        }
        let mut relabel = unconfined_old.clone();
        relabel.metadata.labels = Some([("x".to_owned(), "y".to_owned())].into());
        assert_eq!(changes(&relabel, &unconfined_old), Changes::default());
        let verdict = judge(&relabel, Some(&unconfined_old), None, &dev());
        assert!(verdict.is_allowed());
        // A replaced image is judged.
        let mut replaced = old.clone();
        if let Some(spec) = replaced.spec.as_mut() {
            spec.containers[0].image = Some("postgres:16".into());
        }
        assert_eq!(
            changes(&replaced, &old).images,
            [(
                "spec.containers[0].image".to_owned(),
                "postgres:16".to_owned()
            )]
        );
    }

    #[test]
    fn r_plc_01_no_resident_site_refuses_every_pod() {
        let policy = PlacementPolicy::default();
        let abroad: Vec<Site> = sites()
            .into_iter()
            .filter(|s| s.spec.country != "KZ")
            .collect();
        let catalog = catalog();
        let verdict = check_pod(
            &pod(json!({})),
            None,
            &PodFacts {
                environment: &dev(),
                sites: &abroad,
                catalog: &catalog,
                node: None,
                today: jiff::civil::date(2026, 11, 22),
                policy: &policy,
            },
        );
        assert!(
            verdict.message().contains("which no site may host: no site in KZ hosts the internal contour (R-PLC-01, R-SEG-01)"),
            "{}",
            verdict.message()
        );
    }
}
