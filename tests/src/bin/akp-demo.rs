//! The demo: a local control plane with the API, the example agencies, sites, catalog,
//! tariffs and products, shown as an SRE sees them with kubectl, and bad input refused
//! by the API server. `--keep` leaves the cluster running until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use akp_test_support::{
    Binaries, ControlPlane, Options, apply, documents, ensure_namespace, kwok_node, repo_root,
    yaml_files,
};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};

const MANAGER: &str = "akp-demo";

struct Demo {
    started: Instant,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
}

impl Demo {
    fn step(&self, what: &str) {
        println!(
            "\n\x1b[1m[{:>5.1}s] {what}\x1b[0m",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Runs kubectl and shows its command line and output, as an SRE would see it.
    fn kubectl(&self, args: &[&str]) -> Result<bool> {
        println!("$ kubectl {}", args.join(" "));
        let out = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .current_dir(repo_root())
            .output()
            .with_context(|| format!("running {}", self.kubectl.display()))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        print!("{}", String::from_utf8_lossy(&out.stderr));
        Ok(out.status.success())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let keep = std::env::args().any(|a| a == "--keep");
    let out_dir = repo_root().join("out").join("demo");
    std::fs::create_dir_all(&out_dir)?;
    let started = Instant::now();
    println!(
        "AKP demo: a real kube-apiserver, etcd, scheduler, controller manager and kwok on loopback"
    );

    let cp = ControlPlane::start(Options {
        crds: true,
        ..Options::full()
    })?;
    let kubeconfig = out_dir.join("kubeconfig");
    std::fs::copy(cp.kubeconfig_path(), &kubeconfig)?;
    let demo = Demo {
        started,
        kubectl: Binaries::locate()?.kubectl,
        kubeconfig,
    };
    demo.step(&format!(
        "control plane ready in {:.1}s; CRDs installed",
        cp.startup_duration().as_secs_f64()
    ));
    let client = cp.admin_client().await?;
    demo.kubectl(&["get", "crds"])?;

    demo.step("nodes: two server buildings in Kazakhstan and one abroad (kwok makes them Ready)");
    let nodes = Api::<Node>::all(client.clone());
    for (name, zone, country) in [
        ("astana-1-a", "astana-1", "KZ"),
        ("astana-1-b", "astana-1", "KZ"),
        ("almaty-1-a", "almaty-1", "KZ"),
        ("frankfurt-1-a", "frankfurt-1", "DE"),
    ] {
        let node = kwok_node(
            name,
            &[
                ("topology.kubernetes.io/zone", zone),
                (akp_crds::site::COUNTRY_LABEL, country),
            ],
        );
        nodes.create(&PostParams::default(), &node).await?;
    }
    apply_dir(
        &client,
        &repo_root().join("examples"),
        &["agencies.yaml", "sites.yaml"],
    )
    .await?;
    demo.kubectl(&["get", "agencies"])?;
    demo.kubectl(&["get", "sites"])?;
    demo.kubectl(&[
        "get",
        "nodes",
        "-L",
        "topology.kubernetes.io/zone",
        "-L",
        akp_crds::site::COUNTRY_LABEL,
    ])?;

    demo.step("the trusted-software catalog and the tariffs");
    apply_dir(
        &client,
        &repo_root().join("examples"),
        &["catalog.yaml", "tariffs.yaml"],
    )
    .await?;
    demo.kubectl(&["get", "softwarecatalogitems"])?;
    demo.kubectl(&["get", "tariffs"])?;

    demo.step("agencies create their products");
    apply_dir(&client, &repo_root().join("examples").join("products"), &[]).await?;
    demo.kubectl(&["get", "pbo", "-A"])?;
    demo.kubectl(&["explain", "pbo.spec.stage"])?;

    demo.step("bad input is refused by the API server with the field, the rule and the fix");
    for bad in [
        "pbo-internet-facing-internal.yaml",
        "pbo-trial-missing-act.yaml",
        "catalog-image-with-tag.yaml",
    ] {
        let refused = !demo.kubectl(&[
            "apply",
            "-n",
            "agency-mon",
            "-f",
            &format!("examples/invalid/{bad}"),
        ])?;
        anyhow::ensure!(refused, "examples/invalid/{bad} was accepted");
    }

    demo.step("done");
    println!("kubeconfig: {}", demo.kubeconfig.display());
    if keep {
        println!(
            "the cluster stays up: export KUBECONFIG={}; Ctrl-C stops it",
            demo.kubeconfig.display()
        );
        tokio::signal::ctrl_c().await?;
    }
    Ok(())
}

/// Applies every document of the named files of `dir` (all files when `names` is
/// empty), creating agency and product namespaces first.
async fn apply_dir(client: &kube::Client, dir: &Path, names: &[&str]) -> Result<()> {
    let files = yaml_files(dir)?.into_iter().filter(|f| {
        names.is_empty() || f.file_name().is_some_and(|n| names.iter().any(|w| n == *w))
    });
    for file in files {
        for doc in documents(&file)? {
            if doc["kind"] == "Agency" {
                ensure_namespace(
                    client,
                    doc["spec"]["namespace"].as_str().unwrap_or_default(),
                )
                .await?;
            }
            if let Some(ns) = doc["metadata"]["namespace"].as_str() {
                ensure_namespace(client, ns).await?;
            }
            apply(client, &doc, None, MANAGER).await.with_context(|| {
                format!(
                    "applying {} from {}",
                    doc["metadata"]["name"],
                    file.display()
                )
            })?;
        }
    }
    Ok(())
}
