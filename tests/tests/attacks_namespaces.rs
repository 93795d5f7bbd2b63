//! Attack 4 of issue 14 and its variants (R-LC-08, docs/decisions.md D-NS-1): a
//! namespace belongs to exactly one product or Agency. Against a real control plane
//! with the operator running in-process; every attack is made by the real subject
//! with a real client certificate: the SRE (the chart's SRE role, from `helm
//! template`) creates Agencies, an agency's digitalization head creates products.
//!
//! Each test asserts the refusal (the CRD's message, or the Degraded condition and
//! the Warning event naming the namespace, its holder and the fix) and that nothing
//! changed in the victim's namespace: its labels, annotations, UID and
//! resourceVersion, its RoleBindings, LimitRanges and NetworkPolicies, and no write of
//! the operator there in the API server's audit log.
//!
//! New Agencies with a hyphen in their name are refused by the CRD, so an Agency that
//! exists from before that rule is made honestly: the Agency CRD is put back as it was
//! before the rule (an upgrade seen backwards), the SRE creates the Agency, and the
//! current CRD is installed again, as an upgrade would leave it.
//!
//! Each test has its own control plane: an operator acts on the whole cluster.

use std::collections::BTreeMap;

use std::time::Duration;

use akp_crds::{Agency, PlatformSoftwareProduct};
use akp_test_support::apply;
use akp_test_support::fixtures::{self, product};
use akp_test_support::operator::{Cluster, OPERATOR_USER, Operator, cluster, eventually};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{Event, LimitRange, Namespace};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const TESTER: &str = "akp-attack-tests";
const SRE: &str = "sre@akp.kz";
const SRE_GROUP: &str = "akp:sre";

/// The fix every product refusal ends with.
const PRODUCT_FIX: &str = "choose another product name (its environments get other namespaces), or, if a namespace is abandoned, ask an SRE to delete it";
const AGENCY_FIX: &str = "create a new Agency with another spec.namespace (it is immutable), or, if the namespace is abandoned, ask an SRE to delete it";

/// A cluster with the chart's SRE role and an operator.
struct World {
    c: Cluster,
    admin: Client,
    sre: Client,
    _operator: Operator,
}

/// The chart's SRE ClusterRole and its binding, from `helm template`.
fn chart_sre_rbac() -> Result<(ClusterRole, ClusterRoleBinding)> {
    let docs = akp_test_support::chart_documents("akp", "akp-system")?;
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == "akp-sre")
            .cloned()
            .with_context(|| format!("the chart renders the {kind} akp-sre"))
    };
    Ok((
        serde_json::from_value(find("ClusterRole")?)?,
        serde_json::from_value(find("ClusterRoleBinding")?)?,
    ))
}

async fn world() -> Result<World> {
    let c = cluster()?;
    let admin = c.cp.admin_client().await?;
    let (role, binding) = chart_sre_rbac()?;
    let pp = PatchParams::apply(TESTER).force();
    Api::<ClusterRole>::all(admin.clone())
        .patch("akp-sre", &pp, &Patch::Apply(&role))
        .await?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch(&binding.name_any(), &pp, &Patch::Apply(&binding))
        .await?;
    let operator = c.operator_now().await?;
    let sre = c.cp.client_for(SRE, &[SRE_GROUP]).await?;
    Ok(World {
        c,
        admin,
        sre,
        _operator: operator,
    })
}

fn agency_doc(name: &str, namespace: &str) -> Value {
    fixtures::agency(name, namespace, &head_user(name))
}

fn head_user(agency: &str) -> String {
    format!("head@{agency}.gov.kz")
}

impl World {
    /// The digitalization head of `agency`, with a client certificate.
    async fn head(&self, agency: &str) -> Result<Client> {
        self.c
            .cp
            .client_for(&head_user(agency), &[&format!("agency-{agency}")])
            .await
    }

    /// The SRE creates Agency `name` owning `namespace`.
    async fn create_agency(&self, name: &str, namespace: &str) -> Result<()> {
        apply(&self.sre, &agency_doc(name, namespace), None, TESTER)
            .await
            .with_context(|| format!("the SRE creates Agency {name}"))?;
        Ok(())
    }

