//! Running images → software catalog items, for software metering.
//!
//! A catalog item lists exact image repositories (`registry.akp.kz/platform/postgresql`,
//! optionally `@sha256:…`). A container's image matches when its repository, without
//! tag or digest, is one of them, and, for a digest-pinned entry, its digest is the
//! pinned one. Never by prefix. Docker Hub short names (`nginx`) are expanded to
//! `docker.io/library/nginx` on both sides, as container runtimes do.

use std::collections::BTreeMap;

use akp_crds::SoftwareCatalogItem;
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

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host and path, without tag or digest.
    pub repository: String,
    /// `sha256:<hex>`, if the reference has one.
    pub digest: Option<String>,
}

/// Splits `host/path:tag@sha256:…` into repository and digest.
pub fn parse_image(image: &str) -> ImageRef {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest.to_string())),
        None => (image, None),
    };
    // A tag is a ':' after the last '/', so that `host:5000/repo` keeps its port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    ImageRef {
        repository: normalize_repository(name),
        digest,
    }
}

fn normalize_repository(name: &str) -> String {
    let first = name.split('/').next().unwrap_or("");
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
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
                let parsed = parse_image(&image.0);
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
    pub fn lookup(&self, image: &str) -> Option<&CatalogEntry> {
        let parsed = parse_image(image);
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

    #[test]
    fn parses_references() {
        assert_eq!(
            parse_image("nginx:1.25").repository,
            "docker.io/library/nginx"
        );
        assert_eq!(
            parse_image("bitnami/redis").repository,
            "docker.io/bitnami/redis"
        );
        assert_eq!(
            parse_image("localhost:5000/x:y").repository,
            "localhost:5000/x"
        );
        assert_eq!(
            parse_image("h.kz/a/b@sha256:00").digest.as_deref(),
            Some("sha256:00")
        );
    }
}
