//! Reaching the cluster the way kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list
//! of files, merged), else `~/.kube/config`; `--context`; the namespace from `-n`, else
//! the context's, else `default`.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::CliError;

/// The kubectl-style connection flags, global to every command.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace of the product (default: the context's namespace, else default).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

/// A connected client and the namespace to use.
#[derive(Clone)]
pub struct Cluster {
    /// The client.
    pub client: Client,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
}

impl ClusterArgs {
    /// Reads the kubeconfig and makes a client; nothing is sent yet.
    pub async fn connect(&self) -> Result<Cluster, CliError> {
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path).map_err(|e| {
                CliError::Config(format!(
                    "cannot read the kubeconfig {}: {e}: check --kubeconfig",
                    path.display()
                ))
            })?,
            None => Kubeconfig::read().map_err(|e| {
                CliError::Config(format!(
                    "cannot read a kubeconfig ({e}): set KUBECONFIG or pass --kubeconfig"
                ))
            })?,
        };
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                CliError::Config(match &self.context {
                    Some(c) => format!(
                        "cannot use context {c:?} of the kubeconfig: {e}: `kubectl config get-contexts` lists them"
                    ),
                    None => format!(
                        "cannot use the kubeconfig's current context: {e}: pass --context or run `kubectl config use-context`"
                    ),
                })
            })?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)
            .map_err(|e| CliError::Config(format!("cannot make a client: {e}")))?;
        Ok(Cluster { client, namespace })
    }
}

/// The API server's answer to a failed request, as kubectl prints it: the message is
/// verbatim (it carries the rule and the fix).
pub fn server_error(e: kube::Error, what: &str) -> CliError {
    match e {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                status.code.to_string()
            } else {
                status.reason.clone()
            };
            CliError::Server {
                code: status.code,
                message: format!("Error from server ({reason}): {}", status.message),
            }
        }
        other => CliError::Unreachable(format!(
            "{what}: {other}: check that the cluster is reachable (kubectl cluster-info) and the kubeconfig is current"
        )),
    }
}

/// "not found" with what to do about it, other errors as [`server_error`].
pub fn get_error(e: kube::Error, kind: &str, name: &str, namespace: Option<&str>) -> CliError {
    match &e {
        kube::Error::Api(s) if s.code == 404 => CliError::NotFound(match namespace {
            Some(ns) => format!(
                "{kind} {name:?} not found in namespace {ns:?}: check the name, or pass -n <namespace> (kubectl get {} -A lists them)",
                kind_plural(kind)
            ),
            None => format!(
                "{kind} {name:?} not found: kubectl get {} lists them",
                kind_plural(kind)
            ),
        }),
        _ => server_error(e, &format!("reading {kind} {name}")),
    }
}

fn kind_plural(kind: &str) -> &'static str {
    match kind {
        "PlatformSoftwareProduct" => "pbo",
        "BillingReport" => "billingreports",
        "Agency" => "agencies",
        "Tariff" => "tariffs",
        _ => "akp",
    }
}
