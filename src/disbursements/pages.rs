//! Pages for disbursements: the list, a request form, one request with its approvals, and the actions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::service::{self, DisbursementDetail, DisbursementFilter, DisbursementRow, RequestInput};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::funding::service::{self as funding, AllocationFilter, AllocationView};
use crate::locale::Shown;
use crate::web::flash::redirect;
use crate::web::forms::{FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "disbursements/list.html")]
struct ListPage {
    layout: Layout,
    rule: String,
    can_set_rule: bool,
    rows: Vec<DisbursementRow>,
    status: String,
    initiative: String,
    page: i64,
    pages: i64,
    total: i64,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    initiative: Option<i64>,
    page: Option<i64>,
}

pub async fn list(ctx: PageContext, db: web::Data<Db>, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let filter =
        DisbursementFilter { status: q.status.clone(), initiative_id: q.initiative, page: q.page.unwrap_or(1).max(1) };
    let f = filter.clone();
    let ((rows, total), rule, base) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((
                service::list(conn, &f)?,
                service::approval_rule(conn)?,
                crate::ledger::service::base_currency(conn)?,
            ))
        })
        .await?;
    render(&ListPage {
        layout: ctx.layout("Disbursements"),
        rule: describe_rule(&rule, &base),
        can_set_rule: ctx.user()?.has_any(&[Role::Council, Role::Admin]),
        rows,
        status: q.status,
        initiative: q.initiative.map(|i| i.to_string()).unwrap_or_default(),
        page: filter.page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
    })
}

#[derive(Template)]
#[template(path = "disbursements/new.html")]
struct NewPage {
    layout: Layout,
    initiative_id: i64,
    initiative: String,
    allocations: Vec<AllocationView>,
    currency: String,
    form: RequestInput,
    errors: FormErrors,
}

impl NewPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::format(*minor.borrow(), &self.currency)
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    initiative: i64,
}

async fn new_page(
    ctx: &PageContext,
    db: &Db,
    initiative_id: i64,
    form: RequestInput,
    errors: FormErrors,
) -> Result<NewPage, AppError> {
    let (initiative, allocations, currency) = db
        .run(move |conn| {
            let initiative = funding::find_initiative(conn, initiative_id)?;
            let allocations = funding::list_allocations(
                conn,
                &AllocationFilter { initiative_id: Some(initiative_id), ..Default::default() },
            )?;
            Ok::<_, ServiceError>((initiative, allocations, crate::ledger::service::base_currency(conn)?))
        })
        .await?;
    Ok(NewPage {
        layout: ctx
            .layout("Request a disbursement")
            .crumb("Initiatives", "/initiatives")
            .crumb(initiative.title.clone(), format!("/initiatives/{initiative_id}")),
        initiative_id,
        initiative: initiative.title,
        allocations,
        currency,
        form,
        errors,
    })
}

pub async fn new_form(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    render(&new_page(&ctx, &db, query.initiative, RequestInput::default(), FormErrors::default()).await?)
}

pub async fn create(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let initiative_id: i64 =
        form.get("initiative").parse().map_err(|_| AppError::BadRequest("Say which initiative this is for.".into()))?;
    let input = RequestInput {
        allocation_id: form.get("allocation_id").to_string(),
        payee: form.get("payee").to_string(),
        amount: form.get("amount").to_string(),
        currency: form.get("currency").to_string(),
        purpose: form.get("purpose").to_string(),
        document_url: form.get("document_url").to_string(),
    };
    let i = input.clone();
    match db.run(move |conn| service::request(conn, actor, &i)).await {
        Ok(d) => Ok(redirect(
            &format!("/disbursements/{}", d.id),
            "success",
            &format!("The request is recorded; it needs {} approval(s) by someone else.", d.approvals_required),
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &new_page(&ctx, &db, initiative_id, input, FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "disbursements/show.html")]
struct ShowPage {
    layout: Layout,
    detail: DisbursementDetail,
    base: String,
    can_approve: bool,
    can_reject: bool,
    can_pay: bool,
    own_request: bool,
    paid_on: String,
    reason: String,
    errors: FormErrors,
}

impl ShowPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::format(*minor.borrow(), &self.base)
    }
}

async fn show_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: (String, String),
    errors: FormErrors,
) -> Result<ShowPage, AppError> {
    let (detail, base) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((service::detail(conn, id)?, crate::ledger::service::base_currency(conn)?))
        })
        .await?;
    let user = ctx.user()?;
    let d = &detail.disbursement;
    let own_request = d.requested_by == user.user_id;
    let approved_already = detail.approvals.iter().any(|a| a.approval.approver_id == user.user_id);
    Ok(ShowPage {
        layout: ctx
            .layout(format!("Disbursement #{} to {}", d.id, d.payee))
            .crumb("Disbursements", "/disbursements")
            .crumb(
                detail.allocation.initiative.clone(),
                format!("/initiatives/{}", detail.allocation.allocation.initiative_id),
            ),
        can_approve: d.status == "requested" && !own_request && !approved_already,
        can_reject: d.is_open(),
        can_pay: d.status == "approved" && user.has_role(Role::Treasurer),
        own_request,
        paid_on: if form.0.is_empty() { crate::db::now().date().to_string() } else { form.0 },
        reason: form.1,
        detail,
        base,
        errors,
    })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&show_page(&ctx, &db, id.into_inner(), Default::default(), FormErrors::default()).await?)
}

