//! Writes the CRD YAML of every kind to `crds/yaml/` and to the Helm chart's
//! `charts/akp/files/crds/` (which `templates/crds.yaml` renders, so that `helm upgrade`
//! upgrades them), or only to the directory given with `--out`; or with `--check`
//! fails when the committed files of either differ from what the types generate, or
//! when the chart ships a CRD file the types no longer generate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut check = false;
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chart_crds = crate_dir
        .parent()
        .unwrap_or(crate_dir)
        .join("charts")
        .join("akp")
        .join("files")
        .join("crds");
    let mut dirs = vec![crate_dir.join("yaml"), chart_crds];
    // Only the project's own directories are pruned: `--out` may name any directory.
    let mut prune = true;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--out" => match args.next() {
                Some(d) => {
                    dirs = vec![PathBuf::from(d)];
                    prune = false;
                }
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let mut generated = Vec::new();
    for (file, crd) in akp_crds::all() {
        match akp_crds::to_yaml(&crd) {
            Ok(yaml) => generated.push((file, yaml)),
            Err(e) => {
                eprintln!("crdgen: cannot serialize {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut drift = Vec::new();
    for dir in &dirs {
        for (file, yaml) in &generated {
            let path = dir.join(file);
            if check {
                if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                    drift.push(path.display().to_string());
                }
            } else if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, yaml))
            {
                eprintln!("crdgen: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        // A CRD file left from a removed kind would still be installed by Helm.
        let stale = if prune {
            stale_files(dir, &generated)
        } else {
            Vec::new()
        };
        for stale in stale {
            if check {
                drift.push(format!("{} (no longer generated)", stale.display()));
            } else if let Err(e) = std::fs::remove_file(&stale) {
                eprintln!("crdgen: cannot remove {}: {e}", stale.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if !drift.is_empty() {
        eprintln!(
            "crdgen: the committed CRD YAML differs from the API types: {}\nrun `cargo run -p akp-crds --bin crdgen` and commit the result",
            drift.join(", ")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `*.yaml` files in `dir` that are not among the generated ones.
fn stale_files(dir: &Path, generated: &[(&str, String)]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !generated.iter().any(|(file, _)| *file == name)
        })
        .collect();
    stale.sort();
    stale
}

fn usage() -> ExitCode {
    eprintln!("usage: crdgen [--check] [--out DIR]");
    ExitCode::from(2)
}
