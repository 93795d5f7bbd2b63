//! `kubectl pbo`: the kubectl plugin for platform software products (issue 7).
//!
//! On the PATH as `kubectl-pbo`, kubectl runs it for `kubectl pbo …`. It reads the
//! kubeconfig as kubectl does (`--kubeconfig`, `KUBECONFIG`, `--context`, `-n`).

mod check;
mod cluster;
mod complete;
mod error;
mod estimate;
mod estimate_development;
mod inputs;
mod output;
mod promote;
mod report;
mod status;
mod usage;

use std::io::Write;

use clap::{CommandFactory, Parser, Subcommand};

use crate::cluster::ClusterArgs;
use crate::error::CliError;
use crate::output::Output;

/// Platform software products (ПБӨ) of the e-government platform: lifecycle, clocks,
/// usage, cost estimates and billing reports.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-pbo",
    bin_name = "kubectl pbo",
    version,
    after_help = "Exit codes: 0 success, 1 failure (refused, not found, unreachable), 2 bad arguments, 3 report verification failed."
)]
pub struct Cli {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stage, gates and missing acts, legal clocks, environments, placement, conditions.
    Status(status::Args),
    /// Adds signed acts (SHA-256 from the files) and moves the product to a stage.
    Promote(promote::Args),
    /// Metered usage of a month from the billing ledger, rated at the tariffs.
    Usage(usage::Args),
    /// Monthly cost estimate of the requested resources (R-BIL-04).
    Estimate(estimate::Args),
    /// Development cost estimate (R-EST-01).
    EstimateDevelopment(estimate_development::Args),
    /// Billing reports: status and files, signature verification.
    #[command(subcommand)]
    Report(report::Command),
    /// Whether an installation answers: the admission webhook (a review over TLS
    /// verified with its caBundle) and /metrics URLs (the chart's `helm test`).
    Check(check::Args),
    /// Shell completion script for kubectl-pbo.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

async fn run(cli: &Cli) -> Result<String, CliError> {
    match &cli.command {
        Command::Status(a) => status::run(a, &cli.cluster, cli.output).await,
        Command::Promote(a) => promote::run(a, &cli.cluster, cli.output).await,
        Command::Usage(a) => usage::run(a, &cli.cluster, cli.output).await,
        Command::Estimate(a) => estimate::run(a, &cli.cluster, cli.output).await,
        Command::EstimateDevelopment(a) => Ok(estimate_development::run(a, cli.output)?),
        Command::Report(report::Command::Get(a)) => report::get(a, &cli.cluster, cli.output).await,
        Command::Report(report::Command::Verify(a)) => report::run_verify(a, cli.output),
        Command::Check(a) => check::run(a, &cli.cluster).await,
        Command::Completion { shell } => Ok(completion(*shell)),
    }
}

/// The completion script of a shell, for the `kubectl-pbo` executable.
fn completion(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "kubectl-pbo", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

fn main() {
    // kubectl's completion of `kubectl pbo …`: run as kubectl_complete-pbo (a symlink
    // to this executable) or as `kubectl-pbo __complete …`.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let words = if invoked_as == complete::EXECUTABLE {
        Some(args.get(1..).unwrap_or_default())
    } else if args.get(1).map(String::as_str) == Some("__complete") {
        Some(args.get(2..).unwrap_or_default())
    } else {
        None
    };
    if let Some(words) = words {
        print!("{}", complete::answer(Cli::command(), words));
        return;
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(error::EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("{}", e.render());
            std::process::exit(e.exit_code());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-pbo").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere_like_kubectl() {
        let cli = parse(&[
            "status",
            "e-license",
            "-n",
            "agency-mon",
            "-o",
            "json",
            "--context",
            "x",
        ])
        .expect("parse");
        assert_eq!(cli.cluster.namespace.as_deref(), Some("agency-mon"));
        assert_eq!(cli.cluster.context.as_deref(), Some("x"));
        assert_eq!(cli.output, Output::Json);
        let cli = parse(&["-n", "agency-mf", "status", "tax-check"]).expect("parse");
        assert_eq!(cli.cluster.namespace.as_deref(), Some("agency-mf"));
    }

    #[test]
    fn r_lc_02_promote_refuses_an_act_without_a_file_at_parse_time() {
        let err = parse(&[
            "promote",
            "p",
            "--to",
            "production",
            "--act",
            "type=trialCompletionAct",
        ])
        .expect_err("refused");
        assert_eq!(err.exit_code(), error::EXIT_USAGE);
        let text = err.to_string();
        assert!(
            text.contains("needs file=<path to the signed document>"),
            "{text}"
        );
        let err = parse(&["promote", "p", "--to", "prod"]).expect_err("bad stage");
        assert!(err.to_string().contains("is not a stage"), "{err}");
        let cli = parse(&[
            "promote",
            "p",
            "--to",
            "production",
            "--act",
            "type=trialCompletionAct,file=a.pdf",
            "--act",
            "type=commissioningOrder,file=b.pdf,number=17,date=2026-10-01",
            "--dry-run=server",
        ])
        .expect("parse");
        let Command::Promote(a) = cli.command else {
            panic!("promote expected");
        };
        assert_eq!(a.acts.len(), 2);
        assert_eq!(a.dry_run, "server");
        assert!(parse(&["promote", "p", "--to", "production", "--dry-run=client"]).is_err());
    }

    #[test]
    fn usage_needs_a_month_and_a_ledger() {
        let err = parse(&[
            "usage",
            "p",
            "--month",
            "2026/10",
            "--ledger",
            "sqlite:///x",
        ])
        .expect_err("bad month");
        assert!(err.to_string().contains("write YYYY-MM"), "{err}");
        let cli = parse(&[
            "usage",
            "p",
            "--month",
            "2026-10",
            "--ledger",
            "sqlite:///x",
        ])
        .expect("parse");
        let Command::Usage(a) = cli.command else {
            panic!("usage expected");
        };
        assert_eq!(a.month.to_string(), "2026-10");
    }

    #[test]
    fn completion_scripts_name_the_subcommands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = completion(shell);
            assert!(script.contains("kubectl-pbo"), "{shell}");
            assert!(script.contains("promote"), "{shell}");
            assert!(script.contains("estimate-development"), "{shell}");
        }
    }

    #[test]
    fn exit_codes_distinguish_usage_verification_and_failure() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::Verify("x".into()).exit_code(), 3);
        assert_eq!(CliError::NotFound("x".into()).exit_code(), 1);
        let refused = CliError::Server {
            code: 422,
            message: "Error from server (Invalid): no".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(refused.render(), "Error from server (Invalid): no");
        assert_eq!(CliError::NotFound("gone".into()).render(), "error: gone");
    }
}
