//! A control plane whose API server writes an audit log of every write, and the
//! operator's release binary as a subprocess (so its CPU and memory are its own).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use akp_test_support::operator::{audit_log_args, writes_in};
use akp_test_support::{ControlPlane, Options};
use anyhow::{Context, Result, bail};

use crate::sys;

/// The user the operator authenticates as (a client certificate in system:masters).
pub const OPERATOR_USER: &str = "akp-operator";
/// The user of the floor's plain client.
pub const FLOOR_USER: &str = "akp-floor";

/// A control plane (etcd, kube-apiserver, the CRDs) with an audit log of writes.
pub struct Audited {
    /// The control plane.
    pub cp: ControlPlane,
    audit_log: PathBuf,
    dir: tempfile::TempDir,
}

impl Audited {
    /// Starts etcd and kube-apiserver with the CRDs and an audit log of writes (the
    /// same policy as `akp_test_support::operator::cluster`). No scheduler, controller
    /// manager or kwok: nothing here runs pods, and they would only add noise.
    pub fn start(audit: bool) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("akp-bench-").tempdir()?;
        let (args, audit_log) = audit_log_args(dir.path())?;
        let apiserver_args = if audit { args } else { Vec::new() };
        let cp = ControlPlane::start(Options {
            crds: true,
            apiserver_args,
            ..Options::default()
        })?;
        Ok(Self { cp, audit_log, dir })
    }

    /// A scratch directory living as long as the control plane.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Write requests by `user` so far, excluding Leases and Events
    /// (`akp_test_support::operator::writes_in`).
    pub fn writes_by(&self, user: &str) -> Result<Vec<String>> {
        writes_in(&self.audit_log, user)
    }

    /// PIDs of etcd and kube-apiserver.
    pub fn server_pids(&self) -> Vec<u32> {
        self.cp.child_pids()
    }
}

/// The `akp-operator` release binary: `AKP_OPERATOR_BIN`, else `target/release/akp-operator`.
pub fn operator_binary() -> Result<PathBuf> {
    let path = std::env::var_os("AKP_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| akp_test_support::repo_root().join("target/release/akp-operator"));
    if !path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p akp-operator` (scripts/bench.sh does)",
            path.display()
        );
    }
    Ok(path)
}

/// The operator as a child process; killed on drop.
pub struct OperatorProcess {
    child: Child,
    /// Its process id (the operator's own, not a wrapper's).
    pub pid: u32,
    /// Its log.
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Starts the operator as `user` against `cp` with no leader election and no
    /// webhooks (the benchmarks measure the controllers).
    pub fn spawn(audited: &Audited, user: &str) -> Result<Self> {
        let bin = operator_binary()?;
        let kubeconfig = audited.dir().join(format!("{user}.kubeconfig"));
        audited
            .cp
            .write_kubeconfig_for(user, &["system:masters"], &kubeconfig)?;
        let log = audited.dir().join("operator.log");
        let out = std::fs::File::create(&log)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // `setpriv --pdeathsig KILL` execs the operator (same pid) with a death signal,
        // so it dies with the benchmark even if that is killed; Drop kills it otherwise.
        // (The signal follows the forking thread: call this from a runtime worker.)
        let mut command = match which("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let child = command
            .args([
                "--no-leader-election",
                "--no-webhooks",
                "--namespace",
                "default",
                "--metrics-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env(
                "RUST_LOG",
                std::env::var("AKP_BENCH_OPERATOR_LOG").unwrap_or("info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self {
            pid: child.id(),
            child,
            log,
        })
    }

    /// Fails if the operator has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            bail!(
                "the operator exited ({status}); last lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// (VmRSS, VmHWM) in KiB.
    pub fn rss_kib(&self) -> Result<(u64, u64)> {
        sys::rss_kib(self.pid)
    }

    /// CPU time used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        sys::cpu_time(self.pid)
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
