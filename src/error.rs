//! The library's error type. Every message names the problem and, where there is one, the fix.

use std::path::PathBuf;

/// Errors of the `phocas` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Trimming parameter out of range (Definition 7: b in 0..=ceil(m/2)-1).
    #[error("b = {b} is too large for m = {m}: b must be at most {max} (ceil(m/2) - 1)")]
    InvalidTrim { b: usize, m: usize, max: usize },
    /// Krum needs at least one neighbour (Definition 3).
    #[error("q = {q} is too large for Krum with m = {m}: the number of neighbours ({formula}) must be at least 1, so q must be at most {max}")]
    KrumNeighbours {
        q: usize,
        m: usize,
        max: usize,
        formula: &'static str,
    },
    /// Bulyan needs m >= 4q + 3 (El Mhamdi et al. 2018).
    #[error("q = {q} is too large for Bulyan with m = {m}: Bulyan needs m >= 4q + 3, so q must be at most {max}")]
    BulyanWorkers { q: usize, m: usize, max: String },
    /// Multi-Krum's k out of range.
    #[error("k = {k} is out of range for Multi-Krum with m = {m}: k must be in 1..={m}")]
    InvalidK { k: usize, m: usize },
    /// A rule needs a parameter that was not given.
    #[error("rule '{rule}' needs --{param} (allowed: {allowed})")]
    MissingParam {
        rule: &'static str,
        param: &'static str,
        allowed: String,
    },
    /// A parameter given to a rule that does not take it.
    #[error("rule '{rule}' does not take --{param}; it takes: {takes}")]
    UnusedParam {
        rule: &'static str,
        param: &'static str,
        takes: &'static str,
    },
    /// No rule of that name in the registry.
    #[error("unknown rule '{name}': known rules are {known}")]
    UnknownRule { name: String, known: String },
    /// Unknown attack, distribution or corruption model.
    #[error("unknown {kind} '{name}': known values are {known}")]
    UnknownName {
        kind: &'static str,
        name: String,
        known: String,
    },
    /// An empty matrix (m = 0 or d = 0).
    #[error("the gradient matrix is empty (m = {m}, d = {d}): at least one worker and one coordinate are needed")]
    Empty { m: usize, d: usize },
    /// Buffer shapes that do not match.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The aggregator was built for another m.
    #[error("this rule was built for m = {expected} workers but the matrix has {got} rows")]
    WorkerCount { expected: usize, got: usize },
    /// Reading or writing a NumPy file.
    #[error("{path}: {msg}")]
    Npy { path: PathBuf, msg: String },
    /// File system errors, with the path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configuration value that is invalid.
    #[error("config: {key}: {msg}")]
    Config { key: String, msg: String },
    /// A data-set problem (missing file, bad magic, ...).
    #[error("{0}")]
    Data(String),
    /// A parameter out of range (generic).
    #[error("{0}")]
    Invalid(String),
    /// Reporting (polars, plotters) failures.
    #[error("report: {0}")]
    Report(String),
    /// The run was interrupted (Ctrl-C); finished work was kept.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A TOML error's message on one line (its lines trimmed and joined by ": "), for
/// [`Error::Config`].
pub fn toml_message(e: &toml::de::Error) -> String {
    e.message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}