    /// Agencies that exist from before the naming rules: created by the SRE while the
    /// Agency CRD is as it was before them, then the current CRD is installed again.
    async fn create_agencies_from_before(&self, agencies: &[(&str, &str)]) -> Result<()> {
        let crds = Api::<CustomResourceDefinition>::all(self.admin.clone());
        let current = akp_crds::all()
            .into_iter()
            .find(|(file, _)| *file == "agencies.yaml")
            .map(|(_, crd)| crd)
            .context("the Agency CRD")?;
        let mut before = serde_json::to_value(&current)?;
        let schema = &mut before["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let root = schema
            .as_object_mut()
            .context("schema")?
            .remove("x-kubernetes-validations");
        ensure!(root.is_some(), "the current CRD has the root naming rule");
        let rules =
            schema["properties"]["spec"]["properties"]["namespace"]["x-kubernetes-validations"]
                .as_array_mut()
                .context("namespace rules")?;
        let n = rules.len();
        rules.retain(|r| {
            !r["rule"]
                .as_str()
                .unwrap_or_default()
                .contains("development")
        });
        ensure!(
            rules.len() + 1 == n,
            "the current CRD has the namespace rule"
        );
        let install = |crd: Value| {
            let crds = crds.clone();
            async move {
                crds.patch(
                    "agencies.akp.egov.kz",
                    &PatchParams::apply(TESTER).force(),
                    &Patch::Apply(&crd),
                )
                .await
            }
        };
        install(before).await?;
        let probe = agency_doc("probe-before", "agency-probe-development");
        let dry = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let agencies_api = Api::<Agency>::all(self.sre.clone());
        let probe_agency: Agency = serde_json::from_value(probe)?;
        eventually("the old Agency CRD served", Duration::from_secs(30), || {
            let (api, probe, dry) = (agencies_api.clone(), probe_agency.clone(), dry.clone());
            async move { Ok(api.create(&dry, &probe).await.ok().map(|_| ())) }
        })
        .await?;
        for (name, namespace) in agencies {
            self.create_agency(name, namespace).await?;
        }
        install(serde_json::to_value(&current)?).await?;
        eventually(
            "the current Agency CRD served",
            Duration::from_secs(30),
            || {
                let (api, probe, dry) = (agencies_api.clone(), probe_agency.clone(), dry.clone());
                async move { Ok(api.create(&dry, &probe).await.err().map(|_| ())) }
            },
        )
        .await?;
        Ok(())
    }

    async fn agency(&self, name: &str) -> Result<Agency> {
        Ok(Api::<Agency>::all(self.admin.clone()).get(name).await?)
    }

    /// Waits until Agency `name` has condition `type_` at `status` with `reason`.
    async fn agency_condition(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
    ) -> Result<Condition> {
        eventually(
            &format!("Agency {name} {type_}={status} ({reason})"),
            Duration::from_secs(60),
            || async {
                let a = self.agency(name).await?;
                Ok(find(
                    &a.status.unwrap_or_default().conditions,
                    type_,
                    status,
                    reason,
                ))
            },
        )
        .await
    }

    /// Agency mon and its product e-license at development, both Ready: what the
    /// attacks aim at.
    async fn mon_and_e_license(&self) -> Result<()> {
        self.create_agency("mon", "agency-mon").await?;
        self.agency_condition("mon", "Ready", "True", "Provisioned")
            .await?;
        self.create_product("mon", "agency-mon", "e-license")
            .await?;
        self.product_condition("agency-mon", "e-license", "Ready", "True", "Provisioned")
            .await?;
        Ok(())
    }

    /// The head of `agency` creates product `name` at development in `namespace`.
    async fn create_product(&self, agency: &str, namespace: &str, name: &str) -> Result<()> {
        let mut doc = product(name, "development", &[]);
        doc["metadata"]["namespace"] = namespace.into();
        apply(&self.head(agency).await?, &doc, None, TESTER)
            .await
            .with_context(|| format!("the head of {agency} creates product {name}"))?;
        Ok(())
    }

    async fn product(&self, namespace: &str, name: &str) -> Result<PlatformSoftwareProduct> {
        Ok(
            Api::<PlatformSoftwareProduct>::namespaced(self.admin.clone(), namespace)
                .get(name)
                .await?,
        )
    }

    /// Waits until product `namespace/name` has condition `type_` at `status` with
    /// `reason`.
    async fn product_condition(
        &self,
        namespace: &str,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
    ) -> Result<Condition> {
        eventually(
            &format!("product {namespace}/{name} {type_}={status} ({reason})"),
            Duration::from_secs(60),
            || async {
                let p = self.product(namespace, name).await?;
                Ok(find(
                    &p.status.unwrap_or_default().conditions,
                    type_,
                    status,
                    reason,
                ))
            },
        )
        .await
    }

    /// Waits for a Warning event `NamespaceTaken` on object `name` of `kind` whose
    /// message is `message`.
    async fn taken_event(&self, kind: &str, name: &str, message: &str) -> Result<()> {
        let events = Api::<Event>::all(self.admin.clone());
        eventually(
            &format!("a Warning NamespaceTaken on {kind} {name}"),
            Duration::from_secs(30),
            || async {
                let list = events.list(&ListParams::default()).await?;
                Ok(list
                    .items
                    .iter()
                    .any(|e| {
                        e.reason.as_deref() == Some("NamespaceTaken")
                            && e.type_.as_deref() == Some("Warning")
                            && e.involved_object.kind.as_deref() == Some(kind)
                            && e.involved_object.name.as_deref() == Some(name)
                            && e.message.as_deref() == Some(message)
                    })
                    .then_some(()))
            },
        )
        .await
    }

    /// What can be seen of a namespace and the operator's objects in it.
    async fn snapshot(&self, namespace: &str) -> Result<Snapshot> {
        let ns = Api::<Namespace>::all(self.admin.clone())
            .get(namespace)
            .await?;
        let bindings = Api::<RoleBinding>::namespaced(self.admin.clone(), namespace)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|b| {
                Ok((
                    b.name_any(),
                    b.resource_version().unwrap_or_default(),
                    serde_json::to_value(&b.subjects)?,
                    b.role_ref.name.clone(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let versions = |items: Vec<(String, Option<String>)>| {
            items
                .into_iter()
                .map(|(n, v)| (n, v.unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let limits = Api::<LimitRange>::namespaced(self.admin.clone(), namespace)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|o| (o.name_any(), o.resource_version()))
            .collect();
        let policies = Api::<NetworkPolicy>::namespaced(self.admin.clone(), namespace)
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|o| (o.name_any(), o.resource_version()))
            .collect();
        Ok(Snapshot {
            uid: ns.metadata.uid.clone().unwrap_or_default(),
            resource_version: ns.resource_version().unwrap_or_default(),
            labels: ns.labels().clone(),
            annotations: ns.annotations().clone(),
            bindings,
            limits: versions(limits),
            policies: versions(policies),
        })
    }

    /// The operator's writes (audit log) to namespace `namespace` or in it, but for
    /// product records (in an agency's namespace it writes their status and
    /// finalizer, which is not the namespace's content).
    fn operator_writes_in(&self, namespace: &str) -> Result<Vec<String>> {
        Ok(self
            .c
            .writes_by(OPERATOR_USER)?
            .into_iter()
            .filter(|w| {
                let mut parts = w.split(' ');
                let (resource, place) = (parts.nth(1), parts.next());
                let (ns, name) = place.and_then(|p| p.split_once('/')).unwrap_or_default();
                resource != Some("platformsoftwareproducts")
                    && (ns == namespace || (resource == Some("namespaces") && name == namespace))
            })
            .collect())
    }

    /// Whether a namespace exists.
    async fn exists(&self, namespace: &str) -> Result<bool> {
        Ok(Api::<Namespace>::all(self.admin.clone())
            .get_opt(namespace)
            .await?
            .is_some())
    }
}

fn find(conditions: &[Condition], type_: &str, status: &str, reason: &str) -> Option<Condition> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status && c.reason == reason)
        .cloned()
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    uid: String,
    resource_version: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    bindings: Vec<(String, String, Value, String)>,
    limits: Vec<(String, String)>,
    policies: Vec<(String, String)>,
}

/// The refusal of `owner` (e.g. "product agency-mon-e/license") for the namespaces
/// `held`, each `(namespace, holder)`.
fn taken(held: &[(&str, &str)], owner: &str, fix: &str) -> String {
    let held: Vec<String> = held
        .iter()
        .map(|(ns, holder)| format!("namespace {ns} is held by {holder}"))
        .collect();
    format!(
        "{}; the operator writes only to namespaces it made for {owner} (R-LC-08: a namespace belongs to one product or Agency) and wrote nothing there: {fix}",
        held.join("; ")
    )
}

/// The environment namespaces of a product at development: development and testing.
const VICTIMS: [&str; 2] = ["mon-e-license-development", "mon-e-license-testing"];

impl World {
    /// Snapshots of [`VICTIMS`] and the operator's writes there.
    async fn victims(&self) -> Result<(Vec<Snapshot>, Vec<String>)> {
        let mut snapshots = Vec::new();
        let mut writes = Vec::new();
        for ns in VICTIMS {
            snapshots.push(self.snapshot(ns).await?);
            writes.extend(self.operator_writes_in(ns)?);
        }
        Ok((snapshots, writes))
    }
}

/// The refusal that product `claimant` (`namespace/name`) gets for both [`VICTIMS`],
/// which `holder` holds.
fn victims_taken(holder: &PlatformSoftwareProduct, claimant: &str) -> String {
    let m = &holder.metadata;
    let holder = format!(
        "product {}/{} (uid {})",
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    );
    taken(
        &[(VICTIMS[0], &holder), (VICTIMS[1], &holder)],
        &format!("product {claimant}"),
        PRODUCT_FIX,
    )
}

/// Asserts the product is Degraded and not Ready for `message`, with the event.
async fn assert_product_refused(w: &World, ns: &str, name: &str, message: &str) -> Result<()> {
    let degraded = w
        .product_condition(ns, name, "Degraded", "True", "NamespaceTaken")
        .await?;
    assert_eq!(degraded.message, message);
    let ready = w
        .product_condition(ns, name, "Ready", "False", "NamespaceTaken")
        .await?;
    assert_eq!(ready.message, message);
    w.taken_event("PlatformSoftwareProduct", name, message)
        .await
}

/// Asserts a refusal of the API server (422) whose message contains `expected`, and
/// that no Agency `name` was stored.
async fn assert_agency_refused(
    w: &World,
    name: &str,
    namespace: &str,
    expected: &str,
) -> Result<()> {
    match apply(&w.sre, &agency_doc(name, namespace), None, TESTER).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(s.message.contains(expected), "{}", s.message);
        }
        other => bail!("Agency {name} was not refused: {other:?}"),
    }
    ensure!(
        Api::<Agency>::all(w.admin.clone())
            .get_opt(name)
            .await?
            .is_none(),
        "Agency {name} was stored"
    );
    Ok(())
}

/// R-LC-08, attack 4 of issue 14 in the order of the issue: agency mon's product
/// e-license has `mon-e-license-development`; the SRE's new Agency `mon-e` is refused
/// by the CRD (a hyphen would spell mon's namespaces). An Agency `mon-e` from before
/// that rule: its head creates product `license`, whose development namespace is the
/// same name; the operator writes nothing there, `license` is Degraded with a Warning
/// naming the namespace, its holder (e-license's UID) and the fix; deleting `license`
/// deletes nothing of e-license's.
#[tokio::test]
async fn r_lc_08_attack_4_agency_mon_e_cannot_take_the_namespace_of_mon_e_license() -> Result<()> {
    let w = world().await?;
    w.mon_and_e_license().await?;
    let e_license = w.product("agency-mon", "e-license").await?;
    let before = w.victims().await?;
    for snapshot in &before.0 {
        assert_eq!(
            snapshot.annotations.get("akp.egov.kz/owner-uid"),
            e_license.metadata.uid.as_ref(),
            "the operator records the owner's UID"
        );
    }

    assert_agency_refused(
        &w,
        "mon-e",
        "agency-mon-e",
        "metadata.name \"mon-e\" may hold only lowercase letters and digits (R-LC-08): it begins the names of its environment namespaces <agency>-<product>-<environment>, and a hyphen or a dot would let two agencies spell the same namespace (agency \"mon\" with product \"e-license\" and agency \"mon-e\" with product \"license\" both give mon-e-license-development); choose a name such as \"mone\"",
    )
    .await?;

    w.create_agencies_from_before(&[("mon-e", "agency-mon-e")])
        .await?;
    w.agency_condition("mon-e", "Ready", "True", "Provisioned")
        .await?;
    w.create_product("mon-e", "agency-mon-e", "license").await?;
    let message = victims_taken(&e_license, "agency-mon-e/license");
    assert_product_refused(&w, "agency-mon-e", "license", &message).await?;
    assert_eq!(w.victims().await?, before, "the victim namespaces changed");
    // The victim is untouched and still Ready.
    w.product_condition("agency-mon", "e-license", "Ready", "True", "Provisioned")
        .await?;

    // Retiring: the SRE deletes `license`; its cleanup deletes only what it holds.
    Api::<PlatformSoftwareProduct>::namespaced(w.sre.clone(), "agency-mon-e")
        .delete("license", &DeleteParams::default())
        .await?;
    eventually("license deleted", Duration::from_secs(60), || async {
        let gone = Api::<PlatformSoftwareProduct>::namespaced(w.admin.clone(), "agency-mon-e")
            .get_opt("license")
            .await?
            .is_none();
        Ok(gone.then_some(()))
    })
    .await?;
    assert_eq!(w.victims().await?, before, "the victim namespaces changed");
    Ok(())
}

/// R-LC-08, attack 4 the other way round: an Agency `mon-e` from before the naming
/// rule has product `license` in `mon-e-license-development`; then agency mon's head
/// creates `e-license`, which spells the same namespace: e-license is Degraded, and
/// license's namespace is untouched.
#[tokio::test]
async fn r_lc_08_attack_4_reversed_mon_e_license_cannot_take_the_namespace_of_mon_e_s_license()
-> Result<()> {
    let w = world().await?;
    w.create_agencies_from_before(&[("mon-e", "agency-mon-e")])
        .await?;
    w.create_agency("mon", "agency-mon").await?;
    w.agency_condition("mon-e", "Ready", "True", "Provisioned")
        .await?;
    w.agency_condition("mon", "Ready", "True", "Provisioned")
        .await?;
    w.create_product("mon-e", "agency-mon-e", "license").await?;
    w.product_condition("agency-mon-e", "license", "Ready", "True", "Provisioned")
        .await?;
    let license = w.product("agency-mon-e", "license").await?;
    let before = w.victims().await?;
    assert_eq!(before.0[0].labels["akp.egov.kz/agency"], "mon-e");

    w.create_product("mon", "agency-mon", "e-license").await?;
    let message = victims_taken(&license, "agency-mon/e-license");
    assert_product_refused(&w, "agency-mon", "e-license", &message).await?;
    assert_eq!(w.victims().await?, before, "the victim namespaces changed");
    Ok(())
}

/// R-LC-08: an Agency may not claim a namespace that is not its own. The SRE's new
/// Agency whose spec.namespace is an environment namespace is refused by the CRD; one
/// from before that rule (`squatter`, naming e-license's development namespace) and a
/// new one naming agency mon's namespace (`evil`; the webhook that refuses a taken
/// agency namespace is not registered here, as when it was down or the Agency older)
/// are Degraded, with nothing written in either namespace; the products of agency-mon
/// stay mon's.
#[tokio::test]
async fn r_lc_08_an_agency_cannot_claim_a_product_s_or_another_agency_s_namespace() -> Result<()> {
    let w = world().await?;
    w.mon_and_e_license().await?;
    let victim = VICTIMS[0];
    let e_license = w.product("agency-mon", "e-license").await?;
    let mon = w.agency("mon").await?;
    let victims_before = w.victims().await?;
    let agency_before = w.snapshot("agency-mon").await?;
    let agency_writes = w.operator_writes_in("agency-mon")?;

    assert_agency_refused(
        &w,
        "squatter",
        victim,
        "spec.namespace \"mon-e-license-development\" ends like an environment namespace <agency>-<product>-<environment> (R-LC-08): it could be the namespace of an environment of a product; choose a namespace that does not end in -development, -testing, -trial or -production, such as \"agency-mon\"",
    )
    .await?;
    w.create_agencies_from_before(&[("squatter", victim)])
        .await?;
    let e_uid = e_license.metadata.uid.clone().unwrap_or_default();
    let message = taken(
        &[(
            victim,
            &format!("product agency-mon/e-license (uid {e_uid})"),
        )],
        "Agency squatter",
        AGENCY_FIX,
    );
    let degraded = w
        .agency_condition("squatter", "Degraded", "True", "NamespaceTaken")
        .await?;
    assert_eq!(degraded.message, message);
    w.agency_condition("squatter", "Ready", "False", "NamespaceTaken")
        .await?;
    w.taken_event("Agency", "squatter", &message).await?;

    w.create_agency("evil", "agency-mon").await?;
    let mon_uid = mon.metadata.uid.clone().unwrap_or_default();
    let message = taken(
        &[("agency-mon", &format!("Agency mon (uid {mon_uid})"))],
        "Agency evil",
        AGENCY_FIX,
    );
    let degraded = w
        .agency_condition("evil", "Degraded", "True", "NamespaceTaken")
        .await?;
    assert_eq!(degraded.message, message);
    w.taken_event("Agency", "evil", &message).await?;
    ensure!(
        w.agency("evil")
            .await?
            .status
            .unwrap_or_default()
            .namespace
            .is_none(),
        "evil's status names a namespace it does not hold"
    );

    // e-license is reconciled again (its head changes it): it stays mon's.
    let head = w.head("mon").await?;
    Api::<PlatformSoftwareProduct>::namespaced(head, "agency-mon")
        .patch(
            "e-license",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"displayName": "Renamed"}})),
        )
        .await?;
    let generation = w
        .product("agency-mon", "e-license")
        .await?
        .metadata
        .generation;
    eventually(
        "e-license observed again",
        Duration::from_secs(60),
        || async {
            let p = w.product("agency-mon", "e-license").await?;
            let s = p.status.unwrap_or_default();
            Ok((s.observed_generation == generation
                && s.agency.as_deref() == Some("mon")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True"))
            .then_some(()))
        },
    )
    .await?;
    ensure!(
        !w.exists("evil-e-license-development").await?,
        "the operator made e-license a product of evil"
    );
    ensure!(!w.exists("squatter-e-license-development").await?);

    assert_eq!(w.victims().await?, victims_before);
    assert_eq!(w.snapshot("agency-mon").await?, agency_before);
    assert_eq!(w.operator_writes_in("agency-mon")?, agency_writes);
    Ok(())
}

