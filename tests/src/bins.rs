//! Locating the control-plane binaries that `tools/build.sh` builds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The repository root (the workspace that holds this crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where the CustomResourceDefinitions of the project live: `<repo>/crds/yaml`.
pub fn crds_dir() -> PathBuf {
    repo_root().join("crds").join("yaml")
}

/// Paths of the control-plane binaries, chart tools and policy engine, as built by `tools/build.sh`.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `etcd`.
    pub etcd: PathBuf,
    /// `kube-apiserver`.
    pub kube_apiserver: PathBuf,
    /// `kube-controller-manager`.
    pub kube_controller_manager: PathBuf,
    /// `kube-scheduler`.
    pub kube_scheduler: PathBuf,
    /// `kwok`.
    pub kwok: PathBuf,
    /// `kubectl`, of the same version as the API server.
    pub kubectl: PathBuf,
    /// `helm` (v3), which lints, renders and installs `charts/akp`.
    pub helm: PathBuf,
    /// `kubeconform`, which validates rendered manifests against JSON schemas.
    pub kubeconform: PathBuf,
    /// `cyclonus`, a NetworkPolicy engine written outside this project: the second judge
    /// of the segmentation table (`tests/tests/segmentation.rs`).
    pub cyclonus: PathBuf,
    /// `kube-state-metrics`, the exporter metering reads (`tests/tests/live_metering.rs`).
    pub kube_state_metrics: PathBuf,
}

impl Binaries {
    /// Reads `tools/versions.env` and returns the paths under the binary cache
    /// (`$AKP_BIN_DIR`, default `<repo>/.cache/bin`), keyed by version. Does not check
    /// that they exist; see [`Binaries::require`].
    pub fn locate() -> Result<Self> {
        let root = repo_root();
        let versions_file = root.join("tools").join("versions.env");
        let text = std::fs::read_to_string(&versions_file)
            .with_context(|| format!("reading {}", versions_file.display()))?;
        let versions = parse_env(&text);
        let version = |key: &str| {
            versions
                .get(key)
                .cloned()
                .with_context(|| format!("{key} missing in {}", versions_file.display()))
        };
        let bin_root = match std::env::var_os("AKP_BIN_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => root.join(".cache").join("bin"),
        };
        let kube = bin_root.join(format!("kube-{}", version("KUBE_VERSION")?));
        // The other tools are at `<name>-<version>/<name>`.
        let tool = |name: &str, key: &str| -> Result<PathBuf> {
            Ok(bin_root
                .join(format!("{name}-{}", version(key)?))
                .join(name))
        };
        Ok(Self {
            etcd: tool("etcd", "ETCD_VERSION")?,
            kube_apiserver: kube.join("kube-apiserver"),
            kube_controller_manager: kube.join("kube-controller-manager"),
            kube_scheduler: kube.join("kube-scheduler"),
            kubectl: kube.join("kubectl"),
            kwok: tool("kwok", "KWOK_VERSION")?,
            helm: tool("helm", "HELM_VERSION")?,
            kubeconform: tool("kubeconform", "KUBECONFORM_VERSION")?,
            cyclonus: tool("cyclonus", "CYCLONUS_VERSION")?,
            kube_state_metrics: tool("kube-state-metrics", "KSM_VERSION")?,
        })
    }

    /// Fails with a hint to run `tools/build.sh` if `path` is not an executable file.
    pub fn require(path: &Path) -> Result<&Path> {
        if path.is_file() {
            return Ok(path);
        }
        bail!(
            "control-plane binary {} is missing: run `{}/tools/build.sh` to build it \
             (the cache root can be overridden with AKP_BIN_DIR)",
            path.display(),
            repo_root().display()
        )
    }
}

/// `KEY=VALUE` lines; comments, blank lines and surrounding quotes ignored.
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// A binary of this workspace, built on first use in the test's own profile and target
/// dir: for an integration test cargo builds the other packages' libraries, not their
/// binaries. Each binary is built once per test process.
pub fn workspace_binary(bin: &str) -> Result<PathBuf> {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<String, Result<PathBuf, String>>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(bin.to_owned())
        .or_insert_with(|| build_workspace_binary(bin).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn build_workspace_binary(bin: &str) -> Result<PathBuf> {
    // <target>/<profile>/deps/<test> → <target>/<profile>/<bin>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test executable is not in <target>/<profile>/deps")?
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    // --workspace, not -p: the dependency features are then those of `cargo build
    // --workspace` and `cargo test --workspace` (scripts/test.sh), so nothing is
    // recompiled with another feature set.
    cmd.args([
        "build",
        "-q",
        "--workspace",
        "--bin",
        bin,
        "--manifest-path",
    ])
    .arg(repo_root().join("Cargo.toml"));
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running cargo build --bin {bin}"))?;
    if !status.success() {
        bail!("building {bin} failed: {status}");
    }
    let path = profile_dir.join(bin);
    if !path.is_file() {
        bail!("{} was not built", path.display());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_env() {
        let env = parse_env("# c\nKUBE_VERSION=v1.36.3\nexport ETCD_VERSION=\"v3.6.16\"\n\n");
        assert_eq!(env["KUBE_VERSION"], "v1.36.3");
        assert_eq!(env["ETCD_VERSION"], "v3.6.16");
    }

    #[test]
    fn missing_binary_says_how_to_build_it() {
        let err = Binaries::require(Path::new("/nonexistent/kube-apiserver"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("/nonexistent/kube-apiserver is missing"),
            "{err}"
        );
        assert!(err.contains("tools/build.sh"), "{err}");
    }

    #[test]
    fn locates_under_cache() -> Result<()> {
        let bins = Binaries::locate()?;
        assert!(bins.kube_apiserver.ends_with("kube-apiserver"));
        assert!(bins.etcd.to_string_lossy().contains("etcd-v"));
        assert!(bins.helm.to_string_lossy().contains("helm-v3."));
        assert!(bins.kubeconform.ends_with("kubeconform"));
        assert!(bins.cyclonus.to_string_lossy().contains("cyclonus-v"));
        Ok(())
    }
}
