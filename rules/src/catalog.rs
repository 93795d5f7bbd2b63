//! Trusted software: whether an image may run in an environment (R-ENV-02, R-SW-01 to
//! R-SW-03). Images match catalog entries by exact repository, and by digest where the
//! entry pins one: `registry.akp.kz/platform/postgresql-evil` is not
//! `registry.akp.kz/platform/postgresql` (the prefix trick that registry patterns fall for).

use std::borrow::Borrow;

use akp_crds::{EnvironmentName, SoftwareCatalogItem};
use jiff::ToSpan;
use jiff::civil::Date;
use kube_core::ResourceExt;

/// Renewal is due this many days before the documents expire (R-SW-02, 004 p.9).
pub const RENEWAL_WARNING_DAYS: i32 = 30;

/// An image reference split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (lowercase) and path, e.g. `registry.akp.kz/platform/postgresql`;
    /// Docker Hub's short names spelt out, as in `docker.io/library/postgres`.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if any.
    pub digest: Option<String>,
}

/// Why a string is not an image reference a container runtime would pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRefError {
    /// Nothing before the tag or digest.
    Empty,
    /// The first component is not a host name with an optional port.
    Registry(String),
    /// The first component is a registry only because of its capitals (no dot, no
    /// port, not `localhost`): lowercased, as host names compare, it would read as a
    /// Docker Hub path, so the reference would name two different images.
    CapitalOnlyRegistry(String),
    /// A path component is not lowercase letters and digits with single separators.
    Path(String),
    /// The tag is not 1 to 128 word characters, dots and hyphens.
    Tag(String),
    /// The digest is not `<algorithm>:<at least 32 hex digits>`.
    Digest(String),
}

impl std::fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the repository is empty"),
            Self::Registry(h) => {
                write!(f, "registry {h:?} is not a host name with an optional port")
            }
            Self::CapitalOnlyRegistry(h) => write!(
                f,
                "registry {h:?} has no dot or port and is a registry only because of its capitals; lowercased it would be a Docker Hub path: write the registry's full name, such as registry.akp.kz"
            ),
            Self::Path(c) => write!(
                f,
                "path component {c:?} is not lowercase letters and digits separated by '.', '_', '__' or '-'"
            ),
            Self::Tag(t) => write!(
                f,
                "tag {t:?} is not 1 to 128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')"
            ),
            Self::Digest(d) => write!(
                f,
                "digest {d:?} is not <algorithm>:<hex, at least 32 digits>"
            ),
        }
    }
}

/// The one parser of image references (R-SW-01, R-BIL-01): admission and metering both
/// call it, so the software a pod is admitted as is the software that is billed. It
/// reads a reference as the container runtime does (the `distribution/reference`
/// grammar): the tag follows the last `:` of the last component (a registry port is not
/// one); a digest wins over a tag; a first component without a dot, a colon or an
/// uppercase letter that is not `localhost` is a Docker Hub path, so `postgres` is
/// `docker.io/library/postgres` and never a catalog repository by accident; a registry
/// host is a DNS name, compared in lowercase. What the runtime would refuse to pull is
/// an error, never a near match.
pub fn parse_image(image: &str) -> Result<ImageRef, ImageRefError> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(check_digest(d)?)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(check_tag(&name[last_slash + i + 1..])?),
        ),
        None => (name, None),
    };
    if name.is_empty() {
        return Err(ImageRefError::Empty);
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (check_registry(first)?, rest)
        }
        _ => ("docker.io".to_owned(), name),
    };
    let registry = if registry == "index.docker.io" {
        "docker.io".to_owned()
    } else {
        registry
    };
    for component in path.split('/') {
        check_path_component(component)?;
    }
    let repository = if registry == "docker.io" && !path.contains('/') {
        format!("docker.io/library/{path}")
    } else {
        format!("{registry}/{path}")
    };
    Ok(ImageRef {
        repository,
        tag,
        digest,
    })
}

fn check_digest(digest: &str) -> Result<String, ImageRefError> {
    let bad = || ImageRefError::Digest(digest.to_owned());
    let (algorithm, hex) = digest.split_once(':').ok_or_else(bad)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(digest.to_owned())
    } else {
        Err(bad())
    }
}

fn check_tag(tag: &str) -> Result<String, ImageRefError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = (1..=128).contains(&tag.len())
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(tag.to_owned())
    } else {
        Err(ImageRefError::Tag(tag.to_owned()))
    }
}

