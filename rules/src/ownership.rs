//! R-LC-08: a namespace belongs to exactly one product or Agency. The operator records
//! the owner's UID on every namespace it makes (`akp.egov.kz/owner-uid`) and writes to
//! a namespace, or to anything in it, only for that owner. A name is unique only while
//! its object lives; a UID is never reused, so a product deleted and made again, or an
//! Agency `mon-e` spelling the namespace of agency `mon`'s product `e-license`, is not
//! taken for the owner. Pure: the I/O is in `crate::apply`.

use std::collections::BTreeMap;

use akp_crds::{Agency, PlatformSoftwareProduct};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::ResourceExt;

use super::naming::labels;

/// Whom a namespace is (to be) made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// An environment namespace of a product.
    Product {
        /// The product's UID.
        uid: String,
        /// The product's namespace (its agency's).
        namespace: String,
        /// The product's name.
        name: String,
        /// The name of the product's Agency.
        agency: String,
    },
    /// The namespace of an Agency.
    Agency {
        /// The Agency's UID.
        uid: String,
        /// The Agency's name.
        name: String,
    },
}

/// What the operator may do with a namespace for an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// No such namespace: the operator may create it for the owner.
    Free,
    /// The owner's UID is on it.
    Ours,
    /// Made for this owner before UIDs were recorded: its labels and annotation
    /// name exactly this owner (docs/decisions.md D-NS-1); the UID is added.
    Adopt,
    /// Someone else's, or nobody's the operator knows: nothing may be written.
    Taken(Holder),
}

/// Who holds a namespace, as far as the namespace itself says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder(pub String);

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn get<'a>(map: &'a Option<BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    map.as_ref()?.get(key).map(String::as_str)
}

impl Owner {
    /// The owner of an Agency's namespace (None before the API server gave it a UID).
    pub fn agency(a: &Agency) -> Option<Self> {
        Some(Owner::Agency {
            uid: a.metadata.uid.clone()?,
            name: a.name_any(),
        })
    }

    /// The owner of the environment namespaces of product `p` of Agency `agency`.
    pub fn product(p: &PlatformSoftwareProduct, agency: &str) -> Option<Self> {
        Some(Owner::Product {
            uid: p.metadata.uid.clone()?,
            namespace: p.namespace()?,
            name: p.name_any(),
            agency: agency.to_owned(),
        })
    }

    /// Its UID.
    pub fn uid(&self) -> &str {
        match self {
            Owner::Product { uid, .. } | Owner::Agency { uid, .. } => uid,
        }
    }

    /// How messages name it.
    pub fn describe(&self) -> String {
        match self {
            Owner::Product {
                namespace, name, ..
            } => format!("product {namespace}/{name}"),
            Owner::Agency { name, .. } => format!("Agency {name}"),
        }
    }

    /// Whether a namespace without a UID was made by the operator for exactly this
    /// owner, before UIDs were recorded (D-NS-1).
    fn made_before_uids(&self, meta: &ObjectMeta) -> bool {
        let l = &meta.labels;
        let managed = get(l, labels::MANAGED_BY) == Some(labels::OPERATOR);
        match self {
            Owner::Product {
                namespace,
                name,
                agency,
                ..
            } => {
                managed
                    && get(&meta.annotations, labels::OWNER_ANNOTATION)
                        == Some(format!("{namespace}/{name}").as_str())
                    && get(l, labels::PRODUCT) == Some(name)
                    && get(l, labels::PRODUCT_NAMESPACE) == Some(namespace)
                    && get(l, labels::AGENCY) == Some(agency)
                    && get(l, labels::ENVIRONMENT).is_some()
            }
            Owner::Agency { name, .. } => {
                managed
                    && get(l, labels::AGENCY) == Some(name)
                    && get(l, labels::ENVIRONMENT).is_none()
                    && get(l, labels::PRODUCT).is_none()
                    && get(&meta.annotations, labels::OWNER_ANNOTATION).is_none()
            }
        }
    }

    /// `desired` with this owner's UID recorded on it.
    pub fn stamp(&self, desired: &Namespace) -> Namespace {
        let mut ns = desired.clone();
        ns.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(labels::OWNER_UID.to_owned(), self.uid().to_owned());
        ns
    }

