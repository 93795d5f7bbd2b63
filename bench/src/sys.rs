//! The machine, process statistics from /proc, and a sampler of what else ran.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

/// What the numbers were measured on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical CPUs.
    pub nproc: usize,
    /// MemTotal, MiB.
    pub memory_mib: u64,
    /// `model name` of the first CPU.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads /proc.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = field_kib(&meminfo, "MemTotal:").unwrap_or(0) / 1024;
        Self {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib,
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
        }
    }
}

/// A `Key:   123 kB` field of /proc/meminfo or /proc/<pid>/status, in KiB.
pub fn field_kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident memory of a process: (VmRSS, VmHWM) in KiB.
pub fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok((
        field_kib(&status, "VmRSS:").context("VmRSS")?,
        field_kib(&status, "VmHWM:").context("VmHWM")?,
    ))
}

/// CPU time (user + system) a process has used.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name is in parentheses and may contain spaces: fields count from ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or(&stat);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the man page, utime 14, stime 15.
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks() as f64,
    ))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Whether a compiler or linker of someone else is running (rustc, cc1, ld, go).
fn compiler_running() -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        matches!(
            comm.trim(),
            "rustc"
                | "cc1"
                | "cc1plus"
                | "ld"
                | "ld.lld"
                | "cargo"
                | "clippy-driver"
                | "go"
                | "compile"
        )
    })
}

/// What ran besides the benchmarks: load average and compilers, sampled every 5 s.
#[derive(Clone, Default)]
pub struct Sampler {
    samples: Arc<Mutex<Vec<(f64, bool)>>>,
    stop: Arc<AtomicBool>,
}

/// A summary of the sampler.
#[derive(Clone, Debug, Default)]
pub struct Background {
    /// Samples taken.
    pub samples: usize,
    /// Samples with a compiler running.
    pub with_compiler: usize,
    /// Mean and max 1-minute load.
    pub load_mean: f64,
    /// Maximum 1-minute load.
    pub load_max: f64,
}

impl Sampler {
    /// Starts sampling on a thread of its own.
    pub fn start() -> Self {
        let s = Self::default();
        let (samples, stop) = (s.samples.clone(), s.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let sample = (load1(), compiler_running());
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sample);
                for _ in 0..50 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        s
    }

    /// Stops and summarizes.
    pub fn finish(&self) -> Background {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let n = samples.len();
        Background {
            samples: n,
            with_compiler: samples.iter().filter(|s| s.1).count(),
            load_mean: samples.iter().map(|s| s.0).sum::<f64>() / n.max(1) as f64,
            load_max: samples.iter().map(|s| s.0).fold(0.0, f64::max),
        }
    }
}