fn check_registry(registry: &str) -> Result<String, ImageRefError> {
    let (host, port) = match registry.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (registry, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if host.split('.').all(label_ok) && port_ok {
        let lower = registry.to_ascii_lowercase();
        if !lower.contains(['.', ':']) && lower != "localhost" {
            return Err(ImageRefError::CapitalOnlyRegistry(registry.to_owned()));
        }
        Ok(lower)
    } else {
        Err(ImageRefError::Registry(registry.to_owned()))
    }
}

/// `[a-z0-9]+` runs joined by exactly one of `.`, `_`, `__` or a run of `-`.
fn check_path_component(component: &str) -> Result<(), ImageRefError> {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut ok =
        bytes.first().is_some_and(|&b| alnum(b)) && bytes.last().is_some_and(|&b| alnum(b));
    let mut i = 0;
    while ok && i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
    }
    if ok {
        Ok(())
    } else {
        Err(ImageRefError::Path(component.to_owned()))
    }
}

/// Whether a catalog entry (`repository` or `repository@sha256:…`) covers an image: the
/// same repository, read by the same parser, and the pinned digest where there is one.
pub fn entry_matches(entry: &str, image: &ImageRef) -> bool {
    match parse_image(entry) {
        Ok(e) => {
            e.repository == image.repository && (e.digest.is_none() || e.digest == image.digest)
        }
        Err(_) => false,
    }
}

/// Where a catalog item stands in the register of trusted software on a day (R-SW-01,
/// R-SW-02): the one reading of `spec.trustedRegister` that pods, products and the
/// product's status share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// No register entry (software the register does not have, R-SW-01).
    Unregistered,
    /// Documents valid beyond the warning window.
    Trusted,
    /// Documents expire within [`RENEWAL_WARNING_DAYS`]: renewal is due.
    Expiring {
        /// The entry.
        entry: String,
        /// The last valid day.
        until: Date,
    },
    /// Documents expired: no new workload (R-SW-02, 004 p.9).
    Expired {
        /// The entry.
        entry: String,
        /// The last valid day.
        until: Date,
    },
    /// Removed from the register: no new workload, as after expiry (R-SW-02, 004 p.10).
    Removed {
        /// The entry.
        entry: String,
        /// The first day it is no longer trusted.
        on: Date,
        /// The decision it rests on.
        basis: String,
    },
}

impl Standing {
    /// Whether new workloads of the item are refused.
    pub fn refuses_new_use(&self) -> bool {
        matches!(self, Standing::Expired { .. } | Standing::Removed { .. })
    }

    /// Why new workloads are refused, for people; `None` when they are not.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Standing::Expired { entry, until } => Some(format!(
                "register entry {entry} has documents valid until {until}, expired"
            )),
            Standing::Removed { entry, on, basis } => Some(format!(
                "register entry {entry} was removed from the register on {on} ({basis})"
            )),
            _ => None,
        }
    }
}

/// R-SW-01, R-SW-02: where `item` stands in the register on `today`. A removal counts
/// from its day, before expiry.
pub fn standing(item: &SoftwareCatalogItem, today: Date) -> Standing {
    let Some(reg) = &item.spec.trusted_register else {
        return Standing::Unregistered;
    };
    let entry = reg.entry.clone();
    let until = reg.documents_valid_until;
    match &reg.removed {
        Some(r) if r.on <= today => Standing::Removed {
            entry,
            on: r.on,
            basis: r.basis.clone(),
        },
        _ if until < today => Standing::Expired { entry, until },
        _ if until
            <= today
                .checked_add(RENEWAL_WARNING_DAYS.days())
                .unwrap_or(today) =>
        {
            Standing::Expiring { entry, until }
        }
        _ => Standing::Trusted,
    }
}

/// R-SW-02, R-SW-03: why `item` may not be used anew on `today`, with what it depends
/// on (transitively, bounded): expired or removed, a dependency missing from the
/// catalog, or one without a register entry. Empty when it may.
pub fn untrusted<C: Borrow<SoftwareCatalogItem>>(
    item: &SoftwareCatalogItem,
    catalog: &[C],
    today: Date,
) -> Vec<String> {
    let mut problems = Vec::new();
    walk(item, catalog, today, 0, &mut |name, finding| {
        match finding {
        Finding::Standing(s) => {
            if let Some(why) = s.refusal() {
                problems.push(format!("{name}: {why} (R-SW-02)"));
            }
        }
        Finding::Missing(dep) => problems.push(format!(
            "{name}: depends on {dep}, which is not in the catalog (R-SW-03)"
        )),
        Finding::Unregistered(dep) => problems.push(format!(
            "{name}: depends on {dep}, which has no entry in the register of trusted software (R-SW-03)"
        )),
    }
    });
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert(p.clone()));
    problems
}

