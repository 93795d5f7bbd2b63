//! How a command prints: a table for people, JSON or YAML for scripts (`-o`).

/// The `-o/--output` format, as kubectl users expect it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text and tables.
    #[default]
    Table,
    Json,
    Yaml,
}
