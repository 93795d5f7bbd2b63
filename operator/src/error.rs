//! The controllers' errors, each with a stable metric label (controller-rs style).

/// What can go wrong in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer wrapper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// An object could not be (de)serialized.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
    /// Another cluster (a site's) could not be reached.
    #[error("remote cluster: {0}")]
    Remote(String),
    /// The object lacks a namespace or name.
    #[error("object without {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A short stable label for the `reconcile_errors_total` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(s)) if s.code == 403 => "forbidden",
            Error::Kube(_) => "kube",
            Error::Finalizer(_) => "finalizer",
            Error::Serialization(_) => "serialization",
            Error::MissingField(_) => "missing_field",
            Error::Remote(_) => "remote_cluster",
        }
    }
}

/// Results of the controllers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
