//! The start of the command-line tools (`akp-audit`, `akp-billing`): logs to stderr,
//! a multi-threaded runtime, and the whole error chain on failure.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

/// Runs `run` on a new runtime and exits with its code; `program` prefixes messages.
pub fn main<E: Display>(program: &str, run: impl Future<Output = Result<ExitCode, E>>) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints an anyhow error's causes too.
            eprintln!("{program}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
