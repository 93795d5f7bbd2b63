//! `kubectl pbo`: the kubectl plugin for platform software products (issue 7).

mod estimate_development;
mod output;

fn main() -> anyhow::Result<()> {
    let args = estimate_development::Args { file: "-".into() };
    let _ = estimate_development::run(&args, output::Output::Table);
    Ok(())
}
