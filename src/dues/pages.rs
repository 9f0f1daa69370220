//! Pages for dues: the invoice list, issuing a year's invoices, the printable invoice, payments and voids.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::Invoice;
use super::service::{self, InvoiceDetail, InvoiceFilter};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::ledger::model::FiscalYear;
use crate::locale::Shown;
use crate::web::flash::redirect;
use crate::web::forms::{FormErrors, FormFields};
use crate::web::{csv_download, render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "dues/list.html")]
struct ListPage {
    layout: Layout,
    /// (invoice, organization, overdue)
    rows: Vec<(Invoice, String, bool)>,
    years: Vec<FiscalYear>,
    year: String,
    status: String,
    page: i64,
    pages: i64,
    total: i64,
    can_issue: bool,
    today: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    member: Option<i64>,
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    year: Option<i64>,
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

pub async fn list(ctx: PageContext, db: web::Data<Db>, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = InvoiceFilter {
        member_id: query.member,
        fiscal_year_id: query.year,
        status: query.status.clone(),
        page: query.page.unwrap_or(1).max(1),
    };
    let viewer = ctx.user()?.clone();
    let f = filter.clone();
    let ((rows, total), years) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((
                service::list_invoices(conn, &viewer, &f)?,
                crate::ledger::service::list_years(conn)?,
            ))
        })
        .await?;
    let today = crate::db::now().date();
    let rows = rows.into_iter().map(|(i, org)| {
        let overdue = i.is_overdue(today);
        (i, org, overdue)
    });
    render(&ListPage {
        layout: ctx.layout("Dues invoices"),
        rows: rows.collect(),
        years,
        year: query.year.map(|y| y.to_string()).unwrap_or_default(),
        status: query.status,
        page: filter.page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
        can_issue: ctx.user()?.has_role(Role::Treasurer),
        today: crate::db::now().date().to_string(),
    })
}

pub async fn issue(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.clone();
    let year: i64 =
        form.get("fiscal_year").parse().map_err(|_| AppError::BadRequest("Choose a fiscal year.".into()))?;
    let issued_on = match form.get("issued_on").trim() {
        "" => crate::db::now().date(),
        raw => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| AppError::BadRequest(format!("'{raw}' is not a date like 2026-07-01.")))?,
    };
    let n = db.run(move |conn| service::issue_for_year(conn, &actor, year, issued_on)).await?;
    let message = match n {
        0 => "Every active member already has an invoice for that year.".to_string(),
        1 => "1 invoice issued.".to_string(),
        n => format!("{n} invoices issued."),
    };
    Ok(redirect("/invoices", "success", &message, config.is_https()))
}

pub async fn export(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let viewer = ctx.user()?.clone();
    let csv = db.run(move |conn| service::export_csv(conn, &viewer)).await?;
    Ok(csv_download("invoices.csv", csv))
}

#[derive(Template)]
#[template(path = "dues/invoice.html")]
struct InvoicePage {
    layout: Layout,
    detail: InvoiceDetail,
    foundation: String,
    can_manage: bool,
    overdue: bool,
    currency_hint: String,
    amount: String,
    paid_on: String,
    reference: String,
    reason: String,
    errors: FormErrors,
}

async fn invoice_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: (String, String, String, String),
    errors: FormErrors,
) -> Result<InvoicePage, AppError> {
    let viewer = ctx.user()?.clone();
    let v = viewer.clone();
    let detail = db.run(move |conn| service::invoice_detail(conn, &v, id)).await?;
    let today = crate::db::now().date();
    let mut layout = ctx.layout(format!("Invoice {}", detail.invoice.label()));
    if viewer.has_any(&[Role::Treasurer, Role::Council, Role::Admin]) {
        layout = layout.crumb("Dues invoices", "/invoices");
    }
    Ok(InvoicePage {
        layout,
        overdue: detail.invoice.is_overdue(today),
        foundation: ctx.site.name.clone(),
        currency_hint: format!("In {}; up to the open balance.", detail.invoice.currency),
        can_manage: viewer.has_role(Role::Treasurer),
        detail,
        amount: form.0,
        paid_on: if form.1.is_empty() { today.to_string() } else { form.1 },
        reference: form.2,
        reason: form.3,
        errors,
    })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&invoice_page(&ctx, &db, id.into_inner(), Default::default(), FormErrors::default()).await?)
}

pub async fn record_payment(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.clone(), id.into_inner());
    let values = (
        form.get("amount").to_string(),
        form.get("paid_on").to_string(),
        form.get("reference").to_string(),
        String::new(),
    );
    let v = values.clone();
    let confirmed = form.confirmed("that the money has arrived");
    match db
        .run(move |conn| {
            confirmed?;
            service::record_payment(conn, &actor, id, &v.0, &v.1, &v.2)
        })
        .await
    {
        Ok(p) => Ok(redirect(
            &format!("/invoices/{id}"),
            "success",
            &format!("Payment of {} recorded.", p.amount()),
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &invoice_page(&ctx, &db, id, values, FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn void(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, reason) = (ctx.user()?.clone(), id.into_inner(), form.get("reason").to_string());
    let r = reason.clone();
    let confirmed = form.confirmed("voiding the invoice");
    match db
        .run(move |conn| {
            confirmed?;
            service::void_invoice(conn, &actor, id, &r)
        })
        .await
    {
        Ok(()) => Ok(redirect(
            &format!("/invoices/{id}"),
            "success",
            "The invoice is void; any payments on it are reversed in the ledger.",
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => {
            let values = (String::new(), String::new(), String::new(), reason);
            render_status(
                &invoice_page(&ctx, &db, id, values, FormErrors(errors)).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "dues/reminders.html")]
struct RemindersPage {
    layout: Layout,
    before_renewal: String,
    after_due: String,
    errors: FormErrors,
}

pub async fn reminders_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let schedule = db.run(super::reminders::schedule).await?;
    render(&RemindersPage {
        layout: ctx.layout("Dues reminders").crumb("Dues invoices", "/invoices"),
        before_renewal: super::reminders::Schedule::text(&schedule.before_renewal),
        after_due: super::reminders::Schedule::text(&schedule.after_due),
        errors: FormErrors::default(),
    })
}

pub async fn save_reminders(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let (before, after) = (form.get("before_renewal").to_string(), form.get("after_due").to_string());
    let (b, a) = (before.clone(), after.clone());
    match db.run(move |conn| super::reminders::set_schedule(conn, actor, &b, &a)).await {
        Ok(_) => Ok(redirect("/invoices/reminders", "success", "The reminder schedule is saved.", config.is_https())),
        Err(ServiceError::Validation(errors)) => {
            let page = RemindersPage {
                layout: ctx.layout("Dues reminders").crumb("Dues invoices", "/invoices"),
                before_renewal: before,
                after_due: after,
                errors: FormErrors(errors),
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}
