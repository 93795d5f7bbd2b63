//! Where an environment may run (R-PLC-01, R-PLC-02, R-SEG-01): the sites in the home
//! country that host the product's contour, with the role its class needs, and the
//! node affinity that keeps every pod there.

use std::collections::BTreeMap;

use akp_crds::product::StandbyKind;
use akp_crds::site::{COUNTRY_LABEL, SiteOwner, SiteRole};
use akp_crds::{Contour, EnvironmentName, Site};
use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use kube_core::ResourceExt;

/// The country products must stay in (R-PLC-01, 003 p.13): Kazakhstan, as the
/// label of nodes ([`akp_crds::site::COUNTRY_LABEL`]) and the Sites' `country` say it.
pub const HOME_COUNTRY: &str = "KZ";

/// Why no site fits an environment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoSite {
    /// No site in the home country hosts the contour.
    #[error(
        "no site in {country} hosts the {contour} contour (R-PLC-01, R-SEG-01): an SRE must add one"
    )]
    NoResidentSite {
        country: String,
        contour: &'static str,
    },
    /// Class 1 production needs a primary and a reserve site (R-PLC-02).
    #[error(
        "class 1 production needs a primary and a reserve site in {country} hosting the {contour} contour (R-PLC-02); missing: {missing}"
    )]
    NoReserve {
        country: String,
        contour: &'static str,
        missing: &'static str,
    },
    /// Class 1 runs only on the platform's or the operator's infrastructure (R-PLC-03).
    #[error(
        "class 1 objects are placed only on the platform's or the operator's infrastructure (R-PLC-03, 003 p.13), and every site in {country} hosting the {contour} contour is an ICT-infrastructure provider's: an SRE must add a site of the platform or the operator"
    )]
    NotOwnInfrastructure {
        country: String,
        contour: &'static str,
    },
}

/// Why production has no standby of its class (R-PLC-04).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoStandby {
    /// Class 2 needs a reserve building.
    #[error(
        "class 2 production needs a cold standby in a reserve server building (R-PLC-04, 000 App.2 p.6.5), and no site in {country} hosting the {contour} contour has the reserve role: an SRE must add one"
    )]
    NoReserve {
        country: String,
        contour: &'static str,
    },
    /// Class 3 needs backup storage near its main building.
    #[error(
        "class 3 production needs backup storage near its main building (R-PLC-04, 000 App.2 p.6.5), and no other site in {country} is in {city}, where {main} is: an SRE must add one"
    )]
    NoNearby {
        country: String,
        city: String,
        main: String,
    },
}

fn contour_name(c: Contour) -> &'static str {
    match c {
        Contour::Internal => "internal",
        Contour::External => "external",
    }
}

/// Whether a site may host anything: it is in the home country.
pub fn is_resident(site: &Site, home: &str) -> bool {
    site.spec.country == home
}

/// Whether a site is the platform's or the operator's own infrastructure (R-PLC-03).
pub fn own_infrastructure(site: &Site) -> bool {
    site.spec.owner != SiteOwner::Provider
}

/// R-PLC-03: of the resident sites hosting a contour, those `class` may use: class 1
/// only the platform's and the operator's; classes 2 and 3 those too, and a
/// provider's only when none of them hosts the contour.
fn usable_by_class(fitting: Vec<&Site>, class: i32) -> Vec<&Site> {
    let own: Vec<&Site> = fitting
        .iter()
        .copied()
        .filter(|s| own_infrastructure(s))
        .collect();
    if class == 1 || !own.is_empty() {
        own
    } else {
        fitting
    }
}

