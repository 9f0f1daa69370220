//! `steward bench web`: a large foundation (see `seed.rs`) on SQLite and on PostgreSQL, served by a real
//! `steward serve` process and loaded over the loopback interface by wrk, beside the ceiling of a route that
//! touches no database, measured in the same run. Also: sign-ins in a burst and the other pages meanwhile,
//! the heavy service calls timed in process, the server's peak memory and the database's size on disk.
//! Prints a table and writes JSON; nothing here passes or fails a test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use super::seed::{self, SeedOptions, Seeded};
use super::{peak_memory_kib, BenchError};
use crate::accounts::model::AuthMethod;
use crate::accounts::service::RequestMeta;
use crate::accounts::Identity;
use crate::audit::Actor;
use crate::config::{ConfigError, DatabaseUrl};
use crate::db::{self, Db, DbConn};
use crate::reports::period::{Frequency, Period};

/// The issue's targets on a 2-core machine.
const PAGE_P99_MS: f64 = 20.0;
const PAGE_SHARE_OF_CEILING: f64 = 1.0 / 3.0;
const AGGREGATE_MS: f64 = 50.0;
const REPORT_SECONDS: f64 = 5.0;
const PEAK_BYTES: u64 = 100_000_000;
/// The concurrency the page targets are stated at.
const TARGET_CLIENTS: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn parse(raw: &str) -> Result<Vec<Self>, String> {
        match raw {
            "sqlite" => Ok(vec![Self::Sqlite]),
            "postgres" | "postgresql" => Ok(vec![Self::Postgres]),
            "both" => Ok(vec![Self::Sqlite, Self::Postgres]),
            other => Err(format!("'{other}' is not sqlite, postgres or both")),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub backends: Vec<Backend>,
    /// A PostgreSQL server on which the bench creates (and afterwards drops) its own scratch database.
    pub postgres_url: String,
    /// 1.0 is the issue's foundation; smaller for a quick look.
    pub scale: f64,
    /// How long each load runs.
    pub seconds: u64,
    pub clients: Vec<u32>,
    pub json: Option<PathBuf>,
    /// The wrk binary.
    pub wrk: String,
    /// Keep the seeded SQLite file (its path is printed) to look at afterwards.
    pub keep: bool,
}

/// One load: a target at a number of concurrent clients.
#[derive(Clone, Debug, Serialize)]
pub struct Load {
    pub target: String,
    pub path: String,
    pub clients: u32,
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Responses that were not 2xx/3xx, plus connection errors and timeouts.
    pub errors: u64,
    /// Bytes per response as sent (compressed when the page is).
    pub bytes_per_response: u64,
    /// This load's throughput as a share of the no-database route's at the same concurrency.
    pub share_of_ceiling: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignInBurst {
    pub clients: u32,
    pub sign_ins: u64,
    pub sign_ins_per_second: f64,
    pub sign_in_p99_ms: f64,
    pub errors: u64,
    /// The page loaded meanwhile, at `TARGET_CLIENTS` clients: alone and during the burst.
    pub page: String,
    /// None when the run did not load that page at `TARGET_CLIENTS` clients (see `--clients`).
    pub page_p99_ms_alone: Option<f64>,
    pub page_p99_ms_during: f64,
    pub page_per_second_during: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    pub what: String,
    pub milliseconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct BackendResult {
    pub backend: Backend,
    pub seed_seconds: f64,
    pub rows: Vec<(String, i64)>,
    pub in_process: Vec<Timing>,
    pub loads: Vec<Load>,
    pub sign_in: SignInBurst,
    pub server_peak_bytes: u64,
    pub database_bytes: u64,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub version: &'static str,
    pub cpu: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub scale: f64,
    pub seconds_per_load: u64,
    pub clients: Vec<u32>,
    pub results: Vec<BackendResult>,
}

fn service(e: crate::domain::ServiceError) -> BenchError {
    BenchError::Mismatch(format!("{e}"))
}

pub fn run(options: &Options) -> Result<(), BenchError> {
    if !(0.0..=1.0).contains(&options.scale) || options.scale == 0.0 {
        return Err(ConfigError::new("--scale", "must be above 0 and at most 1").into());
    }
    if options.clients.is_empty() || options.clients.contains(&0) {
        return Err(ConfigError::new("--clients", "give one or more client counts above 0, e.g. 1,16,128").into());
    }
    if Command::new(&options.wrk).arg("--version").output().is_err() {
        return Err(BenchError::Mismatch(format!(
            "wrk is not installed ('{}' does not run); scripts/bench installs it (apt-get install wrk)",
            options.wrk
        )));
    }
    let mut run = Run {
        version: env!("CARGO_PKG_VERSION"),
        cpu: cpu_model(),
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory_bytes: mem_total(),
        scale: options.scale,
        seconds_per_load: options.seconds,
        clients: options.clients.clone(),
        results: Vec::new(),
    };
    println!(
        "steward bench web: {} on {} cores ({}), {} s per load, clients {:?}, scale {}",
        run.version, run.cores, run.cpu, options.seconds, options.clients, options.scale
    );
    for backend in &options.backends {
        let result = run_backend(*backend, options)?;
        print_result(&result);
        run.results.push(result);
        if let Some(path) = &options.json {
            write_json(path, &run)?;
        }
    }
    if let Some(path) = &options.json {
        println!("\nJSON written to {}", path.display());
    }
    Ok(())
}

fn write_json(path: &Path, run: &Run) -> Result<(), BenchError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(run).map_err(|e| BenchError::Mismatch(e.to_string()))?;
    std::fs::write(path, text + "\n")?;
    Ok(())
}

/// A scratch database: a SQLite file in a temporary folder, or a PostgreSQL database made for this run.
struct Scratch {
    dir: super::mail::Scratch,
    url: DatabaseUrl,
    pg: Option<(String, String)>,
}

impl Scratch {
    fn new(backend: Backend, postgres_url: &str) -> Result<Self, BenchError> {
        let dir = super::mail::Scratch::new()?;
        match backend {
            Backend::Sqlite => {
                let path = dir.0.join("steward.db");
                Ok(Self { url: DatabaseUrl::Sqlite(path.to_string_lossy().into_owned()), dir, pg: None })
            }
            Backend::Postgres => {
                let name = format!("steward_bench_{}", std::process::id());
                let mut admin = diesel::PgConnection::establish(postgres_url)
                    .map_err(|e| ConfigError::new("--postgres-url", format!("cannot connect: {e}")))?;
                // Separately: PostgreSQL runs a multi-statement string in one transaction, which these refuse.
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))?;
                admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
                let url = match postgres_url.rsplit_once('/') {
                    Some((base, _)) if base.contains("://") && base.len() > "postgres://".len() => {
                        format!("{base}/{name}")
                    }
                    _ => {
                        return Err(ConfigError::new("--postgres-url", "give postgres://user@host:port/database").into())
                    }
                };
                let parsed = DatabaseUrl::parse(&url).map_err(|m| ConfigError::new("--postgres-url", m))?;
                Ok(Self { url: parsed, dir, pg: Some((postgres_url.to_string(), name)) })
            }
        }
    }

    fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => url.expose().to_string(),
        }
    }

    fn size_on_disk(&self, conn: &mut DbConn) -> Result<u64, BenchError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => Ok(["", "-wal", "-shm"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{path}{suffix}")).ok())
                .map(|m| m.len())
                .sum()),
            DatabaseUrl::Postgres(_) => {
                #[derive(QueryableByName)]
                struct Size {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    bytes: i64,
                }
                let size: Size =
                    diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes").get_result(conn)?;
                Ok(size.bytes.max(0) as u64)
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

fn run_backend(backend: Backend, options: &Options) -> Result<BackendResult, BenchError> {
    println!("\n== {} ==", backend.label());
    let mut scratch = Scratch::new(backend, &options.postgres_url)?;
    if options.keep {
        if let DatabaseUrl::Sqlite(path) = &scratch.url {
            println!("keeping the seeded database: {path}");
        }
    }
    let db = Db::connect(&scratch.url, 4, Duration::from_secs(30))?;
    let mut conn = db.get()?;
    db::run_migrations(&mut conn)?;
    let today = db::now().date();

    let started = Instant::now();
    let sizes = SeedOptions::scaled(options.scale);
    let seeded = seed::seed(&mut conn, &sizes, today)?;
    let seed_seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded in {seed_seconds:.1} s: {}",
        seeded.counts.iter().map(|(t, n)| format!("{n} {t}")).collect::<Vec<_>>().join(", ")
    );

    let in_process = time_in_process(&mut conn, &seeded, sizes.responses_per_survey, today)?;
    for t in &in_process {
        println!("  in process: {} {:.1} ms", t.what, t.milliseconds);
    }
    let tokens = ApiTokens::create(&mut conn, &seeded)?;
    drop(conn);
    let queued = run_jobs_first(&db)?;
    println!("  the scheduled jobs ran before the load (so the server's first run finds nothing): {queued} emails");

    let server = Server::start(&scratch)?;
    let result = measure(&server, &seeded, &tokens, options);
    let server_peak_bytes = server.peak_bytes();
    drop(server);
    let mut loads_and_burst = result?;
    let mut conn = db.get()?;
    let database_bytes = scratch.size_on_disk(&mut conn)?;
    drop(conn);

    if options.keep && scratch.pg.is_none() {
        // An empty path: nothing for the folder's clean-up to remove.
        let _kept = std::mem::take(&mut scratch.dir.0);
    }
    let rows = seeded.counts.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    let checks = checks(&loads_and_burst.0, &in_process, server_peak_bytes);
    Ok(BackendResult {
        backend,
        seed_seconds,
        rows,
        in_process,
        loads: std::mem::take(&mut loads_and_burst.0),
        sign_in: loads_and_burst.1,
        server_peak_bytes,
        database_bytes,
        checks,
    })
}

/// The heavy service calls, timed in this process on the seeded database: survey results and the treasury
/// dashboard (median of five), and the last quarter's report for every organization (once).
fn time_in_process(
    conn: &mut DbConn,
    seeded: &Seeded,
    responses: u32,
    today: chrono::NaiveDate,
) -> Result<Vec<Timing>, BenchError> {
    let treasurer = identity(conn, &seeded.treasurer_email)?;
    let survey_id = seeded.survey_id;
    let results = median_ms(5, || crate::surveys::service::results(conn, survey_id).map(drop).map_err(service))?;
    let dashboard =
        median_ms(5, || crate::treasury::service::dashboard(conn, &treasurer, None).map(drop).map_err(service))?;
    let period = Period::last_ended(Frequency::Quarterly, today);
    let started = Instant::now();
    let generated =
        crate::reports::service::generate(conn, Actor::Cli, &period, today, "Bench Foundation").map_err(service)?;
    let report_ms = started.elapsed().as_secs_f64() * 1000.0;
    let sections: i64 = crate::db::schema::report_members::table.count().get_result(conn)?;
    drop(generated);
    Ok(vec![
        Timing { what: format!("survey results ({responses} responses)"), milliseconds: results },
        Timing { what: "treasury dashboard aggregates".into(), milliseconds: dashboard },
        Timing { what: format!("report generation ({sections} organizations)"), milliseconds: report_ms },
    ])
}

/// Runs every scheduled job once (dues and survey reminders, reports), as the server would at start, and
/// marks what it queued as delivered: the load then measures requests, not a backlog of mail.
fn run_jobs_first(db: &Db) -> Result<usize, BenchError> {
    let config = crate::config::Config::from_lookup(|_| None)?;
    let key = crate::config::SigningKey(crate::config::Secret::new(hex::encode(rand::random::<[u8; 32]>())));
    let db_for_jobs = db.clone();
    actix_web::rt::System::new()
        .block_on(async move { crate::jobs::run_once(&config, &db_for_jobs, &key).await })
        .map_err(service)?;
    let mut conn = db.get()?;
    seed::mark_mail_delivered(&mut conn).map_err(service)
}

fn median_ms(times: usize, mut f: impl FnMut() -> Result<(), BenchError>) -> Result<f64, BenchError> {
    let mut all = Vec::with_capacity(times);
    for _ in 0..times {
        let started = Instant::now();
        f()?;
        all.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    all.sort_by(f64::total_cmp);
    Ok(all[all.len() / 2])
}

fn identity(conn: &mut DbConn, email: &str) -> Result<Identity, BenchError> {
    use crate::db::schema::users;
    let (user_id, display_name, member_id): (i64, String, Option<i64>) = users::table
        .filter(users::email.eq(email))
        .select((users::id, users::display_name, users::member_id))
        .first(conn)?;
    let roles = crate::accounts::session::roles_of(conn, user_id).map_err(service)?;
    Ok(Identity {
        user_id,
        email: email.to_string(),
        display_name,
        member_id,
        roles,
        has_two_factor: false,
        via: AuthMethod::ApiToken { token_id: 0 },
        time_zone: "UTC".into(),
    })
}

/// A personal API token per role, made through the accounts service.
struct ApiTokens {
    treasurer: String,
    council: String,
    representative: String,
}

impl ApiTokens {
    fn create(conn: &mut DbConn, seeded: &Seeded) -> Result<Self, BenchError> {
        let mut token = |email: &str| -> Result<String, BenchError> {
            let who = identity(conn, email)?;
            let input = crate::accounts::service::TokenInput {
                name: "bench".into(),
                scope: crate::accounts::model::TokenScope::ReadWrite,
                expires_on: None,
            };
            let (_, token) =
                crate::accounts::service::issue_api_token(conn, who.user_id, &input, &RequestMeta::default())
                    .map_err(service)?;
            Ok(token)
        };
        Ok(Self {
            treasurer: token(&seeded.treasurer_email)?,
            council: token(&seeded.council_email)?,
            representative: token(&seeded.representative_email)?,
        })
    }
}

/// `steward serve` in a child process on a free loopback port, against the scratch database.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(scratch: &Scratch) -> Result<Self, BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let log = scratch.dir.0.join("server.log");
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("serve").env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        // The allocator's tuning, for comparing runs; nothing else of the bench's environment reaches the server.
        // And where an instrumented build writes its coverage profile (only the test suite's build has one).
        for name in ["MALLOC_ARENA_MAX", "LLVM_PROFILE_FILE"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let child = command
            .env("DATABASE_URL", scratch.url_string())
            .env("STEWARD_BIND", format!("127.0.0.1:{port}"))
            .env("STEWARD_BASE_URL", &base)
            .env("STEWARD_DATA_DIR", scratch.dir.0.join("data"))
            .env("STEWARD_SIGN_IN_PER_IP", "1000000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let server = Self { child, base, log };
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if agent.get(&format!("{}/healthz", server.base)).call().is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Mismatch(format!("the server did not start; see {}", server.log.display())));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's peak resident memory so far (`VmHWM`).
    fn peak_bytes(&self) -> u64 {
        super::peak_memory_kib_of(&self.child.id().to_string()).map(|kib| kib * 1024).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(30)).build()
}

/// Who a load runs as: a session cookie for pages, a bearer token for the API.
#[derive(Clone)]
enum Credential {
    Nobody,
    Cookie(String),
    Bearer(String),
}

impl Credential {
    fn header(&self) -> Option<String> {
        match self {
            Self::Nobody => None,
            Self::Cookie(c) => Some(format!("Cookie: {c}")),
            Self::Bearer(t) => Some(format!("Authorization: Bearer {t}")),
        }
    }
}

fn set_cookie_value(res: &ureq::Response, name: &str) -> Option<String> {
    res.all("set-cookie").into_iter().find_map(|c| {
        let (pair, _) = c.split_once(';').unwrap_or((c, ""));
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// The pre-session CSRF token from the sign-in page.
fn csrf_token(base: &str) -> Result<String, BenchError> {
    let res = agent()
        .get(&format!("{base}/sign-in"))
        .call()
        .map_err(|e| BenchError::Mismatch(format!("GET /sign-in: {e}")))?;
    set_cookie_value(&res, crate::accounts::session::csrf_cookie_name(false))
        .ok_or_else(|| BenchError::Mismatch("the sign-in page set no CSRF cookie".into()))
}

/// Signs in through the sign-in form, as a browser does; returns the Cookie header value.
fn sign_in(base: &str, email: &str, password: &str) -> Result<String, BenchError> {
    let csrf = csrf_token(base)?;
    let csrf_name = crate::accounts::session::csrf_cookie_name(false);
    let res = agent().post(&format!("{base}/sign-in")).set("Cookie", &format!("{csrf_name}={csrf}")).send_form(&[
        ("_csrf", &csrf),
        ("email", email),
        ("password", password),
        ("next", "/"),
    ]);
    let res = match res {
        Ok(res) if res.status() == 303 => res,
        Ok(res) => return Err(BenchError::Mismatch(format!("sign-in of {email}: status {}", res.status()))),
        Err(e) => return Err(BenchError::Mismatch(format!("sign-in of {email}: {e}"))),
    };
    let session = set_cookie_value(&res, crate::accounts::session::session_cookie_name(false))
        .ok_or_else(|| BenchError::Mismatch(format!("sign-in of {email} set no session cookie")))?;
    Ok(format!("{}={session}; {csrf_name}={csrf}", crate::accounts::session::session_cookie_name(false)))
}

/// What a load asks for.
struct Target {
    name: String,
    path: String,
    who: Credential,
}

fn targets(seeded: &Seeded, tokens: &ApiTokens, base: &str) -> Result<Vec<Target>, BenchError> {
    let password = &seeded.password;
    let rep = Credential::Cookie(sign_in(base, &seeded.representative_email, password)?);
    let treasurer = Credential::Cookie(sign_in(base, &seeded.treasurer_email, password)?);
    let council = Credential::Cookie(sign_in(base, &seeded.council_email, password)?);
    let admin = Credential::Cookie(sign_in(base, &seeded.admin_email, password)?);
    let (survey, metric) = (seeded.survey_id, seeded.metric_id);
    let t = |name: &str, path: String, who: &Credential| Target { name: name.into(), path, who: who.clone() };
    let (api_t, api_c, api_r) = (
        Credential::Bearer(tokens.treasurer.clone()),
        Credential::Bearer(tokens.council.clone()),
        Credential::Bearer(tokens.representative.clone()),
    );
    Ok(vec![
        t("no database (ceiling)", "/healthz".into(), &Credential::Nobody),
        t("home: representative", "/".into(), &rep),
        t("home: treasurer", "/".into(), &treasurer),
        t("home: council", "/".into(), &council),
        t("home: admin", "/".into(), &admin),
        t("member list", "/members".into(), &treasurer),
        t("ledger", "/ledger".into(), &treasurer),
        t("treasury dashboard", "/treasury".into(), &treasurer),
        t("survey results", format!("/surveys/{survey}/results"), &council),
        t("metric", format!("/metrics/{metric}"), &council),
        t("API members", "/api/v1/members".into(), &api_t),
        t("API ledger entries", "/api/v1/ledger/entries".into(), &api_t),
        t("API treasury", "/api/v1/treasury".into(), &api_t),
        t("API survey results", format!("/api/v1/surveys/{survey}/results"), &api_c),
        t("API metric", format!("/api/v1/metrics/{metric}"), &api_c),
        t("API invoices (representative)", "/api/v1/invoices".into(), &api_r),
    ])
}

/// Every target must answer 200 before it is loaded (a redirect to sign-in would be a fast, wrong figure).
fn preflight(base: &str, target: &Target) -> Result<(), BenchError> {
    let mut req = agent().get(&format!("{base}{}", target.path)).set("Accept-Encoding", "gzip");
    if let Some(h) = target.who.header() {
        let (name, value) = h.split_once(": ").unwrap_or(("", ""));
        req = req.set(name, value);
    }
    match req.call() {
        Ok(res) if res.status() == 200 => {
            let mut body = Vec::new();
            res.into_reader().take(64 << 20).read_to_end(&mut body)?;
            Ok(())
        }
        Ok(res) => Err(BenchError::Mismatch(format!("{} {}: status {}", target.name, target.path, res.status()))),
        Err(e) => Err(BenchError::Mismatch(format!("{} {}: {e}", target.name, target.path))),
    }
}

fn measure(
    server: &Server,
    seeded: &Seeded,
    tokens: &ApiTokens,
    options: &Options,
) -> Result<(Vec<Load>, SignInBurst), BenchError> {
    let targets = targets(seeded, tokens, &server.base)?;
    for target in &targets {
        preflight(&server.base, target)?;
    }
    let wrk = Wrk::new(&options.wrk, &server.dir_for_scripts(), options.seconds)?;
    let mut loads = Vec::new();
    for &clients in &options.clients {
        for target in &targets {
            let load = wrk.get(&server.base, target, clients)?;
            println!(
                "  {:<32} {:>4} clients {:>9.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}",
                target.name, clients, load.per_second, load.p50_ms, load.p99_ms, load.errors
            );
            loads.push(load);
        }
    }
    let ceiling: Vec<(u32, f64)> =
        loads.iter().filter(|l| l.path == "/healthz").map(|l| (l.clients, l.per_second)).collect();
    for load in loads.iter_mut().filter(|l| l.path != "/healthz") {
        load.share_of_ceiling =
            ceiling.iter().find(|(c, _)| *c == load.clients).map(|(_, rps)| load.per_second / rps.max(1e-9));
    }

    let page = &targets[2]; // the treasurer's home page
    let alone = loads.iter().find(|l| l.target == page.name && l.clients == TARGET_CLIENTS).map(|l| l.p99_ms);
    let burst_clients = 16;
    let csrf = csrf_token(&server.base)?;
    let bodies: Vec<String> = seeded
        .sign_in_emails
        .iter()
        .map(|email| {
            format!(
                "_csrf={csrf}&email={}&password={}&next=%2F",
                crate::web::url_encode(email),
                crate::web::url_encode(&seeded.password),
            )
        })
        .collect();
    let body = &bodies;
    let (sign_ins, during) = std::thread::scope(|s| {
        let burst = s.spawn(|| wrk.sign_in_burst(&server.base, body, burst_clients));
        std::thread::sleep(Duration::from_millis(500));
        let during = wrk.get(&server.base, page, TARGET_CLIENTS);
        (burst.join().unwrap_or_else(|_| Err(BenchError::Mismatch("the sign-in burst panicked".into()))), during)
    });
    let (sign_ins, during) = (sign_ins?, during?);
    let sign_in = SignInBurst {
        clients: burst_clients,
        sign_ins: sign_ins.requests,
        sign_ins_per_second: sign_ins.per_second,
        sign_in_p99_ms: sign_ins.p99_ms,
        errors: sign_ins.errors,
        page: page.name.clone(),
        page_p99_ms_alone: alone,
        page_p99_ms_during: during.p99_ms,
        page_per_second_during: during.per_second,
    };
    println!(
        "  sign-in burst: {} clients {:.1} sign-ins/s (p99 {:.0} ms, errors {}); {} at {TARGET_CLIENTS} clients \
         meanwhile p99 {:.2} ms (alone {})",
        burst_clients,
        sign_in.sign_ins_per_second,
        sign_in.sign_in_p99_ms,
        sign_in.errors,
        sign_in.page,
        sign_in.page_p99_ms_during,
        match sign_in.page_p99_ms_alone {
            Some(ms) => format!("{ms:.2} ms"),
            None => format!("not loaded at {TARGET_CLIENTS} clients in this run"),
        }
    );
    Ok((loads, sign_in))
}

impl Server {
    fn dir_for_scripts(&self) -> PathBuf {
        self.log.parent().map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir)
    }
}

/// wrk with a Lua script that prints its summary as one JSON line.
struct Wrk {
    bin: String,
    report_script: PathBuf,
    sign_in_dir: PathBuf,
    seconds: u64,
}

const REPORT_LUA: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nSTEWARD_WRK {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

#[derive(serde::Deserialize)]
struct WrkSummary {
    requests: u64,
    duration_us: u64,
    bytes: u64,
    errors: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

impl Wrk {
    fn new(bin: &str, dir: &Path, seconds: u64) -> Result<Self, BenchError> {
        let report_script = dir.join("report.lua");
        std::fs::write(&report_script, REPORT_LUA)?;
        Ok(Self { bin: bin.into(), report_script, sign_in_dir: dir.to_path_buf(), seconds: seconds.max(1) })
    }

    fn get(&self, base: &str, target: &Target, clients: u32) -> Result<Load, BenchError> {
        let mut headers = vec!["Accept-Encoding: gzip".to_string()];
        headers.extend(target.who.header());
        let summary = self.run(&self.report_script, &headers, &format!("{base}{}", target.path), clients)?;
        Ok(load(&target.name, &target.path, clients, &summary))
    }

    /// Sign-ins through the form, each request as the next of `bodies` (one person each, in turn).
    fn sign_in_burst(&self, base: &str, bodies: &[String], clients: u32) -> Result<Load, BenchError> {
        let script = self.sign_in_dir.join("sign_in.lua");
        // The bodies are URL-encoded: no quote or backslash can end a Lua string early.
        let list: Vec<String> = bodies.iter().map(|b| format!("\"{b}\"")).collect();
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
                 local bodies = {{ {} }}\nlocal next_body = 0\n\
                 request = function()\n  next_body = next_body % #bodies + 1\n  \
                 return wrk.format(nil, nil, nil, bodies[next_body])\nend\n{REPORT_LUA}",
                list.join(", ")
            ),
        )?;
        let csrf =
            bodies.first().and_then(|b| b.split('&').find_map(|kv| kv.strip_prefix("_csrf="))).unwrap_or_default();
        let cookie = format!("Cookie: {}={csrf}", crate::accounts::session::csrf_cookie_name(false));
        let summary = self.run(&script, &[cookie], &format!("{base}/sign-in"), clients)?;
        Ok(load("sign-in", "/sign-in", clients, &summary))
    }

    fn run(&self, script: &Path, headers: &[String], url: &str, clients: u32) -> Result<WrkSummary, BenchError> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-t1", &format!("-c{clients}"), &format!("-d{}s", self.seconds), "--timeout", "10s", "-s"])
            .arg(script);
        for h in headers {
            cmd.arg("-H").arg(h);
        }
        let out = cmd.arg(url).output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("STEWARD_WRK ")).ok_or_else(|| {
            BenchError::Mismatch(format!("wrk gave no summary for {url}: {}", String::from_utf8_lossy(&out.stderr)))
        })?;
        serde_json::from_str(line).map_err(|e| BenchError::Mismatch(format!("wrk's summary for {url}: {e}")))
    }
}

fn load(name: &str, path: &str, clients: u32, s: &WrkSummary) -> Load {
    let seconds = (s.duration_us as f64 / 1e6).max(1e-9);
    // No request finished within the run: latencies are unknown (null in JSON, "-" in the table), not zero.
    let ms = |us: u64| if s.requests == 0 { f64::NAN } else { us as f64 / 1000.0 };
    Load {
        target: name.into(),
        path: path.into(),
        clients,
        requests: s.requests,
        per_second: s.requests as f64 / seconds,
        p50_ms: ms(s.p50_us),
        p99_ms: ms(s.p99_us),
        max_ms: ms(s.max_us),
        errors: s.errors,
        bytes_per_response: s.bytes.checked_div(s.requests).unwrap_or(0),
        share_of_ceiling: None,
    }
}

fn checks(loads: &[Load], in_process: &[Timing], peak: u64) -> Vec<Check> {
    let mut checks = Vec::new();
    for load in loads.iter().filter(|l| l.clients == TARGET_CLIENTS && l.path != "/healthz") {
        checks.push(Check {
            what: format!("{} at {TARGET_CLIENTS} clients: p99", load.target),
            target: format!("< {PAGE_P99_MS} ms"),
            measured: format!("{:.2} ms", load.p99_ms),
            met: load.requests > 0 && load.p99_ms < PAGE_P99_MS && load.errors == 0,
        });
        if let Some(share) = load.share_of_ceiling {
            checks.push(Check {
                what: format!("{} at {TARGET_CLIENTS} clients: throughput", load.target),
                target: format!(">= {:.0}% of the ceiling", PAGE_SHARE_OF_CEILING * 100.0),
                measured: format!("{:.0}% ({:.0}/s)", share * 100.0, load.per_second),
                met: share >= PAGE_SHARE_OF_CEILING,
            });
        }
    }
    for t in in_process {
        let (target, met) = if t.what.starts_with("report generation") {
            (format!("< {REPORT_SECONDS} s"), t.milliseconds < REPORT_SECONDS * 1000.0)
        } else {
            (format!("< {AGGREGATE_MS} ms"), t.milliseconds < AGGREGATE_MS)
        };
        checks.push(Check { what: t.what.clone(), target, measured: format!("{:.1} ms", t.milliseconds), met });
    }
    checks.push(Check {
        what: "server peak memory".into(),
        target: format!("< {} MB", PEAK_BYTES / 1_000_000),
        measured: format!("{:.1} MB", peak as f64 / 1e6),
        met: peak > 0 && peak < PEAK_BYTES,
    });
    checks
}

fn print_result(r: &BackendResult) {
    println!("\n{}: throughput and latency (wrk over loopback, Accept-Encoding: gzip)", r.backend.label());
    println!(
        "  {:<32} {:>7} {:>10} {:>9} {:>9} {:>8} {:>7} {:>8}",
        "target", "clients", "req/s", "p50 ms", "p99 ms", "ceiling", "errors", "bytes"
    );
    for l in &r.loads {
        println!(
            "  {:<32} {:>7} {:>10.0} {:>9} {:>9} {:>8} {:>7} {:>8}",
            l.target,
            l.clients,
            l.per_second,
            ms_cell(l.p50_ms),
            ms_cell(l.p99_ms),
            l.share_of_ceiling.map(|s| format!("{:.0}%", s * 100.0)).unwrap_or_else(|| "-".into()),
            l.errors,
            l.bytes_per_response
        );
    }
    println!(
        "  server peak memory {:.1} MB; database on disk {:.1} MB; seeded in {:.1} s",
        r.server_peak_bytes as f64 / 1e6,
        r.database_bytes as f64 / 1e6,
        r.seed_seconds
    );
    println!("  targets:");
    for c in &r.checks {
        println!("    [{}] {}: {} (target {})", if c.met { "met " } else { "MISS" }, c.what, c.measured, c.target);
    }
    if let Some(kib) = peak_memory_kib() {
        println!("  (the bench process itself peaked at {:.1} MB)", kib as f64 * 1024.0 / 1e6);
    }
}

/// Milliseconds for the table; "-" when no request finished.
fn ms_cell(ms: f64) -> String {
    if ms.is_nan() {
        "-".into()
    } else {
        format!("{ms:.2}")
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(str::to_string))
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}
