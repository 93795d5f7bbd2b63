//! Child processes that die with the test process.
//!
//! Every child is started as `setpriv --pdeathsig KILL -- <bin> <args>`, so the kernel
//! kills it when its parent goes away. The "parent" for PR_SET_PDEATHSIG is the
//! *thread* that forked, so all children are forked by one long-lived thread that
//! lives until the process exits. This covers the `'static` shared control plane,
//! which is never dropped, and test binaries that panic or are killed. (One gap: a
//! child forked in the last milliseconds before the test process dies may set its
//! death signal after its parent is gone, and survive; nothing spawns that late here.)

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

/// A command that runs `program` under `setpriv --pdeathsig KILL`, so that the kernel
/// kills it when the thread that spawned it goes away (setpriv execs: the child's pid
/// is the program's). For the children a test spawns itself.
pub fn setpriv_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--pdeathsig", "KILL", "--"]).arg(program);
    command
}

/// The file naming the test process that owns a temp dir.
const OWNER_FILE: &str = "owner.pid";

/// A new temp dir `<prefix>…` (for `what`), marked as this process's, after removing
/// the dirs with `prefix` whose owning test process is gone: a shared server of a test
/// binary is a static, never dropped; it dies with the process and its dir stays.
pub(crate) fn owned_temp_dir(prefix: &str, what: &str) -> Result<TempDir> {
    sweep_stale_dirs(prefix);
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .with_context(|| format!("creating the {what} temp dir"))?;
    std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
    Ok(dir)
}

fn sweep_stale_dirs(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let owner = std::fs::read_to_string(entry.path().join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if owner.is_some_and(|pid| !pid_alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Number of log lines quoted in startup errors.
pub(crate) const TAIL_LINES: usize = 40;

struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// The sender to the forking thread, started on first use.
fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // If the thread cannot start, `rx` is dropped and every spawn reports it.
        let _ = std::thread::Builder::new()
            .name("akp-process-spawner".into())
            .spawn(move || {
                // Never returns while the static sender exists, i.e. for the process lifetime.
                for mut req in rx {
                    let _ = req.reply.send(req.command.spawn());
                }
            });
        tx
    })
}

/// `setpriv` from util-linux, if present.
fn setpriv() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|d| d.join("setpriv"))
                .find(|p| p.is_file())
        })
        .as_deref()
}

/// Whether `AKP_TEST_LOG` asks to stream process logs to stderr.
fn stream_logs() -> bool {
    std::env::var("AKP_TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A running child whose output goes to a log file.
pub(crate) struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Child,
    // How it was started, so that [`Proc::respawn`] starts it again the same way.
    bin: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, PathBuf)>,
}

impl Proc {
    /// Starts `bin args…` with stdout and stderr in `log`; with `AKP_TEST_LOG=1` the
    /// lines are also written to stderr, prefixed with `name`.
    pub fn spawn(
        name: &str,
        bin: &Path,
        args: &[String],
        envs: &[(&str, &Path)],
        log: PathBuf,
    ) -> Result<Self> {
        let envs: Vec<(String, PathBuf)> = envs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_path_buf()))
            .collect();
        let file =
            File::create(&log).with_context(|| format!("creating log file {}", log.display()))?;
        let child = launch(name, bin, args, &envs, file)?;
        Ok(Self {
            name: name.to_string(),
            log,
            child,
            bin: bin.to_path_buf(),
            args: args.to_vec(),
            envs,
        })
    }

    /// Kills the process if it still runs, then starts it again with the same binary,
    /// arguments and environment; the new output is appended to the same log.
    pub fn respawn(&mut self) -> Result<()> {
        self.kill();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)
            .with_context(|| format!("opening log file {}", self.log.display()))?;
        self.child = launch(&self.name, &self.bin, &self.args, &self.envs, file)?;
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// An error saying the process exited, with the tail of its log.
    pub fn exit_error(&self, status: ExitStatus) -> anyhow::Error {
        anyhow!(
            "{} exited unexpectedly ({status}); last lines of {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.log, TAIL_LINES)
        )
    }

    /// Polls `ready` every `every` until it holds, for at most `timeout`. Fails early if
    /// the process exits; at the deadline kills it and fails with the tail of its log.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        every: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Err(self.exit_error(status));
            }
            if ready() {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                self.kill();
                bail!(
                    "{} was not ready within {timeout:?}; last lines of {}:\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log, TAIL_LINES)
                );
            }
            std::thread::sleep(every);
        }
    }

    /// SIGKILL and reap. These are throwaway processes on a throwaway data dir, so
    /// there is nothing to shut down gracefully.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Forks `bin args…` on the spawner thread, under `setpriv --pdeathsig KILL` when
/// available, with its output in `file` (and on stderr with `AKP_TEST_LOG=1`).
fn launch(
    name: &str,
    bin: &Path,
    args: &[String],
    envs: &[(String, PathBuf)],
    file: File,
) -> Result<Child> {
    let mut command = match setpriv() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(bin);
            c
        }
        None => {
            tracing::warn!(
                "setpriv not found: {name} will not die with the test process if it is killed"
            );
            Command::new(bin)
        }
    };
    command.args(args).stdin(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let streaming = stream_logs();
    if streaming {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        let err = file
            .try_clone()
            .context("duplicating the log file handle")?;
        command.stdout(file.try_clone()?).stderr(err);
    }
    let (reply, answer) = mpsc::channel();
    spawner()
        .send(SpawnRequest { command, reply })
        .map_err(|_| anyhow!("the process spawner thread is not running"))?;
    let mut child = answer
        .recv()
        .map_err(|_| anyhow!("the process spawner thread is not running"))?
        .with_context(|| format!("starting {name} ({})", bin.display()))?;
    if streaming {
        if let Some(out) = child.stdout.take() {
            tee(name, out, file.try_clone()?);
        }
        if let Some(err) = child.stderr.take() {
            tee(name, err, file);
        }
    }
    Ok(child)
}

/// Copies a child's output to its log file and to stderr, line by line.
fn tee(name: &str, from: impl Read + Send + 'static, mut file: File) {
    let prefix = format!("[{name}] ");
    let _ = std::thread::Builder::new()
        .name(format!("akp-log-{name}"))
        .spawn(move || {
            for line in BufReader::new(from).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                eprintln!("{prefix}{line}");
            }
        });
}

/// The last `n` lines of a log file (or why it could not be read).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Whether a process with this id exists (and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Waits up to `timeout` for all `pids` to be gone.
pub fn wait_pids_gone(pids: &[u32], timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if pids.iter().all(|p| !pid_alive(*p)) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
