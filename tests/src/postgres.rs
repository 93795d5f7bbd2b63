//! A real PostgreSQL on loopback for ledger tests: `initdb` into a temp dir, `postgres`
//! on a free 127.0.0.1 port, a database per test, killed on drop.
//!
//! PostgreSQL refuses to run as root, and tests (and CI) do run as root: then the
//! server runs as `nobody` through `setpriv --reuid`, on a data dir owned by it. Like
//! every child here it runs under `setpriv --pdeathsig KILL` (see `process.rs`); the
//! inner setpriv sets the death signal again, because changing the user clears it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::control_plane::free_port;
use crate::process::{Proc, owned_temp_dir};
use crate::prometheus::run_tool;

/// Prefix of PostgreSQL temp dirs.
const PG_DIR_PREFIX: &str = "akp-pg-";

/// The PostgreSQL binaries: `AKP_PG_BIN_DIR`, else the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("AKP_PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql): install Debian's postgresql package")?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, dir)| dir)
        .context("no /usr/lib/postgresql/<version>/bin/postgres found")
}

/// The user to run the server as when we are root: (uid, gid) of `nobody`.
fn unprivileged() -> Option<(u32, u32)> {
    // The real uid, from /proc (no libc needed).
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    if uid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"nobody"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
    })
}

/// A PostgreSQL server.
pub struct TestPostgres {
    port: u16,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    proc: Option<Proc>,
    starts: u32,
    dir: TempDir,
}

impl std::fmt::Debug for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPostgres")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestPostgres {
    /// Initializes a cluster in a temp dir and starts the server.
    pub fn start() -> Result<Self> {
        let bin = bin_dir()?;
        let user = unprivileged();
        let dir = owned_temp_dir(PG_DIR_PREFIX, "PostgreSQL")?;
        let data = dir.path().join("data");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&data)?;
        std::fs::create_dir_all(&logs)?;
        if let Some((uid, gid)) = user {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .context("handing the data dir to nobody")?;
            std::os::unix::fs::chown(&logs, Some(uid), Some(gid))?;
        }
        let mut pg = Self {
            port: free_port()?,
            bin,
            user,
            proc: None,
            starts: 0,
            dir,
        };
        let (program, args) = pg.as_server_user(
            "initdb",
            vec![
                format!("--pgdata={}", data.display()),
                "--username=postgres".into(),
                "--auth=trust".into(),
                "--encoding=UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
        );
        run_tool(
            "initdb",
            &program,
            &args,
            logs.join("initdb.log"),
            Duration::from_secs(120),
        )?;
        pg.start_server()?;
        Ok(pg)
    }

    /// `bin/<tool> args`, wrapped to run as the unprivileged user when we are root.
    fn as_server_user(&self, tool: &str, args: Vec<String>) -> (PathBuf, Vec<String>) {
        let program = self.bin.join(tool);
        match self.user {
            Some((uid, gid)) => {
                let mut wrapped = vec![
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".into(),
                    "--pdeathsig".into(),
                    "KILL".into(),
                    "--".into(),
                    program.display().to_string(),
                ];
                wrapped.extend(args);
                (
                    which(Path::new("setpriv")).unwrap_or_else(|_| "/usr/bin/setpriv".into()),
                    wrapped,
                )
            }
            None => (program, args),
        }
    }

    fn start_server(&mut self) -> Result<()> {
        self.starts += 1;
        let log = self
            .dir
            .path()
            .join("logs")
            .join(format!("postgres-{}.log", self.starts));
        let (program, args) = self.as_server_user(
            "postgres",
            vec![
                "-D".into(),
                self.dir.path().join("data").display().to_string(),
                "-p".into(),
                self.port.to_string(),
                "-c".into(),
                "listen_addresses=127.0.0.1".into(),
                "-c".into(),
                "unix_socket_directories=".into(),
                // Throwaway data: durability against OS crashes is not needed here.
                "-c".into(),
                "fsync=off".into(),
                "-c".into(),
                "full_page_writes=off".into(),
                "-c".into(),
                "max_connections=200".into(),
            ],
        );
        let mut proc = Proc::spawn("postgres", &program, &args, &[], log)?;
        proc.wait_ready(Duration::from_secs(60), Duration::from_millis(50), || {
            self.client_tool("pg_isready")
                .arg("-q")
                .status()
                .is_ok_and(|s| s.success())
        })?;
        self.proc = Some(proc);
        Ok(())
    }

    /// A client tool of PostgreSQL's (`pg_isready`, `createdb`) that connects to this
    /// server as `postgres`.
    fn client_tool(&self, name: &str) -> Command {
        let mut command = Command::new(self.bin.join(name));
        command.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ]);
        command
    }

    /// Creates a fresh database and returns its URL.
    pub fn create_database(&self, prefix: &str) -> Result<String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{}_{}_{}",
            prefix.replace('-', "_"),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = self
            .client_tool("createdb")
            .arg(&name)
            .output()
            .context("running createdb")?;
        if !out.status.success() {
            bail!(
                "createdb {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(self.url(&name))
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Kills the server (the data dir stays): "the database is down".
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
        // A killed postmaster leaves its children to notice; wait for the port to close.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same data dir and port.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        // A killed postmaster leaves postmaster.pid; PostgreSQL checks the pid and
        // starts anyway once that process is gone.
        self.start_server()
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn which(program: &Path) -> Result<PathBuf> {
    if program.is_absolute() {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("{} not found on PATH", program.display()))
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}