/// The sites an environment of a product of `class` in `contour` is placed on: all
/// resident sites hosting the contour with the primary role; for class 1 production
/// the reserve ones too, and both roles must exist (R-PLC-02). Only the platform's and
/// the operator's sites for class 1, a provider's for classes 2 and 3 only when those
/// cannot host them (R-PLC-03). Sorted by name.
pub fn allowed_sites<'a>(
    sites: &'a [Site],
    home: &str,
    contour: Contour,
    class: i32,
    env: EnvironmentName,
) -> Result<Vec<&'a Site>, NoSite> {
    let mut fitting: Vec<&Site> = sites
        .iter()
        .filter(|s| is_resident(s, home) && s.spec.contours.contains(&contour))
        .collect();
    // Sorted before the class's choice, so that what is chosen is sorted too.
    fitting.sort_by_key(|s| s.name_any());
    if fitting.is_empty() {
        return Err(NoSite::NoResidentSite {
            country: home.into(),
            contour: contour_name(contour),
        });
    }
    let mut fitting = usable_by_class(fitting, class);
    if fitting.is_empty() {
        return Err(NoSite::NotOwnInfrastructure {
            country: home.into(),
            contour: contour_name(contour),
        });
    }
    let has = |role| fitting.iter().any(|s| s.spec.role == role);
    if class == 1 && env == EnvironmentName::Production {
        let missing = match (has(SiteRole::Primary), has(SiteRole::Reserve)) {
            (true, true) => return Ok(fitting),
            (false, _) => "primary",
            (true, false) => "reserve",
        };
        return Err(NoSite::NoReserve {
            country: home.into(),
            contour: contour_name(contour),
            missing,
        });
    }
    // Everything else runs in the primary building (reserve buildings hold standbys
    // and backups, R-PLC-02); without one, any resident site of the contour.
    if has(SiteRole::Primary) {
        fitting.retain(|s| s.spec.role == SiteRole::Primary);
    }
    Ok(fitting)
}

/// R-PLC-02, R-PLC-04: production's standby, given the sites it runs at (`main`, from
/// [`allowed_sites`]): class 1's hot standby is its reserve site; class 2's cold
/// standby a reserve site hosting its contour; class 3's backup storage another site
/// in the city of its main building. Sites the class may use (R-PLC-03). `None`
/// outside production.
pub fn standby<'a>(
    sites: &'a [Site],
    home: &str,
    contour: Contour,
    class: i32,
    env: EnvironmentName,
    main: &[&Site],
) -> Result<Option<(StandbyKind, &'a Site)>, NoStandby> {
    if env != EnvironmentName::Production {
        return Ok(None);
    }
    let mut resident: Vec<&Site> = sites
        .iter()
        .filter(|s| is_resident(s, home) && !main.iter().any(|m| m.name_any() == s.name_any()))
        .collect();
    resident.sort_by_key(|s| s.name_any());
    match class {
        1 => {
            let hot = sites
                .iter()
                .filter(|s| main.iter().any(|m| m.name_any() == s.name_any()))
                .filter(|s| s.spec.role == SiteRole::Reserve)
                .min_by_key(|s| s.name_any());
            Ok(hot.map(|s| (StandbyKind::Hot, s)))
        }
        2 => {
            let reserves = resident
                .into_iter()
                .filter(|s| s.spec.role == SiteRole::Reserve && s.spec.contours.contains(&contour))
                .collect();
            let missing = || NoStandby::NoReserve {
                country: home.into(),
                contour: contour_name(contour),
            };
            first_usable(reserves, class, StandbyKind::Cold).ok_or_else(missing)
        }
        _ => {
            let Some(first) = main.first() else {
                return Ok(None);
            };
            let near = resident
                .into_iter()
                .filter(|s| s.spec.city == first.spec.city)
                .collect();
            let missing = || NoStandby::NoNearby {
                country: home.into(),
                city: first.spec.city.clone(),
                main: first.name_any(),
            };
            first_usable(near, class, StandbyKind::Backup).ok_or_else(missing)
        }
    }
}

/// The first of `candidates` the class may use, as a standby of `kind`.
fn first_usable(
    candidates: Vec<&Site>,
    class: i32,
    kind: StandbyKind,
) -> Option<Option<(StandbyKind, &Site)>> {
    usable_by_class(candidates, class)
        .first()
        .map(|s| Some((kind, *s)))
}

