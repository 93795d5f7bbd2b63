//! Admission of PersistentVolumeClaims in environment namespaces (R-PLC-01): a volume
//! lives where its storage class puts it, so a claim may use only the storage classes
//! of the sites its environment may use, when the sites list any, and in production
//! those of its standby site (R-PLC-04).
//!
//! The operator's webhook fetches the inputs of [`check_claim`].

use akp_crds::Site;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube_core::ResourceExt;

use super::environment::{Environment, listed, sites_for};
use super::verdict::{Verdict, Violation};
use crate::placement::{standby, storage_classes};

/// Judges a claim being created in `env`, given every Site.
pub fn check_claim(
    claim: &PersistentVolumeClaim,
    env: &Environment,
    sites: &[Site],
    home: &str,
) -> Verdict {
    let allowed = match sites_for(sites, env, home) {
        Ok(allowed) => allowed,
        Err(refusal) => {
            return Verdict {
                refusals: vec![refusal],
                ..Verdict::default()
            };
        }
    };
    // R-PLC-04: production's volumes may also hold its standby's data at the standby
    // site (class 2's cold standby, class 3's backup storage).
    let mut allowed = allowed;
    if let Ok(Some((_, site))) = standby(sites, home, env.contour, env.class, env.name, &allowed)
        && !allowed.iter().any(|s| s.name_any() == site.name_any())
    {
        allowed.push(site);
    }
    let classes = storage_classes(&allowed);
    if classes.is_empty() {
        return Verdict::allowed();
    }
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default();
    if classes.iter().any(|c| c == class) {
        return Verdict::allowed();
    }
    let site_names: Vec<String> = allowed.iter().map(|s| s.name_any()).collect();
    let elsewhere = sites
        .iter()
        .find(|s| s.spec.storage_classes.iter().any(|c| c == class))
        .map_or_else(String::new, |s| {
            format!(
                ", it keeps volumes at site {} ({})",
                s.name_any(),
                s.spec.country
            )
        });
    let problem = if class.is_empty() {
        "is not set, so the volume could be anywhere".to_owned()
    } else {
        format!(
            "is not a storage class of {}, the sites the {} environment may use{elsewhere}",
            listed(&site_names),
            env.name.as_str()
        )
    };
    Verdict {
        violations: vec![Violation {
            field: "spec.storageClassName".into(),
            value: class.into(),
            problem,
            rule: "R-PLC-01",
            fix: format!("use one of {}", listed(&classes)),
        }],
        ..Verdict::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use akp_crds::{Contour, EnvironmentName};
    use serde_json::json;

    fn sites() -> Vec<Site> {
        crate::examples::load("sites.yaml")
    }

    fn claim(class: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": class
            }
        }))
        .expect("claim")
    }

    fn env(name: EnvironmentName, class: i32) -> Environment {
        Environment {
            namespace: "mon-e-license-x".into(),
            name,
            contour: Contour::Internal,
            class,
            product: None,
        }
    }

    #[test]
    fn r_plc_01_a_claim_uses_only_the_storage_classes_of_its_sites() {
        let all = sites();
        let dev = env(EnvironmentName::Development, 2);
        assert!(check_claim(&claim(Some("astana-1-ssd")), &dev, &all, "KZ").is_allowed());
        assert_eq!(
            check_claim(&claim(Some("almaty-1-ssd")), &dev, &all, "KZ").message(),
            r#"spec.storageClassName "almaty-1-ssd" is not a storage class of astana-1, the sites the development environment may use, it keeps volumes at site almaty-1 (KZ) (R-PLC-01): use one of astana-1-ssd"#
        );
        assert_eq!(
            check_claim(&claim(None), &dev, &all, "KZ").message(),
            r#"spec.storageClassName "" is not set, so the volume could be anywhere (R-PLC-01): use one of astana-1-ssd"#
        );
        // Class 1 production may use both buildings' classes.
        let prod = env(EnvironmentName::Production, 1);
        assert!(check_claim(&claim(Some("almaty-1-ssd")), &prod, &all, "KZ").is_allowed());
    }

    #[test]
    fn r_plc_04_production_claims_may_hold_the_standby_data_at_its_site() {
        let all = sites();
        // Class 2: the cold standby's data in the reserve building.
        let class_2 = env(EnvironmentName::Production, 2);
        assert!(check_claim(&claim(Some("almaty-1-ssd")), &class_2, &all, "KZ").is_allowed());
        // Not outside production, and not for class 3, whose backups stay near the main
        // building (Almaty is not near Astana).
        for other in [
            env(EnvironmentName::Trial, 2),
            env(EnvironmentName::Production, 3),
        ] {
            assert!(
                !check_claim(&claim(Some("almaty-1-ssd")), &other, &all, "KZ").is_allowed(),
                "{other:?}"
            );
        }
    }

    #[test]
    fn r_plc_01_sites_without_storage_classes_do_not_restrict_claims() {
        let mut all = sites();
        for site in &mut all {
            site.spec.storage_classes.clear();
        }
        let dev = env(EnvironmentName::Development, 2);
        assert!(check_claim(&claim(Some("anything")), &dev, &all, "KZ").is_allowed());
    }
}
