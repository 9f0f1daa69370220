//! `steward bench`: measurements on this machine, printed for people (not tests: nothing here passes or
//! fails on speed).

pub mod mail;
pub mod report;
pub mod seed;
pub mod smtp_sink;
pub mod web;

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

/// Where a bench runs: a temporary SQLite file (removed afterwards), or the scratch database at
/// `database_url`; migrated. Returns the folder to keep while the bench runs, the pool and a label.
pub(crate) fn open_database(
    database_url: Option<&str>,
    pool_size: u32,
) -> Result<(mail::Scratch, crate::db::Db, String), BenchError> {
    use crate::config::DatabaseUrl;
    let scratch = mail::Scratch::new()?;
    let (url, label) = match database_url {
        Some(raw) => {
            let url = DatabaseUrl::parse(raw).map_err(|m| ConfigError::new("--database-url", m))?;
            let label = url.redacted();
            (url, label)
        }
        None => {
            let path = scratch.0.join("bench.db");
            (DatabaseUrl::Sqlite(path.to_string_lossy().into_owned()), "SQLite, a temporary file".to_string())
        }
    };
    let db = crate::db::Db::connect(&url, pool_size, std::time::Duration::from_secs(30))?;
    crate::db::run_migrations(&mut *db.get()?)?;
    Ok((scratch, db, label))
}

/// Delivers every due email with the real worker and SMTP transport to an in-process sink on the loopback
/// interface: (time taken, what the worker recorded, what the sink received).
pub(crate) fn deliver_to_sink(
    db: &crate::db::Db,
    config: &crate::config::Config,
    key: crate::config::SigningKey,
) -> Result<(std::time::Duration, crate::mail::DeliveryReport, u64), BenchError> {
    use crate::mail::{Delivery, Mailer};
    let mut config = config.clone();
    actix_web::rt::System::new().block_on(async move {
        let sink = smtp_sink::SmtpSink::start().await?;
        config.smtp_url = Some(crate::config::Secret::new(sink.url()));
        let delivery = Delivery::new(db.clone(), Mailer::from_config(&config, key)?, config.mail.clone());
        let started = std::time::Instant::now();
        let report = delivery.run_until_idle().await;
        let elapsed = started.elapsed();
        delivery.mailer().shutdown().await;
        Ok::<_, BenchError>((elapsed, report?, sink.received()))
    })
}

/// The process's peak resident memory, from `VmHWM` in /proc/self/status (Linux).
pub fn peak_memory_kib() -> Option<u64> {
    peak_memory_kib_of("self")
}

/// A process's peak resident memory (`pid`, or `self`), from `VmHWM` in /proc/<pid>/status (Linux).
pub fn peak_memory_kib_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl From<diesel::result::Error> for BenchError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(DbError::Query(e))
    }
}