    /// The smallest namespace that claims `name` for this owner: created first (a
    /// create fails when the name exists, where an apply would take it over), and
    /// labelled managed so that the operator's cache sees it.
    pub fn claim_object(&self, name: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(BTreeMap::from([(
                    labels::MANAGED_BY.to_owned(),
                    labels::OPERATOR.to_owned(),
                )])),
                annotations: Some(BTreeMap::from([(
                    labels::OWNER_UID.to_owned(),
                    self.uid().to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }
}

/// Who holds the namespace of `meta`, read from its own labels and annotations.
pub fn holder(meta: &ObjectMeta) -> Holder {
    let l = &meta.labels;
    let uid = get(&meta.annotations, labels::OWNER_UID);
    let product = get(l, labels::PRODUCT).zip(get(l, labels::PRODUCT_NAMESPACE));
    let agency = get(l, labels::AGENCY).filter(|_| get(l, labels::ENVIRONMENT).is_none());
    let text = match (uid, product, agency) {
        (Some(uid), Some((name, ns)), _) => format!("product {ns}/{name} (uid {uid})"),
        (Some(uid), None, Some(agency)) => format!("Agency {agency} (uid {uid})"),
        (Some(uid), None, None) => format!("the object of uid {uid}"),
        (None, _, _) => match (get(&meta.annotations, labels::OWNER_ANNOTATION), agency) {
            (Some(owner), _) => format!("product {owner} (made before owner UIDs)"),
            (None, Some(agency)) => format!("Agency {agency} (made before owner UIDs)"),
            (None, None) => "no product or Agency (it was made outside the operator)".to_owned(),
        },
    };
    Holder(text)
}

/// What the operator may do with the namespace `live` (None: absent) for `owner`.
pub fn claim(live: Option<&ObjectMeta>, owner: &Owner) -> Claim {
    let Some(meta) = live else {
        return Claim::Free;
    };
    match get(&meta.annotations, labels::OWNER_UID) {
        Some(uid) if uid == owner.uid() => Claim::Ours,
        Some(_) => Claim::Taken(holder(meta)),
        None if owner.made_before_uids(meta) => Claim::Adopt,
        None => Claim::Taken(holder(meta)),
    }
}

/// Whether `owner` holds the namespace of `meta` (its UID is on it, or it may adopt
/// it): the only namespaces the operator writes into or deletes for `owner`.
pub fn holds(meta: &ObjectMeta, owner: &Owner) -> bool {
    matches!(claim(Some(meta), owner), Claim::Ours | Claim::Adopt)
}

/// The refusal when namespaces are held by another: names each namespace and its
/// holder (`(namespace, where, holder)`, where is e.g. " at site x" or empty), the
/// rule and the fix. Short enough for an event's note (1 kB) with four environments.
pub fn taken_message<'a>(
    taken: impl IntoIterator<Item = (&'a str, &'a str, &'a Holder)>,
    owner: &Owner,
) -> String {
    let held: Vec<String> = taken
        .into_iter()
        .map(|(ns, at, holder)| format!("namespace {ns}{at} is held by {holder}"))
        .collect();
    let fix = match owner {
        Owner::Product { .. } => {
            "choose another product name (its environments get other namespaces), or, if a namespace is abandoned, ask an SRE to delete it"
        }
        Owner::Agency { .. } => {
            "create a new Agency with another spec.namespace (it is immutable), or, if the namespace is abandoned, ask an SRE to delete it"
        }
    };
    format!(
        "{}; the operator writes only to namespaces it made for {} (R-LC-08: a namespace belongs to one product or Agency) and wrote nothing there: {fix}",
        held.join("; "),
        owner.describe()
    )
}

/// R-LC-08: the Agency whose `spec.namespace` is `namespace`. Should two claim it
/// (two creates racing past the Agency hook, the operator's Agency webhook), the first by name
/// decides, so answers are stable.
pub fn owning_agency<'a>(namespace: &str, agencies: &'a [Agency]) -> Option<&'a Agency> {
    agencies
        .iter()
        .filter(|a| a.spec.namespace == namespace)
        .min_by_key(|a| a.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
        let map = |kv: &[(&str, &str)]| {
            Some(
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        ObjectMeta {
            name: Some("mon-e-license-development".into()),
            labels: map(labels),
            annotations: map(annotations),
            ..ObjectMeta::default()
        }
    }

    fn e_license() -> Owner {
        Owner::Product {
            uid: "uid-e-license".into(),
            namespace: "agency-mon".into(),
            name: "e-license".into(),
            agency: "mon".into(),
        }
    }

    fn license_of_mon_e() -> Owner {
        Owner::Product {
            uid: "uid-license".into(),
            namespace: "agency-mon-e".into(),
            name: "license".into(),
            agency: "mon-e".into(),
        }
    }

    /// The labels and annotation the operator wrote before UIDs.
    fn legacy_e_license() -> ObjectMeta {
        meta(
            &[
                (labels::AGENCY, "mon"),
                (labels::PRODUCT, "e-license"),
                (labels::PRODUCT_NAMESPACE, "agency-mon"),
                (labels::ENVIRONMENT, "development"),
                (labels::MANAGED_BY, labels::OPERATOR),
            ],
            &[(labels::OWNER_ANNOTATION, "agency-mon/e-license")],
        )
    }

    #[test]
    fn r_lc_08_the_uid_decides_not_the_name() {
        assert_eq!(claim(None, &e_license()), Claim::Free);
        let ours = e_license().stamp(&Namespace {
            metadata: legacy_e_license(),
            ..Namespace::default()
        });
        assert_eq!(claim(Some(&ours.metadata), &e_license()), Claim::Ours);
        let Claim::Taken(holder) = claim(Some(&ours.metadata), &license_of_mon_e()) else {
            panic!("taken")
        };
        assert_eq!(holder.0, "product agency-mon/e-license (uid uid-e-license)");
        // The same product made again has a new UID: not the owner either.
        let again = Owner::Product {
            uid: "uid-new".into(),
            namespace: "agency-mon".into(),
            name: "e-license".into(),
            agency: "mon".into(),
        };
        assert!(matches!(
            claim(Some(&ours.metadata), &again),
            Claim::Taken(_)
        ));
    }

    #[test]
    fn r_lc_08_namespaces_made_before_uids_are_adopted_only_by_their_exact_owner() {
        let legacy = legacy_e_license();
        assert_eq!(claim(Some(&legacy), &e_license()), Claim::Adopt);
        let Claim::Taken(holder) = claim(Some(&legacy), &license_of_mon_e()) else {
            panic!("taken")
        };
        assert_eq!(
            holder.0,
            "product agency-mon/e-license (made before owner UIDs)"
        );
        // One label off (here the agency) is not an exact match.
        let mut relabelled = legacy.clone();
        if let Some(l) = relabelled.labels.as_mut() {
            l.insert(labels::AGENCY.into(), "mon-e".into());
        }
        assert!(matches!(
            claim(Some(&relabelled), &e_license()),
            Claim::Taken(_)
        ));
        // An environment namespace is never an agency's namespace.
        let mon = Owner::Agency {
            uid: "uid-mon".into(),
            name: "mon".into(),
        };
        assert!(matches!(claim(Some(&legacy), &mon), Claim::Taken(_)));
        let agency_ns = meta(
            &[
                (labels::AGENCY, "mon"),
                (labels::MANAGED_BY, labels::OPERATOR),
            ],
            &[],
        );
        assert_eq!(claim(Some(&agency_ns), &mon), Claim::Adopt);
    }

    #[test]
    fn r_lc_08_a_namespace_made_by_hand_is_nobodys() {
        let by_hand = meta(&[], &[]);
        let Claim::Taken(holder) = claim(Some(&by_hand), &e_license()) else {
            panic!("taken")
        };
        assert_eq!(
            taken_message([("mon-e-license-development", "", &holder)], &e_license()),
            "namespace mon-e-license-development is held by no product or Agency (it was made outside the operator); the operator writes only to namespaces it made for product agency-mon/e-license (R-LC-08: a namespace belongs to one product or Agency) and wrote nothing there: choose another product name (its environments get other namespaces), or, if a namespace is abandoned, ask an SRE to delete it"
        );
    }
}
