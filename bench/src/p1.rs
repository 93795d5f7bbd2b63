//! P1 provisioning: products at the development stage on a local control plane, until
//! all are Ready, against the floor: a plain kube client that server-side-applies the
//! same child objects (made by the operator's own pure `validate` and `build`) with the
//! same concurrency (one task per product, its objects in sequence, as the operator's
//! reconciles do). Then the steady state: writes and CPU of the idle operator.

use std::time::{Duration, Instant};

use akp_crds::PlatformSoftwareProduct;
use akp_operator::apply::FIELD_MANAGER;
use akp_operator::product::build::{self, Child, Plan};
use akp_operator::product::segmentation::Segmentation;
use akp_operator::product::validate::validate;
use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cluster::{Audited, FLOOR_USER, OPERATOR_USER, OperatorProcess};
use crate::fixtures::{self, product, product_name};
use crate::table::{Results, secs};

/// What P1 does.
#[derive(Clone, Debug)]
pub struct Config {
    /// Products (two environments each at the development stage).
    pub products: usize,
    /// How long the steady state is watched.
    pub steady: Duration,
}

/// The plans of the products, from the operator's pure functions.
fn plans(products: usize) -> Result<Vec<Plan>> {
    let agency = fixtures::agency()?;
    (0..products)
        .map(|i| {
            let p: PlatformSoftwareProduct =
                serde_json::from_value(product(&product_name(i), "development", &[]))?;
            let v = validate(&p, [&agency]).map_err(|e| anyhow!("{e}"))?;
            Ok(build::plan(&v, &Segmentation::default(), &[]))
        })
        .collect()
}

async fn ssa<K>(api: Api<K>, obj: &K) -> Result<()>
where
    K: Resource + Clone + std::fmt::Debug + Serialize + DeserializeOwned,
{
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .with_context(|| format!("applying {}", obj.name_any()))?;
    Ok(())
}

/// Applies one product's environments: the namespace, then its objects, in order.
async fn apply_plan(client: &Client, plan: &Plan) -> Result<()> {
    for env in &plan.environments {
        ssa(Api::<Namespace>::all(client.clone()), &env.namespace).await?;
        let ns = env.namespace.name_any();
        for child in &env.objects {
            match child {
                Child::Quota(o) => {
                    ssa(Api::<ResourceQuota>::namespaced(client.clone(), &ns), o).await?
                }
                Child::Limits(o) => {
                    ssa(Api::<LimitRange>::namespaced(client.clone(), &ns), o).await?
                }
                Child::Binding(o) => {
                    ssa(Api::<RoleBinding>::namespaced(client.clone(), &ns), o).await?
                }
                Child::Policy(o) => {
                    ssa(Api::<NetworkPolicy>::namespaced(client.clone(), &ns), o).await?
                }
            }
        }
    }
    Ok(())
}

/// The floor: (time, writes, objects).
async fn floor(cfg: &Config) -> Result<(Duration, usize, usize)> {
    let plans = plans(cfg.products)?;
    let objects: usize = plans
        .iter()
        .flat_map(|p| &p.environments)
        .map(|e| 1 + e.objects.len())
        .sum();
    let audited = Audited::start(true)?;
    let client = audited
        .cp
        .client_for(FLOOR_USER, &["system:masters"])
        .await?;
    let started = Instant::now();
    let results = futures::future::join_all(plans.iter().map(|p| apply_plan(&client, p))).await;
    let took = started.elapsed();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let writes = audited.writes_by(FLOOR_USER)?.len();
    Ok((took, writes, objects))
}

/// Runs P1 and adds its rows.
pub async fn run(cfg: &Config, results: &mut Results) -> Result<()> {
    let n = cfg.products;
    eprintln!("P1: floor: {n} products' child objects by a plain client");
    let (floor_time, floor_writes, objects) = floor(cfg).await?;
    eprintln!(
        "P1: floor {} ({floor_writes} writes, {objects} objects)",
        secs(floor_time)
    );

    eprintln!("P1: operator: {n} products until Ready");
    let audited = Audited::start(true)?;
    let admin = audited.cp.admin_client().await?;
    fixtures::create_agency(&admin).await?;
    fixtures::create_products(&admin, 0, n, "development", &[], 8).await?;
    let started = Instant::now();
    let mut op = OperatorProcess::spawn(&audited, OPERATOR_USER)?;
    let wait = fixtures::wait_ready(&admin, n, Duration::from_secs(1800));
    futures::pin_mut!(wait);
    let took = loop {
        tokio::select! {
            r = &mut wait => { r?; break started.elapsed(); }
            () = tokio::time::sleep(Duration::from_secs(2)) => op.check_alive()?,
        }
    };
    let provision_writes = audited.writes_by(OPERATOR_USER)?.len();
    let provision_cpu = op.cpu_time()?;
    eprintln!(
        "P1: operator {} ({provision_writes} writes, {} CPU)",
        secs(took),
        secs(provision_cpu)
    );
    results.ratio(
        &format!(
            "P1 provisioning: {n} products, {} environments → Ready",
            2 * n
        ),
        took,
        floor_time,
        1.3,
    );
    results.note(format!(
        "P1: floor = {floor_writes} server-side applies of {objects} objects ({n} tasks); operator = {provision_writes} writes (the same objects plus finalizer and status per product, cluster roles, the agency), operator CPU {} while provisioning",
        secs(provision_cpu)
    ));

    // Steady state: nothing changes; the operator should write nothing.
    let w0 = audited.writes_by(OPERATOR_USER)?;
    let cpu0 = op.cpu_time()?;
    let t0 = Instant::now();
    eprintln!("P1: steady state for {:?}", cfg.steady);
    while t0.elapsed() < cfg.steady {
        tokio::time::sleep(Duration::from_secs(1).min(cfg.steady)).await;
        op.check_alive()?;
    }
    let window = t0.elapsed();
    let cpu = op.cpu_time()?.saturating_sub(cpu0);
    let w1 = audited.writes_by(OPERATOR_USER)?;
    let new = &w1[w0.len().min(w1.len())..];
    let minutes = window.as_secs_f64() / 60.0;
    let per_minute = new.len() as f64 / minutes;
    results.value(
        &format!("P1 steady state ({:.1} min): operator writes/min", minutes),
        format!("{per_minute:.2}"),
        "0",
        Some(new.is_empty()),
    );
    results.value(
        "P1 steady state: operator CPU",
        format!(
            "{:.2}% of a core ({} in {})",
            100.0 * cpu.as_secs_f64() / window.as_secs_f64(),
            secs(cpu),
            secs(window)
        ),
        "—",
        None,
    );
    if !new.is_empty() {
        results.note(format!(
            "P1 steady-state writes: {:?}",
            &new[..new.len().min(10)]
        ));
    }
    Ok(())
}
