//! `akp-bench`: runs the benchmarks P1-P4, prints the results table and writes it to
//! `docs/benchmarks.md`. Run it through `scripts/bench.sh` (release builds).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use akp_bench::sys::{Machine, Sampler};
use akp_bench::table::Results;
use akp_bench::{p1, p2, p3, p4};
use clap::Parser;

/// Benchmarks P1-P4 against their floors, measured in one run.
#[derive(Parser, Debug)]
struct Args {
    /// Which benchmarks to run (comma-separated: p1,p2,p3,p4).
    #[arg(long, default_value = "p1,p2,p3,p4", value_delimiter = ',')]
    only: Vec<String>,
    /// Scales every size (products, environments, rows); 1 is the full benchmark.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seconds of P1's steady state.
    #[arg(long, default_value_t = 300)]
    steady_secs: u64,
    /// Repetitions of P3 and P4 measurements.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// P4's databases (comma-separated: sqlite,postgres).
    #[arg(long, default_value = "sqlite,postgres", value_delimiter = ',')]
    databases: Vec<String>,
    /// Where the Markdown results go (none: not written).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let machine = Machine::detect();
    let started_at = jiff::Timestamp::now();
    let sampler = Sampler::start();
    let t = Instant::now();
    let mut results = Results::default();
    let s = args.scale;
    let wants = |name: &str| args.only.iter().any(|o| o == name);
    let mut failures = Vec::new();
    if wants("p1") {
        let cfg = p1::Config {
            products: scaled(500, s),
            steady: Duration::from_secs(args.steady_secs),
        };
        if let Err(e) = p1::run(&cfg, &mut results).await {
            failures.push(format!("P1 failed: {e:#}"));
        }
    }
    if wants("p2") {
        let cfg = p2::Config {
            steps: [100, 250, 500, 1000].map(|n| scaled(n, s)).to_vec(),
            environments: scaled(4000, s),
        };
        if let Err(e) = p2::run(&cfg, &mut results).await {
            failures.push(format!("P2 failed: {e:#}"));
        }
    }
    if wants("p3") {
        let cfg = p3::Config {
            environments: vec![scaled(200, s), scaled(2000, s)],
            repeats: args.repeats,
        };
        if let Err(e) = p3::run(&cfg, &mut results).await {
            failures.push(format!("P3 failed: {e:#}"));
        }
    }
    if wants("p4") {
        let cfg = p4::Config {
            environments: scaled(2000, s),
            // Two passes of 12 million rows each are enough to take the best of.
            repeats: args.repeats.min(2),
            databases: args.databases.clone(),
        };
        if let Err(e) = p4::run(&cfg, &mut results).await {
            failures.push(format!("P4 failed: {e:#}"));
        }
    }
    for f in &failures {
        results.note(f.clone());
    }
    let took = t.elapsed();
    let background = sampler.finish();
    let header = format!(
        "Run {started_at} ({:.1} min, scale {s}); {} CPUs, {} MiB, {}, Linux {}; \
         1-min load mean {:.2} (max {:.2}); another compiler (rustc, cargo, cc, ld, go) was running in {} of {} samples taken every 5 s",
        took.as_secs_f64() / 60.0,
        machine.nproc,
        machine.memory_mib,
        machine.cpu_model,
        machine.kernel,
        background.load_mean,
        background.load_max,
        background.with_compiler,
        background.samples,
    );
    println!("\n{header}\n");
    println!("{}", results.render_text());
    if let Some(path) = &args.out {
        write_markdown(path, &header, &results)?;
        println!("written to {}", path.display());
    }
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// Replaces the part of `path` between the results markers with this run's table.
fn write_markdown(path: &std::path::Path, header: &str, results: &Results) -> anyhow::Result<()> {
    const BEGIN: &str = "<!-- results: begin (written by scripts/bench.sh) -->";
    const END: &str = "<!-- results: end -->";
    let mut block = format!(
        "{BEGIN}\n\n{header}.\n\n{}\n",
        results.render_markdown_table()
    );
    for n in &results.notes {
        block.push_str(&format!("- {n}\n"));
    }
    block.push('\n');
    block.push_str(END);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &text[..b], &text[e + END.len()..]),
        _ => format!("{text}\n{block}\n"),
    };
    std::fs::write(path, new)?;
    Ok(())
}
