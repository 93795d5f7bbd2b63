//! The harness against the real processes: one shared control plane for this binary.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use akp_test_support::{ControlPlane, Options, TestNamespace, kwok_node, wait_for};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod, PodSpec};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::pinned_kind;
use kube::runtime::wait::conditions;

const WAIT: Duration = Duration::from_secs(90);

fn cp() -> &'static ControlPlane {
    let cp = ControlPlane::shared(Options::full()).expect("control plane starts");
    eprintln!(
        "shared control plane at {} (started in {:?})",
        cp.apiserver_url(),
        cp.startup_duration()
    );
    cp
}

fn node_ready(node: Option<&Node>) -> bool {
    node.and_then(|n| n.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod(name: &str, zone: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_selector: Some([("topology.kubernetes.io/zone".into(), zone.into())].into()),
            containers: vec![Container {
                name: "main".into(),
                image: Some("registry.invalid/fake:1".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn kwok_nodes_become_ready_and_pods_land_in_the_selected_zone() {
    let cp = cp();
    let client = cp.admin_client().await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    for (name, zone) in [("kwok-astana-1", "astana-1"), ("kwok-almaty-1", "almaty-1")] {
        let node = kwok_node(
            name,
            &[
                ("topology.kubernetes.io/zone", zone),
                ("node-restriction.kubernetes.io/country", "KZ"),
            ],
        );
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    for name in ["kwok-astana-1", "kwok-almaty-1"] {
        wait_for(&nodes, name, WAIT, node_ready).await.unwrap();
    }

    let ns = TestNamespace::new(&client, "placement").await.unwrap();
    let pods: Api<Pod> = ns.api();
    for i in 0..3 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}"), "astana-1"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        let running = wait_for(&pods, &format!("p{i}"), WAIT, conditions::is_pod_running())
            .await
            .unwrap()
            .unwrap();
        let node = running.spec.unwrap().node_name.unwrap();
        assert_eq!(node, "kwok-astana-1", "pod p{i} must land in zone astana-1");
    }
    ns.delete().await.unwrap();
}

#[test]
fn the_shared_control_plane_refuses_other_options() {
    cp();
    let err = ControlPlane::shared(Options::default()).unwrap_err();
    assert!(err.to_string().contains("same Options"), "{err}");
}

#[tokio::test]
async fn namespace_deletion_completes() {
    let cp = cp();
    let client = cp.admin_client().await.unwrap();
    let ns = TestNamespace::new(&client, "deletion").await.unwrap();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("data".into()),
            ..Default::default()
        },
        data: Some([("k".into(), "v".into())].into()),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let uid = namespaces
        .get(ns.name())
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let name = ns.name().to_string();
    ns.delete().await.unwrap();
    let gone = wait_for(&namespaces, &name, WAIT, conditions::is_deleted(&uid))
        .await
        .unwrap();
    assert!(gone.is_none(), "namespace {name} still exists");
}

fn is_forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    match result {
        Err(kube::Error::Api(status)) => status.code == 403,
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn rbac_applies_to_client_certificate_groups() {
    let cp = cp();
    let admin = cp.admin_client().await.unwrap();
    let ns = TestNamespace::new(&admin, "rbac").await.unwrap();
    // Several groups: the certificate carries one O per group.
    let mon = cp
        .client_for("mon-user", &["agency-x", "agency-mon", "agency-y"])
        .await
        .unwrap();

    let review = Api::<SelfSubjectReview>::all(mon.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(user.username.as_deref(), Some("mon-user"));
    let groups = user.groups.unwrap();
    for g in ["agency-x", "agency-mon", "agency-y", "system:authenticated"] {
        assert!(
            groups.iter().any(|x| x == g),
            "group {g} missing in {groups:?}"
        );
    }

    let pods: Api<Pod> = Api::namespaced(mon.clone(), ns.name());
    let cms: Api<ConfigMap> = Api::namespaced(mon.clone(), ns.name());
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("from-mon".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(is_forbidden(pods.list(&ListParams::default()).await));
    assert!(is_forbidden(cms.create(&PostParams::default(), &cm).await));

    ns.grant(
        "mon",
        "Group",
        "agency-mon",
        vec![
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".into()]),
                verbs: vec!["get".into(), "list".into()],
                ..Default::default()
            },
            PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["configmaps".into()]),
                verbs: vec!["create".into()],
                ..Default::default()
            },
        ],
    )
    .await
    .unwrap();

    // The RBAC authorizer learns of new bindings through a watch: allow a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match pods.list(&ListParams::default()).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not allowed yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still not allowed after the RoleBinding: {e}"),
        }
    }
    cms.create(&PostParams::default(), &cm).await.unwrap();
    // What the Role does not grant stays forbidden.
    assert!(is_forbidden(
        cms.delete("from-mon", &DeleteParams::default()).await
    ));
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn crds_from_a_dir_are_established_and_discovered() {
    let cp = cp();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("widgets.yaml"),
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.harness.akp.example
spec:
  group: harness.akp.example
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "not a CRD").unwrap();
    let names = cp.install_crds(dir.path()).await.unwrap();
    assert_eq!(names, vec!["widgets.harness.akp.example".to_string()]);
    // Applying again is a no-op.
    cp.install_crds(dir.path()).await.unwrap();

    let client = cp.admin_client().await.unwrap();
    let gvk = kube::core::GroupVersionKind::gvk("harness.akp.example", "v1", "Widget");
    let (resource, _) = pinned_kind(&client, &gvk).await.unwrap();
    let ns = TestNamespace::new(&client, "crd").await.unwrap();
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, ns.name(), &resource);
    let widget: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "harness.akp.example/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3},
    }))
    .unwrap();
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert_eq!(widgets.get("w").await.unwrap().data["spec"]["size"], 3);
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn kubeconfig_files_work_for_kubectl() {
    let cp = cp();
    if !std::path::Path::new("/usr/bin/kubectl").exists() {
        eprintln!("kubectl not installed: skipping");
        return;
    }
    let out = std::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(cp.kubeconfig_path())
        .args([
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "admin");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("viewer.kubeconfig");
    cp.write_kubeconfig_for("viewer", &["agency-view"], &path)
        .unwrap();
    let out = std::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "namespaces"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("User \"viewer\" cannot list resource \"namespaces\""),
        "{stderr}"
    );
}
