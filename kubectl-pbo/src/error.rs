//! Errors and exit codes. Every message says what went wrong and what to do.

/// Exit code of bad arguments (as clap uses).
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a report that fails verification: the files are not the ones signed.
pub const EXIT_VERIFY: i32 = 3;
/// Exit code of everything else that failed (refused, not found, unreachable, I/O).
pub const EXIT_FAILURE: i32 = 1;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments (an `--act` without `file=`, a month that is not `YYYY-MM`, …).
    #[error("{0}")]
    Usage(String),
    /// The kubeconfig could not be read or used.
    #[error("{0}")]
    Config(String),
    /// The API server refused the request; `message` is its answer, verbatim.
    #[error("{message}")]
    Server {
        /// The HTTP status code.
        code: u16,
        /// `Error from server (<reason>): <message>`.
        message: String,
    },
    /// The API server could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// An object that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A report whose signature or files do not verify.
    #[error("{0}")]
    Verify(String),
    /// Anything else, with its context.
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Verify(_) => EXIT_VERIFY,
            _ => EXIT_FAILURE,
        }
    }

    /// What to print on stderr: server refusals as kubectl prints them, the rest
    /// prefixed with `error:`.
    pub fn render(&self) -> String {
        match self {
            CliError::Server { message, .. } => message.clone(),
            other => format!("error: {other}"),
        }
    }
}
