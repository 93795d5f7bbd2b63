//! Trusted software: whether an image may run in an environment (R-ENV-02, R-SW-01 to
//! R-SW-03). Images match catalog entries by exact repository, and by digest where the
//! entry pins one: `registry.akp.kz/platform/postgresql-evil` is not
//! `registry.akp.kz/platform/postgresql` (the prefix trick that registry patterns fall for).

use akp_crds::{EnvironmentName, SoftwareCatalogItem};
use jiff::ToSpan;
use jiff::civil::Date;
use kube_core::ResourceExt;

/// Renewal is due this many days before the documents expire (R-SW-02, 004 p.9).
pub const RENEWAL_WARNING_DAYS: i32 = 30;

/// An image reference split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host and path, e.g. `registry.akp.kz/platform/postgresql`.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if any.
    pub digest: Option<String>,
}

/// Parses an image reference as the container runtime reads it: a first component
/// without a dot, colon or `localhost` is a Docker Hub path, so `postgres` is
/// `docker.io/library/postgres` and never a catalog repository by accident.
pub fn parse_image(image: &str) -> ImageRef {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d.to_owned())),
        None => (image, None),
    };
    // A tag is after the last ':' that follows the last '/' (a registry port is not one).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(name[last_slash + i + 1..].to_owned()),
        ),
        None => (name, None),
    };
    let first = repo.split('/').next().unwrap_or_default();
    let has_registry =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repository = if has_registry {
        repo.to_owned()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    ImageRef {
        repository,
        tag,
        digest,
    }
}

/// Whether a catalog entry (`repository` or `repository@sha256:…`) covers an image.
pub fn entry_matches(entry: &str, image: &ImageRef) -> bool {
    match entry.split_once('@') {
        Some((repo, digest)) => repo == image.repository && image.digest.as_deref() == Some(digest),
        None => entry == image.repository,
    }
}

/// What the catalog says of one pod's images.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Why the pod may not run; empty when it may.
    pub refusals: Vec<String>,
    /// What to warn about (documents expiring soon).
    pub warnings: Vec<String>,
    /// Catalog items whose documents expire within the warning window.
    pub expiring: Vec<String>,
}

/// Checks `images` of a pod in environment `env` against the catalog, on `today`.
pub fn check_images<'a>(
    images: impl IntoIterator<Item = (&'a str, &'a str)>,
    env: EnvironmentName,
    catalog: &[SoftwareCatalogItem],
    today: Date,
) -> Verdict {
    let mut v = Verdict::default();
    for (field, image) in images {
        let parsed = parse_image(image);
        let matching: Vec<&SoftwareCatalogItem> = catalog
            .iter()
            .filter(|i| i.spec.images.iter().any(|e| entry_matches(&e.0, &parsed)))
            .collect();
        if matching.is_empty() {
            v.refusals.push(format!(
                "{field}: image {image:?} (repository {}) is in no SoftwareCatalogItem (R-SW-01): use trusted software from the catalog (kubectl get swc), matched by exact repository{}",
                parsed.repository,
                if parsed.digest.is_none() { "" } else { " and digest" }
            ));
            continue;
        }
        let allowed: Vec<&&SoftwareCatalogItem> = matching
            .iter()
            .filter(|i| i.spec.allowed_environments.contains(&env))
            .collect();
        let Some(item) = allowed.first() else {
            let names: Vec<String> = matching.iter().map(|i| i.name_any()).collect();
            v.refusals.push(format!(
                "{field}: image {image:?} is catalog item {} which is not allowed in the {} environment (R-ENV-02): development and testing take only system, specialized and platform-component software allowed there",
                names.join(", "),
                env.as_str()
            ));
            continue;
        };
        check_item(field, item, catalog, today, &mut v, 0);
    }
    // The same item may be named by several images: each message once.
    let mut seen = std::collections::HashSet::new();
    v.refusals.retain(|r| seen.insert(r.clone()));
    seen.clear();
    v.warnings.retain(|w| seen.insert(w.clone()));
    v.expiring.sort();
    v.expiring.dedup();
    v
}

