//! `kubectl pbo estimate-development`: the development cost calculator of R-EST-01.

use std::path::PathBuf;

use crate::output::Output;

/// Arguments of `kubectl pbo estimate-development`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The estimate's input (YAML): size {C,E,T,I,N}, class, scale, salary and inflation.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
}

/// Runs the calculator and returns what to print.
pub fn run(args: &Args, output: Output) -> anyhow::Result<String> {
    anyhow::bail!("estimate-development of {} ({output:?}): in progress", args.file.display())
}
