//! Attacks on where and how workloads run, made by the tenants themselves with their
//! real client certificates (docs/security.md, section "Workloads"): against a real
//! control plane (scheduler, controller manager, kwok nodes in Kazakhstan and in
//! Frankfurt) and the real `akp-operator` binary with its webhooks, which applies its
//! project roles, its admission policies and the agencies' and products' bindings.
//!
//! Every refusal is checked for its message and for nothing having been stored.
//! Rules: R-PLC-01 (in Kazakhstan), R-SW-01 (trusted software), R-SEG-02..04
//! (segmentation), R-LC-08 (who may do what where).

use std::process::Child;
use std::sync::OnceLock;
use std::time::Duration;

use akp_crds::PlatformSoftwareProduct;
use akp_test_support::fixtures::is_ready;
use akp_test_support::operator::{eventually, operator_command};
use akp_test_support::{
    ControlPlane, Options, apply, apply_examples, create_site_nodes, documents, ensure_namespace,
    free_port, repo_root,
};
use anyhow::{Context, Result, anyhow, bail, ensure};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const MANAGER: &str = "akp-attack-tests";
/// mon's digitalization head (examples/agencies.yaml).
const HEAD: &str = "alice@mon.gov.kz";
/// A developer of e-license (examples/products/e-license.yaml): external contour,
/// Internet-facing, in trial operation; its development environment is the
/// developer's to change.
const DEVELOPER: &str = "dev1@digital-solutions.kz";
const EXTERNAL_DEV: &str = "mon-e-license-development";
/// A developer of school-enrolment (internal contour), given in this test's copy.
const INTERNAL_DEVELOPER: &str = "dev@edtech.kz";
const INTERNAL_DEV: &str = "mon-school-enrolment-development";
const AGENCY_NS: &str = "agency-mon";
const TRUSTED: &str = "registry.akp.kz/platform/postgresql:16";

struct Fixture {
    cp: &'static ControlPlane,
    _operator: Child,
}

fn fixture() -> Result<&'static Fixture> {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            // The operator dies with the thread that spawned it (setpriv --pdeathsig
            // follows the parent thread), so that thread lives as long as the tests.
            let (ready, started) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| rt.block_on(start()))
                    .map_err(|e| format!("{e:#}"));
                let _ = ready.send(result);
                loop {
                    std::thread::park();
                }
            });
            started
                .recv()
                .unwrap_or_else(|_| Err("the fixture thread ended".into()))
        })
        .as_ref()
        .map_err(|e| anyhow!("the attack fixture failed to start: {e}"))
}

async fn start() -> Result<Fixture> {
    let cp = ControlPlane::shared(Options::full().with_crds())
        .context("control plane starts (run tools/build.sh first)")?;
    let admin = cp.admin_client().await?;
    create_site_nodes(
        &admin,
        &[
            ("astana-1-a", "astana-1", "KZ"),
            ("almaty-1-a", "almaty-1", "KZ"),
            ("frankfurt-1-a", "frankfurt-1", "DE"),
        ],
    )
    .await?;
    apply_examples(
        &admin,
        &["agencies.yaml", "sites.yaml", "catalog.yaml"],
        MANAGER,
    )
    .await?;
    let operator = spawn_operator(cp).await?;
    let agencies = Api::<akp_crds::Agency>::all(admin.clone());
    eventually(
        "the agencies Ready (namespaces and bindings)",
        Duration::from_secs(90),
        || async {
            let list = agencies.list(&ListParams::default()).await?;
            Ok((!list.items.is_empty()
                && list
                    .items
                    .iter()
                    .all(|a| a.status.as_ref().is_some_and(|s| is_ready(&s.conditions))))
            .then_some(()))
        },
    )
    .await?;
    let mut enrolment =
        documents(&repo_root().join("examples/products/school-enrolment.yaml"))?.remove(0);
    enrolment["spec"]["developer"]["userDomains"] = json!(["edtech.kz"]);
    enrolment["spec"]["participants"] = json!({"developers": [INTERNAL_DEVELOPER]});
    apply(&admin, &enrolment, None, MANAGER).await?;
    apply_examples(&admin, &["products/e-license.yaml"], MANAGER).await?;
    let products = Api::<PlatformSoftwareProduct>::namespaced(admin.clone(), AGENCY_NS);
    eventually("both products Ready", Duration::from_secs(90), || async {
        let list = products.list(&ListParams::default()).await?;
        Ok((list.items.len() == 2
            && list
                .items
                .iter()
                .all(|p| p.status.as_ref().is_some_and(|s| is_ready(&s.conditions))))
        .then_some(()))
    })
    .await?;
    // The API server loads the operator's policies within moments, not at once.
    let probe = workload(
        "Deployment",
        "probe",
        json!({"hostNetwork": true, "containers": [container(json!({}))]}),
    );
    let deployments = Api::<DynamicObject>::namespaced_with(
        admin.clone(),
        EXTERNAL_DEV,
        &resource("Deployment")?,
    );
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let probe: DynamicObject = serde_json::from_value(probe)?;
    eventually(
        "the admission policies in effect",
        Duration::from_secs(30),
        || async {
            Ok(deployments
                .create(&dry_run, &probe)
                .await
                .is_err()
                .then_some(()))
        },
    )
    .await?;
    Ok(Fixture {
        cp,
        _operator: operator,
    })
}