/// R-SW-02 for an item, and R-SW-03 for what it depends on (transitively, bounded).
fn check_item(
    field: &str,
    item: &SoftwareCatalogItem,
    catalog: &[SoftwareCatalogItem],
    today: Date,
    v: &mut Verdict,
    depth: usize,
) {
    let name = item.name_any();
    if let Some(reg) = &item.spec.trusted_register {
        let until = reg.documents_valid_until;
        if until < today {
            v.refusals.push(format!(
                "{field}: catalog item {name} (register entry {}) has documents valid until {until}, expired (R-SW-02): the entry must be renewed before new workloads are admitted",
                reg.entry
            ));
        } else if until
            <= today
                .checked_add(RENEWAL_WARNING_DAYS.days())
                .unwrap_or(today)
        {
            v.warnings.push(format!(
                "catalog item {name} (register entry {}) documents expire on {until}: renewal is due at least {RENEWAL_WARNING_DAYS} days before (R-SW-02)",
                reg.entry
            ));
            v.expiring.push(name.clone());
        }
    }
    if depth >= 8 {
        return;
    }
    for dep in &item.spec.depends_on {
        match catalog.iter().find(|i| i.name_any() == *dep) {
            Some(d) => check_item(field, d, catalog, today, v, depth + 1),
            None => v.refusals.push(format!(
                "{field}: catalog item {name} depends on {dep}, which is not in the catalog (R-SW-03): software that is not standalone runs only with its dependencies trusted"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn catalog() -> Vec<SoftwareCatalogItem> {
        crate::examples::load("catalog.yaml")
    }

    #[test]
    fn parses_references_as_the_runtime_does() {
        let r = parse_image("registry.akp.kz/platform/postgresql:16.4@sha256:abc");
        assert_eq!(
            (r.repository.as_str(), r.tag.as_deref(), r.digest.as_deref()),
            (
                "registry.akp.kz/platform/postgresql",
                Some("16.4"),
                Some("sha256:abc")
            )
        );
        assert_eq!(
            parse_image("localhost:5000/app").repository,
            "localhost:5000/app"
        );
        assert_eq!(
            parse_image("postgres:16").repository,
            "docker.io/library/postgres"
        );
        assert_eq!(
            parse_image("bitnami/postgresql").repository,
            "docker.io/bitnami/postgresql"
        );
        assert_eq!(
            parse_image("registry.akp.kz:5000/x/y:1").repository,
            "registry.akp.kz:5000/x/y"
        );
    }

    #[test]
    fn r_sw_01_exact_repository_not_prefix() {
        let c = catalog();
        let today = date(2026, 11, 22);
        let ok = check_images(
            [(
                "spec.containers[0].image",
                "registry.akp.kz/platform/postgresql:16",
            )],
            EnvironmentName::Development,
            &c,
            today,
        );
        assert!(ok.refusals.is_empty(), "{ok:?}");
        let evil = check_images(
            [(
                "spec.containers[0].image",
                "registry.akp.kz/platform/postgresql-evil:16",
            )],
            EnvironmentName::Development,
            &c,
            today,
        );
        assert_eq!(evil.refusals.len(), 1);
        assert!(evil.refusals[0].contains("R-SW-01"));
        let hub = check_images(
            [("spec.containers[0].image", "postgres:16")],
            EnvironmentName::Development,
            &c,
            today,
        );
        assert!(hub.refusals[0].contains("docker.io/library/postgres"));
    }

    #[test]
    fn r_sw_01_a_pinned_entry_needs_the_digest() {
        let c = catalog();
        let today = date(2026, 11, 22);
        let pinned = "registry.akp.kz/platform/shep-adapter@sha256:3b5d1f0c9a7e2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c";
        assert!(
            check_images([("c", pinned)], EnvironmentName::Testing, &c, today)
                .refusals
                .is_empty()
        );
        let by_tag = check_images(
            [("c", "registry.akp.kz/platform/shep-adapter:latest")],
            EnvironmentName::Testing,
            &c,
            today,
        );
        assert_eq!(by_tag.refusals.len(), 1);
    }

    #[test]
    fn r_env_02_application_software_not_in_development() {
        let c = catalog();
        let v = check_images(
            [("c", "registry.akp.kz/agency-mon/e-license-portal:1.0")],
            EnvironmentName::Development,
            &c,
            date(2026, 11, 22),
        );
        assert!(v.refusals[0].contains("R-ENV-02"), "{v:?}");
        let v = check_images(
            [("c", "registry.akp.kz/agency-mon/e-license-portal:1.0")],
            EnvironmentName::Trial,
            &c,
            date(2026, 11, 22),
        );
        assert!(v.refusals.is_empty(), "{v:?}");
    }

    #[test]
    fn r_sw_02_expired_refused_expiring_warned() {
        let c = catalog();
        // redis-7's documents are valid until 2026-12-15.
        let soon = check_images(
            [("c", "registry.akp.kz/platform/redis:7")],
            EnvironmentName::Production,
            &c,
            date(2026, 11, 22),
        );
        assert!(soon.refusals.is_empty());
        assert_eq!(soon.expiring, ["redis-7"]);
        let early = check_images(
            [("c", "registry.akp.kz/platform/redis:7")],
            EnvironmentName::Production,
            &c,
            date(2026, 11, 1),
        );
        assert!(
            early.warnings.is_empty(),
            "more than 30 days ahead: {early:?}"
        );
        let late = check_images(
            [("c", "registry.akp.kz/platform/redis:7")],
            EnvironmentName::Production,
            &c,
            date(2026, 12, 16),
        );
        assert!(late.refusals[0].contains("R-SW-02"), "{late:?}");
    }

    #[test]
    fn r_sw_03_a_missing_dependency_is_refused() {
        let c: Vec<SoftwareCatalogItem> = catalog()
            .into_iter()
            .filter(|i| i.name_any() != "debian-12")
            .collect();
        let v = check_images(
            [("c", "registry.akp.kz/platform/postgresql:16")],
            EnvironmentName::Production,
            &c,
            date(2026, 11, 22),
        );
        assert!(
            v.refusals
                .iter()
                .any(|r| r.contains("depends on debian-12") && r.contains("R-SW-03")),
            "{v:?}"
        );
    }
}
