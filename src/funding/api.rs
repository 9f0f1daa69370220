//! JSON API for funding: priorities, budgets, initiatives and allocations.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Allocation, Budget, FundingPriority, Initiative, PriorityWithOutcomes};
use super::service::{
    self, AllocationFilter, AllocationInput, AllocationView, BudgetInput, BudgetUse, InitiativeDetail,
    InitiativeFilter, InitiativeInput, PriorityInput,
};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::web::idempotency::{self, Key};
use crate::web::AppError;

/// The active funding priorities with their key outcomes, in order.
#[utoipa::path(get, path = "/api/v1/priorities", tag = "funding", security(("bearer" = [])),
    responses((status = 200, body = Vec<PriorityWithOutcomes>)))]
pub async fn priorities(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::list_priorities).await?))
}

/// A new priority: a short name for links, title, summary and key outcomes in order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriority {
    pub slug: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub outcomes: Vec<String>,
}

/// Adds a funding priority after the others (treasurer or council).
#[utoipa::path(post, path = "/api/v1/priorities", tag = "funding", request_body = NewPriority, security(("bearer" = [])),
    responses((status = 201, body = FundingPriority), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create_priority(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<NewPriority>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let input = PriorityInput { slug: b.slug, title: b.title, summary: b.summary, outcomes: b.outcomes };
    let p = db.run(move |conn| service::create_priority(conn, crate::audit::Actor::User(actor), &input)).await?;
    Ok(HttpResponse::Created().json(p))
}

/// A priority's new text, outcomes (kept by position), order and whether it is active.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityChanges {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub outcomes: Vec<String>,
    pub position: i32,
    pub active: bool,
}

