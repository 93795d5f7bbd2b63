//! Integration-test support: a real Kubernetes control plane on loopback.
//!
//! [`ControlPlane::start`] runs etcd and kube-apiserver (and, on request,
//! kube-scheduler, kube-controller-manager and kwok) built by `tools/build.sh`, on
//! free 127.0.0.1 ports with throwaway certificates, the shape of controller-runtime's
//! envtest. Tests normally share one per test binary through [`ControlPlane::shared`]
//! and give each test its own [`TestNamespace`].
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use akp_test_support::{ControlPlane, Options, TestNamespace};
//! let cp = ControlPlane::shared(Options::full())?;
//! let client = cp.admin_client().await?;
//! let ns = TestNamespace::new(&client, "billing").await?;
//! # Ok(()) }
//! ```
//!
//! Set `AKP_TEST_LOG=1` to stream the processes' logs to stderr; they are always in
//! `<dir>/logs/` ([`ControlPlane::dir`]).

mod bins;
mod control_plane;
mod crds;
pub mod exporters;
pub mod fixtures;
mod helpers;
pub mod live;
mod manifests;
pub mod netpol;
pub mod operator;
mod pki;
mod postgres;
mod process;
mod prometheus;
pub mod reports;
pub mod usage;

pub use bins::{Binaries, crds_dir, repo_root, workspace_binary};
pub use control_plane::{
    ControlPlane, FIELD_MANAGER, KWOK_ANNOTATION, Options, WEBHOOK_CLIENT_USER, free_port,
};
pub use crds::install_crds;
pub use helpers::{
    TEST_NAMESPACE_LABEL, TestNamespace, create_site_nodes, create_test_namespace,
    delete_test_namespaces, kwok_node, list_all, names, wait_for,
};
pub use manifests::{
    api_resource, apply, apply_examples, chart_documents, documents, dynamic_api, ensure_namespace,
    with_namespace, yaml_files,
};
pub use postgres::TestPostgres;
pub use process::{pid_alive, setpriv_command, wait_pids_gone};
pub use prometheus::{OpenMetrics, TestPrometheus};
