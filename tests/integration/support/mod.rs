//! The test harness: a fresh database per test on either backend, the real app on a random port, an HTTP
//! client with a cookie jar, and a real SMTP server whose mail the test can read.
#![allow(dead_code)] // The harness serves every feature's tests; not each uses every helper.

pub mod browser;
pub mod pg_cluster;
pub mod serve;
pub mod smtp;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use steward::accounts::service::{self as accounts, InviteInput, RequestMeta};
use steward::accounts::session::SessionPolicy;
use steward::accounts::Role;
use steward::audit::Actor;
use steward::config::{Config, DatabaseUrl, Secret};
use steward::db::schema;
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
                // A test database need not survive a crash of the server: commits stop waiting for the disk, which
                // makes the suite's thousands of small transactions several times faster. Only this database is
                // affected; the app's own transactions and checks are unchanged.
                conn.batch_execute(&format!("ALTER DATABASE \"{name}\" SET synchronous_commit TO off"))
                    .expect("tune test database");
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
        let base_url = self.address.clone();
        self.with_conn(move |conn| steward::demo::seed(conn, &base_url).expect("demo seed")).await
    }

    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

/// An account made for a test, with its password.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
}

pub const TEST_PASSWORD: &str = "a long test passphrase";

impl TestApp {
    /// An active account with these roles (and organization, for representatives), made through the same
    /// service functions as an invitation.
    pub async fn create_user(&self, email: &str, roles: &[Role], member_id: Option<i64>) -> TestUser {
        let (email, roles) = (email.to_string(), roles.to_vec());
        self.with_conn(move |conn| create_user_on(conn, &email, &roles, member_id)).await
    }

    /// A member organization (a bare row; the members feature owns the rest).
    pub async fn create_member(&self, slug: &str, name: &str) -> i64 {
        let (slug, name) = (slug.to_string(), name.to_string());
        self.with_conn(move |conn| {
            let now = steward::db::now();
            steward::on_backend!(conn, |c| diesel::insert_into(schema::members::table)
                .values((
                    schema::members::slug.eq(&slug),
                    schema::members::name.eq(&name),
                    schema::members::created_at.eq(now),
                    schema::members::updated_at.eq(now),
                ))
                .returning(schema::members::id)
                .get_result::<i64>(c))
            .unwrap()
        })
        .await
    }

    /// A session for `user_id` made directly in the database (no password work): returns (cookie, csrf).
    pub async fn session_for(&self, user_id: i64) -> (String, String) {
        self.with_conn(move |conn| {
            let cookie = steward::accounts::tokens::random_token();
            let csrf = steward::accounts::tokens::random_token();
            let now = steward::db::now();
            diesel::insert_into(schema::sessions::table)
                .values((
                    schema::sessions::id_hash.eq(steward::accounts::tokens::hash_token(&cookie)),
                    schema::sessions::user_id.eq(user_id),
                    schema::sessions::csrf_token.eq(&csrf),
                    schema::sessions::second_factor_pending.eq(false),
                    schema::sessions::created_at.eq(now),
                    schema::sessions::last_seen_at.eq(now),
                    schema::sessions::expires_at.eq(now + chrono::Duration::hours(1)),
                ))
                .execute(conn)
                .unwrap();
            (cookie, csrf)
        })
        .await
    }

    /// A personal API token for `user_id`.
    pub async fn api_token_for(&self, user_id: i64) -> String {
        self.with_conn(move |conn| api_token_on(conn, user_id)).await
    }

    /// Every outbox row as (to, subject, text body), oldest first.
    pub async fn outbox(&self) -> Vec<(String, String, String)> {
        self.with_conn(|conn| {
            schema::outbox::table
                .order(schema::outbox::id)
                .select((schema::outbox::to_address, schema::outbox::subject, schema::outbox::body_text))
                .load(conn)
                .unwrap()
        })
        .await
    }

    /// The first link into this app in the newest outbox message to `to`.
    pub async fn last_link_to(&self, to: &str) -> String {
        let messages = self.outbox().await;
        let (_, _, body) = messages.iter().rev().find(|(t, _, _)| t == to).unwrap_or_else(|| panic!("no mail to {to}"));
        let start = body.find(&format!("{}/", self.address)).expect("a link in the mail");
        body[start..].split_whitespace().next().unwrap().to_string()
    }

    /// Delivers every due outbox message to `smtp` (a real SMTP server), as the worker in `serve` does.
    pub async fn deliver_mail_to(&self, smtp: &smtp::SmtpServer) -> steward::mail::delivery::DeliveryReport {
        let mut config = self.config.clone();
        config.smtp_url = Some(Secret::new(smtp.url()));
        let db = self.db.clone();
        let delivery =
            tokio::task::spawn_blocking(move || steward::app::mail_delivery(&config, &db).expect("mail delivery"))
                .await
                .unwrap();
        delivery.run_until_idle().await.expect("delivery round")
    }

    /// A browser (its own cookie jar) signed in as `user`.
    pub async fn browser_signed_in(&self, user: &TestUser) -> browser::Browser {
        let b = browser::Browser::new(&self.address);
        let res = b.sign_in(&user.email, &user.password).await;
        assert_eq!(res.status(), 303, "sign-in of {} failed", user.email);
        b
    }
}

/// An active account with these roles (and organization, for representatives), made through the same
/// service functions as an invitation, on any connection (a test's own database, or one a child serves).
pub fn create_user_on(conn: &mut DbConn, email: &str, roles: &[Role], member_id: Option<i64>) -> TestUser {
    let input = InviteInput { email: email.into(), display_name: email.into(), roles: roles.to_vec(), member_id };
    let (user, token) = accounts::invite_user(conn, Actor::Cli, &input, None, &RequestMeta::default()).expect("invite");
    let hash = steward::accounts::password::hash_blocking(TEST_PASSWORD).unwrap();
    let policy =
        SessionPolicy { idle: Duration::from_secs(60), absolute: Duration::from_secs(60), sign_ins_per_ip: 30 };
    accounts::accept_invitation_with_hash(conn, &token, email, &hash, &RequestMeta::default(), policy)
        .expect("activate");
    diesel::delete(schema::sessions::table.filter(schema::sessions::user_id.eq(user.id))).execute(conn).unwrap();
    TestUser { id: user.id, email: email.into(), password: TEST_PASSWORD.into() }
}

/// A personal API token for `user_id` (read and write, no end), on any connection.
pub fn api_token_on(conn: &mut DbConn, user_id: i64) -> String {
    let input = accounts::TokenInput {
        name: "test".into(),
        scope: steward::accounts::model::TokenScope::ReadWrite,
        expires_on: None,
    };
    accounts::issue_api_token(conn, user_id, &input, &RequestMeta::default()).unwrap().1
}

/// A free port on the loopback interface (bound and released, so a child process can take it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `steward` binary built for these tests.
///
/// nextest names it in `NEXTEST_BIN_EXE_steward` when it runs tests from an archive (`cargo nextest archive`,
/// then `run --archive-file`): the path the build baked in belongs to the machine (or target directory) that
/// built it, and another build into a shared target directory may have replaced that file since.
pub fn steward_bin() -> String {
    std::env::var("NEXTEST_BIN_EXE_steward").unwrap_or_else(|_| env!("CARGO_BIN_EXE_steward").to_string())
}

/// `steward` with an empty environment but PATH, so a child sees only what the test gives it. Under a
/// coverage run the profile destination is kept too, so the child's lines count.
pub fn steward_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(steward_bin());
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        cmd.env("LLVM_PROFILE_FILE", profile);
    }
    cmd
}