/// Changes a funding priority (treasurer or council).
#[utoipa::path(put, path = "/api/v1/priorities/{id}", tag = "funding", request_body = PriorityChanges,
    params(("id" = i64, Path, description = "Priority id")), security(("bearer" = [])),
    responses((status = 200, body = PriorityWithOutcomes), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn update_priority(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<PriorityChanges>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    let p = db
        .run(move |conn| {
            // The slug is read and the change written in one transaction: all or nothing.
            crate::db::write_transaction(conn, |conn| {
                let slug = service::find_priority(conn, id)?.priority.slug;
                let input = PriorityInput { slug, title: b.title, summary: b.summary, outcomes: b.outcomes };
                service::update_priority(conn, actor, id, &input, b.position, b.active)?;
                service::find_priority(conn, id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

#[derive(Deserialize, IntoParams)]
pub struct BudgetQuery {
    pub fiscal_year_id: i64,
}

/// Budget, allocated and spent per priority and line item for a fiscal year.
#[utoipa::path(get, path = "/api/v1/budgets", tag = "funding", params(BudgetQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<BudgetUse>), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn budgets(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<BudgetQuery>,
) -> Result<HttpResponse, AppError> {
    let year = query.fiscal_year_id;
    let rows = db
        .run(move |conn| {
            crate::ledger::service::find_year(conn, year)?;
            service::budget_overview(conn, year)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLineBody {
    pub label: String,
    /// A decimal string in the base currency ("12000.00").
    pub amount: String,
}

/// A priority's envelope for a year and its line items; the lines replace the current ones.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    /// A decimal string in the base currency ("250000.00").
    pub amount: String,
    #[serde(default)]
    pub lines: Vec<BudgetLineBody>,
}

/// Sets a priority's budget for a fiscal year (treasurer). Never below what is allocated from it.
#[utoipa::path(put, path = "/api/v1/budgets/{fiscal_year_id}/{priority_id}", tag = "funding", request_body = BudgetBody,
    params(("fiscal_year_id" = i64, Path, description = "Fiscal year id"), ("priority_id" = i64, Path, description = "Priority id")),
    security(("bearer" = [])),
    responses((status = 200, body = Budget), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn set_budget(
    user: ApiUser,
    db: web::Data<Db>,
    path: web::Path<(i64, i64)>,
    body: web::Json<BudgetBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, (year, priority), body) = (user.0.user_id, path.into_inner(), body.into_inner());
    let input =
        BudgetInput { amount: body.amount, lines: body.lines.into_iter().map(|l| (l.label, l.amount)).collect() };
    let budget = db.run(move |conn| service::set_budget(conn, actor, year, priority, &input)).await?;
    Ok(HttpResponse::Ok().json(budget))
}

#[derive(Deserialize, IntoParams)]
pub struct InitiativeQuery {
    /// `proposed`, `approved`, `active`, `completed` or `cancelled`.
    #[serde(default)]
    pub status: String,
    pub priority_id: Option<i64>,
    pub page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct InitiativeRow {
    #[serde(flatten)]
    pub initiative: Initiative,
    pub priority: String,
}

#[derive(Serialize, ToSchema)]
pub struct InitiativePage {
    pub items: Vec<InitiativeRow>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Initiatives: approved, active and completed ones for everyone; proposals and cancelled ones too for the
/// treasurer and council.
#[utoipa::path(get, path = "/api/v1/initiatives", tag = "funding", params(InitiativeQuery), security(("bearer" = [])),
    responses((status = 200, body = InitiativePage)))]
pub async fn list_initiatives(
    user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<InitiativeQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let filter = InitiativeFilter { status: q.status, priority_id: q.priority_id, page: q.page.unwrap_or(1).max(1) };
    let page = filter.page;
    let viewer = user.0;
    let (rows, total) = db.run(move |conn| service::list_initiatives(conn, Some(&viewer), &filter)).await?;
    let items = rows.into_iter().map(|(initiative, priority)| InitiativeRow { initiative, priority }).collect();
    Ok(HttpResponse::Ok().json(InitiativePage { items, page, per_page: service::PAGE_SIZE, total }))
}

/// An initiative as entered; dates as YYYY-MM-DD, subprojects comma-separated.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiativeBody {
    pub priority_id: i64,
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub subprojects: String,
    #[serde(default)]
    pub lead: String,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
}

impl From<InitiativeBody> for InitiativeInput {
    fn from(b: InitiativeBody) -> Self {
        InitiativeInput {
            priority_id: b.priority_id.to_string(),
            title: b.title,
            summary: b.summary,
            subprojects: b.subprojects,
            lead: b.lead,
            starts_on: b.starts_on.unwrap_or_default(),
            ends_on: b.ends_on.unwrap_or_default(),
        }
    }
}

/// Proposes an initiative (treasurer or council).
#[utoipa::path(post, path = "/api/v1/initiatives", tag = "funding", request_body = InitiativeBody, security(("bearer" = [])),
    responses((status = 201, body = Initiative), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create_initiative(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<InitiativeBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.0.user_id, InitiativeInput::from(body.into_inner()));
    let initiative = db.run(move |conn| service::create_initiative(conn, actor, &input)).await?;
    Ok(HttpResponse::Created().json(initiative))
}

/// One initiative with its history and money (a proposal is 404 to those who may not see it).
#[utoipa::path(get, path = "/api/v1/initiatives/{id}", tag = "funding", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Initiative id")),
    responses((status = 200, body = InitiativeDetail), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get_initiative(user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (viewer, id) = (user.0, id.into_inner());
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::initiative_detail(conn, Some(&viewer), id)).await?))
}

/// Changes what an initiative is about (treasurer or council).
#[utoipa::path(put, path = "/api/v1/initiatives/{id}", tag = "funding", request_body = InitiativeBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Initiative id")),
    responses((status = 200, body = Initiative), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn update_initiative(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<InitiativeBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, input) = (user.0.user_id, id.into_inner(), InitiativeInput::from(body.into_inner()));
    let initiative = db
        .run(move |conn| {
            service::update_initiative(conn, actor, id, &input)?;
            service::find_initiative(conn, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(initiative))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `approved` (council only), `active`, `completed` or `cancelled`.
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// Moves an initiative one step: proposed → approved → active → completed, or cancelled.
#[utoipa::path(post, path = "/api/v1/initiatives/{id}/status", tag = "funding", request_body = StatusBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Initiative id")),
    responses((status = 200, body = Initiative), (status = 403, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema)))]
pub async fn change_status(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<StatusBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, body) = (user.0, id.into_inner(), body.into_inner());
    let initiative = db.run(move |conn| service::change_status(conn, &actor, id, &body.status, &body.note)).await?;
    Ok(HttpResponse::Ok().json(initiative))
}

#[derive(Deserialize, IntoParams)]
pub struct AllocationQuery {
    pub fiscal_year_id: Option<i64>,
    pub initiative_id: Option<i64>,
}

/// Allocations with their year and what was paid out of each.
#[utoipa::path(get, path = "/api/v1/allocations", tag = "funding", params(AllocationQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<AllocationView>)))]
pub async fn list_allocations(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<AllocationQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = AllocationFilter { fiscal_year_id: query.fiscal_year_id, initiative_id: query.initiative_id };
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::list_allocations(conn, &filter)).await?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    pub fiscal_year_id: i64,
    /// A decimal string in the base currency.
    pub amount: String,
    pub budget_line_id: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// Allocates money to an initiative from its priority's budget for a year (treasurer). Refused when the
/// budget (or line item) has not enough left.
#[utoipa::path(post, path = "/api/v1/initiatives/{id}/allocations", tag = "funding", request_body = AllocationBody,
    params(("id" = i64, Path, description = "Initiative id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")), security(("bearer" = [])),
    responses((status = 201, body = Allocation), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn allocate(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<AllocationBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    let key = Key::from_request(&req, actor, &b)?;
    let input = AllocationInput {
        fiscal_year_id: b.fiscal_year_id.to_string(),
        amount: b.amount,
        budget_line_id: b.budget_line_id.map(|l| l.to_string()).unwrap_or_default(),
        note: b.note,
    };
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| service::allocate(conn, actor, id, &input)).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationChange {
    /// The new amount, a decimal string in the base currency.
    pub amount: String,
}

/// Changes an allocation's amount (treasurer): within the budget, never below what was requested or paid.
#[utoipa::path(put, path = "/api/v1/allocations/{id}", tag = "funding", request_body = AllocationChange,
    params(("id" = i64, Path, description = "Allocation id")), security(("bearer" = [])),
    responses((status = 200, body = Allocation), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn change_allocation(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<AllocationChange>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, amount) = (user.0.user_id, id.into_inner(), body.into_inner().amount);
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::change_allocation(conn, actor, id, &amount)).await?))
}