/// The real operator binary, with its webhooks registered against this control plane.
async fn spawn_operator(cp: &'static ControlPlane) -> Result<Child> {
    let admin = cp.admin_client().await?;
    ensure_namespace(&admin, "akp-system").await?;
    // Kept after the run (the control plane's dir is not), for a failure's diagnosis.
    let dir = repo_root().join("target/attacks-operator");
    operator_command(cp, &dir, free_port()?)?
        .spawn()
        .context("starting akp-operator")
}

/// A client with `user`'s own client certificate.
async fn as_user(user: &str, groups: &[&str]) -> Result<Client> {
    fixture()?.cp.client_for(user, groups).await
}

fn pod(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

fn container(extra: Value) -> Value {
    let mut c = json!({"name": "app", "image": TRUSTED});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c
}

/// `spec` wrapped as the pod template of a workload `kind`.
fn workload(kind: &str, name: &str, spec: Value) -> Value {
    let labels = json!({"app": name});
    let template = json!({"metadata": {"labels": labels}, "spec": spec});
    let (api_version, body) = match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" => (
            "apps/v1",
            json!({"selector": {"matchLabels": labels}, "template": template}),
        ),
        "StatefulSet" => (
            "apps/v1",
            json!({"selector": {"matchLabels": labels}, "serviceName": name, "template": template}),
        ),
        "Job" => {
            let mut t = template;
            t["spec"]["restartPolicy"] = json!("Never");
            ("batch/v1", json!({"template": t}))
        }
        "CronJob" => {
            let mut t = template;
            t["spec"]["restartPolicy"] = json!("Never");
            (
                "batch/v1",
                json!({"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": t}}}),
            )
        }
        "ReplicationController" => ("v1", json!({"selector": labels, "template": template})),
        other => panic!("no workload kind {other}"),
    };
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": body})
}

/// The API resource of a workload kind.
fn resource(kind: &str) -> Result<ApiResource> {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    fn of<K: kube::Resource<DynamicType = ()>>() -> ApiResource {
        ApiResource::erase::<K>(&())
    }
    Ok(match kind {
        "Pod" => of::<core::Pod>(),
        "Service" => of::<core::Service>(),
        "ReplicationController" => of::<core::ReplicationController>(),
        "Deployment" => of::<apps::Deployment>(),
        "StatefulSet" => of::<apps::StatefulSet>(),
        "DaemonSet" => of::<apps::DaemonSet>(),
        "ReplicaSet" => of::<apps::ReplicaSet>(),
        "Job" => of::<batch::Job>(),
        "CronJob" => of::<batch::CronJob>(),
        other => bail!("no workload kind {other}"),
    })
}

/// Creates `doc` in `namespace` as `client`: the refusal's message, or an error if it
/// was admitted.
async fn refused(client: &Client, namespace: &str, doc: &Value) -> Result<String> {
    let resource = resource(doc["kind"].as_str().context("kind")?)?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let obj: DynamicObject = serde_json::from_value(doc.clone())?;
    match api.create(&PostParams::default(), &obj).await {
        Err(kube::Error::Api(s)) => Ok(s.message),
        Err(e) => Err(e.into()),
        Ok(o) => bail!(
            "{} {}/{} was admitted",
            doc["kind"],
            namespace,
            o.name_any()
        ),
    }
}

