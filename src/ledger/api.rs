//! JSON API for fiscal years, the ledger and exchange rates.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::LedgerEntry;
use super::rates::{self, ExchangeRate};
use super::service::{self, AdjustmentInput, FundBalance, TransferInput, YearBalance};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::web::idempotency::{self, Key};
use crate::web::AppError;

/// Every fiscal year with its money in, out and balance, summed from the ledger.
#[utoipa::path(get, path = "/api/v1/fiscal-years", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = Vec<YearBalance>)))]
pub async fn fiscal_years(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::balances).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct EntryQuery {
    pub fiscal_year_id: Option<i64>,
    pub page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<LedgerEntry>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// Ledger entries, newest first.
#[utoipa::path(get, path = "/api/v1/ledger/entries", tag = "ledger", params(EntryQuery), security(("bearer" = [])),
    responses((status = 200, body = EntryPage)))]
pub async fn entries(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<EntryQuery>,
) -> Result<HttpResponse, AppError> {
    let (year, page) = (query.fiscal_year_id, query.page.unwrap_or(1).max(1));
    let (items, total) = db.run(move |conn| service::list_entries(conn, year, page)).await?;
    Ok(HttpResponse::Ok().json(EntryPage { items, page, per_page: service::PAGE_SIZE, total }))
}

#[derive(Deserialize, IntoParams)]
pub struct BalanceQuery {
    /// One year's funds; every year's when left out.
    pub fiscal_year_id: Option<i64>,
}

/// Balances, each the sum of its entries in the base currency.
#[derive(Serialize, ToSchema)]
pub struct Balances {
    pub currency: String,
    /// Every entry of every year.
    pub overall_minor: i64,
    pub years: Vec<YearBalance>,
    /// Per fund (a priority's, or the general fund's with no `priority_id`).
    pub funds: Vec<FundBalance>,
}

/// Overall, per fiscal year and per fund.
#[utoipa::path(get, path = "/api/v1/ledger/balances", tag = "ledger", params(BalanceQuery), security(("bearer" = [])),
    responses((status = 200, body = Balances),
        (status = 404, description = "No fiscal year has this id", body = crate::web::error::ProblemSchema)))]
pub async fn balances(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<BalanceQuery>,
) -> Result<HttpResponse, AppError> {
    let year = query.fiscal_year_id;
    let balances = db
        .run(move |conn| {
            if let Some(y) = year {
                service::find_year(conn, y)?;
            }
            Ok::<_, ServiceError>(Balances {
                currency: service::base_currency(conn)?,
                overall_minor: service::overall_balance(conn)?,
                years: service::balances(conn)?,
                funds: service::fund_balances(conn, year)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(balances))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// YYYY-MM-DD, in an open fiscal year.
    pub entry_date: String,
    /// `in` or `out`.
    pub direction: String,
    /// A decimal string ("125.00").
    pub amount: String,
    /// Defaults to the base currency; another needs an exchange rate on or before the date.
    #[serde(default)]
    pub currency: String,
    /// The priority whose fund it belongs to; the general fund when left out.
    pub priority_id: Option<i64>,
    pub memo: String,
}

/// Posts an adjustment (treasurer).
#[utoipa::path(post, path = "/api/v1/ledger/adjustments", tag = "ledger", request_body = AdjustmentBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")),
    responses((status = 201, body = LedgerEntry), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn adjust(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<AdjustmentBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let key = Key::from_request(&req, actor, &b)?;
    let input = AdjustmentInput {
        entry_date: b.entry_date,
        direction: b.direction,
        amount: b.amount,
        currency: b.currency,
        priority_id: b.priority_id,
        memo: b.memo,
    };
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| service::post_adjustment(conn, actor, &input)).await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub entry_date: String,
    /// A decimal string in the base currency.
    pub amount: String,
    /// Left out: the general fund.
    pub from_priority_id: Option<i64>,
    pub to_priority_id: Option<i64>,
    pub memo: String,
}

/// Moves money between two funds (treasurer): two entries that sum to zero.
#[utoipa::path(post, path = "/api/v1/ledger/transfers", tag = "ledger", request_body = TransferBody, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")),
    responses((status = 201, body = Vec<LedgerEntry>), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn transfer(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<TransferBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let key = Key::from_request(&req, actor, &b)?;
    let input = TransferInput {
        entry_date: b.entry_date,
        amount: b.amount,
        from_priority_id: b.from_priority_id,
        to_priority_id: b.to_priority_id,
        memo: b.memo,
    };
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| {
        service::post_transfer(conn, actor, &input).map(|(out, into)| vec![out, into])
    })
    .await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    /// The reversal's date, in an open fiscal year.
    pub entry_date: String,
    pub memo: String,
}

/// Reverses an adjustment, or both legs of a transfer (treasurer). Entries are never changed or removed.
#[utoipa::path(post, path = "/api/v1/ledger/entries/{id}/reverse", tag = "ledger", request_body = ReverseBody,
    params(("id" = i64, Path, description = "Ledger entry id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")), security(("bearer" = [])),
    responses((status = 201, body = Vec<LedgerEntry>), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema)))]
pub async fn reverse(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<ReverseBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    let key = Key::from_request(&req, actor, &b)?;
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| {
        service::reverse_entry(conn, actor, id, &b.entry_date, &b.memo)
    })
    .await
}

/// Recorded exchange rates, by currency, newest first.
#[utoipa::path(get, path = "/api/v1/exchange-rates", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = Vec<ExchangeRate>)))]
pub async fn exchange_rates(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(rates::list).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    pub currency: String,
    /// YYYY-MM-DD: the rate applies from this date on.
    pub effective_on: String,
    /// Base-currency units for one unit of `currency`, as a decimal string ("1.0850").
    pub rate: String,
}

/// Records an exchange rate (treasurer).
#[utoipa::path(post, path = "/api/v1/exchange-rates", tag = "ledger", request_body = RateBody, security(("bearer" = [])),
    responses((status = 201, body = ExchangeRate), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn record_rate(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<RateBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let rate = db.run(move |conn| rates::record(conn, actor, &b.currency, &b.effective_on, &b.rate)).await?;
    Ok(HttpResponse::Created().json(rate))
}
