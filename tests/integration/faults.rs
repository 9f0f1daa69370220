//! Faults outside Steward, with `steward serve` running as a child process as in production: the SMTP server
//! down for a while, the PostgreSQL server frozen (SIGSTOP) and restarted, the SQLite disk full and the
//! database file read-only. After each: `steward check` holds, every acknowledged write is stored exactly
//! once, and nothing half-written is there.
//!
//! The rule for writes (ledger adjustments, each with its own memo): a write answered 2xx is in the database
//! exactly once. A write answered with an error is there at most once, and only when it was already with the
//! database as the fault struck (PostgreSQL: the request gave up waiting after the pool timeout and the
//! server, resumed, committed it; the client was told 503, never that it failed to apply). SQLite's
//! disk errors are definite: a write answered 503/507 is not there. Nothing is there that was never sent,
//! and each write is one transaction, so an entry never lacks its audit event (`steward check`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{json, Value};
use steward::accounts::Role;
use steward::config::DatabaseUrl;
use steward::db::{self, schema, Db, DbConn};

use crate::backend_tests;
use crate::support::pg_cluster::PgCluster;
use crate::support::serve::Serve;
use crate::support::smtp::SmtpServer;
use crate::support::{api_token_on, create_user_on, TestDb};

/// The pool timeout the server runs with in these tests, and how much later than it an answer may come (a
/// debug build on a busy two-core machine).
const DB_TIMEOUT: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_millis(2000);

/// What one request got.
#[derive(Clone, Debug)]
struct Outcome {
    kind: Kind,
    /// The memo of a write.
    memo: Option<String>,
    /// None: no answer (the connection failed or the client's own limit passed).
    status: Option<u16>,
    content_type: String,
    body: String,
    elapsed: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// POST /api/v1/ledger/adjustments
    Write,
    /// GET /api/v1/ledger/balances
    ApiRead,
    /// GET / (the public start page, read from the database)
    PageRead,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A treasurer's API token and a fiscal year open today, on a migrated database.
fn prepare_money(conn: &mut DbConn) -> (String, String) {
    let treasurer = create_user_on(conn, "treasurer@faults.test", &[Role::Treasurer], None);
    let today = chrono::Utc::now().date_naive();
    let year = chrono::Datelike::year(&today);
    let fy = steward::ledger::service::create_year(
        conn,
        treasurer.id,
        &format!("FY{year}"),
        &format!("{year}-01-01"),
        &format!("{year}-12-31"),
    )
    .expect("fiscal year");
    steward::ledger::service::set_year_status(conn, treasurer.id, fy.id, "open").expect("open the year");
    (api_token_on(conn, treasurer.id), today.to_string())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// One request of `kind`; a write carries `memo`.
async fn request(client: &reqwest::Client, base: &str, token: &str, kind: Kind, memo: &str, today: &str) -> Outcome {
    let started = Instant::now();
    let sent =
        match kind {
            Kind::Write => client
                .post(format!("{base}/api/v1/ledger/adjustments"))
                .bearer_auth(token)
                .json(&json!({"entry_date": today, "direction": "in", "amount": "1.25", "currency": "", "memo": memo}))
                .send()
                .await,
            Kind::ApiRead => client.get(format!("{base}/api/v1/ledger/balances")).bearer_auth(token).send().await,
            Kind::PageRead => client.get(format!("{base}/")).send().await,
        };
    let (status, content_type, body) = match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            (Some(status), ct, res.text().await.unwrap_or_default())
        }
        Err(_) => (None, String::new(), String::new()),
    };
    let memo = (kind == Kind::Write).then(|| memo.to_string());
    Outcome { kind, memo, status, content_type, body, elapsed: started.elapsed() }
}

/// `clients` clients, each cycling write, API read, page read, until `stop` is set; every outcome.
async fn load_until(
    base: String,
    token: String,
    today: String,
    phase: String,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, token, today, phase, stop) =
            (base.clone(), token.clone(), today.clone(), phase.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut outcomes = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let kind = [Kind::Write, Kind::ApiRead, Kind::PageRead][n % 3];
                let memo = format!("fault-{phase}-{c}-{n}");
                outcomes.push(request(&client, &base, &token, kind, &memo, &today).await);
                n += 1;
            }
            outcomes
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn load_for(
    serve: &Serve,
    token: &str,
    today: &str,
    phase: &str,
    clients: usize,
    length: Duration,
) -> Vec<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let task =
        tokio::spawn(load_until(serve.base.clone(), token.into(), today.into(), phase.into(), clients, stop.clone()));
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap()
}

