//! Liveness and readiness for load balancers and orchestrators.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::config::{Config, DatabaseUrl};
use crate::db::{self, Db, DbError};
use crate::mail::admin::{self as mail_queue, QueueHealth};

pub fn routes(r: &mut crate::accounts::Router) {
    use crate::accounts::Access::Public;
    r.get("/healthz", Public, healthz).get("/readyz", Public, readyz);
}

/// Liveness: the process answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
    pub version: &'static str,
}

/// Readiness: whether this instance can serve requests that need the database.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: &'static str,
    /// `sqlite` or `postgres`
    pub database: &'static str,
    /// Migrations this binary carries that the database lacks; must be 0 to be ready.
    pub pending_migrations: Option<usize>,
    /// Why the instance is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The outbox, for monitoring; informative only (a long queue does not make the instance unready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<QueueHealth>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "The database is out of reach or behind the binary's migrations", body = Readiness),
    ))]
pub async fn readyz(db: web::Data<Db>, config: web::Data<Config>) -> HttpResponse {
    let database = db.backend();
    if let DatabaseUrl::Sqlite(path) = &config.database_url {
        // An open SQLite connection keeps working on a deleted file; the data would be lost on restart.
        if path != ":memory:" && !std::path::Path::new(path).exists() {
            return not_ready(database, None, format!("the database file {path} is missing"));
        }
    }
    let checked = db
        .run(|conn| {
            diesel::connection::SimpleConnection::batch_execute(conn, "SELECT 1")?;
            db::pending_migration_count(conn)
        })
        .await;
    match checked {
        Ok(0) => {
            let mail = match db.run(|conn| mail_queue::queue_health(conn, db::now())).await {
                Ok(health) => Some(health),
                Err(e) => {
                    tracing::warn!(error = %e, "mail queue numbers could not be read");
                    None
                }
            };
            HttpResponse::Ok().json(Readiness {
                status: "ready",
                database,
                pending_migrations: Some(0),
                reason: None,
                mail,
            })
        }
        Ok(n) => not_ready(database, Some(n), format!("{n} migration(s) not applied; run steward migrate")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            not_ready(database, None, reason_for(&e))
        }
    }
}

fn reason_for(e: &DbError) -> String {
    match e {
        DbError::Pool(_) | DbError::Connect { .. } | DbError::Timeout(_) => "the database does not answer".into(),
        other => format!("the database check failed: {other}"),
    }
}

fn not_ready(database: &'static str, pending: Option<usize>, reason: String) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(Readiness {
        status: "unavailable",
        database,
        pending_migrations: pending,
        reason: Some(reason),
        mail: None,
    })
}
