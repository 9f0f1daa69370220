//! The audit log page and API (admins).

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::AuditEvent;
use super::service::{self, EventRow, PAGE_SIZE};
use crate::accounts::PageContext;
use crate::db::Db;
use crate::locale::Shown;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "audit/log.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<EventRow>,
    action: String,
    page: i64,
    pages: i64,
    total: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only actions starting with this, e.g. `user.` or `session.sign_in_failed`.
    #[serde(default)]
    pub action: String,
    /// From 1.
    pub page: Option<i64>,
}

pub async fn log(ctx: PageContext, db: web::Data<Db>, query: web::Query<AuditQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = query.page.unwrap_or(1).max(1);
    let action: String = query.action.chars().take(100).collect();
    let filter = action.clone();
    let (rows, total) = db.run(move |conn| service::list(conn, Some(&filter), page)).await?;
    render(&AuditPage {
        layout: ctx.layout("Audit log"),
        rows,
        action,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        total,
    })
}

/// A page of audit events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditEventPage {
    pub items: Vec<AuditEvent>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// The audit log; admins only.
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditEventPage), (status = 403, body = crate::web::error::ProblemSchema)))]
pub async fn list_api(db: web::Data<Db>, query: web::Query<AuditQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = query.page.unwrap_or(1).max(1);
    let (rows, total) = db.run(move |conn| service::list(conn, Some(&query.action), page)).await?;
    Ok(HttpResponse::Ok().json(AuditEventPage {
        items: rows.into_iter().map(|r| r.event).collect(),
        page,
        per_page: PAGE_SIZE,
        total,
    }))
}
