//! Running images → software catalog items, for software metering.
//!
//! A catalog item lists exact image repositories (`registry.akp.kz/platform/postgresql`,
//! optionally `@sha256:…`). A container's image matches when its repository, without
//! tag or digest, is one of them, and, for a digest-pinned entry, its digest is the
//! pinned one. Never by prefix. Docker Hub short names (`nginx`) are expanded to
//! `docker.io/library/nginx` on both sides, as container runtimes do.

use std::collections::BTreeMap;

use akp_crds::SoftwareCatalogItem;

use crate::catalog::parse_image;
pub use akp_crds::catalog::LicenseMetric;

/// A catalog item as metering needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The item's name (the ledger resource suffix).
    pub name: String,
    /// How its licence is counted.
    pub license: LicenseMetric,
}

/// Image repository → catalog entries.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    by_repository: BTreeMap<String, Vec<(Option<String>, CatalogEntry)>>,
}

impl Catalog {
    /// Builds the index from catalog items.
    pub fn new(items: &[SoftwareCatalogItem]) -> Self {
        let mut catalog = Catalog::default();
        for item in items {
            let Some(name) = item.metadata.name.clone() else {
                continue;
            };
            for image in &item.spec.images {
                // The CRD's CEL rule admits only references that parse.
                let Ok(parsed) = parse_image(&image.0) else {
                    continue;
                };
                catalog
                    .by_repository
                    .entry(parsed.repository)
                    .or_default()
                    .push((
                        parsed.digest,
                        CatalogEntry {
                            name: name.clone(),
                            license: item.spec.license.metric,
                        },
                    ));
            }
        }
        catalog
    }

