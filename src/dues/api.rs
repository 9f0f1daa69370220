//! JSON API for dues.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Invoice, Payment};
use super::service::{self, InvoiceFilter};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::web::idempotency::{self, Key};
use crate::web::AppError;

#[derive(Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub organization: String,
    /// What is still owed, in minor units.
    pub open_minor: i64,
}

#[derive(Serialize, ToSchema)]
pub struct InvoicePage {
    pub items: Vec<InvoiceView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct InvoiceQuery {
    pub member_id: Option<i64>,
    pub fiscal_year_id: Option<i64>,
    /// `open`, `paid`, `void` or `overdue`.
    #[serde(default)]
    pub status: String,
    pub page: Option<i64>,
}

/// Invoices: all for the treasurer, council and admins; a representative's organization's otherwise.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "dues", params(InvoiceQuery), security(("bearer" = [])),
    responses((status = 200, body = InvoicePage)))]
pub async fn list(user: ApiUser, db: web::Data<Db>, query: web::Query<InvoiceQuery>) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let filter = InvoiceFilter {
        member_id: q.member_id,
        fiscal_year_id: q.fiscal_year_id,
        status: q.status,
        page: q.page.unwrap_or(1).max(1),
    };
    let page = filter.page;
    let viewer = user.0;
    let (rows, total) = db.run(move |conn| service::list_invoices(conn, &viewer, &filter)).await?;
    let items = rows
        .into_iter()
        .map(|(invoice, organization)| InvoiceView { open_minor: invoice.open_minor(), invoice, organization })
        .collect();
    Ok(HttpResponse::Ok().json(InvoicePage { items, page, per_page: service::PAGE_SIZE, total }))
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceWithPayments {
    #[serde(flatten)]
    pub invoice: InvoiceView,
    pub payments: Vec<Payment>,
}

/// One invoice with its payments (another organization's is 404 to a representative).
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "dues", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Invoice id")),
    responses((status = 200, body = InvoiceWithPayments), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get(user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let (viewer, id) = (user.0, id.into_inner());
    let d = db.run(move |conn| service::invoice_detail(conn, &viewer, id)).await?;
    Ok(HttpResponse::Ok().json(InvoiceWithPayments {
        invoice: InvoiceView { open_minor: d.invoice.open_minor(), invoice: d.invoice, organization: d.member.name },
        payments: d.payments,
    }))
}

/// A payment: `amount` as a decimal string in the invoice's currency ("1250.00"), `paid_on` as YYYY-MM-DD.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub amount: String,
    pub paid_on: String,
    #[serde(default)]
    pub reference: String,
}

/// Records a payment and posts it to the ledger; treasurer only.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/payments", tag = "dues", request_body = NewPayment, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Invoice id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a retry with the same key answers as the first time and records nothing twice (24 hours); the same key with another body is 422")),
    responses((status = 201, body = Payment), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn record_payment(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<NewPayment>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, body) = (user.0, id.into_inner(), body.into_inner());
    let key = Key::from_request(&req, actor.user_id, &body)?;
    idempotency::respond(&db, key, StatusCode::CREATED, move |conn| {
        service::record_payment(conn, &actor, id, &body.amount, &body.paid_on, &body.reference)
    })
    .await
}
