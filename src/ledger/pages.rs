//! Pages of the ledger and fiscal years.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{FiscalYear, LedgerEntry};
use super::rates::{self, ExchangeRate};
use super::service::{self, AdjustmentInput, TransferInput, YearBalance};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
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
    // Closing is for good: it needs its box ticked.
    let confirmed = if status == "closed" { form.confirmed("closing the year") } else { Ok(()) };
    match db
        .run(move |conn| {
            confirmed?;
            service::set_year_status(conn, actor, id, &status)
        })
        .await
    {
        Ok(()) => Ok(redirect("/fiscal-years", "success", "The fiscal year is updated.", config.is_https())),
        Err(ServiceError::Validation(errors)) => {
            Ok(redirect("/fiscal-years", "error", &crate::domain::messages(errors), config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "ledger/ledger.html")]
struct LedgerPage {
    layout: Layout,
    entries: Vec<LedgerEntry>,
    /// Entries on this page that have been reversed: they offer no reversal.
    reversed: Vec<i64>,
    years: Vec<FiscalYear>,
    priorities: Vec<(i64, String)>,
    year: Option<i64>,
    selected: String,
    page: i64,
    pages: i64,
    total: i64,
    can_post: bool,
    today: String,
    base: String,
    adjustment: AdjustmentInput,
    transfer: TransferInput,
    /// Which form the errors belong to: `adjustment`, `transfer` or `reverse`.
    errors_for: String,
    errors: FormErrors,
}

impl LedgerPage {
    fn priority_name(&self, id: impl std::borrow::Borrow<Option<i64>>) -> String {
        match *id.borrow() {
            Some(id) => self.priorities.iter().find(|(p, _)| *p == id).map(|(_, t)| t.clone()).unwrap_or_default(),
            None => String::new(),
        }
    }

    fn can_reverse(&self, e: &LedgerEntry) -> bool {
        matches!(e.kind.as_str(), "adjustment" | "transfer")
            && e.transfer_of_entry_id.is_none()
            && !self.reversed.contains(&e.id)
    }

    fn base_amount(&self, e: &LedgerEntry) -> String {
        crate::money::format(e.base_amount_minor, &self.base)
    }

    fn error(&self, form: &str, field: &str) -> Option<&str> {
        if self.errors_for == form {
            self.errors.get(field)
        } else {
            None
        }
    }

    fn selected_priority(
        &self,
        value: impl std::borrow::Borrow<Option<i64>>,
        id: impl std::borrow::Borrow<i64>,
    ) -> bool {
        *value.borrow() == Some(*id.borrow())
    }
}

#[derive(Deserialize)]
pub struct LedgerQuery {
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    year: Option<i64>,
    page: Option<i64>,
}

async fn ledger_page(
    ctx: &PageContext,
    db: &Db,
    query: LedgerQuery,
    forms: (AdjustmentInput, TransferInput),
    errors_for: &str,
    errors: FormErrors,
) -> Result<LedgerPage, AppError> {
    let (year, page) = (query.year, query.page.unwrap_or(1).max(1));
    let ((entries, total), reversed, years, priorities, base) = db
        .run(move |conn| {
            let (entries, total) = service::list_entries(conn, year, page)?;
            let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
            Ok::<_, ServiceError>((
                (entries, total),
                service::reversed_among(conn, &ids)?,
                service::list_years(conn)?,
                service::priority_names(conn)?,
                service::base_currency(conn)?,
            ))
        })
        .await?;
    Ok(LedgerPage {
        layout: ctx.layout("Ledger"),
        entries,
        reversed,
        years,
        priorities,
        year,
        selected: year.map(|y| y.to_string()).unwrap_or_default(),
        page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
        can_post: ctx.user()?.has_role(Role::Treasurer),
        today: crate::db::now().date().to_string(),
        base,
        adjustment: forms.0,
        transfer: forms.1,
        errors_for: errors_for.to_string(),
        errors,
    })
}

pub async fn ledger(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    render(&ledger_page(&ctx, &db, query.into_inner(), Default::default(), "", FormErrors::default()).await?)
}

fn optional_id(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

/// Shows the ledger again with a form's errors, or goes to the error page.
async fn form_failed(
    ctx: &PageContext,
    db: &Db,
    e: ServiceError,
    forms: (AdjustmentInput, TransferInput),
    errors_for: &str,
) -> Result<HttpResponse, AppError> {
    let errors = form_errors(e)?;
    let query = LedgerQuery { year: None, page: None };
    render_status(&ledger_page(ctx, db, query, forms, errors_for, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn adjust(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let input = AdjustmentInput {
        entry_date: form.get("entry_date").to_string(),
        direction: form.get("direction").to_string(),
        amount: form.get("amount").to_string(),
        currency: form.get("currency").to_string(),
        priority_id: optional_id(form.get("priority_id")),
        memo: form.get("memo").to_string(),
    };
    let i = input.clone();
    let confirmed = form.confirmed("the entry");
    match db
        .run(move |conn| {
            confirmed?;
            service::post_adjustment(conn, actor, &i)
        })
        .await
    {
        Ok(e) => {
            Ok(redirect("/ledger", "success", &format!("Adjustment of {} posted.", e.amount()), config.is_https()))
        }
        Err(e) => form_failed(&ctx, &db, e, (input, TransferInput::default()), "adjustment").await,
    }
}

pub async fn transfer(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let input = TransferInput {
        entry_date: form.get("entry_date").to_string(),
        amount: form.get("amount").to_string(),
        from_priority_id: optional_id(form.get("from_priority_id")),
        to_priority_id: optional_id(form.get("to_priority_id")),
        memo: form.get("memo").to_string(),
    };
    let i = input.clone();
    let confirmed = form.confirmed("the transfer");
    match db
        .run(move |conn| {
            confirmed?;
            service::post_transfer(conn, actor, &i)
        })
        .await
    {
        Ok((_, into)) => {
            Ok(redirect("/ledger", "success", &format!("Transfer of {} posted.", into.amount()), config.is_https()))
        }
        Err(e) => form_failed(&ctx, &db, e, (AdjustmentInput::default(), input), "transfer").await,
    }
}

pub async fn reverse(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let (date, memo) = (form.get("entry_date").to_string(), form.get("memo").to_string());
    let confirmed = form.confirmed(&format!("the reversal of entry #{id}"));
    match db
        .run(move |conn| {
            confirmed?;
            service::reverse_entry(conn, actor, id, &date, &memo)
        })
        .await
    {
        Ok(_) => Ok(redirect("/ledger", "success", &format!("Entry #{id} is reversed."), config.is_https())),
        Err(ServiceError::Validation(errors)) => {
            let message = crate::domain::messages(errors);
            Ok(redirect("/ledger", "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "ledger/exchange_rates.html")]
struct RatesPage {
    layout: Layout,
    rates: Vec<ExchangeRate>,
    base: String,
    can_record: bool,
    currency: String,
    effective_on: String,
    rate: String,
    errors: FormErrors,
}

async fn rates_page(
    ctx: &PageContext,
    db: &Db,
    form: (String, String, String),
    errors: FormErrors,
) -> Result<RatesPage, AppError> {
    let (rates, base) =
        db.run(|conn| Ok::<_, ServiceError>((rates::list(conn)?, service::base_currency(conn)?))).await?;
    Ok(RatesPage {
        layout: ctx.layout("Exchange rates").crumb("Ledger", "/ledger"),
        rates,
        base,
        can_record: ctx.user()?.has_role(Role::Treasurer),
        currency: form.0,
        effective_on: form.1,
        rate: form.2,
        errors,
    })
}

pub async fn exchange_rates(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&rates_page(&ctx, &db, Default::default(), FormErrors::default()).await?)
}

pub async fn record_rate(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let values = (form.get("currency").to_string(), form.get("effective_on").to_string(), form.get("rate").to_string());
    let v = values.clone();
    match db.run(move |conn| rates::record(conn, actor, &v.0, &v.1, &v.2)).await {
        Ok(r) => Ok(redirect(
            "/exchange-rates",
            "success",
            &format!("{} at {} from {} is recorded.", r.currency, r.rate, r.effective_on),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&rates_page(&ctx, &db, values, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn export(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let csv = db.run(service::export_csv).await?;
    Ok(csv_download("ledger.csv", csv))
}