    /// Parses catalog items from YAML (one or more documents, as `kubectl get swc -o
    /// yaml` items or plain manifests); a `List` is unpacked.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
        let mut items = Vec::new();
        for doc in docs {
            let list = match doc.get("items").and_then(|i| i.as_array()) {
                Some(list) => list.clone(),
                None => vec![doc],
            };
            for value in list {
                if value.get("kind").and_then(|k| k.as_str()) != Some("SoftwareCatalogItem") {
                    continue;
                }
                let item: SoftwareCatalogItem =
                    serde_json::from_value(value).map_err(|e| e.to_string())?;
                items.push(item);
            }
        }
        Ok(Self::new(&items))
    }

    /// The catalog entry an image belongs to, if any.
    /// Nothing when the reference does not parse: the runtime cannot run it.
    pub fn lookup(&self, image: &str) -> Option<&CatalogEntry> {
        let parsed = parse_image(image).ok()?;
        self.by_repository
            .get(&parsed.repository)?
            .iter()
            .find(|(pinned, _)| pinned.is_none() || *pinned == parsed.digest)
            .map(|(_, entry)| entry)
    }

    /// Number of image repositories known.
    pub fn len(&self) -> usize {
        self.by_repository.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.by_repository.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"
apiVersion: akp.egov.kz/v1alpha1
kind: SoftwareCatalogItem
metadata: {name: postgresql-15}
spec:
  displayName: PostgreSQL 15
  category: system
  images: [registry.akp.kz/platform/postgresql]
  allowedEnvironments: [development, testing, trial, production]
  license: {metric: core}
---
apiVersion: akp.egov.kz/v1alpha1
kind: SoftwareCatalogItem
metadata: {name: pinned-gateway}
spec:
  displayName: Gateway
  category: platformComponent
  images: ["registry.akp.kz:5000/gw@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
  allowedEnvironments: [production]
  license: {metric: instance}
"#;

    #[test]
    fn matches_exact_repositories_only() -> Result<(), String> {
        let catalog = Catalog::from_yaml(CATALOG)?;
        assert_eq!(catalog.len(), 2);
        let pg = catalog.lookup("registry.akp.kz/platform/postgresql:15.4");
        assert_eq!(pg.map(|e| e.name.as_str()), Some("postgresql-15"));
        assert_eq!(pg.map(|e| e.license), Some(LicenseMetric::Core));
        assert!(
            catalog
                .lookup("registry.akp.kz/platform/postgresql-exporter:1")
                .is_none()
        );
        assert!(catalog.lookup("registry.akp.kz/platform").is_none());
        let digest = "sha256:".to_string() + &"a".repeat(64);
        assert_eq!(
            catalog
                .lookup(&format!("registry.akp.kz:5000/gw:1.0@{digest}"))
                .map(|e| e.name.as_str()),
            Some("pinned-gateway")
        );
        assert!(catalog.lookup("registry.akp.kz:5000/gw:1.0").is_none());
        Ok(())
    }

    /// The example catalog, plus a Docker Hub library image and a mirror behind a port.
    fn tricky_catalog() -> Vec<SoftwareCatalogItem> {
        let mut items: Vec<SoftwareCatalogItem> = crate::examples::load("catalog.yaml");
        let extra: Vec<SoftwareCatalogItem> = serde_saphyr::from_multiple(
            r#"
apiVersion: akp.egov.kz/v1alpha1
kind: SoftwareCatalogItem
metadata: {name: nginx-1}
spec:
  displayName: nginx
  category: system
  images: [docker.io/library/nginx]
  allowedEnvironments: [development, testing, trial, production]
  license: {metric: none}
---
apiVersion: akp.egov.kz/v1alpha1
kind: SoftwareCatalogItem
metadata: {name: mirrored-postgresql}
spec:
  displayName: PostgreSQL from the mirror
  category: system
  images: ["registry.akp.kz:5000/platform/postgresql"]
  allowedEnvironments: [development, testing, trial, production]
  license: {metric: core}
"#,
        )
        .expect("extra catalog items");
        items.extend(extra);
        items
    }

    /// R-SW-01, R-BIL-01: admission and metering read an image reference with the same
    /// parser, so the software a pod is admitted as is the software that is billed. Each
    /// reference is followed by the catalog item the container runtime would run, or
    /// `None` where it runs none of them (or cannot pull it at all).
    #[test]
    fn r_sw_01_admission_and_metering_agree_on_the_catalog_item_of_tricky_references() {
        let pinned = "sha256:3b5d1f0c9a7e2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c";
        let other = format!("sha256:{}", "0".repeat(64));
        let cases: Vec<(String, Option<&str>)> = vec![
            (
                "registry.akp.kz/platform/postgresql:16".into(),
                Some("postgresql-16"),
            ),
            // A registry with a port: the port is not a tag.
            (
                "registry.akp.kz:5000/platform/postgresql:16".into(),
                Some("mirrored-postgresql"),
            ),
            (
                "registry.akp.kz:5000/platform/postgresql".into(),
                Some("mirrored-postgresql"),
            ),
            // Tag and digest: the runtime pulls by digest; the tag is ignored.
            (
                format!("registry.akp.kz/platform/postgresql:16@{other}"),
                Some("postgresql-16"),
            ),
            (
                format!("registry.akp.kz/platform/shep-adapter:1.2@{pinned}"),
                Some("egov-gateway-adapter"),
            ),
            (
                format!("registry.akp.kz/platform/shep-adapter@{pinned}"),
                Some("egov-gateway-adapter"),
            ),
            ("registry.akp.kz/platform/shep-adapter:1.2".into(), None),
            (
                format!("registry.akp.kz/platform/shep-adapter@{other}"),
                None,
            ),
            // Library images: every spelling of Docker Hub's nginx.
            ("nginx".into(), Some("nginx-1")),
            ("nginx:1.27".into(), Some("nginx-1")),
            ("library/nginx:1.27".into(), Some("nginx-1")),
            ("docker.io/nginx:1.27".into(), Some("nginx-1")),
            ("index.docker.io/library/nginx:1.27".into(), Some("nginx-1")),
            ("docker.io/bitnami/nginx:1.27".into(), None),
            // Uppercase: a registry host is a DNS name (any case); a path must be
            // lowercase, or the runtime refuses to pull it.
            (
                "REGISTRY.AKP.KZ/platform/postgresql:16".into(),
                Some("postgresql-16"),
            ),
            ("registry.akp.kz/platform/PostgreSQL:16".into(), None),
            ("NGINX".into(), None),
            // Not one reference: a second colon in the tag, an empty name.
            ("registry.akp.kz/platform/postgresql:16:evil".into(), None),
            ("registry.akp.kz/platform/postgresql:".into(), None),
            ("".into(), None),
            // Exact repositories, never prefixes.
            ("registry.akp.kz/platform/postgresql-evil:16".into(), None),
            ("registry.akp.kz/platform/postgresql/evil:16".into(), None),
        ];
        let items = tricky_catalog();
        let metering = Catalog::new(&items);
        let today = jiff::civil::date(2026, 11, 22);
        let mut wrong = Vec::new();
        for (image, expected) in &cases {
            let metered = metering.lookup(image).map(|e| e.name.as_str());
            let admission = crate::catalog::check_images(
                [("spec.containers[0].image", image.as_str())],
                akp_crds::EnvironmentName::Production,
                &items,
                today,
            );
            let admitted = admission.refusals.is_empty();
            if metered != *expected || admitted != expected.is_some() {
                wrong.push(format!(
                    "{image:?}: want {expected:?}, metering {metered:?}, admission {}",
                    if admitted { "admits" } else { "refuses" }
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
