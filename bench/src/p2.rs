//! P2 memory: the operator's resident memory as the products it watches grow, and its
//! peak (VmHWM) with 1,000 products at trial operation (3 environments each) and with
//! enough products for 4,000 environments.

use std::time::Duration;

use anyhow::Result;

use crate::cluster::{Audited, OPERATOR_USER, OperatorProcess};
use crate::fixtures::{self, GATE2};
use crate::table::Results;

/// What P2 does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Product counts at which RSS is read (ascending).
    pub steps: Vec<usize>,
    /// Environments watched at the last, extra step (products × 3 ≥ this).
    pub environments: usize,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs P2 and adds its rows.
pub async fn run(cfg: &Config, results: &mut Results) -> Result<()> {
    let audited = Audited::start(false)?;
    let admin = audited.cp.admin_client().await?;
    fixtures::create_agency(&admin).await?;
    let mut op = OperatorProcess::spawn(&audited, OPERATOR_USER)?;
    let mut steps = cfg.steps.clone();
    let for_envs = cfg.environments.div_ceil(3);
    if steps.last().is_none_or(|last| *last < for_envs) {
        steps.push(for_envs);
    }
    let mut have = 0;
    let mut points = Vec::new();
    for step in steps {
        eprintln!("P2: {step} products at trial operation");
        fixtures::create_products(&admin, have, step, "trialOperation", GATE2, 16).await?;
        have = step;
        let wait = fixtures::wait_ready(&admin, step, Duration::from_secs(1800));
        futures::pin_mut!(wait);
        loop {
            tokio::select! {
                r = &mut wait => { r?; break; }
                () = tokio::time::sleep(Duration::from_secs(2)) => op.check_alive()?,
            }
        }
        // Let the last reconciles and watch events settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (rss, hwm) = op.rss_kib()?;
        eprintln!(
            "P2: {step} products: RSS {:.1} MiB, peak {:.1} MiB",
            mib(rss),
            mib(hwm)
        );
        points.push((step, rss, hwm));
    }
    let text: Vec<String> = points
        .iter()
        .map(|(n, rss, _)| format!("{n}: {:.1}", mib(*rss)))
        .collect();
    results.value(
        "P2 operator RSS (MiB) by products watched",
        text.join(", "),
        "—",
        None,
    );
    if let (Some(first), Some(last)) = (
        points.first(),
        points.iter().find(|p| p.0 >= 1000).or(points.last()),
    ) {
        let per = (mib(last.1) - mib(first.1)) / (last.0 - first.0).max(1) as f64 * 100.0;
        results.value(
            &format!("P2 RSS growth {}→{} products", first.0, last.0),
            format!("{per:.2} MiB per 100 products ({} objects each)", 3 * 10),
            "—",
            None,
        );
    }
    for (n, _, hwm) in &points {
        if *n == 1000 || *n == *points.last().map(|p| &p.0).unwrap_or(&0) {
            results.value(
                &format!(
                    "P2 operator peak RSS (VmHWM): {n} products, {} environments",
                    3 * n
                ),
                format!("{:.1} MiB", mib(*hwm)),
                "≤ 64 MiB",
                Some(mib(*hwm) <= 64.0),
            );
        }
    }
    Ok(())
}