pub async fn approve(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.clone(), id.into_inner());
    let confirmed = form.confirmed("your approval");
    match db
        .run(move |conn| {
            confirmed?;
            service::approve(conn, &actor, id)
        })
        .await
    {
        Ok(d) => {
            let message = if d.status == "approved" {
                "Approved: it is ready to be paid."
            } else {
                "Your approval is recorded; it needs another approver."
            };
            Ok(redirect(&format!("/disbursements/{id}"), "success", message, config.is_https()))
        }
        Err(ServiceError::Validation(errors)) => render_status(
            &show_page(&ctx, &db, id, Default::default(), FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn reject(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, reason) = (ctx.user()?.clone(), id.into_inner(), form.get("reason").to_string());
    let r = reason.clone();
    let confirmed = form.confirmed("turning the request down");
    match db
        .run(move |conn| {
            confirmed?;
            service::reject(conn, &actor, id, &r)
        })
        .await
    {
        Ok(d) => Ok(redirect(
            &format!("/disbursements/{id}"),
            "success",
            &format!("The request is {}.", d.status),
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &show_page(&ctx, &db, id, (String::new(), reason), FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn pay(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, paid_on) = (ctx.user()?.user_id, id.into_inner(), form.get("paid_on").to_string());
    let p = paid_on.clone();
    let confirmed = form.confirmed("that the money has left");
    match db
        .run(move |conn| {
            confirmed?;
            service::pay(conn, actor, id, &p)
        })
        .await
    {
        Ok(_) => Ok(redirect(
            &format!("/disbursements/{id}"),
            "success",
            "Paid: the payment is in the ledger.",
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &show_page(&ctx, &db, id, (paid_on, String::new()), FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

fn describe_rule(rule: &service::ApprovalRule, base: &str) -> String {
    let people = |n: i32| if n == 1 { "1 approver".to_string() } else { format!("{n} approvers") };
    if rule.approvals >= 2 {
        format!("Every request needs {} other than its requester.", people(rule.approvals))
    } else {
        format!(
            "A request needs {} other than its requester, and 2 above {}.",
            people(rule.approvals),
            crate::money::format(rule.second_above_minor, base)
        )
    }
}

#[derive(Template)]
#[template(path = "disbursements/approval_rule.html")]
struct RulePage {
    layout: Layout,
    approvals: String,
    second_above: String,
    /// Says which currency the amount is in.
    hint: String,
    errors: FormErrors,
}

pub async fn rule_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let (rule, base) = db
        .run(|conn| {
            Ok::<_, ServiceError>((service::approval_rule(conn)?, crate::ledger::service::base_currency(conn)?))
        })
        .await?;
    render(&RulePage {
        layout: ctx.layout("Approval rule").crumb("Disbursements", "/disbursements"),
        approvals: rule.approvals.to_string(),
        second_above: crate::money::plain(rule.second_above_minor, &base),
        hint: format!("An amount in {base}"),
        errors: FormErrors::default(),
    })
}

pub async fn save_rule(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let (approvals, above) =
        (form.get("disbursement_approvals").to_string(), form.get("disbursement_second_approval_above").to_string());
    let (a, b) = (approvals.clone(), above.clone());
    match db.run(move |conn| service::set_approval_rule(conn, actor, &a, &b)).await {
        Ok(_) => Ok(redirect(
            "/disbursements",
            "success",
            "The approval rule is saved; it applies to new requests.",
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => {
            let base = db.run(crate::ledger::service::base_currency).await?;
            render_status(
                &RulePage {
                    layout: ctx.layout("Approval rule").crumb("Disbursements", "/disbursements"),
                    approvals,
                    second_above: above,
                    hint: format!("An amount in {base}"),
                    errors: FormErrors(errors),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other.into()),
    }
}
