//! Typed errors of the library. Owns the error vocabulary; never prints or exits.

use std::path::PathBuf;

/// Everything that can go wrong in the library. The binary maps these to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The cause is part of the message and not a `source()`: the binary prints the error
    // chain, which would repeat it.
    #[error("cannot read {path}: {cause}")]
    Input {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("geo database {path}: {reason}")]
    GeoDatabase { path: String, reason: String },
    #[error("cannot write {path}: {cause}")]
    Output {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("unsafe output location {path}: {reason}")]
    UnsafeOutput { path: PathBuf, reason: String },
    #[error("parquet {path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
    /// A report file that cannot be read back (unknown schema version, foreign columns).
    #[error("report {path}: {reason}")]
    Report { path: PathBuf, reason: String },
    /// The same run would be counted twice.
    #[error(
        "run {run} would be counted twice: it is held by {first} and by {second}; merge each run once"
    )]
    DuplicateRun {
        run: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("invalid option: {0}")]
    Usage(String),
    /// A bug: a worker thread panicked. Never caused by input.
    #[error("internal error: {0}")]
    Internal(String),
    /// No known format fits an input well (exit code 3: nothing is published).
    #[error("{0}")]
    FormatMismatch(String),
    /// Another run holds the output tree's lock.
    #[error(
        "another run is using this output tree: {path} is locked{}; pass --wait to wait for it",
        match .pid { Some(p) => format!(" by pid {p}"), None => String::new() }
    )]
    Locked { path: PathBuf, pid: Option<u32> },
    /// A state file (ledger, transaction plan) that cannot be understood.
    #[error("state file {path}: {reason}")]
    State { path: PathBuf, reason: String },
    /// A configuration file with a wrong key or value.
    #[error("{path}: line {line}: {key}: {reason}")]
    Config {
        path: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.into(),
            cause: source,
        }
    }
    pub(crate) fn input(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Input {
            path: path.into(),
            cause: source,
        }
    }
    /// True for errors the user caused with their options (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Usage(_) | Error::DuplicateRun { .. } | Error::Config { .. }
        )
    }
}