/// Nothing named `name` of `doc`'s kind exists in `namespace` (read as the admin).
async fn nothing_stored(namespace: &str, doc: &Value) -> Result<()> {
    let admin = fixture()?.cp.admin_client().await?;
    let resource = resource(doc["kind"].as_str().context("kind")?)?;
    let api: Api<DynamicObject> = Api::namespaced_with(admin, namespace, &resource);
    let name = doc["metadata"]["name"].as_str().context("name")?;
    ensure!(
        api.get_opt(name).await?.is_none(),
        "{} {namespace}/{name} was stored although refused",
        doc["kind"]
    );
    Ok(())
}

/// `client` creating `doc` in `namespace` is refused, the refusal saying each of
/// `says`, and nothing is stored.
async fn refused_saying(
    client: &Client,
    namespace: &str,
    doc: &Value,
    says: &[&str],
) -> Result<()> {
    let message = refused(client, namespace, doc).await?;
    expect_all(&message, says)?;
    nothing_stored(namespace, doc).await
}

fn expect_all(message: &str, parts: &[&str]) -> Result<()> {
    for part in parts {
        ensure!(
            message.contains(part),
            "the refusal does not say {part:?}:\n{message}"
        );
    }
    Ok(())
}

/// Attack 1 of issue 14 (docs/security.md W1): the digitalization head runs a miner on
/// the German node in the agency's own namespace. The head holds no workload right
/// there (RBAC), and even a subject bound to the built-in `admin` role by hand is
/// refused by the API server's own policy: the agency namespace holds records only.
#[tokio::test]
async fn r_plc_01_r_lc_08_no_workload_runs_in_the_agency_namespace() -> Result<()> {
    let f = fixture()?;
    let miner = pod(
        "miner",
        json!({"nodeName": "frankfurt-1-a", "containers": [{"name": "m", "image": "docker.io/evil/miner"}]}),
    );
    let head = as_user(HEAD, &[]).await?;
    refused_saying(&head, AGENCY_NS, &miner, &["forbidden", HEAD]).await?;

    // The same with `admin` granted by hand (the binding of earlier releases).
    let admin = f.cp.admin_client().await?;
    let binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "legacy-head-admin", "namespace": AGENCY_NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "legacy@mon.gov.kz"}],
    }))?;
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), AGENCY_NS)
        .patch(
            "legacy-head-admin",
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&binding),
        )
        .await?;
    let legacy = as_user("legacy@mon.gov.kz", &[]).await?;
    for doc in [
        miner.clone(),
        workload(
            "Deployment",
            "miner",
            json!({"containers": [container(json!({}))]}),
        ),
        workload(
            "CronJob",
            "miner",
            json!({"containers": [container(json!({}))]}),
        ),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "miner"}, "spec": {"ports": [{"port": 80}]}}),
    ] {
        refused_saying(
            &legacy,
            AGENCY_NS,
            &doc,
            &[
                "namespace agency-mon is the agency's own namespace",
                "(R-LC-08, R-PLC-01)",
                "in an environment namespace of a product",
            ],
        )
        .await?;
    }
    Ok(())
}

