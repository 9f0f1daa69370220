//! The test harness: a fresh database per test on either backend, the real app on a random port, an HTTP
//! client with a cookie jar, and a real SMTP server whose mail the test can read.
#![allow(dead_code)] // The harness serves every feature's tests; not each uses every helper.

pub mod smtp;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use steward::config::{Config, DatabaseUrl, Secret};
use steward::db::{self, Db, DbConn};

/// Generates one test per backend from an async body that takes the backend.
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::support::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::support::Backend::Postgres).await
            }
        }
    )*};
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server to create and drop test databases on: `STEWARD_TEST_PG_URL`, else the local default.
pub fn pg_admin_url() -> String {
    std::env::var("STEWARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(admin_url: &str, name: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{admin_url}/{name}"),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test: a temporary SQLite file or a freshly created PostgreSQL database,
/// removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: DatabaseUrl,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    /// An empty database (no migrations applied).
    pub fn empty(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("steward.db");
                Self { backend, url: DatabaseUrl::Sqlite(path.to_string_lossy().into_owned()), dir, pg_name: None }
            }
            Backend::Postgres => {
                let name = format!(
                    "steward_t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
                );
                let admin = pg_admin_url();
                let mut conn = diesel::PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("PostgreSQL for tests at {admin}: {e} (set STEWARD_TEST_PG_URL)"));
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create test database");
                let url = DatabaseUrl::Postgres(Secret::new(with_database(&admin, &name)));
                Self { backend, url, dir, pg_name: Some(name) }
            }
        }
    }

    /// A database with every migration applied.
    pub fn migrated(backend: Backend) -> (Self, Db) {
        let test_db = Self::empty(backend);
        let db = test_db.connect();
        let mut conn = db.get().expect("connection");
        db::run_migrations(&mut conn).expect("migrations");
        drop(conn);
        (test_db, db)
    }

    pub fn connect(&self) -> Db {
        Db::connect(&self.url, 4, Duration::from_secs(5)).expect("connect to test database")
    }

    /// The value to give `DATABASE_URL` for a child process.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => url.expose().to_string(),
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => Some(PathBuf::from(path)),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Drops a PostgreSQL test database now, closing every connection to it (to simulate a lost database).
    pub fn drop_now(&mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_pg_database(&name);
        }
    }
}

fn drop_pg_database(name: &str) {
    if let Ok(mut conn) = diesel::PgConnection::establish(&pg_admin_url()) {
        let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// The real application, served on a random local port against its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub test_db: TestDb,
    pub config: Config,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a chance to change the configuration first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let (test_db, db) = tokio::task::spawn_blocking(move || TestDb::migrated(backend)).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().unwrap().port();
        let data_dir = test_db.dir.path().join("data");
        let mut config = Config::from_lookup(|_| None).expect("default config");
        config.database_url = test_db.url.clone();
        config.bind = listener.local_addr().unwrap();
        config.base_url = format!("http://127.0.0.1:{port}");
        config.data_dir = data_dir;
        config.pool_size = 4;
        adjust(&mut config);

        let (tx, rx) = std::sync::mpsc::channel();
        let server_config = config.clone();
        let server_db = db.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = steward::app::start(server_config, server_db, listener, 1).expect("start server");
                tx.send(server.handle()).expect("hand over the server handle");
                let _ = server.await;
            })
        });
        let server = rx.recv().expect("server started");
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { address: format!("http://127.0.0.1:{port}"), client, db, test_db, config, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Runs a closure on a pooled connection off the async runtime.
    pub async fn with_conn<T: Send + 'static>(&self, f: impl FnOnce(&mut DbConn) -> T + Send + 'static) -> T {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("connection");
            f(&mut conn)
        })
        .await
        .unwrap()
    }

    /// Fills the database with the demo foundation.
    pub async fn seed_demo(&self) {
        self.with_conn(|conn| steward::demo::seed(conn).expect("demo seed")).await
    }

    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

/// A free port on the loopback interface (bound and released, so a child process can take it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `steward` binary built for these tests.
pub fn steward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_steward")
}
