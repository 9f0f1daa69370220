//! JSON API for disbursements.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::Disbursement;
use super::service::{self, ApprovalRule, DisbursementDetail, DisbursementFilter, DisbursementRow, RequestInput};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::web::idempotency::{self, Key};
use crate::web::AppError;

#[derive(Deserialize, IntoParams)]
pub struct DisbursementQuery {
    /// `requested`, `approved`, `paid`, `rejected`, `cancelled`, or `open` (requested and approved).
    #[serde(default)]
    pub status: String,
    pub initiative_id: Option<i64>,
    pub page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DisbursementPage {
    pub items: Vec<DisbursementRow>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Disbursements, newest first.
#[utoipa::path(get, path = "/api/v1/disbursements", tag = "funding", params(DisbursementQuery), security(("bearer" = [])),
    responses((status = 200, body = DisbursementPage)))]
pub async fn list(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<DisbursementQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let filter =
        DisbursementFilter { status: q.status, initiative_id: q.initiative_id, page: q.page.unwrap_or(1).max(1) };
    let page = filter.page;
    let (items, total) = db.run(move |conn| service::list(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(DisbursementPage { items, page, per_page: service::PAGE_SIZE, total }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub allocation_id: i64,
    pub payee: String,
    /// A decimal string ("4500.00") in `currency`.
    pub amount: String,
    /// Defaults to the base currency; another needs an exchange rate.
    #[serde(default)]
    pub currency: String,
    pub purpose: String,
    /// An https link to the invoice or contract, if any.
    #[serde(default)]
    pub document_url: String,
}

/// Requests a disbursement from an allocation (treasurer or council).
#[utoipa::path(post, path = "/api/v1/disbursements", tag = "funding", request_body = RequestBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")),
    responses((status = 201, body = Disbursement), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<RequestBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let key = Key::from_request(&req, actor, &b)?;
    let input = RequestInput {
        allocation_id: b.allocation_id.to_string(),
        payee: b.payee,
        amount: b.amount,
        currency: b.currency,
        purpose: b.purpose,
        document_url: b.document_url,
    };
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| service::request(conn, actor, &input)).await
}

/// One disbursement with its allocation and approvals.
#[utoipa::path(get, path = "/api/v1/disbursements/{id}", tag = "funding", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Disbursement id")),
    responses((status = 200, body = DisbursementDetail), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get(_user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::detail(conn, id)).await?))
}

/// Approves a request; nobody approves their own, or twice.
#[utoipa::path(post, path = "/api/v1/disbursements/{id}/approve", tag = "funding", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Disbursement id")),
    responses((status = 200, body = Disbursement), (status = 409, body = crate::web::error::ProblemSchema)))]
pub async fn approve(user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (actor, id) = (user.0, id.into_inner());
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::approve(conn, &actor, id)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    pub reason: String,
}

/// Turns a request down (or, by its requester, withdraws it).
#[utoipa::path(post, path = "/api/v1/disbursements/{id}/reject", tag = "funding", request_body = RejectBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Disbursement id")),
    responses((status = 200, body = Disbursement), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn reject(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<RejectBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, reason) = (user.0, id.into_inner(), body.into_inner().reason);
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::reject(conn, &actor, id, &reason)).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// YYYY-MM-DD, in an open fiscal year.
    pub paid_on: String,
}

/// Records an approved disbursement as paid (treasurer) and posts it to the ledger.
#[utoipa::path(post, path = "/api/v1/disbursements/{id}/pay", tag = "funding", request_body = PayBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Disbursement id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")),
    responses((status = 200, body = Disbursement), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn pay(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<PayBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, body) = (user.0.user_id, id.into_inner(), body.into_inner());
    let key = Key::from_request(&req, actor, &body)?;
    idempotency::respond(&db, key, StatusCode::OK, move |conn| service::pay(conn, actor, id, &body.paid_on)).await
}

/// How many approvals a disbursement request needs.
#[utoipa::path(get, path = "/api/v1/disbursements/approval-rule", tag = "funding", security(("bearer" = [])),
    responses((status = 200, body = ApprovalRule)))]
pub async fn rule(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::approval_rule).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// 1 to 5.
    pub approvals: i32,
    /// A decimal string in the base currency: requests above it need at least two approvers.
    pub second_approval_above: String,
}

/// Changes how many approvals a request needs (council or admins). Applies to new requests.
#[utoipa::path(put, path = "/api/v1/disbursements/approval-rule", tag = "funding", request_body = RuleBody,
    security(("bearer" = [])),
    responses((status = 200, body = ApprovalRule), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn set_rule(user: ApiUser, db: web::Data<Db>, body: web::Json<RuleBody>) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let rule = db
        .run(move |conn| service::set_approval_rule(conn, actor, &b.approvals.to_string(), &b.second_approval_above))
        .await?;
    Ok(HttpResponse::Ok().json(rule))
}