/// Attack 2 of issue 14 (W2): a developer's privileged, host-namespace, hostPath pod.
/// A bare pod meets Pod Security Admission ("restricted", enforced on the namespace)
/// first; the pod templates of every workload kind meet the project's policy, which
/// names the rule.
#[tokio::test]
async fn r_seg_04_no_host_access_from_a_pod_or_any_workload_template() -> Result<()> {
    let dev = as_user(DEVELOPER, &[]).await?;
    let admin = fixture()?.cp.admin_client().await?;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "privileged",
            json!({"containers": [container(json!({"securityContext": {"privileged": true}}))]}),
            "privileged",
            "securityContext.privileged: true is refused",
        ),
        (
            "host-network",
            json!({"hostNetwork": true, "containers": [container(json!({}))]}),
            "hostNetwork",
            "hostNetwork: true is refused",
        ),
        (
            "host-pid",
            json!({"hostPID": true, "containers": [container(json!({}))]}),
            "hostPID",
            "hostPID: true is refused",
        ),
        (
            "host-ipc",
            json!({"hostIPC": true, "containers": [container(json!({}))]}),
            "hostIPC",
            "hostIPC: true is refused",
        ),
        (
            "host-port",
            json!({"containers": [container(json!({"ports": [{"containerPort": 80, "hostPort": 80}]}))]}),
            "hostPort",
            "ports[].hostPort is refused",
        ),
        (
            "host-path",
            json!({"containers": [container(json!({}))], "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
            "hostPath",
            "\"root\": hostPath is refused",
        ),
        (
            "init-privileged",
            json!({"initContainers": [{"name": "init", "image": TRUSTED, "securityContext": {"privileged": true}}], "containers": [container(json!({}))]}),
            "privileged",
            "containers \"init\": securityContext.privileged: true is refused",
        ),
    ];
    for (name, spec, psa, ours) in &cases {
        let bare = pod(name, spec.clone());
        refused_saying(
            &dev,
            EXTERNAL_DEV,
            &bare,
            &["violates PodSecurity \"restricted:v1.36\"", psa],
        )
        .await?;
        for kind in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
            "CronJob",
            "ReplicationController",
        ] {
            let doc = workload(kind, name, spec.clone());
            // No project role may create ReplicationControllers: the policy holds for
            // whoever may, the platform's administrator included.
            let client = match kind {
                "ReplicationController" => &admin,
                _ => &dev,
            };
            let message = refused(client, EXTERNAL_DEV, &doc)
                .await
                .with_context(|| format!("{kind} {name}"))?;
            let field = match kind {
                "CronJob" => "spec.jobTemplate.spec.template.spec",
                _ => "spec.template.spec",
            };
            expect_all(&message, &[field, ours, "(R-SEG-"])?;
            nothing_stored(EXTERNAL_DEV, &doc).await?;
        }
    }
    Ok(())
}

/// W3: every volume type that reaches storage or a network outside the sites, in a
/// pod and in a Deployment's template; unknown CSI drivers and image volumes of
/// software outside the catalog (judged by the webhook, which knows both).
#[tokio::test]
async fn r_plc_01_volumes_stay_on_the_platforms_storage() -> Result<()> {
    let dev = as_user(DEVELOPER, &[]).await?;
    let outside = [
        ("nfs", json!({"server": "203.0.113.7", "path": "/export"})),
        (
            "iscsi",
            json!({"targetPortal": "203.0.113.7:3260", "iqn": "iqn.2001-04.com.example:storage", "lun": 0}),
        ),
        ("cephfs", json!({"monitors": ["203.0.113.7:6789"]})),
        ("glusterfs", json!({"endpoints": "gluster", "path": "vol"})),
        (
            "rbd",
            json!({"monitors": ["203.0.113.7:6789"], "image": "disk"}),
        ),
        (
            "fc",
            json!({"wwids": ["3600508b400105e210000900000490000"]}),
        ),
        ("flexVolume", json!({"driver": "example.com/nfs"})),
        (
            "gitRepo",
            json!({"repository": "https://203.0.113.7/repo.git"}),
        ),
        ("awsElasticBlockStore", json!({"volumeID": "vol-1"})),
    ];
    for (kind, source) in outside {
        let spec = json!({"containers": [container(json!({}))], "volumes": [{"name": "data", kind: source}]});
        let name = format!("vol-{}", kind.to_lowercase());
        // Bare pod: Pod Security Admission's "restricted volume types".
        let bare = pod(&name, spec.clone());
        refused_saying(&dev, EXTERNAL_DEV, &bare, &["violates PodSecurity", kind]).await?;
        // A Deployment: the project's policy, whatever the type.
        let doc = workload("Deployment", &name, spec);
        refused_saying(
            &dev,
            EXTERNAL_DEV,
            &doc,
            &[
                &format!("spec.template.spec.volumes \"data\" ({kind})"),
                "this volume type is refused",
                "(R-PLC-01, R-SEG-03)",
                "use a persistentVolumeClaim",
            ],
        )
        .await?;
    }
    // Allowed by Pod Security Admission, judged by the webhook.
    let csi = pod(
        "vol-csi",
        json!({"containers": [container(json!({}))], "volumes": [{"name": "data", "csi": {"driver": "nfs.csi.k8s.io", "volumeAttributes": {"server": "203.0.113.7", "share": "/"}}}]}),
    );
    refused_saying(
        &dev,
        EXTERNAL_DEV,
        &csi,
        &[
            "spec.volumes[0].csi.driver \"nfs.csi.k8s.io\"",
            "is not a CSI driver of the platform's storage",
            "(R-PLC-01)",
        ],
    )
    .await?;
    let image = pod(
        "vol-image",
        json!({"containers": [container(json!({}))], "volumes": [{"name": "tools", "image": {"reference": "docker.io/evil/toolbox:1"}}]}),
    );
    refused_saying(
        &dev,
        EXTERNAL_DEV,
        &image,
        &[
            "spec.volumes[0].image.reference",
            "docker.io/evil/toolbox:1",
            "R-SW-01",
        ],
    )
    .await?;
    Ok(())
}