fn summary(outcomes: &[Outcome]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        *by.entry(format!("{:?} {}", o.kind, o.status.map(|s| s.to_string()).unwrap_or("none".into()))).or_default() +=
            1;
    }
    format!("{by:?}")
}

/// A 503 as the brief says: problem+json under /api, an HTML page otherwise, with no database words in it.
fn assert_clear_unavailable(o: &Outcome, what: &str) {
    match o.kind {
        Kind::Write | Kind::ApiRead => {
            assert!(o.content_type.starts_with("application/problem+json"), "{what}: {o:?}");
            let body: Value = serde_json::from_str(&o.body).unwrap_or_else(|_| panic!("{what}: not JSON: {o:?}"));
            assert_eq!(body["status"], o.status.unwrap_or_default(), "{what}: {body}");
        }
        Kind::PageRead => assert!(o.content_type.starts_with("text/html"), "{what}: {o:?}"),
    }
    for word in ["SQL", "sqlite", "diesel", "postgres", "SELECT", "INSERT"] {
        assert!(!o.body.contains(word), "{what}: the answer shows '{word}': {}", o.body);
    }
}

/// Every acknowledged write is stored exactly once; a refused one at most once (or never, with `definite`);
/// nothing stored that was not sent. Returns (acknowledged, refused but stored).
fn assert_writes_kept(conn: &mut DbConn, outcomes: &[Outcome], definite: bool) -> (usize, usize) {
    let stored: Vec<String> = schema::ledger_entries::table
        .filter(schema::ledger_entries::memo.like("fault-%"))
        .select(schema::ledger_entries::memo)
        .load(conn)
        .unwrap();
    let mut copies: BTreeMap<&str, usize> = BTreeMap::new();
    for memo in &stored {
        *copies.entry(memo.as_str()).or_default() += 1;
    }
    let sent: BTreeSet<&str> = outcomes.iter().filter_map(|o| o.memo.as_deref()).collect();
    for memo in copies.keys() {
        assert!(sent.contains(memo), "stored but never sent: {memo}");
    }
    let (mut acknowledged, mut refused_but_stored) = (0, 0);
    for o in outcomes.iter().filter(|o| o.kind == Kind::Write) {
        let memo = o.memo.as_deref().unwrap();
        let n = copies.get(memo).copied().unwrap_or(0);
        if o.ok() {
            assert_eq!(n, 1, "acknowledged write {memo} stored {n} times");
            acknowledged += 1;
        } else {
            assert!(n <= 1, "refused write {memo} stored {n} times");
            assert!(!(definite && n == 1), "write {memo} answered {:?} but stored", o.status);
            refused_but_stored += n;
        }
    }
    (acknowledged, refused_but_stored)
}

fn assert_check_holds(conn: &mut DbConn, after: &str) {
    let report = steward::check::run(conn).expect("steward check runs");
    let failed: Vec<String> = report.invariants.iter().filter(|i| !i.holds()).map(|i| i.line()).collect();
    assert!(failed.is_empty(), "steward check after {after}:\n{}", failed.join("\n"));
}

async fn readyz(serve: &Serve) -> (Option<u16>, Value, Duration) {
    let started = Instant::now();
    match client().get(serve.url("/readyz")).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (Some(status), res.json().await.unwrap_or(Value::Null), started.elapsed())
        }
        Err(_) => (None, Value::Null, started.elapsed()),
    }
}

