//! JSON API for the treasurer's dashboard.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::service;
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::web::AppError;

#[derive(Deserialize, IntoParams)]
pub struct DashboardQuery {
    /// The fiscal year; the current one when left out.
    pub fiscal_year_id: Option<i64>,
}

/// The year's figures: monthly income and spending, budget vs allocated vs spent per priority and line item,
/// fund balances, open disbursement requests and overdue dues.
#[utoipa::path(get, path = "/api/v1/treasury", tag = "funding", params(DashboardQuery), security(("bearer" = [])),
    responses((status = 200, body = service::Dashboard), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn dashboard(
    user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AppError> {
    let (viewer, year) = (user.0, query.fiscal_year_id);
    let dashboard = db
        .run(move |conn| service::dashboard(conn, &viewer, year)?.ok_or(ServiceError::NotFound("fiscal year")))
        .await?;
    Ok(HttpResponse::Ok().json(dashboard))
}