/// W4: a pod that says nothing of its security gets what "restricted" requires from
/// the API server's own mutating policy, is admitted and runs in Kazakhstan.
#[tokio::test]
async fn r_seg_04_a_plain_pod_gets_the_restricted_defaults_and_runs() -> Result<()> {
    let dev = as_user(DEVELOPER, &[]).await?;
    let pods = Api::<Pod>::namespaced(dev.clone(), EXTERNAL_DEV);
    let plain: Pod = serde_json::from_value(pod(
        "plain",
        json!({"containers": [{"name": "db", "image": TRUSTED}], "initContainers": [{"name": "init", "image": TRUSTED}]}),
    ))?;
    let created = pods.create(&PostParams::default(), &plain).await?;
    let spec = created.spec.context("spec")?;
    let pod_sc = spec.security_context.context("pod securityContext")?;
    ensure!(pod_sc.run_as_non_root == Some(true), "{pod_sc:?}");
    ensure!(
        pod_sc.seccomp_profile.map(|s| s.type_) == Some("RuntimeDefault".into()),
        "seccomp"
    );
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let sc = c
            .security_context
            .clone()
            .context("container securityContext")?;
        ensure!(
            sc.allow_privilege_escalation == Some(false),
            "{}: {sc:?}",
            c.name
        );
        ensure!(
            sc.capabilities.and_then(|c| c.drop) == Some(vec!["ALL".into()]),
            "{}",
            c.name
        );
    }
    // What a pod says itself is kept: an explicit seccomp profile is not replaced.
    let own: Pod = serde_json::from_value(pod(
        "own-profile",
        json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}}, "containers": [{"name": "db", "image": TRUSTED}]}),
    ))?;
    let created = pods.create(&PostParams::default(), &own).await?;
    let profile = created
        .spec
        .and_then(|s| s.security_context)
        .and_then(|s| s.seccomp_profile)
        .context("profile")?;
    ensure!(profile.type_ == "Localhost", "{profile:?}");
    let admin = fixture()?.cp.admin_client().await?;
    let node = eventually(
        "the plain pod scheduled",
        Duration::from_secs(60),
        || async {
            let p = Api::<Pod>::namespaced(admin.clone(), EXTERNAL_DEV)
                .get("plain")
                .await?;
            Ok(p.spec.and_then(|s| s.node_name))
        },
    )
    .await?;
    ensure!(
        node.starts_with("astana-1") || node.starts_with("almaty-1"),
        "{node}"
    );
    Ok(())
}

/// W5: pods abroad from every workload kind never exist: the controllers' pods meet
/// the webhook like a bare pod, and the controller reports the refusal.
#[tokio::test]
async fn r_plc_01_no_workload_kind_gets_a_pod_abroad() -> Result<()> {
    let dev = as_user(DEVELOPER, &[]).await?;
    let admin = fixture()?.cp.admin_client().await?;
    let abroad = json!({"nodeName": "frankfurt-1-a", "containers": [container(json!({}))]});
    let bare = pod("abroad", abroad.clone());
    refused_saying(
        &dev,
        EXTERNAL_DEV,
        &bare,
        &["spec.nodeName \"frankfurt-1-a\"", "(R-PLC-01)"],
    )
    .await?;
    // ReplicationControllers are no project role's to create (RBAC); W2 shows their
    // templates refused to whoever may.
    for kind in ["Deployment", "StatefulSet", "DaemonSet", "Job"] {
        let name = format!("abroad-{}", kind.to_lowercase());
        let doc = workload(kind, &name, abroad.clone());
        let resource = resource(kind)?;
        Api::<DynamicObject>::namespaced_with(dev.clone(), EXTERNAL_DEV, &resource)
            .create(&PostParams::default(), &serde_json::from_value(doc)?)
            .await
            .with_context(|| format!("creating {kind} {name}"))?;
    }
    let events = Api::<Event>::namespaced(admin.clone(), EXTERNAL_DEV);
    eventually(
        "every controller to report the refused pod",
        Duration::from_secs(60),
        || async {
            let list = events.list(&ListParams::default()).await?;
            let refused: Vec<String> = list
                .items
                .iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("FailedCreate")
                        && e.message.as_deref().is_some_and(|m| m.contains("R-PLC-01"))
                })
                .map(|e| e.involved_object.name.clone().unwrap_or_default())
                .collect();
            let all = ["abroad-deployment-", "abroad-statefulset", "abroad-job"]
                .iter()
                .all(|n| refused.iter().any(|r| r.starts_with(n)));
            Ok(all.then_some(()))
        },
    )
    .await?;
    let pods = Api::<Pod>::namespaced(admin.clone(), EXTERNAL_DEV)
        .list(&ListParams::default())
        .await?;
    let on_frankfurt: Vec<String> = pods
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("frankfurt-1-a"))
        .map(|p| p.name_any())
        .collect();
    ensure!(
        on_frankfurt.is_empty(),
        "pods on frankfurt-1-a: {on_frankfurt:?}"
    );
    Ok(())
}