/// R-LC-08, D-NS-1: namespaces that exist without the operator's UID. One made by
/// hand (a cluster admin's `kubectl create namespace mon-foo-development`) is not
/// taken by product foo. The ones the operator made for e-license before owner UIDs
/// are adopted by e-license only (they get its UID), never by `license` of an Agency
/// `mon-e` from before the naming rule; one made before UIDs whose annotation names
/// another product is not adopted.
#[tokio::test]
async fn r_lc_08_namespaces_without_an_owner_uid_are_adopted_only_by_their_exact_owner()
-> Result<()> {
    let w = world().await?;
    w.create_agency("mon", "agency-mon").await?;
    w.agency_condition("mon", "Ready", "True", "Provisioned")
        .await?;
    let namespaces = Api::<Namespace>::all(w.admin.clone());
    let by_hand = "mon-foo-development";
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": by_hand}}))?,
        )
        .await?;
    // As the operator labelled environment namespaces before owner UIDs.
    let legacy = |product: &str, env: &str, owner: &str| -> Result<Namespace> {
        Ok(serde_json::from_value(json!({"metadata": {
            "name": format!("mon-{product}-{env}"),
            "labels": {
                "akp.egov.kz/agency": "mon",
                "akp.egov.kz/product": product,
                "akp.egov.kz/product-namespace": "agency-mon",
                "akp.egov.kz/environment": env,
                "akp.egov.kz/contour": "internal",
                "akp.egov.kz/class": "2",
                "app.kubernetes.io/managed-by": "akp-operator"
            },
            "annotations": {"akp.egov.kz/owner": owner}
        }}))?)
    };
    for env in ["development", "testing"] {
        namespaces
            .create(
                &PostParams::default(),
                &legacy("e-license", env, "agency-mon/e-license")?,
            )
            .await?;
    }
    // Its labels say bar, its annotation another product: not an exact match.
    namespaces
        .create(
            &PostParams::default(),
            &legacy("bar", "development", "agency-mon/other")?,
        )
        .await?;
    let by_hand_before = w.snapshot(by_hand).await?;
    let bar_before = w.snapshot("mon-bar-development").await?;

    // The hyphenated Agency from before: e-license's namespaces are not its product's.
    w.create_agencies_from_before(&[("mon-e", "agency-mon-e")])
        .await?;
    w.agency_condition("mon-e", "Ready", "True", "Provisioned")
        .await?;
    let legacy_before = w.victims().await?;
    w.create_product("mon-e", "agency-mon-e", "license").await?;
    let holder = "product agency-mon/e-license (made before owner UIDs)";
    let message = taken(
        &[(VICTIMS[0], holder), (VICTIMS[1], holder)],
        "product agency-mon-e/license",
        PRODUCT_FIX,
    );
    assert_product_refused(&w, "agency-mon-e", "license", &message).await?;
    assert_eq!(w.victims().await?, legacy_before);

    w.create_product("mon", "agency-mon", "foo").await?;
    let message = taken(
        &[(
            by_hand,
            "no product or Agency (it was made outside the operator)",
        )],
        "product agency-mon/foo",
        PRODUCT_FIX,
    );
    assert_product_refused(&w, "agency-mon", "foo", &message).await?;
    assert_eq!(w.snapshot(by_hand).await?, by_hand_before);

    w.create_product("mon", "agency-mon", "bar").await?;
    let message = taken(
        &[(
            "mon-bar-development",
            "product agency-mon/other (made before owner UIDs)",
        )],
        "product agency-mon/bar",
        PRODUCT_FIX,
    );
    assert_product_refused(&w, "agency-mon", "bar", &message).await?;
    assert_eq!(w.snapshot("mon-bar-development").await?, bar_before);

    // Existing names keep working: e-license adopts its namespaces from before.
    w.create_product("mon", "agency-mon", "e-license").await?;
    w.product_condition("agency-mon", "e-license", "Ready", "True", "Provisioned")
        .await?;
    let e_license = w.product("agency-mon", "e-license").await?;
    let (adopted, _) = w.victims().await?;
    for (now, before) in adopted.iter().zip(&legacy_before.0) {
        assert_eq!(now.uid, before.uid, "the same namespace, not a new one");
        assert_eq!(
            now.annotations.get("akp.egov.kz/owner-uid"),
            e_license.metadata.uid.as_ref()
        );
        ensure!(
            now.bindings
                .iter()
                .any(|(name, ..)| name == "akp-developer"),
            "e-license's bindings are in its adopted namespace"
        );
    }
    // license stays refused: the namespaces now carry e-license's UID.
    let message = victims_taken(&e_license, "agency-mon-e/license");
    let degraded = w
        .product_condition(
            "agency-mon-e",
            "license",
            "Degraded",
            "True",
            "NamespaceTaken",
        )
        .await?;
    // The message names the new holder from license's next look (within 60 s).
    ensure!(
        degraded.message == message || degraded.message.contains("made before owner UIDs"),
        "{}",
        degraded.message
    );
    Ok(())
}
