//! `kubectl pbo`: the kubectl plugin for platform software products (issue 7).

fn main() -> anyhow::Result<()> {
    Ok(())
}
