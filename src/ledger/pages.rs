//! Pages of the ledger and fiscal years.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{FiscalYear, LedgerEntry};
use super::service::{self, YearBalance};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::web::flash::redirect;
use crate::web::forms::{FormErrors, FormFields};
use crate::web::{csv_download, render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "ledger/fiscal_years.html")]
struct YearsPage {
    layout: Layout,
    balances: Vec<YearBalance>,
    can_manage: bool,
    label: String,
    starts_on: String,
    ends_on: String,
    errors: FormErrors,
}

async fn years_page(
    ctx: &PageContext,
    db: &Db,
    form: (String, String, String),
    errors: FormErrors,
) -> Result<YearsPage, AppError> {
    let balances = db.run(service::balances).await?;
    Ok(YearsPage {
        layout: ctx.layout("Fiscal years"),
        balances,
        can_manage: ctx.user()?.has_role(Role::Treasurer),
        label: form.0,
        starts_on: form.1,
        ends_on: form.2,
        errors,
    })
}

pub async fn fiscal_years(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&years_page(&ctx, &db, Default::default(), FormErrors::default()).await?)
}

pub async fn create_fiscal_year(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let values = (form.get("label").to_string(), form.get("starts_on").to_string(), form.get("ends_on").to_string());
    let v = values.clone();
    match db.run(move |conn| service::create_year(conn, actor, &v.0, &v.1, &v.2)).await {
        Ok(year) => Ok(redirect(
            "/fiscal-years",
            "success",
            &format!("{} is added, in planning.", year.label),
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => {
            render_status(&years_page(&ctx, &db, values, FormErrors(errors)).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn set_status(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, status) = (ctx.user()?.user_id, id.into_inner(), form.get("status").to_string());
    db.run(move |conn| service::set_year_status(conn, actor, id, &status)).await?;
    Ok(redirect("/fiscal-years", "success", "The fiscal year is updated.", config.is_https()))
}

#[derive(Template)]
#[template(path = "ledger/ledger.html")]
struct LedgerPage {
    layout: Layout,
    entries: Vec<LedgerEntry>,
    years: Vec<FiscalYear>,
    year: Option<i64>,
    selected: String,
    page: i64,
    pages: i64,
    total: i64,
}

#[derive(Deserialize)]
pub struct LedgerQuery {
    year: Option<i64>,
    page: Option<i64>,
}

pub async fn ledger(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let (year, page) = (query.year, query.page.unwrap_or(1).max(1));
    let ((entries, total), years) = db
        .run(move |conn| Ok::<_, ServiceError>((service::list_entries(conn, year, page)?, service::list_years(conn)?)))
        .await?;
    render(&LedgerPage {
        layout: ctx.layout("Ledger"),
        entries,
        years,
        year,
        selected: year.map(|y| y.to_string()).unwrap_or_default(),
        page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
    })
}

pub async fn export(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let csv = db.run(service::export_csv).await?;
    Ok(csv_download("ledger.csv", csv))
}
