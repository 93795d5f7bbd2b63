//! A real Prometheus on loopback, over TSDB blocks made from known series.
//!
//! Tests describe their usage data as series of samples ([`OpenMetrics`]), turn them
//! into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, and start
//! Debian's `prometheus` on that data dir on a free 127.0.0.1 port. The answers are
//! then computable by hand. The process runs under `setpriv --pdeathsig KILL` (see
//! `process.rs`) and is killed on drop.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::control_plane::free_port;
use crate::process::{Proc, TAIL_LINES, owned_temp_dir, tail};

/// OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
///
/// Samples are grouped by metric family as OpenMetrics requires; timestamps are Unix
/// seconds; values are written as given (exact decimal text).
#[derive(Debug, Default, Clone)]
pub struct OpenMetrics {
    // family → series (labels text) → samples (seconds, value text)
    families: BTreeMap<String, BTreeMap<String, Vec<(i64, String)>>>,
}

impl OpenMetrics {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sample of `name{labels}` at `t_secs`.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        t_secs: i64,
        value: impl ToString,
    ) {
        let mut sorted: Vec<(&str, &str)> = labels.to_vec();
        sorted.sort_unstable();
        let mut text = String::new();
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(text, "{k}=\"{v}\"");
        }
        self.families
            .entry(name.to_string())
            .or_default()
            .entry(text)
            .or_default()
            .push((t_secs, value.to_string()));
    }

    /// Adds samples of one series at `times` with `value(t)`.
    pub fn series<V: ToString>(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        times: impl IntoIterator<Item = i64>,
        mut value: impl FnMut(i64) -> V,
    ) {
        for t in times {
            let v = value(t);
            self.sample(name, labels, t, v);
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.families
            .values()
            .flat_map(|s| s.values())
            .map(Vec::len)
            .sum()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The exposition text, ending with `# EOF`.
    pub fn render(&self) -> String {
        self.render_range(i64::MIN, i64::MAX)
            .unwrap_or_else(|| "# EOF\n".into())
    }

    /// The samples with `from <= t < to` as exposition text, `None` if there is none.
    fn render_range(&self, from: i64, to: i64) -> Option<String> {
        let mut out = String::new();
        let mut any = false;
        for (name, series) in &self.families {
            let mut header = false;
            for (labels, samples) in series {
                let mut samples: Vec<&(i64, String)> = samples
                    .iter()
                    .filter(|(t, _)| *t >= from && *t < to)
                    .collect();
                samples.sort_by_key(|(t, _)| *t);
                for (t, v) in samples {
                    if !header {
                        // "unknown" keeps promtool from checking counter suffixes; the
                        // TSDB stores no type anyway.
                        let _ = writeln!(out, "# TYPE {name} unknown");
                        header = true;
                    }
                    let _ = writeln!(out, "{name}{{{labels}}} {v} {t}");
                    any = true;
                }
            }
        }
        out.push_str("# EOF\n");
        any.then_some(out)
    }

    /// The exposition split by the 2-hour TSDB block each sample falls in.
    ///
    /// promtool reads its whole input once per block it writes, so one file per block
    /// keeps a month of data linear instead of quadratic (minutes → seconds).
    pub fn render_blocks(&self) -> Vec<String> {
        let times: std::collections::BTreeSet<i64> = self
            .families
            .values()
            .flat_map(|s| s.values())
            .flat_map(|samples| samples.iter().map(|(t, _)| t.div_euclid(BLOCK_SECS)))
            .collect();
        times
            .into_iter()
            .filter_map(|b| self.render_range(b * BLOCK_SECS, (b + 1) * BLOCK_SECS))
            .collect()
    }

    /// Writes the exposition to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.render()).with_context(|| format!("writing {}", path.display()))
    }
}

/// Prefix of Prometheus temp dirs.
const PROM_DIR_PREFIX: &str = "akp-prom-";
/// The TSDB's block span, seconds.
const BLOCK_SECS: i64 = 7200;

/// Where Debian puts `prometheus` and `promtool`; `AKP_PROMETHEUS_BIN_DIR` overrides.
fn bin(name: &str) -> Result<PathBuf> {
    let dirs = std::env::var_os("AKP_PROMETHEUS_BIN_DIR")
        .map(|d| vec![PathBuf::from(d)])
        .unwrap_or_else(|| {
            let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default();
            dirs.push("/usr/bin".into());
            dirs
        });
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} not found: install Debian's prometheus package (scripts/lib.sh does)")
        })
}

