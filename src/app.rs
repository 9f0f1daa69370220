//! Builds the HTTP application: shared state, middleware from `web/`, then each feature's routes. `serve`
//! and the tests start the very same server.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::accounts::password::Hasher;
use crate::accounts::{csrf, Access, RouteSpec, Router};
use crate::config::{Config, SigningKey};
use crate::db::{self, Db, DbError};
use crate::mail::{self, Delivery, Mailer};
use crate::settings::SiteCache;
use crate::telemetry::RequestSpan;
use crate::web::error::{bad_request_from, form_error, json_error, render_errors};
use crate::web::limits::{self, BodyLimits};
use crate::web::{assets, flash, headers, AppError};
use crate::{
    accounts, admin, audit, community, disbursements, dues, feedback, funding, health, home, ledger, members, metrics,
    openapi, reports, surveys, transparency, treasury,
};

/// Every route of the application, each with the access it declares.
pub fn router() -> Router {
    let mut r = Router::new();
    health::routes(&mut r);
    r.get("/static/{name}", Access::Public, assets::serve).post("/csp-report", Access::Public, csp_report);
    // Signed links from emails: the signature is the proof, so anyone holding the link may use it.
    r.get(mail::unsubscribe::PATH, Access::Public, mail::pages::confirm).post(
        mail::unsubscribe::PATH,
        Access::Public,
        mail::pages::unsubscribe,
    );
    openapi::routes(&mut r);
    home::routes(&mut r);
    accounts::routes(&mut r);
    ledger::routes(&mut r);
    members::routes(&mut r);
    dues::routes(&mut r);
    funding::routes(&mut r);
    disbursements::routes(&mut r);
    treasury::routes(&mut r);
    metrics::routes(&mut r);
    community::routes(&mut r);
    surveys::routes(&mut r);
    feedback::routes(&mut r);
    reports::routes(&mut r);
    transparency::routes(&mut r);
    audit::routes(&mut r);
    admin::routes(&mut r);
    r
}

/// `POST /csp-report` takes anyone's reports, so each client address gets a few (`accounts::rate_limit`'s
/// counters, before the body is read); `web::headers` reads and logs them.
async fn csp_report(
    req: actix_web::HttpRequest,
    db: web::Data<Db>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    use crate::accounts::rate_limit::{hit, CSP_REPORTS_PER_IP};
    let ip = accounts::session::client_ip(&req).unwrap_or_default();
    db.run(move |conn| hit(conn, CSP_REPORTS_PER_IP, &ip)).await?;
    headers::csp_report(payload).await
}

/// The route table, for tests that walk every route.
pub fn route_table() -> Vec<RouteSpec> {
    router().specs().to_vec()
}

/// Why `steward` could not start, each naming the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("DATABASE_URL: {0}")]
    Database(DbError),
    #[error("DATABASE_URL: {0}")]
    Migration(DbError),
    #[error("{setting}: cannot listen on {addr}: {source}")]
    Bind { setting: &'static str, addr: String, source: std::io::Error },
    #[error("DATABASE_URL: cannot read or create the signing key: {0}")]
    SigningKey(crate::domain::ServiceError),
    #[error("{}", command_error(.0))]
    Command(crate::domain::ServiceError),
    #[error("demo data could not be written: {0}")]
    Demo(crate::domain::ServiceError),
    #[error("the server stopped with an error: {0}")]
    Server(std::io::Error),
    #[error("the OpenAPI document could not be built: {0}")]
    ApiDocument(serde_json::Error),
}

/// Connects to the database named in the configuration.
pub fn connect(config: &Config) -> Result<Db, StartupError> {
    Db::connect(&config.database_url, config.pool_size, config.pool_timeout).map_err(StartupError::Database)
}

/// Applies pending migrations, logging each.
pub fn migrate(db: &Db) -> Result<Vec<String>, StartupError> {
    let mut conn = db.get().map_err(StartupError::Database)?;
    let applied = db::run_migrations(&mut conn).map_err(StartupError::Migration)?;
    for version in &applied {
        tracing::info!(version = %version, "migration applied");
    }
    Ok(applied)
}

/// `steward user add`: an invited account and the link to set its password.
pub fn add_user(
    db: &Db,
    config: &Config,
    email: &str,
    roles: &[String],
    name: Option<&str>,
) -> Result<String, StartupError> {
    use crate::accounts::service::{invite_user, InviteInput, RequestMeta};
    use crate::accounts::Role;
    let mut parsed = Vec::new();
    for raw in roles {
        let role = Role::parse(raw).ok_or_else(|| {
            crate::config::ConfigError::new(
                "--role",
                format!("'{raw}' is not one of member_rep, treasurer, council, admin"),
            )
        })?;
        parsed.push(role);
    }
    let display_name = name.map(str::to_string).unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_string());
    let input = InviteInput { email: email.to_string(), display_name, roles: parsed, member_id: None };
    let mut conn = db.get().map_err(StartupError::Database)?;
    let (_, token) = invite_user(&mut conn, crate::audit::Actor::Cli, &input, None, &RequestMeta::default())
        .map_err(StartupError::Command)?;
    Ok(format!("{}/invitation/{token}", config.base_url))
}

/// Binds the configured address, naming `setting` in the error.
pub fn bind(addr: std::net::SocketAddr, setting: &'static str) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).map_err(|source| StartupError::Bind { setting, addr: addr.to_string(), source })
}