/// R-SW-01 to R-SW-03 for the catalog items a product requests (`names`): each
/// problem of [`untrusted`], and items gone from the catalog. Empty when all are
/// trusted.
pub fn untrusted_items<'a, C: Borrow<SoftwareCatalogItem>>(
    names: impl IntoIterator<Item = &'a str>,
    catalog: &[C],
    today: Date,
) -> Vec<String> {
    let mut problems = Vec::new();
    let names: std::collections::BTreeSet<&str> = names.into_iter().collect();
    for name in names {
        match find(catalog, name) {
            Some(item) => problems.extend(untrusted(item, catalog, today)),
            None => problems.push(format!("{name}: not in the catalog (R-SW-01)")),
        }
    }
    problems
}

/// The catalog item `name`.
fn find<'a, C: Borrow<SoftwareCatalogItem>>(
    catalog: &'a [C],
    name: &str,
) -> Option<&'a SoftwareCatalogItem> {
    catalog
        .iter()
        .map(Borrow::borrow)
        .find(|i| i.name_any() == name)
}

/// What the walk of an item and its dependencies finds, about the item named with it.
enum Finding<'a> {
    /// The item's own standing in the register.
    Standing(Standing),
    /// A dependency not in the catalog.
    Missing(&'a str),
    /// A dependency in the catalog without a register entry of its own (R-SW-03).
    Unregistered(&'a str),
}

/// R-SW-02 for `item`, and R-SW-03 for what it depends on, transitively (8 levels at
/// most): the one walk the pods' admission and the products' status share.
fn walk<'a, C: Borrow<SoftwareCatalogItem>>(
    item: &'a SoftwareCatalogItem,
    catalog: &'a [C],
    today: Date,
    depth: usize,
    found: &mut impl FnMut(&str, Finding<'a>),
) {
    let name = item.name_any();
    found(&name, Finding::Standing(standing(item, today)));
    if depth >= 8 {
        return;
    }
    for dep in &item.spec.depends_on {
        match find(catalog, dep) {
            None => found(&name, Finding::Missing(dep)),
            Some(d) => {
                if standing(d, today) == Standing::Unregistered {
                    found(&name, Finding::Unregistered(dep));
                }
                walk(d, catalog, today, depth + 1, found);
            }
        }
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
        let parsed = match parse_image(image) {
            Ok(parsed) => parsed,
            Err(e) => {
                v.refusals.push(format!(
                    "{field}: image {image:?} is not a reference the container runtime can pull: {e} (R-SW-01): write [registry[:port]/]path[:tag][@sha256:<digest>] with a lowercase path, as the catalog lists it (kubectl get swc)"
                ));
                continue;
            }
        };
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
        check_item(field, item, catalog, today, &mut v);
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

/// R-SW-02 for an item, and R-SW-03 for what it depends on ([`walk`]), as refusals
/// and warnings of the pod field `field`.
fn check_item(
    field: &str,
    item: &SoftwareCatalogItem,
    catalog: &[SoftwareCatalogItem],
    today: Date,
    v: &mut Verdict,
) {
    walk(item, catalog, today, 0, &mut |name, finding| {
        match finding {
        Finding::Standing(Standing::Expired { entry, until }) => v.refusals.push(format!(
            "{field}: catalog item {name} (register entry {entry}) has documents valid until {until}, expired (R-SW-02): the entry must be renewed before new workloads are admitted"
        )),
        Finding::Standing(Standing::Removed { entry, on, basis }) => v.refusals.push(format!(
            "{field}: catalog item {name} (register entry {entry}) was removed from the register of trusted software on {on} ({basis}) (R-SW-02): no new workload of it is admitted; use other catalog software (kubectl get swc)"
        )),
        Finding::Standing(Standing::Expiring { entry, until }) => {
            v.warnings.push(format!(
                "catalog item {name} (register entry {entry}) documents expire on {until}: renewal is due at least {RENEWAL_WARNING_DAYS} days before (R-SW-02)"
            ));
            v.expiring.push(name.to_owned());
        }
        Finding::Standing(Standing::Trusted | Standing::Unregistered) => {}
        Finding::Unregistered(dep) => v.refusals.push(format!(
            "{field}: catalog item {name} depends on {dep}, which has no entry in the register of trusted software (R-SW-03): software that is not standalone runs only with what it depends on in the register; ask the platform operator to record the entry (spec.trustedRegister of {dep})"
        )),
        Finding::Missing(dep) => v.refusals.push(format!(
            "{field}: catalog item {name} depends on {dep}, which is not in the catalog (R-SW-03): software that is not standalone runs only with its dependencies trusted"
        )),
    }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// One image `c` of a production pod, judged on `today`.
    fn production(c: &[SoftwareCatalogItem], image: &str, today: Date) -> Verdict {
        check_images([("c", image)], EnvironmentName::Production, c, today)
    }

    fn catalog() -> Vec<SoftwareCatalogItem> {
        crate::examples::load("catalog.yaml")
    }

    fn repository(image: &str) -> String {
        parse_image(image)
            .map(|r| r.repository)
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn parses_references_as_the_runtime_does() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = parse_image(&format!(
            "registry.akp.kz/platform/postgresql:16.4@{digest}"
        ));
        assert_eq!(
            r.as_ref()
                .map(|r| (r.repository.as_str(), r.tag.as_deref(), r.digest.as_deref())),
            Ok((
                "registry.akp.kz/platform/postgresql",
                Some("16.4"),
                Some(digest.as_str())
            ))
        );
        assert_eq!(repository("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(repository("localhost/app:1"), "localhost/app");
        assert_eq!(repository("postgres:16"), "docker.io/library/postgres");
        assert_eq!(
            repository("docker.io/postgres:16"),
            "docker.io/library/postgres"
        );
        assert_eq!(
            repository("bitnami/postgresql"),
            "docker.io/bitnami/postgresql"
        );
        assert_eq!(
            repository("registry.akp.kz:5000/x/y:1"),
            "registry.akp.kz:5000/x/y"
        );
        assert_eq!(repository("Registry.AKP.kz/x/y:1"), "registry.akp.kz/x/y");
        assert_eq!(repository("LOCALHOST/app"), "localhost/app");
        assert_eq!(
            repository("a__b/c-d--e/f.g_h:1"),
            "docker.io/a__b/c-d--e/f.g_h"
        );
    }

    #[test]
    fn refuses_what_the_runtime_cannot_pull() {
        for (image, error) in [
            ("", ImageRefError::Empty),
            (":1", ImageRefError::Empty),
            ("registry.akp.kz/a/B:1", ImageRefError::Path("B".into())),
            ("x/y:1:2", ImageRefError::Path("y:1".into())),
            ("x/y:", ImageRefError::Tag(String::new())),
            ("x/y:.1", ImageRefError::Tag(".1".into())),
            ("x/y@sha256:abc", ImageRefError::Digest("sha256:abc".into())),
            ("x/y@abc", ImageRefError::Digest("abc".into())),
            ("reg-.kz/y", ImageRefError::Registry("reg-.kz".into())),
            ("reg.kz:80a/y", ImageRefError::Registry("reg.kz:80a".into())),
            ("x//y", ImageRefError::Path(String::new())),
            ("x/y..z", ImageRefError::Path("y..z".into())),
            ("x/y___z", ImageRefError::Path("y___z".into())),
            ("x/-y", ImageRefError::Path("-y".into())),
            // Found by the image_ref fuzz target: lowercased, "Mirror" would be a
            // Docker Hub user, so the reference would name two images.
            (
                "Mirror/library/nginx",
                ImageRefError::CapitalOnlyRegistry("Mirror".into()),
            ),
        ] {
            assert_eq!(parse_image(image), Err(error), "{image:?}");
        }
    }

    #[test]
    fn r_sw_01_an_unpullable_reference_is_refused_naming_field_and_fix() {
        let v = check_images(
            [(
                "spec.containers[0].image",
                "registry.akp.kz/platform/PostgreSQL:16",
            )],
            EnvironmentName::Development,
            &catalog(),
            date(2026, 11, 22),
        );
        assert_eq!(v.refusals.len(), 1, "{v:?}");
        let r = &v.refusals[0];
        assert!(
            r.starts_with(
                "spec.containers[0].image: image \"registry.akp.kz/platform/PostgreSQL:16\""
            ) && r.contains("\"PostgreSQL\"")
                && r.contains("R-SW-01")
                && r.contains("lowercase path"),
            "{r}"
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
        let soon = production(&c, "registry.akp.kz/platform/redis:7", date(2026, 11, 22));
        assert!(soon.refusals.is_empty());
        assert_eq!(soon.expiring, ["redis-7"]);
        let early = production(&c, "registry.akp.kz/platform/redis:7", date(2026, 11, 1));
        assert!(
            early.warnings.is_empty(),
            "more than 30 days ahead: {early:?}"
        );
        let late = production(&c, "registry.akp.kz/platform/redis:7", date(2026, 12, 16));
        assert!(late.refusals[0].contains("R-SW-02"), "{late:?}");
    }

    #[test]
    fn r_sw_03_a_missing_dependency_is_refused() {
        let c: Vec<SoftwareCatalogItem> = catalog()
            .into_iter()
            .filter(|i| i.name_any() != "debian-12")
            .collect();
        let v = production(
            &c,
            "registry.akp.kz/platform/postgresql:16",
            date(2026, 11, 22),
        );
        assert!(
            v.refusals
                .iter()
                .any(|r| r.contains("depends on debian-12") && r.contains("R-SW-03")),
            "{v:?}"
        );
    }

    /// The examples' catalog with `edit` applied to item `name`.
    fn edited(name: &str, edit: impl Fn(&mut SoftwareCatalogItem)) -> Vec<SoftwareCatalogItem> {
        let mut c = catalog();
        c.iter_mut().filter(|i| i.name_any() == name).for_each(edit);
        c
    }

    fn removed_on(on: Date) -> impl Fn(&mut SoftwareCatalogItem) {
        move |i| {
            if let Some(r) = i.spec.trusted_register.as_mut() {
                r.removed = Some(akp_crds::catalog::RegisterRemoval {
                    on,
                    basis: "order 12".into(),
                });
            }
        }
    }

    #[test]
    fn r_sw_02_a_removal_counts_from_its_day_and_before_expiry() {
        let c = edited("postgresql-16", removed_on(date(2026, 11, 20)));
        let pg = c
            .iter()
            .find(|i| i.name_any() == "postgresql-16")
            .expect("postgresql-16");
        assert_eq!(standing(pg, date(2026, 11, 19)), Standing::Trusted);
        assert!(standing(pg, date(2026, 11, 20)).refuses_new_use());
        // Removed and expired: the removal is what is said.
        assert!(matches!(
            standing(pg, date(2028, 1, 1)),
            Standing::Removed { .. }
        ));
        let v = production(
            &c,
            "registry.akp.kz/platform/postgresql:16",
            date(2026, 11, 22),
        );
        assert_eq!(
            v.refusals,
            [
                "c: catalog item postgresql-16 (register entry RU-2025-0113) was removed from the register of trusted software on 2026-11-20 (order 12) (R-SW-02): no new workload of it is admitted; use other catalog software (kubectl get swc)"
            ]
        );
        // What depends on it is refused too, and the product shows both.
        assert_eq!(
            untrusted_items(["e-license-portal"], &c, date(2026, 11, 22)),
            [
                "postgresql-16: register entry RU-2025-0113 was removed from the register on 2026-11-20 (order 12) (R-SW-02)"
            ]
        );
    }

    #[test]
    fn r_sw_03_a_dependency_without_a_register_entry_is_refused() {
        let c = edited("debian-12", |i| i.spec.trusted_register = None);
        let v = production(
            &c,
            "registry.akp.kz/platform/postgresql:16",
            date(2026, 11, 22),
        );
        assert_eq!(v.refusals.len(), 1, "{v:?}");
        assert!(
            v.refusals[0].starts_with("c: catalog item postgresql-16 depends on debian-12, which has no entry in the register of trusted software (R-SW-03)"),
            "{v:?}"
        );
        // Software the register does not have may run standalone (R-SW-01).
        let alone = production(&c, "registry.akp.kz/platform/debian:12", date(2026, 11, 22));
        assert!(alone.refusals.is_empty(), "{alone:?}");
        // Transitively: the portal names postgresql-16 only.
        assert_eq!(
            untrusted_items(["e-license-portal", "gone"], &c, date(2026, 11, 22)),
            [
                "postgresql-16: depends on debian-12, which has no entry in the register of trusted software (R-SW-03)",
                "redis-7: depends on debian-12, which has no entry in the register of trusted software (R-SW-03)",
                "gone: not in the catalog (R-SW-01)",
            ]
        );
    }
}