/// The required node affinity that keeps a pod on the nodes of `sites` that are also
/// attested in `home`: one term per site (terms are alternatives), each requiring the
/// site's labels and the country label. A pod's own terms are combined with each
/// site's, so they can narrow the placement but never widen it.
pub fn node_affinity(sites: &[&Site], home: &str, own: Option<&NodeSelector>) -> NodeSelector {
    let site_terms: Vec<Vec<NodeSelectorRequirement>> = sites
        .iter()
        .map(|s| {
            let mut reqs: Vec<NodeSelectorRequirement> = s
                .spec
                .node_selector
                .iter()
                .map(|(k, v)| NodeSelectorRequirement {
                    key: k.clone(),
                    operator: "In".into(),
                    values: Some(vec![v.clone()]),
                })
                .collect();
            reqs.push(NodeSelectorRequirement {
                key: COUNTRY_LABEL.into(),
                operator: "In".into(),
                values: Some(vec![home.into()]),
            });
            reqs
        })
        .collect();
    let own_terms: Vec<NodeSelectorTerm> = own
        .map(|o| o.node_selector_terms.clone())
        .unwrap_or_default();
    let terms = if own_terms.is_empty() {
        site_terms
            .into_iter()
            .map(|m| NodeSelectorTerm {
                match_expressions: Some(m),
                match_fields: None,
            })
            .collect()
    } else {
        own_terms
            .iter()
            .flat_map(|t| {
                site_terms.iter().map(move |m| {
                    let mut exprs = t.match_expressions.clone().unwrap_or_default();
                    exprs.extend(m.iter().cloned());
                    NodeSelectorTerm {
                        match_expressions: Some(exprs),
                        match_fields: t.match_fields.clone(),
                    }
                })
            })
            .collect()
    };
    NodeSelector {
        node_selector_terms: terms,
    }
}

/// Whether a node with `labels` is one of `sites` and attested in `home`.
pub fn node_allowed(labels: &BTreeMap<String, String>, sites: &[&Site], home: &str) -> bool {
    labels.get(COUNTRY_LABEL).map(String::as_str) == Some(home)
        && sites.iter().any(|s| {
            !s.spec.node_selector.is_empty()
                && s.spec
                    .node_selector
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
        })
}

/// The storage classes of `sites`; a claim may use only these when any are listed.
pub fn storage_classes(sites: &[&Site]) -> Vec<String> {
    let mut all: Vec<String> = sites
        .iter()
        .flat_map(|s| s.spec.storage_classes.iter().cloned())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Where an environment's pods actually run (the continuous audit of R-PLC-01).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Pods bound to a node.
    pub pods: usize,
    /// The sites hosting them, sorted.
    pub sites: Vec<String>,
    /// Pods on nodes not attested in the home country: `pod on node (country)`.
    pub violations: Vec<String>,
}