async fn wait_ready(serve: &Serve, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if readyz(serve).await.0 == Some(200) {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not become ready again:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// SMTP down

backend_tests! {
    async fn smtp_down_mail_waits_then_arrives_exactly_once(backend) {
        let started = Instant::now();
        let (test_db, db) = tokio::task::spawn_blocking(move || TestDb::migrated(backend)).await.unwrap();
        let (admin_token, reset_emails) = tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            let admin = create_user_on(&mut conn, "admin@faults.test", &[Role::Admin], None);
            let emails: Vec<String> = (0..3)
                .map(|i| create_user_on(&mut conn, &format!("forgetful{i}@faults.test"), &[Role::Council], None).email)
                .collect();
            (api_token_on(&mut conn, admin.id), emails)
        })
        .await
        .unwrap();
        let mut smtp = SmtpServer::start();
        smtp.stop();
        let smtp_url = smtp.url();
        let serve = Serve::start(
            &test_db.url_string(),
            &[
                ("STEWARD_SMTP_URL", smtp_url.as_str()),
                ("STEWARD_MAIL_RETRY_BASE", "200ms"),
                ("STEWARD_MAIL_RETRY_MAX", "1s"),
                ("STEWARD_MAIL_POLL_INTERVAL", "100ms"),
                ("STEWARD_SMTP_TIMEOUT", "1s"),
                ("STEWARD_MAIL_LEASE", "10s"),
                ("STEWARD_MAIL_MAX_ATTEMPTS", "100"),
            ],
        )
        .await;
        let web = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(20)).build().unwrap();

        // While the SMTP server is down: invitations through the API, password resets through the form.
        let mut requests = 0;
        for i in 0..5 {
            let res = web
                .post(serve.url("/api/v1/users"))
                .bearer_auth(&admin_token)
                .json(&json!({"email": format!("invitee{i}@faults.test"), "display_name": format!("Invitee {i}"), "roles": ["council"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201, "invite {i}: {}", res.text().await.unwrap_or_default());
            requests += 1;
        }
        for email in &reset_emails {
            let form = web.get(serve.url("/password/forgot")).send().await.unwrap().text().await.unwrap();
            let csrf = form
                .split("name=\"_csrf\" value=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("a CSRF field on the form")
                .to_string();
            let res = web.post(serve.url("/password/forgot")).form(&[("email", email.as_str()), ("_csrf", &csrf)]).send().await.unwrap();
            assert_eq!(res.status(), 200, "reset for {email}");
            requests += 2;
        }
        let expected = 5 + reset_emails.len();
        // A few rounds of failed tries pass; the mail waits, the service stays ready and says so.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, body, _) = readyz(&serve).await;
        assert_eq!(status, Some(200), "readiness does not depend on SMTP: {body}");
        assert_eq!(body["mail"]["pending"], expected, "{body}");
        assert!(smtp.messages().is_empty());
        let tried: i64 = {
            let db = test_db.connect();
            tokio::task::spawn_blocking(move || {
                schema::outbox::table.select(diesel::dsl::sum(schema::outbox::attempts)).first::<Option<i64>>(&mut db.get().unwrap()).unwrap().unwrap_or(0)
            }).await.unwrap()
        };
        assert!(tried >= expected as i64, "the worker kept trying while the server was down ({tried} tries)");

        smtp.restart();
        let received = smtp.wait_for(expected, Duration::from_secs(30)).await;
        assert_eq!(received.len(), expected, "every message arrives once the server is back:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let copies = smtp.copies_by_message_id();
        assert_eq!(copies.len(), expected, "{copies:?}");
        assert!(copies.values().all(|&n| n == 1), "each message exactly once: {copies:?}");
        let (_, body, _) = readyz(&serve).await;
        assert_eq!(body["mail"]["pending"], 0, "{body}");
        let db = test_db.connect();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            let statuses: Vec<String> = schema::outbox::table.select(schema::outbox::status).load(&mut conn).unwrap();
            assert!(statuses.iter().all(|s| s == "sent"), "{statuses:?}");
            assert_check_holds(&mut conn, "the SMTP outage");
        })
        .await
        .unwrap();
        println!(
            "smtp down ({backend:?}): {requests} web requests, all answered without error; {expected} messages waited, \
             {tried} failed tries, all delivered exactly once; {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL frozen and restarted

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_frozen_then_restarted_answers_503_and_recovers() {
    let started = Instant::now();
    let cluster = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let url = cluster.url("postgres");
    let setup_url = url.clone();
    let (token, today) = tokio::task::spawn_blocking(move || {
        let db = Db::connect(&DatabaseUrl::parse(&setup_url).unwrap(), 2, Duration::from_secs(10)).expect("connect");
        let mut conn = db.get().unwrap();
        db::run_migrations(&mut conn).expect("migrations");
        prepare_money(&mut conn)
    })
    .await
    .unwrap();
    let serve = Serve::start(&url, &[("STEWARD_DB_TIMEOUT_SECONDS", "2"), ("STEWARD_DB_POOL_SIZE", "4")]).await;
    let clients = 6;
    let mut all: Vec<Outcome> = Vec::new();

    // Before: everything works.
    let warm = load_for(&serve, &token, &today, "warm", clients, Duration::from_secs(1)).await;
    assert!(warm.iter().all(Outcome::ok), "before the fault: {}", summary(&warm));
    all.extend(warm);

    // Frozen: every process of the cluster stopped. Requests answer 503 within the pool timeout, none hangs.
    let frozen_processes = cluster.signal_all("STOP");
    assert!(frozen_processes >= 3, "the postmaster and its children: {frozen_processes}");
    let frozen = load_for(&serve, &token, &today, "frozen", clients, Duration::from_secs(5)).await;
    let (ready, ready_body, ready_took) = readyz(&serve).await;
    cluster.signal_all("CONT");
    let bound = DB_TIMEOUT + MARGIN;
    for o in &frozen {
        assert!(o.status.is_some(), "a request got no answer while the database was frozen: {o:?}");
        assert!(o.elapsed <= bound, "answered after {:?} (bound {bound:?}): {o:?}", o.elapsed);
    }
    // Requests sent before the freeze took hold may have finished normally; the rest are 503.
    let frozen_503: Vec<&Outcome> = frozen.iter().filter(|o| o.status == Some(503)).collect();
    assert!(frozen.iter().all(|o| o.ok() || o.status == Some(503)), "frozen: {}", summary(&frozen));
    assert!(frozen_503.len() >= frozen.len() / 2 && frozen_503.len() >= 6, "frozen: {}", summary(&frozen));
    for o in &frozen_503 {
        assert_clear_unavailable(o, "frozen database");
    }
    assert_eq!(ready, Some(503), "/readyz while frozen: {ready_body}");
    assert!(ready_took <= bound, "/readyz took {ready_took:?}");
    let slowest = frozen.iter().map(|o| o.elapsed).max().unwrap_or_default();
    all.extend(frozen.iter().cloned());

    // Resumed: the same process serves again.
    wait_ready(&serve, Duration::from_secs(15)).await;
    let thawed = load_for(&serve, &token, &today, "thawed", clients, Duration::from_secs(1)).await;
    assert!(thawed.iter().all(Outcome::ok), "after SIGCONT: {}", summary(&thawed));
    all.extend(thawed);

    // Restarted, fast and immediate, under load.
    let mut restart_figures = Vec::new();
    for mode in ["fast", "immediate"] {
        let stop = Arc::new(AtomicBool::new(false));
        let load = tokio::spawn(load_until(
            serve.base.clone(),
            token.clone(),
            today.clone(),
            format!("restart-{mode}"),
            clients,
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let cluster_ref = &cluster;
        let gap = Instant::now();
        tokio::task::block_in_place(|| cluster_ref.restart(mode));
        let gap = gap.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        let during = load.await.unwrap();
        for o in &during {
            assert!(o.ok() || o.status == Some(503), "restart -m {mode}: {o:?}");
            assert!(o.elapsed <= bound, "restart -m {mode}: answered after {:?}: {o:?}", o.elapsed);
            if o.status == Some(503) {
                assert_clear_unavailable(o, "restart");
            }
        }
        let unavailable = during.iter().filter(|o| o.status == Some(503)).count();
        assert!(unavailable > 0, "the restart was felt: {}", summary(&during));
        // Afterwards everything works on the same process.
        wait_ready(&serve, Duration::from_secs(15)).await;
        let after = load_for(&serve, &token, &today, &format!("after-{mode}"), clients, Duration::from_secs(1)).await;
        assert!(after.iter().all(Outcome::ok), "after restart -m {mode}: {}", summary(&after));
        restart_figures.push(format!(
            "-m {mode}: {} requests, {unavailable} answered 503, gap {:.1} s",
            during.len(),
            gap.as_secs_f64()
        ));
        all.extend(during);
        all.extend(after);
    }
    let mut serve = serve;
    assert!(serve.is_running(), "serve survived");
    serve.stop();

    let check_url = url.clone();
    let outcomes = all.clone();
    let (acknowledged, refused_stored) = tokio::task::spawn_blocking(move || {
        let db = Db::connect(&DatabaseUrl::parse(&check_url).unwrap(), 1, Duration::from_secs(10)).unwrap();
        let mut conn = db.get().unwrap();
        let kept = assert_writes_kept(&mut conn, &outcomes, false);
        assert_check_holds(&mut conn, "the PostgreSQL faults");
        kept
    })
    .await
    .unwrap();
    let unavailable = all.iter().filter(|o| o.status == Some(503)).count();
    println!(
        "postgres faults: {} requests ({} writes acknowledged, {unavailable} answered 503, {refused_stored} refused \
         writes committed after the freeze), frozen {frozen_processes} processes: {} requests, {} answered 503, \
         slowest {:.2} s (bound {:.1} s); {}; {:.1} s",
        all.len(),
        acknowledged,
        frozen.len(),
        frozen_503.len(),
        slowest.as_secs_f64(),
        bound.as_secs_f64(),
        restart_figures.join("; "),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------------------
// SQLite: disk full, read-only

/// A small tmpfs mounted for one test (the disk that fills up), unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the disk-full test mounts a small tmpfs and needs root with CAP_SYS_ADMIN (as scripts/test and CI \
             run): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { path, _dir: dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Files made immutable (`chattr +i`) for one test, made writable again when dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Self {
        for p in paths {
            let ok = Command::new("chattr").arg("+i").arg(p).status().expect("chattr (e2fsprogs)");
            assert!(ok.success(), "chattr +i {}", p.display());
        }
        Self(paths.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

/// Root ignores file modes, so the read-only test makes the files immutable; that stops writes through
/// descriptors already open only on file systems that check it on each write (ext4, xfs, btrfs; not tmpfs).
/// Proves it here, or says why not.
fn assert_immutable_blocks_open_writers(dir: &Path) {
    use std::io::Write;
    let probe = dir.join("probe");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&probe).unwrap();
    let guard = Immutable::set(std::slice::from_ref(&probe));
    let blocked = file.write_all(b"x").and_then(|_| file.flush()).is_err();
    drop(guard);
    let _ = std::fs::remove_file(&probe);
    assert!(
        blocked,
        "chattr +i does not stop writes through an open file in {} (tmpfs?); the read-only test needs ext4, xfs \
         or btrfs: set CARGO_TARGET_DIR on such a disk",
        dir.display()
    );
}

#[derive(QueryableByName)]
struct Checkpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// A migrated SQLite database at `path` with a treasurer, an open year; a served child on it.
async fn sqlite_served(path: &Path) -> (Serve, String, String, Db) {
    let url = DatabaseUrl::Sqlite(path.to_string_lossy().into_owned());
    let db = Db::connect(&url, 2, Duration::from_secs(10)).unwrap();
    let setup = db.clone();
    let (token, today) = tokio::task::spawn_blocking(move || {
        let mut conn = setup.get().unwrap();
        db::run_migrations(&mut conn).unwrap();
        prepare_money(&mut conn)
    })
    .await
    .unwrap();
    let serve = Serve::start(&format!("sqlite://{}", path.display()), &[("STEWARD_DB_TIMEOUT_SECONDS", "2")]).await;
    (serve, token, today, db)
}

/// A token no request has used yet: its first use refreshes "last used", a write the disk may refuse.
async fn fresh_token(db: &Db) -> String {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        let user: i64 = schema::users::table.select(schema::users::id).first(&mut conn).unwrap();
        api_token_on(&mut conn, user)
    })
    .await
    .unwrap()
}

/// Writes refused with `status` and a clear message while reads (API with a fresh token, page) work.
async fn assert_writes_refused_reads_work(
    serve: &Serve,
    token: &str,
    fresh: &str,
    today: &str,
    phase: &str,
    status: u16,
    says: &str,
) -> Vec<Outcome> {
    let client = client();
    let mut outcomes = Vec::new();
    for n in 0..6 {
        let o = request(&client, &serve.base, token, Kind::Write, &format!("fault-{phase}-{n}"), today).await;
        assert_eq!(o.status, Some(status), "{phase}: {o:?}");
        assert_clear_unavailable(&o, phase);
        assert!(o.body.contains(says), "{phase}: {}", o.body);
        outcomes.push(o);
        let read = request(&client, &serve.base, fresh, Kind::ApiRead, "", today).await;
        assert_eq!(read.status, Some(200), "{phase}: reads keep working: {read:?}");
        let page = request(&client, &serve.base, token, Kind::PageRead, "", today).await;
        assert_eq!(page.status, Some(200), "{phase}: pages keep working: {page:?}");
        outcomes.extend([read, page]);
    }
    let page = client.get(serve.url("/healthz")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    outcomes
}

async fn assert_writes_work(serve: &Serve, token: &str, today: &str, phase: &str) -> Vec<Outcome> {
    let client = client();
    let mut outcomes = Vec::new();
    for n in 0..5 {
        let o = request(&client, &serve.base, token, Kind::Write, &format!("fault-{phase}-{n}"), today).await;
        assert_eq!(o.status, Some(201), "{phase}: writes work again: {o:?}\n{}", serve.log());
        outcomes.push(o);
    }
    outcomes
}

fn assert_sqlite_intact(db: &Db, outcomes: &[Outcome], after: &str) -> usize {
    let mut conn = db.get().unwrap();
    let rows: Vec<IntegrityCheck> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
    assert_eq!(rows.iter().map(|r| r.integrity_check.as_str()).collect::<Vec<_>>(), ["ok"], "after {after}");
    let (acknowledged, _) = assert_writes_kept(&mut conn, outcomes, true);
    assert_check_holds(&mut conn, after);
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_refuses_writes_clearly_then_recovers() {
    let started = Instant::now();
    let disk = Tmpfs::mount("16m");
    let path = disk.path.join("steward.db");
    let (mut serve, token, today, db) = sqlite_served(&path).await;
    let client = client();
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let o = request(&client, &serve.base, &token, Kind::Write, &format!("fault-before-full-{n}"), &today).await;
        assert_eq!(o.status, Some(201), "{o:?}");
        outcomes.push(o);
    }
    let fresh = fresh_token(&db).await;

    // Empty the WAL into the database and truncate it, so the next write needs new space; then fill the disk.
    let conn_db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = conn_db.get().unwrap();
        for _ in 0..50 {
            let done: Vec<Checkpoint> = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").load(&mut conn).unwrap();
            if done.first().is_some_and(|c| c.busy == 0) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the WAL could not be truncated");
    })
    .await
    .unwrap();
    let filler = disk.path.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        let mut small = false;
        loop {
            let wrote = if small { f.write_all(&block[..4096]) } else { f.write_all(&block) };
            match wrote {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) && !small => small = true,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
    let refused = assert_writes_refused_reads_work(&serve, &token, &fresh, &today, "full", 507, "disk is full").await;
    let (ready, body, _) = readyz(&serve).await;
    assert_eq!(ready, Some(200), "reading still works, so the instance stays ready: {body}");
    outcomes.extend(refused);

    std::fs::remove_file(&filler).unwrap();
    outcomes.extend(assert_writes_work(&serve, &token, &today, "space-back").await);
    assert!(serve.is_running());
    serve.stop();
    let counted = outcomes.clone();
    let acknowledged =
        tokio::task::spawn_blocking(move || assert_sqlite_intact(&db, &counted, "the disk filled")).await.unwrap();
    println!(
        "sqlite disk full: {} requests ({} writes refused with 507, reads 200 throughout), {acknowledged} writes \
         acknowledged and kept, integrity ok; {:.1} s",
        outcomes.len(),
        outcomes.iter().filter(|o| o.status == Some(507)).count(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_only_refuses_writes_clearly_then_recovers() {
    let started = Instant::now();
    // The target directory is on the build's disk (not a tmpfs /tmp), where chattr +i holds.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert_immutable_blocks_open_writers(dir.path());
    let path = dir.path().join("steward.db");
    let (mut serve, token, today, db) = sqlite_served(&path).await;
    let client = client();
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let o = request(&client, &serve.base, &token, Kind::Write, &format!("fault-before-ro-{n}"), &today).await;
        assert_eq!(o.status, Some(201), "{o:?}");
        outcomes.push(o);
    }
    let fresh = fresh_token(&db).await;
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(wal.exists(), "WAL mode");
    let frozen = Immutable::set(&[path.clone(), wal]);
    let refused =
        assert_writes_refused_reads_work(&serve, &token, &fresh, &today, "read-only", 503, "cannot store changes")
            .await;
    outcomes.extend(refused);
    drop(frozen);
    outcomes.extend(assert_writes_work(&serve, &token, &today, "writable-again").await);
    assert!(serve.is_running());
    serve.stop();
    let counted = outcomes.clone();
    let acknowledged =
        tokio::task::spawn_blocking(move || assert_sqlite_intact(&db, &counted, "the file was read-only"))
            .await
            .unwrap();
    println!(
        "sqlite read-only: {} requests ({} writes refused with 503, reads 200 throughout), {acknowledged} writes \
         acknowledged and kept, integrity ok; {:.1} s",
        outcomes.len(),
        outcomes.iter().filter(|o| o.status == Some(503)).count(),
        started.elapsed().as_secs_f64()
    );
}
