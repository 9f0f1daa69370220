//! The database: one connection type over SQLite and PostgreSQL, its pool, and the embedded migrations.
//!
//! The backend is picked from the scheme of `DATABASE_URL` by our own r2d2 manager, so a failed connection
//! reports the database's own message (diesel's derived `establish` would only say that no backend matched).

pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tracing::Span;

use crate::config::DatabaseUrl;

/// A connection to either backend; queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Runs one statement on the backend's own connection type. For the few query shapes diesel's multi-backend
/// connection cannot express: `RETURNING` a `Selectable` row and multi-row `INSERT`s. The expression is
/// compiled once per backend, so it must be written to suit both.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Postgres($c) => $body,
        }
    };
}

impl DbConn {
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// What can go wrong below the services.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("no database connection became available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("the database task was cancelled")]
    Cancelled,
    /// The database took a connection's query and did not answer in time (a frozen or overloaded server);
    /// the work may still finish after the caller was told it failed.
    #[error("the database did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
}

impl DbError {
    /// Whether the database is out of reach (503) rather than the request being wrong (4xx) or us (500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Pool(_) | Self::Cancelled | Self::Timeout(_) => true,
            Self::Query(e) => is_connection_lost(e) || storage_problem(e) == Some(StorageProblem::Unwritable),
            Self::Migration(_) => false,
        }
    }

    /// Whether PostgreSQL refused text holding a NUL character (it stores none in `text`): the request's fault.
    pub fn is_nul_in_text(&self) -> bool {
        match self {
            Self::Query(diesel::result::Error::DatabaseError(_, info)) => {
                info.message().starts_with("invalid byte sequence for encoding \"UTF8\": 0x00")
            }
            _ => false,
        }
    }

    /// Why the database could not store a change, when the cause is its disk rather than the request.
    pub fn storage_problem(&self) -> Option<StorageProblem> {
        match self {
            Self::Query(e) => storage_problem(e),
            _ => None,
        }
    }
}

/// A database that cannot store changes for a reason outside Steward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageProblem {
    /// The disk (or the file size limit) is full.
    Full,
    /// The file or its disk is read-only, or the disk reports I/O errors.
    Unwritable,
}

/// Reads SQLite's own (fixed, English) messages for a full disk, a read-only file and an I/O error; diesel
/// passes on only the message, not the result code. PostgreSQL reports its disk problems to its own log and
/// answers with a closed connection or a refused one, handled as unavailable.
pub fn storage_problem(e: &diesel::result::Error) -> Option<StorageProblem> {
    let diesel::result::Error::DatabaseError(_, info) = e else { return None };
    let message = info.message();
    if message.starts_with("database or disk is full") {
        Some(StorageProblem::Full)
    } else if message.starts_with("attempt to write a readonly database") || message.starts_with("disk I/O error") {
        Some(StorageProblem::Unwritable)
    } else {
        None
    }
}

fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(e, Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | Error::BrokenTransactionManager)
}

/// Opens connections for r2d2, choosing the backend from the URL and preparing SQLite connections.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    fn open(&self) -> Result<DbConn, DbError> {
        let connect_error = |message: String| DbError::Connect { target: self.url.redacted(), message };
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path).map_err(|e| connect_error(e.to_string()))?;
                // WAL lets readers run beside the one writer; busy_timeout makes a second writer wait
                // rather than fail; foreign keys are off in SQLite unless asked for on every connection;
                // secure_delete overwrites deleted rows (the pool of anonymous answers) rather than leaving them
                // in free pages of the file.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;",
                )
                .map_err(|e| connect_error(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                // libpq runs on OpenSSL. Initialise it first, without its exit-time cleanup: otherwise a pool
                // thread still opening a connection when the process exits crashes in freed OpenSSL state
                // (SIGSEGV after `steward migrate` or `steward mail deliver` had finished their work).
                openssl_sys::init();
                diesel::PgConnection::establish(url.expose())
                    .map(DbConn::Postgres)
                    .map_err(|e| connect_error(e.to_string().trim().replace('\n', " ")))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        conn.ping().map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The pool with the handful of operations the rest of Steward needs.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
    timeout: Duration,
}

impl Db {
    /// Opens one connection first, so that a wrong URL fails at once with the database's own message,
    /// then builds the pool.
    pub fn connect(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Self, DbError> {
        let manager = ConnectionManager::new(url.clone());
        let first = manager.open()?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(manager);
        Ok(Self { pool, url: url.clone(), timeout })
    }

    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    /// A connection for synchronous callers (CLI commands, jobs on their own thread).
    pub fn get(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, keeping the caller's tracing span,
    /// so diesel never runs on the async executor.
    ///
    /// The caller waits at most the pool timeout in all, for a connection and for `f`: a database that stops
    /// answering (a frozen server, a network partition) then gives `DbError::Timeout` (503) instead of a
    /// request that hangs. `f` cannot be cancelled; it finishes on its thread when the database answers
    /// again, so a write reported as timed out may still be committed (never half of it: it is one
    /// transaction).
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = Span::current();
        let client = crate::domain::client::current();
        let joined = actix_web::web::block(move || {
            let _entered = span.enter();
            let _client = crate::domain::client::enter(client);
            let mut conn = pool.get().map_err(DbError::Pool)?;
            f(&mut conn)
        });
        match actix_web::rt::time::timeout(self.timeout, joined).await {
            Ok(joined) => joined.unwrap_or_else(|_| Err(DbError::Cancelled.into())),
            Err(_) => {
                tracing::warn!(timeout_ms = self.timeout.as_millis() as u64, "the database did not answer in time");
                Err(DbError::Timeout(self.timeout).into())
            }
        }
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<DbError> for LogPoolErrors {
    fn handle_error(&self, error: DbError) {
        tracing::warn!(error = %error, "database connection failed");
    }
}

/// Runs `f` in one transaction. On SQLite it begins with `BEGIN IMMEDIATE`, taking the write lock up front so
/// that two writers queue on the busy timeout instead of one failing when it upgrades from read to write.
/// Called inside another transaction, it nests as a savepoint.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Postgres(_) => conn.transaction(f),
        DbConn::Sqlite(inner) => {
            let depth =
                <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::transaction_manager_status_mut(
                    inner,
                )
                .transaction_depth()?;
            if depth.is_some() {
                // Already inside a write transaction: this one nests as a savepoint.
                return conn.transaction(f);
            }
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => match <DbConn as Connection>::TransactionManager::commit_transaction(conn) {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                        Err(e.into())
                    }
                },
                Err(e) => {
                    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
                    Err(e)
                }
            }
        }
    }
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn migration_error(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string().trim().replace('\n', " "))
}

/// Applies every pending migration and returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(migration_error)?,
        DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map_err(migration_error)?,
    };
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration, newest first (used by tests and by `steward migrate --revert-all`).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let reverted = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map_err(migration_error)?,
        DbConn::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map_err(migration_error)?,
    };
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}

/// How many migrations the binary carries that the database has not applied.
pub fn pending_migration_count(conn: &mut DbConn) -> Result<usize, DbError> {
    Ok(match conn {
        DbConn::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map_err(migration_error)?.len(),
        DbConn::Postgres(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map_err(migration_error)?.len(),
    })
}

/// The current time as stored: UTC without an offset, to the microsecond (both backends keep microseconds).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}