/// W6: Services that go around the contour: externalIPs anywhere; NodePort and
/// LoadBalancer outside the external contour of an Internet-facing product.
#[tokio::test]
async fn r_seg_02_services_do_not_open_the_contour() -> Result<()> {
    let external = as_user(DEVELOPER, &[]).await?;
    let internal = as_user(INTERNAL_DEVELOPER, &[]).await?;
    let service = |name: &str, spec: Value| {
        let mut s = json!({"selector": {"app": name}, "ports": [{"port": 80}]});
        if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
            s.extend(extra.clone());
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": s})
    };
    for (client, ns) in [(&external, EXTERNAL_DEV), (&internal, INTERNAL_DEV)] {
        let doc = service("external-ips", json!({"externalIPs": ["203.0.113.9"]}));
        refused_saying(
            client,
            ns,
            &doc,
            &[
                "spec.externalIPs \"203.0.113.9\" is refused",
                "(R-SEG-02, R-SEG-03",
            ],
        )
        .await?;
    }
    for kind in ["NodePort", "LoadBalancer"] {
        let doc = service(
            &format!("open-{}", kind.to_lowercase()),
            json!({"type": kind}),
        );
        refused_saying(
            &internal,
            INTERNAL_DEV,
            &doc,
            &[
                &format!("spec.type \"{kind}\" is refused"),
                "namespace mon-school-enrolment-development is in contour internal, not Internet-facing",
                "(R-SEG-02, R-SEG-03)",
            ],
        )
        .await?;
        // The dedicated segment of the external contour may.
        let svc: Service = serde_json::from_value(doc)?;
        Api::<Service>::namespaced(external.clone(), EXTERNAL_DEV)
            .create(&PostParams::default(), &svc)
            .await
            .with_context(|| format!("a {kind} Service of the Internet-facing product"))?;
    }
    Ok(())
}

/// W7: the labels admission reads are the operator's: no tenant changes them, and
/// no tenant writes outside its namespaces.
#[tokio::test]
async fn r_lc_08_tenants_change_no_namespace_and_write_nowhere_else() -> Result<()> {
    let patch = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged", "akp.egov.kz/internet-facing": "true"}}});
    for (user, ns) in [
        (DEVELOPER, EXTERNAL_DEV),
        (INTERNAL_DEVELOPER, INTERNAL_DEV),
        (HEAD, AGENCY_NS),
        (HEAD, INTERNAL_DEV),
    ] {
        let client = as_user(user, &[]).await?;
        match Api::<Namespace>::all(client.clone())
            .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            other => bail!("{user} relabelling {ns}: {other:?}"),
        }
        // A namespace that is neither the agency's nor an environment: the platform's.
        let stray = pod("stray", json!({"containers": [container(json!({}))]}));
        refused_saying(&client, "default", &stray, &["forbidden", user]).await?;
    }
    let admin = fixture()?.cp.admin_client().await?;
    let live = Api::<Namespace>::all(admin).get(INTERNAL_DEV).await?;
    ensure!(
        live.labels()
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str)
            == Some("restricted")
            && !live.labels().contains_key("akp.egov.kz/internet-facing"),
        "{:?}",
        live.labels()
    );
    Ok(())
}