/// The signing key: the configured one, else the database's own (created on first start).
pub fn signing_key(config: &Config, db: &Db) -> Result<SigningKey, StartupError> {
    if let Some(key) = &config.secret_key {
        return Ok(SigningKey(key.clone()));
    }
    // Anonymous answers waiting to be counted are sealed under a key derived from this one: kept in the database,
    // it does not protect them from someone holding a copy of the database (SECURITY.md, "Anonymous surveys").
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "STEWARD_SECRET_KEY is not set: using the key kept in the database, so anonymous answers waiting to \
             be counted are readable from a copy of the database; set STEWARD_SECRET_KEY (32 or more characters)"
        )
    });
    let mut conn = db.get().map_err(StartupError::Database)?;
    crate::settings::service::secret_key(&mut conn).map(SigningKey).map_err(StartupError::SigningKey)
}

/// The request line and headers must arrive within this long of the connection (or of the previous request on
/// it); a client that sends them slowly is disconnected.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest body of any route: the community-health import's files (32 MB) and their multipart framing.
/// Larger bodies are refused from their `Content-Length` before a byte is read (`web::limits`).
pub const MAX_BODY_BYTES: usize = 33 * 1024 * 1024;

/// The largest JSON body the API reads.
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// The largest url-encoded form (as `accounts::csrf` reads it).
pub const MAX_FORM_BYTES: usize = 256 << 10;

/// Starts the server on `listener` with `workers` threads; the returned future runs until shutdown
/// (SIGTERM or SIGINT, after in-flight requests finish).
pub fn start(config: Config, db: Db, listener: TcpListener, workers: usize) -> Result<Server, StartupError> {
    let https = config.is_https();
    let key = web::Data::new(signing_key(&config, &db)?);
    let config = web::Data::new(config);
    let db = web::Data::new(db);
    let site = web::Data::new(SiteCache::new(Duration::from_secs(10)));
    let hasher = web::Data::new(Hasher::for_this_machine());
    // Each blocking task holds a pooled connection (or hashes a password): more threads than that only wait,
    // and every idle thread keeps its own allocator arena.
    let blocking_threads = (config.pool_size as usize).div_ceil(workers.max(1)) + 1;
    let body_limits = web::Data::new(BodyLimits { max_bytes: MAX_BODY_BYTES, timeout: config.body_timeout });
    let api_document = web::Data::new(openapi::ApiDocument::new(&route_table()).map_err(StartupError::ApiDocument)?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .app_data(db.clone())
            .app_data(site.clone())
            .app_data(key.clone())
            .app_data(hasher.clone())
            .app_data(body_limits.clone())
            .app_data(api_document.clone())
            .app_data(web::JsonConfig::default().limit(MAX_JSON_BYTES).error_handler(|e, _| json_error(e)))
            .app_data(web::FormConfig::default().limit(MAX_FORM_BYTES).error_handler(|e, _| form_error(e)))
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request_from(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| bad_request_from(e)))
            .configure(|cfg| router().register(cfg))
            .default_service(web::to(not_found))
            .wrap(from_fn(csrf::protect))
            .wrap(from_fn(limits::limit_body))
            .wrap(from_fn(flash::carry))
            .wrap(from_fn(render_errors))
            .wrap(Compress::default())
            .wrap(headers::security_headers(https))
            .wrap_fn(|req, srv| {
                // Every audit event recorded while serving this request carries its client address.
                let client = accounts::session::client_ip(req.request());
                let fut = crate::domain::client::scope(client, srv.call(req));
                async move {
                    let mut res = fut.await?;
                    let id = res.request().extensions().get::<RequestId>().map(|id| id.to_string());
                    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
                    }
                    Ok(res)
                }
            })
            .wrap(TracingLogger::<RequestSpan>::new())
    })
    .workers(workers)
    .worker_max_blocking_threads(blocking_threads)
    // Without it, a response written in two parts waits for the client's delayed ACK (40 ms).
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .client_request_timeout(HEAD_TIMEOUT)
    .client_disconnect_timeout(Duration::from_secs(2))
    .shutdown_timeout(30)
    .listen(listener)
    .map_err(StartupError::Server)?
    .run();
    Ok(server)
}

fn command_error(e: &crate::domain::ServiceError) -> String {
    match e {
        crate::domain::ServiceError::Validation(fields) => fields
            .iter()
            .map(|f| format!("--{}: {}", f.field.replace('_', "-"), f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// `steward serve`: connect, migrate unless told not to, and serve until stopped.
pub async fn serve(config: Config, migrate_first: bool) -> Result<(), StartupError> {
    let db = connect(&config)?;
    if migrate_first {
        migrate(&db)?;
    }
    let listener = bind(config.bind, "STEWARD_BIND")?;
    run_server(config, db, listener).await
}

/// The outbox delivery of this configuration. Call it inside the async runtime.
pub fn mail_delivery(config: &Config, db: &Db) -> Result<Delivery, StartupError> {
    let mailer = Mailer::from_config(config, signing_key(config, db)?)?;
    Ok(Delivery::new(db.clone(), mailer, config.mail.clone()))
}

/// Serves on an already-bound listener until shutdown, with the mail worker beside it; on shutdown the worker
/// finishes the messages in hand.
pub async fn run_server(config: Config, db: Db, listener: TcpListener) -> Result<(), StartupError> {
    let addr = listener.local_addr().map_err(StartupError::Server)?;
    tracing::info!(address = %addr, database = db.backend(), base_url = %config.base_url, "serving");
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mail_worker = mail::worker::spawn(mail_delivery(&config, &db)?);
    let jobs = crate::jobs::spawn(config.clone(), db.clone(), signing_key(&config, &db)?);
    let served = async { start(config, db, listener, workers)?.await.map_err(StartupError::Server) }.await;
    jobs.stop().await;
    mail_worker.stop().await;
    served?;
    tracing::info!("stopped");
    Ok(())
}