/// Audits the pods of one namespace: each bound pod's node must be attested in `home`.
/// `pods` are (pod name, node name); `nodes` maps node names to labels.
pub fn audit(
    pods: &[(String, String)],
    nodes: &BTreeMap<String, BTreeMap<String, String>>,
    sites: &[Site],
    home: &str,
) -> Audit {
    let mut a = Audit::default();
    for (pod, node) in pods {
        a.pods += 1;
        let labels = nodes.get(node);
        let country = labels.and_then(|l| l.get(COUNTRY_LABEL));
        if country.map(String::as_str) != Some(home) {
            a.violations.push(format!(
                "pod {pod} on node {node} ({})",
                country.map_or("no country label", String::as_str)
            ));
        }
        if let Some(l) = labels {
            for s in sites.iter().filter(|s| {
                !s.spec.node_selector.is_empty()
                    && s.spec
                        .node_selector
                        .iter()
                        .all(|(k, v)| l.get(k) == Some(v))
            }) {
                a.sites.push(s.name_any());
            }
        }
    }
    a.sites.sort();
    a.sites.dedup();
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sites of an internal-contour product in Kazakhstan.
    fn internal(sites: &[Site], class: i32, env: EnvironmentName) -> Result<Vec<&Site>, NoSite> {
        allowed_sites(sites, "KZ", Contour::Internal, class, env)
    }

    fn sites() -> Vec<Site> {
        crate::examples::load("sites.yaml")
    }

    fn names(s: &[&Site]) -> Vec<String> {
        s.iter().map(|s| s.name_any()).collect()
    }

    #[test]
    fn r_plc_01_only_resident_sites_of_the_contour() {
        let all = sites();
        let dev = allowed_sites(
            &all,
            "KZ",
            Contour::External,
            1,
            EnvironmentName::Development,
        )
        .expect("a site");
        assert_eq!(
            names(&dev),
            ["astana-1"],
            "the primary building; never frankfurt-1"
        );
        let none: Vec<Site> = all
            .iter()
            .filter(|s| s.spec.country != "KZ")
            .cloned()
            .collect();
        assert!(matches!(
            allowed_sites(
                &none,
                "KZ",
                Contour::External,
                2,
                EnvironmentName::Development
            ),
            Err(NoSite::NoResidentSite { .. })
        ));
    }

    #[test]
    fn r_plc_02_class_1_production_uses_primary_and_reserve() {
        let all = sites();
        let prod = internal(&all, 1, EnvironmentName::Production).expect("sites");
        assert_eq!(names(&prod), ["almaty-1", "astana-1"]);
        let class2 = internal(&all, 2, EnvironmentName::Production).expect("sites");
        assert_eq!(names(&class2), ["astana-1"]);
        let primary_only: Vec<Site> = all
            .iter()
            .filter(|s| s.spec.role == SiteRole::Primary)
            .cloned()
            .collect();
        let err = internal(&primary_only, 1, EnvironmentName::Production).expect_err("no reserve");
        assert!(err.to_string().contains("missing: reserve"), "{err}");
    }

    #[test]
    fn r_plc_01_affinity_narrows_never_widens() {
        let all = sites();
        let prod = internal(&all, 1, EnvironmentName::Production).expect("sites");
        let sel = node_affinity(&prod, "KZ", None);
        assert_eq!(sel.node_selector_terms.len(), 2);
        let own = NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: "topology.kubernetes.io/zone".into(),
                    operator: "In".into(),
                    values: Some(vec!["frankfurt-1".into()]),
                }]),
                match_fields: None,
            }],
        };
        let merged = node_affinity(&prod, "KZ", Some(&own));
        // Every term still requires a resident site: asking for frankfurt-1 matches no node.
        for term in &merged.node_selector_terms {
            let exprs = term.match_expressions.clone().unwrap_or_default();
            assert!(
                exprs
                    .iter()
                    .any(|e| e.key == COUNTRY_LABEL && e.values == Some(vec!["KZ".into()]))
            );
            assert!(
                exprs
                    .iter()
                    .any(|e| e.values == Some(vec!["frankfurt-1".into()]))
            );
        }
        let kz: BTreeMap<String, String> = [
            ("topology.kubernetes.io/zone".into(), "astana-1".into()),
            (COUNTRY_LABEL.into(), "KZ".into()),
        ]
        .into();
        let relabelled: BTreeMap<String, String> = [
            ("topology.kubernetes.io/zone".into(), "astana-1".into()),
            (COUNTRY_LABEL.into(), "RU".into()),
        ]
        .into();
        assert!(node_allowed(&kz, &prod, "KZ"));
        assert!(!node_allowed(&relabelled, &prod, "KZ"));
        assert_eq!(storage_classes(&prod), ["almaty-1-ssd", "astana-1-ssd"]);
    }

    #[test]
    fn r_plc_01_the_audit_finds_pods_on_foreign_or_unattested_nodes() {
        let all = sites();
        let node = |zone: &str, country: Option<&str>| {
            let mut l: BTreeMap<String, String> =
                [("topology.kubernetes.io/zone".to_owned(), zone.to_owned())].into();
            if let Some(c) = country {
                l.insert(COUNTRY_LABEL.into(), c.into());
            }
            l
        };
        let nodes: BTreeMap<String, BTreeMap<String, String>> = [
            ("a".to_owned(), node("astana-1", Some("KZ"))),
            ("b".to_owned(), node("almaty-1", Some("KZ"))),
            ("c".to_owned(), node("astana-1", Some("RU"))),
            ("d".to_owned(), node("astana-1", None)),
        ]
        .into();
        let ok = audit(
            &[("p1".into(), "a".into()), ("p2".into(), "b".into())],
            &nodes,
            &all,
            "KZ",
        );
        assert_eq!(ok.sites, ["almaty-1", "astana-1"]);
        assert!(ok.violations.is_empty());
        let bad = audit(
            &[("p1".into(), "c".into()), ("p2".into(), "d".into())],
            &nodes,
            &all,
            "KZ",
        );
        assert_eq!(
            bad.violations,
            [
                "pod p1 on node c (RU)",
                "pod p2 on node d (no country label)"
            ]
        );
    }

    /// A site `name` in `city` of `owner` with `role`, hosting the internal contour.
    fn site(name: &str, city: &str, role: &str, owner: &str) -> Site {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "akp.egov.kz/v1alpha1", "kind": "Site",
            "metadata": {"name": name},
            "spec": {"country": "KZ", "city": city, "role": role, "owner": owner,
                "contours": ["internal"], "nodeSelector": {"topology.kubernetes.io/zone": name},
                "storageClasses": [format!("{name}-ssd")]}
        }))
        .expect("a site")
    }

    #[test]
    fn r_plc_03_class_1_only_on_the_platform_or_the_operator_and_2_3_at_a_provider_only_when_needed()
     {
        use EnvironmentName::{Development, Production};
        let provider_only = [site("kt-1", "Astana", "primary", "provider")];
        assert_eq!(
            internal(&provider_only, 1, Development).map(|s| names(&s)),
            Err(NoSite::NotOwnInfrastructure {
                country: "KZ".into(),
                contour: "internal"
            })
        );
        // Classes 2 and 3: the provider's, since nothing else hosts the contour.
        for class in [2, 3] {
            let placed = internal(&provider_only, class, Production).expect("a site");
            assert_eq!(names(&placed), ["kt-1"]);
            assert!(!own_infrastructure(placed[0]));
        }
        // With a site of the operator's, the provider's is not used, even as primary.
        let both = [
            site("kt-1", "Astana", "primary", "provider"),
            site("op-1", "Astana", "reserve", "operator"),
        ];
        assert_eq!(
            names(&internal(&both, 3, Development).expect("a site")),
            ["op-1"]
        );
        assert_eq!(
            names(&internal(&both, 1, Development).expect("a site")),
            ["op-1"]
        );
        // Class 1 production needs a primary and a reserve of its own infrastructure.
        assert_eq!(
            internal(&both, 1, Production).map(|s| names(&s)),
            Err(NoSite::NoReserve {
                country: "KZ".into(),
                contour: "internal",
                missing: "primary"
            })
        );
    }

    #[test]
    fn r_plc_04_class_2_gets_a_cold_standby_in_a_reserve_building_and_class_3_backup_nearby() {
        use EnvironmentName::{Development, Production};
        let all = [
            site("astana-1", "Astana", "primary", "platform"),
            site("astana-2", "Astana", "reserve", "operator"),
            site("almaty-1", "Almaty", "reserve", "platform"),
        ];
        let at = |class: i32, env| {
            let main = internal(&all, class, env).expect("a site");
            standby(&all, "KZ", Contour::Internal, class, env, &main)
                .map(|s| s.map(|(kind, site)| (kind, site.name_any())))
        };
        assert_eq!(
            at(2, Production),
            Ok(Some((StandbyKind::Cold, "almaty-1".into())))
        );
        assert_eq!(
            at(3, Production),
            Ok(Some((StandbyKind::Backup, "astana-2".into())))
        );
        assert_eq!(at(3, Development), Ok(None));
        // Class 1 runs on both buildings: its reserve is its hot standby.
        assert_eq!(
            at(1, Production),
            Ok(Some((StandbyKind::Hot, "almaty-1".into())))
        );
        // Without a reserve building or a neighbour, the class's standby is missing.
        let alone = [site("astana-1", "Astana", "primary", "platform")];
        let main = internal(&alone, 2, Production).expect("a site");
        assert_eq!(
            standby(&alone, "KZ", Contour::Internal, 2, Production, &main).map(|_| ()),
            Err(NoStandby::NoReserve {
                country: "KZ".into(),
                contour: "internal"
            })
        );
        let err = standby(&alone, "KZ", Contour::Internal, 3, Production, &main)
            .expect_err("no neighbour");
        assert!(
            err.to_string()
                .contains("no other site in KZ is in Astana, where astana-1 is"),
            "{err}"
        );
    }
}