/// Runs a short-lived tool to completion under the same death-signal guard.
pub(crate) fn run_tool(
    name: &str,
    bin: &Path,
    args: &[String],
    log: PathBuf,
    timeout: Duration,
) -> Result<()> {
    let mut proc = Proc::spawn(name, bin, args, &[], log.clone())?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = proc.exited() {
            if status.success() {
                return Ok(());
            }
            bail!(
                "{name} failed ({status}); last lines of {}:\n{}",
                log.display(),
                tail(&log, TAIL_LINES)
            );
        }
        if Instant::now() > deadline {
            proc.kill();
            bail!(
                "{name} did not finish in {timeout:?}; last lines of {}:\n{}",
                log.display(),
                tail(&log, TAIL_LINES)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Status code of `GET path` on 127.0.0.1:`port` (blocking, no runtime needed).
pub(crate) fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A Prometheus server on a data dir of its own.
pub struct TestPrometheus {
    port: u16,
    proc: Option<Proc>,
    starts: u32,
    imports: u32,
    dir: TempDir,
}

impl std::fmt::Debug for TestPrometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPrometheus")
            .field("url", &self.url())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestPrometheus {
    /// Makes TSDB blocks of `data` and starts Prometheus on them.
    pub fn start(data: &OpenMetrics) -> Result<Self> {
        let mut prom = Self::new("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n")?;
        prom.import(data)?;
        prom.start_process()?;
        Ok(prom)
    }

    /// Starts Prometheus on an empty data dir with `config` (a `prometheus.yml`), so
    /// that it scrapes live targets.
    pub fn scraping(config: &str) -> Result<Self> {
        let mut prom = Self::new(config)?;
        prom.start_process()?;
        Ok(prom)
    }

    /// A Prometheus not started yet: its dir with `config` and an empty data dir.
    fn new(config: &str) -> Result<Self> {
        let dir = owned_temp_dir(PROM_DIR_PREFIX, "Prometheus")?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::create_dir_all(dir.path().join("logs"))?;
        std::fs::write(dir.path().join("prometheus.yml"), config)?;
        Ok(Self {
            port: free_port()?,
            proc: None,
            starts: 0,
            imports: 0,
            dir,
        })
    }

    /// Base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    /// Adds more samples (late data, for instance): stops Prometheus if it runs, writes
    /// new blocks into its data dir (overlapping blocks are merged at query time), and
    /// starts it again.
    pub fn add(&mut self, data: &OpenMetrics) -> Result<()> {
        let was_running = self.proc.is_some();
        self.stop();
        self.import(data)?;
        if was_running {
            self.start_process()?;
        }
        Ok(())
    }

    /// Kills Prometheus (the data dir stays).
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.kill();
        }
    }

    /// Starts Prometheus again on the same data dir and port.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.start_process()
    }

    fn import(&mut self, data: &OpenMetrics) -> Result<()> {
        self.imports += 1;
        let started = Instant::now();
        let promtool = bin("promtool")?;
        let chunks = data.render_blocks();
        let dir = self.dir.path().join(format!("import-{}", self.imports));
        std::fs::create_dir_all(&dir)?;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let data_dir = self.dir.path().join("data");
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else {
                                return Ok(());
                            };
                            let input = dir.join(format!("{i}.om"));
                            std::fs::write(&input, chunk)?;
                            run_tool(
                                "promtool",
                                &promtool,
                                &[
                                    "tsdb".into(),
                                    "create-blocks-from".into(),
                                    "openmetrics".into(),
                                    "--quiet".into(),
                                    input.display().to_string(),
                                    data_dir.display().to_string(),
                                ],
                                dir.join(format!("{i}.log")),
                                Duration::from_secs(300),
                            )?;
                            let _ = std::fs::remove_file(&input);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a promtool worker panicked"))??;
            }
            Ok(())
        })?;
        tracing::info!(samples = data.len(), blocks = chunks.len(), took = ?started.elapsed(), "TSDB blocks created");
        Ok(())
    }

    fn start_process(&mut self) -> Result<()> {
        self.starts += 1;
        let log = self
            .dir
            .path()
            .join("logs")
            .join(format!("prometheus-{}.log", self.starts));
        let d = self.dir.path();
        let args = vec![
            format!("--config.file={}", d.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", d.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.port),
            // The test data lies in the past: keep all of it.
            "--storage.tsdb.retention.time=100y".into(),
            // No background compaction of the hundreds of imported 2-hour blocks: it
            // would only compete with the tests for CPU.
            "--storage.tsdb.min-block-duration=2h".into(),
            "--storage.tsdb.max-block-duration=2h".into(),
            "--log.level=warn".into(),
        ];
        let mut proc = Proc::spawn("prometheus", &bin("prometheus")?, &args, &[], log)?;
        proc.wait_ready(Duration::from_secs(120), Duration::from_millis(50), || {
            http_status(self.port, "/-/ready") == Some(200)
        })?;
        self.proc = Some(proc);
        Ok(())
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        self.stop();
    }
}
