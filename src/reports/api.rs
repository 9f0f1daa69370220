//! JSON API for progress reports: the archive, a report's frozen content, and the schedule.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::{self, ReportDocument, ReportRow, Schedule, ScheduleInput};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::settings::SiteCache;
use crate::web::AppError;

/// Reports, newest first: sent ones for representatives; every report and the period in progress for the
/// treasurer, council and admins.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = Vec<ReportRow>)))]
pub async fn list(user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let viewer = user.0;
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::list(conn, &viewer, crate::db::now().date())).await?))
}

/// A report: its frozen content (live figures for a period not generated yet, for the treasurer, council and
/// admins), and for a representative their own organization's section.
#[utoipa::path(get, path = "/api/v1/reports/{period}", tag = "reports", security(("bearer" = [])),
    params(("period" = String, Path, description = "2026-Q3, 2026-H2 or 2026-09")),
    responses((status = 200, body = ReportDocument), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn show(
    user: ApiUser,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    period: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (viewer, code, foundation) = (user.0, period.into_inner(), site.get(&db).await?.name);
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::document(conn, &viewer, &code, &foundation)).await?))
}

/// The report schedule (council and admins).
#[utoipa::path(get, path = "/api/v1/reports/schedule", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = Schedule)))]
pub async fn schedule(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::schedule).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// `monthly`, `quarterly` or `half_yearly`.
    pub frequency: String,
    /// Days after the period ends, 1 to 28.
    pub send_day: u32,
    /// Any of `money`, `budgets`, `initiatives`, `metrics`, `survey`, `personal`.
    pub sections: Vec<String>,
    /// Send on the send day without waiting for the council.
    pub automatic: bool,
}

/// Sets the report schedule (admins).
#[utoipa::path(put, path = "/api/v1/reports/schedule", tag = "reports", request_body = ScheduleBody,
    security(("bearer" = [])),
    responses((status = 200, body = Schedule), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn set_schedule(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<ScheduleBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let input = ScheduleInput {
        frequency: b.frequency,
        send_day: b.send_day.to_string(),
        sections: b.sections,
        automatic: b.automatic,
    };
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::set_schedule(conn, actor, &input)).await?))
}
