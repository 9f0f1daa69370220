//! `steward bench`: measurements on this machine, printed for people (not tests: nothing here passes or
//! fails on speed).

pub mod mail;
pub mod report;
pub mod smtp_sink;

use crate::config::ConfigError;
use crate::db::DbError;

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--database-url: {0}")]
    Database(#[from] DbError),
    #[error("the bench email could not be rendered: {0}")]
    Render(#[from] askama::Error),
    #[error("the SMTP sink: {0}")]
    Sink(#[from] std::io::Error),
    #[error("{0}")]
    Mismatch(String),
}

/// The process's peak resident memory, from `VmHWM` in /proc/self/status (Linux).
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl From<diesel::result::Error> for BenchError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(DbError::Query(e))
    }
}
