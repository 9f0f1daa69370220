//! HTML pages for funding: priorities, budgets, initiatives and their allocations.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{FundingPriority, PriorityWithOutcomes};
use super::service::{
    self, AllocationInput, BudgetInput, BudgetUse, InitiativeDetail, InitiativeFilter, InitiativeInput, PriorityInput,
};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::ledger::model::FiscalYear;
use crate::locale::Shown;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

fn money(minor: i64, currency: &str) -> String {
    crate::money::format(minor, currency)
}

// ------------------------------------------------------------------------------------------------- priorities

#[derive(Template)]
#[template(path = "funding/priorities.html")]
struct PrioritiesPage {
    layout: Layout,
    priorities: Vec<PriorityWithOutcomes>,
    /// (priority id, metric id, name), shown to people who are signed in.
    metrics: Vec<(i64, i64, String)>,
    retired: Vec<FundingPriority>,
    can_edit: bool,
}

pub async fn priorities(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let can_edit = service::manages_funding(ctx.identity.as_ref());
    let signed_in = ctx.identity.is_some();
    let (priorities, all, metrics) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((
                service::list_priorities(conn)?,
                service::all_priorities(conn)?,
                if signed_in { service::metrics_of_priorities(conn)? } else { Vec::new() },
            ))
        })
        .await?;
    let retired = if can_edit { all.into_iter().filter(|p| !p.active).collect() } else { Vec::new() };
    render(&PrioritiesPage { layout: ctx.layout("Funding priorities"), priorities, metrics, retired, can_edit })
}

#[derive(Template)]
#[template(path = "funding/priority_edit.html")]
struct PriorityEditPage {
    layout: Layout,
    /// None for a new priority.
    id: Option<i64>,
    action: String,
    slug: String,
    title: String,
    summary: String,
    outcomes: String,
    position: String,
    active: bool,
    errors: FormErrors,
}

impl PrioritiesPage {
    fn has_metrics(&self, priority_id: impl std::borrow::Borrow<i64>) -> bool {
        self.metrics.iter().any(|m| m.0 == *priority_id.borrow())
    }
}

impl PriorityEditPage {
    fn new(ctx: &PageContext, id: Option<i64>, errors: FormErrors) -> Self {
        let (title, action) = match id {
            Some(id) => ("Edit priority".to_string(), format!("/priorities/{id}/edit")),
            None => ("Add a funding priority".to_string(), "/priorities/new".to_string()),
        };
        Self {
            layout: ctx.layout(title).crumb("Funding priorities", "/priorities"),
            id,
            action,
            slug: String::new(),
            title: String::new(),
            summary: String::new(),
            outcomes: String::new(),
            position: String::new(),
            active: true,
            errors,
        }
    }

    /// The form as submitted, to show again with its errors.
    fn with_form(mut self, form: &FormFields) -> Self {
        self.slug = form.get("slug").to_string();
        self.title = form.get("title").to_string();
        self.summary = form.get("summary").to_string();
        self.outcomes = form.get("outcomes").to_string();
        self.position = form.get("position").to_string();
        self.active = form.get("active") == "on";
        self
    }
}

fn priority_input(form: &FormFields) -> PriorityInput {
    PriorityInput {
        title: form.get("title").to_string(),
        slug: form.get("slug").trim().to_string(),
        summary: form.get("summary").to_string(),
        outcomes: form.get("outcomes").lines().map(str::to_string).filter(|o| !o.trim().is_empty()).collect(),
    }
}

pub async fn new_priority(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&PriorityEditPage::new(&ctx, None, FormErrors::default()))
}

pub async fn create_priority(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (ctx.user()?.user_id, priority_input(&form));
    match db.run(move |conn| service::create_priority(conn, crate::audit::Actor::User(actor), &input)).await {
        Ok(p) => Ok(redirect("/priorities", "success", &format!("{} is added.", p.title), config.is_https())),
        Err(e) => render_status(
            &PriorityEditPage::new(&ctx, None, form_errors(e)?).with_form(&form),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

pub async fn edit_priority(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let p = db.run(move |conn| service::find_priority(conn, id)).await?;
    let mut page = PriorityEditPage::new(&ctx, Some(id), FormErrors::default());
    page.layout.title = format!("Edit {}", p.priority.title);
    page.slug = p.priority.slug.clone();
    page.title = p.priority.title.clone();
    page.summary = p.priority.summary.clone();
    page.outcomes = p.outcomes.iter().map(|o| o.description.as_str()).collect::<Vec<_>>().join("\n");
    page.position = p.priority.position.to_string();
    page.active = p.priority.active;
    render(&page)
}

pub async fn save_priority(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, input) = (ctx.user()?.user_id, id.into_inner(), priority_input(&form));
    let active = form.get("active") == "on";
    let position = form.get("position").trim().parse::<i32>().unwrap_or(0);
    match db.run(move |conn| service::update_priority(conn, actor, id, &input, position, active)).await {
        Ok(()) => Ok(redirect("/priorities", "success", "The priority is saved.", config.is_https())),
        Err(e) => render_status(
            &PriorityEditPage::new(&ctx, Some(id), form_errors(e)?).with_form(&form),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

// ---------------------------------------------------------------------------------------------------- budgets

#[derive(Template)]
#[template(path = "funding/budgets.html")]
struct BudgetsPage {
    layout: Layout,
    years: Vec<FiscalYear>,
    year: Option<FiscalYear>,
    rows: Vec<BudgetUse>,
    currency: String,
    can_edit: bool,
}

impl BudgetsPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        money(*minor.borrow(), &self.currency)
    }

    fn total(&self, column: &str) -> String {
        let f = |b: &BudgetUse| match column {
            "budget" => b.budget_minor,
            "allocated" => b.allocated_minor,
            "unallocated" => b.unallocated_minor(),
            _ => b.spent_minor,
        };
        money(self.rows.iter().map(f).sum(), &self.currency)
    }
}

#[derive(Deserialize)]
pub struct YearQuery {
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    year: Option<i64>,
}

pub async fn budgets(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse, AppError> {
    let asked = query.year;
    let (years, year, rows, currency) = db
        .run(move |conn| {
            let year = crate::ledger::service::year_to_show(conn, asked)?;
            let rows = match &year {
                Some(y) => service::budget_overview(conn, y.id)?,
                None => Vec::new(),
            };
            Ok::<_, ServiceError>((
                crate::ledger::service::list_years(conn)?,
                year,
                rows,
                crate::ledger::service::base_currency(conn)?,
            ))
        })
        .await?;
    render(&BudgetsPage {
        layout: ctx.layout("Budgets"),
        can_edit: ctx.user()?.has_role(Role::Treasurer) && year.as_ref().is_some_and(|y| y.status != "closed"),
        years,
        year,
        rows,
        currency,
    })
}

#[derive(Template)]
#[template(path = "funding/budget_edit.html")]
struct BudgetEditPage {
    layout: Layout,
    year: FiscalYear,
    priority: FundingPriority,
    currency: String,
    amount: String,
    /// (label, amount) rows, with blank ones to fill in.
    lines: Vec<(String, String)>,
    errors: FormErrors,
}

impl BudgetEditPage {
    fn line_error(&self, i: impl std::borrow::Borrow<usize>, part: &str) -> Option<&str> {
        let i = *i.borrow();
        self.errors.get(&format!("lines[{i}].{part}"))
    }
}

async fn budget_page(
    ctx: &PageContext,
    db: &Db,
    year_id: i64,
    priority_id: i64,
    form: Option<(String, Vec<(String, String)>)>,
    errors: FormErrors,
) -> Result<BudgetEditPage, AppError> {
    let (year, priority, use_, currency) = db
        .run(move |conn| {
            let year = crate::ledger::service::find_year(conn, year_id)?;
            let priority = service::find_priority(conn, priority_id)?.priority;
            let use_ = service::budget_overview(conn, year_id)?.into_iter().find(|b| b.priority.id == priority_id);
            Ok::<_, ServiceError>((year, priority, use_, crate::ledger::service::base_currency(conn)?))
        })
        .await?;
    let (amount, mut lines) = match form {
        Some(f) => f,
        None => {
            let amount = use_
                .as_ref()
                .and_then(|u| u.budget.as_ref())
                .map(|b| crate::money::plain(b.amount_minor, &currency))
                .unwrap_or_default();
            let lines = use_
                .map(|u| {
                    u.lines
                        .iter()
                        .map(|l| (l.line.label.clone(), crate::money::plain(l.line.amount_minor, &currency)))
                        .collect()
                })
                .unwrap_or_default();
            (amount, lines)
        }
    };
    lines.extend(std::iter::repeat_n((String::new(), String::new()), 3));
    Ok(BudgetEditPage {
        layout: ctx
            .layout(format!("{} budget for {}", year.label, priority.title))
            .crumb("Budgets", format!("/budgets?year={year_id}")),
        year,
        priority,
        currency,
        amount,
        lines,
        errors,
    })
}

pub async fn edit_budget(
    ctx: PageContext,
    db: web::Data<Db>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (year, priority) = path.into_inner();
    render(&budget_page(&ctx, &db, year, priority, None, FormErrors::default()).await?)
}

pub async fn save_budget(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    path: web::Path<(i64, i64)>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, (year, priority)) = (ctx.user()?.user_id, path.into_inner());
    let labels = form.all("line_label");
    let amounts = form.all("line_amount");
    let lines: Vec<(String, String)> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.to_string(), amounts.get(i).map(|a| a.to_string()).unwrap_or_default()))
        .collect();
    let input = BudgetInput { amount: form.get("amount").to_string(), lines: lines.clone() };
    let i = input.clone();
    match db.run(move |conn| service::set_budget(conn, actor, year, priority, &i)).await {
        Ok(_) => Ok(redirect(&format!("/budgets?year={year}"), "success", "The budget is saved.", config.is_https())),
        Err(ServiceError::Validation(errors)) => {
            let kept: Vec<(String, String)> =
                lines.into_iter().filter(|(l, a)| !l.trim().is_empty() || !a.trim().is_empty()).collect();
            // Field names index the rows as typed (blank rows included); keep the typed order for the errors.
            let page = budget_page(&ctx, &db, year, priority, Some((input.amount, kept)), FormErrors(errors)).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}

// ------------------------------------------------------------------------------------------------ initiatives

#[derive(Template)]
#[template(path = "funding/initiatives.html")]
struct InitiativesPage {
    layout: Layout,
    rows: Vec<(super::model::Initiative, String)>,
    priorities: Vec<FundingPriority>,
    status: String,
    priority: String,
    page: i64,
    pages: i64,
    total: i64,
    can_propose: bool,
}

#[derive(Deserialize)]
pub struct InitiativeQuery {
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "crate::web::forms::blank_as_none")]
    priority: Option<i64>,
    page: Option<i64>,
}

pub async fn initiatives(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<InitiativeQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let filter =
        InitiativeFilter { status: q.status.clone(), priority_id: q.priority, page: q.page.unwrap_or(1).max(1) };
    let viewer = ctx.identity.clone();
    let f = filter.clone();
    let ((rows, total), priorities) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((
                service::list_initiatives(conn, viewer.as_ref(), &f)?,
                service::all_priorities(conn)?,
            ))
        })
        .await?;
    render(&InitiativesPage {
        layout: ctx.layout("Initiatives"),
        rows,
        priorities,
        status: q.status,
        priority: q.priority.map(|p| p.to_string()).unwrap_or_default(),
        page: filter.page,
        pages: ((total + service::PAGE_SIZE - 1) / service::PAGE_SIZE).max(1),
        total,
        can_propose: service::manages_funding(ctx.identity.as_ref()),
    })
}

#[derive(Template)]
#[template(path = "funding/initiative_form.html")]
struct InitiativeFormPage {
    layout: Layout,
    action: String,
    priorities: Vec<FundingPriority>,
    input: InitiativeInput,
    errors: FormErrors,
}

async fn initiative_form(
    ctx: &PageContext,
    db: &Db,
    id: Option<i64>,
    input: InitiativeInput,
    errors: FormErrors,
) -> Result<InitiativeFormPage, AppError> {
    let priorities: Vec<FundingPriority> =
        db.run(service::all_priorities).await?.into_iter().filter(|p| p.active).collect();
    let (title, action) = match id {
        Some(id) => ("Edit initiative".to_string(), format!("/initiatives/{id}/edit")),
        None => ("Propose an initiative".to_string(), "/initiatives/new".to_string()),
    };
    Ok(InitiativeFormPage {
        layout: ctx.layout(title).crumb("Initiatives", "/initiatives"),
        action,
        priorities,
        input,
        errors,
    })
}

fn initiative_input(form: &FormFields) -> InitiativeInput {
    InitiativeInput {
        priority_id: form.get("priority_id").to_string(),
        title: form.get("title").to_string(),
        summary: form.get("summary").to_string(),
        subprojects: form.get("subprojects").to_string(),
        lead: form.get("lead").to_string(),
        starts_on: form.get("starts_on").to_string(),
        ends_on: form.get("ends_on").to_string(),
    }
}

pub async fn new_initiative(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&initiative_form(&ctx, &db, None, InitiativeInput::default(), FormErrors::default()).await?)
}

pub async fn create_initiative(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let input = initiative_input(&form);
    let i = input.clone();
    match db.run(move |conn| service::create_initiative(conn, actor, &i)).await {
        Ok(created) => Ok(redirect(
            &format!("/initiatives/{}", created.id),
            "success",
            "The initiative is proposed; the council approves it.",
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &initiative_form(&ctx, &db, None, input, FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn edit_initiative(
    ctx: PageContext,
    db: web::Data<Db>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let i = db.run(move |conn| service::find_initiative(conn, id)).await?;
    let input = InitiativeInput {
        priority_id: i.priority_id.to_string(),
        title: i.title,
        summary: i.summary,
        subprojects: i.subprojects,
        lead: i.lead,
        starts_on: i.starts_on.map(|d| d.to_string()).unwrap_or_default(),
        ends_on: i.ends_on.map(|d| d.to_string()).unwrap_or_default(),
    };
    render(&initiative_form(&ctx, &db, Some(id), input, FormErrors::default()).await?)
}

pub async fn save_initiative(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let input = initiative_input(&form);
    let i = input.clone();
    match db.run(move |conn| service::update_initiative(conn, actor, id, &i)).await {
        Ok(()) => Ok(redirect(&format!("/initiatives/{id}"), "success", "The initiative is saved.", config.is_https())),
        Err(ServiceError::Validation(errors)) => render_status(
            &initiative_form(&ctx, &db, Some(id), input, FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "funding/initiative.html")]
struct InitiativePage {
    layout: Layout,
    detail: InitiativeDetail,
    currency: String,
    can_edit: bool,
    can_allocate: bool,
    can_request: bool,
    /// Metrics that measure it, for people who are signed in: (id, name).
    metrics: Vec<(i64, String)>,
    next: Vec<&'static str>,
    years: Vec<FiscalYear>,
    /// Line items of the priority's budgets: (id, "FY2026: Events").
    lines: Vec<(i64, String)>,
    form: AllocationInput,
    errors: FormErrors,
}

impl InitiativePage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        money(*minor.borrow(), &self.currency)
    }

    fn plain(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::plain(*minor.borrow(), &self.currency)
    }
}

async fn initiative_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: AllocationInput,
    errors: FormErrors,
) -> Result<InitiativePage, AppError> {
    let viewer = ctx.identity.clone();
    let (detail, years, lines, currency, metrics) = db
        .run(move |conn| {
            let detail = service::initiative_detail(conn, viewer.as_ref(), id)?;
            let metrics = if viewer.is_some() { service::metrics_of_initiative(conn, id)? } else { Vec::new() };
            let years: Vec<FiscalYear> =
                crate::ledger::service::list_years(conn)?.into_iter().filter(|y| y.status != "closed").collect();
            let mut lines = Vec::new();
            for y in &years {
                if let Some(u) =
                    service::budget_overview(conn, y.id)?.into_iter().find(|b| b.priority.id == detail.priority.id)
                {
                    lines.extend(u.lines.into_iter().map(|l| (l.line.id, format!("{}: {}", y.label, l.line.label))));
                }
            }
            Ok::<_, ServiceError>((detail, years, lines, crate::ledger::service::base_currency(conn)?, metrics))
        })
        .await?;
    let manages = service::manages_funding(ctx.identity.as_ref());
    let treasurer = ctx.identity.as_ref().is_some_and(|i| i.has_role(Role::Treasurer));
    let fundable = detail.initiative.is_fundable();
    Ok(InitiativePage {
        layout: ctx.layout(detail.initiative.title.clone()).crumb("Initiatives", "/initiatives"),
        next: ctx.identity.as_ref().map(|i| service::next_statuses(i, &detail.initiative.status)).unwrap_or_default(),
        can_edit: manages,
        can_allocate: treasurer && fundable,
        can_request: manages && fundable && !detail.allocations.is_empty(),
        metrics,
        detail,
        currency,
        years,
        lines,
        form,
        errors,
    })
}

pub async fn initiative(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&initiative_page(&ctx, &db, id.into_inner(), AllocationInput::default(), FormErrors::default()).await?)
}

pub async fn change_status(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.clone(), id.into_inner());
    let (status, note) = (form.get("status").to_string(), form.get("note").to_string());
    let changed = db.run(move |conn| service::change_status(conn, &actor, id, &status, &note)).await?;
    Ok(redirect(
        &format!("/initiatives/{id}"),
        "success",
        &format!("The initiative is now {}.", changed.status),
        config.is_https(),
    ))
}

pub async fn allocate(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let input = AllocationInput {
        fiscal_year_id: form.get("fiscal_year_id").to_string(),
        amount: form.get("amount").to_string(),
        budget_line_id: form.get("budget_line_id").to_string(),
        note: form.get("note").to_string(),
    };
    let i = input.clone();
    let confirmed = form.confirmed("the allocation");
    match db
        .run(move |conn| {
            confirmed?;
            service::allocate(conn, actor, id, &i)
        })
        .await
    {
        Ok(a) => Ok(redirect(
            &format!("/initiatives/{id}"),
            "success",
            &format!("{} allocated.", money(a.amount_minor, &a.currency)),
            config.is_https(),
        )),
        Err(ServiceError::Validation(errors)) => render_status(
            &initiative_page(&ctx, &db, id, input, FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn change_allocation(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id, amount) = (ctx.user()?.user_id, id.into_inner(), form.get("amount").to_string());
    let confirmed = form.confirmed("the new amount");
    let result = db
        .run(move |conn| {
            confirmed?;
            service::change_allocation(conn, actor, id, &amount)
        })
        .await;
    match result {
        Ok(a) => Ok(redirect(
            &format!("/initiatives/{}", a.initiative_id),
            "success",
            &format!("The allocation is now {}.", money(a.amount_minor, &a.currency)),
            config.is_https(),
        )),
        // One amount on a row of a table: the reason goes back as the message at the top of the page.
        Err(ServiceError::Validation(errors)) => {
            let initiative = db.run(move |conn| service::find_allocation(conn, id)).await?.allocation.initiative_id;
            let message = crate::domain::messages(errors);
            Ok(redirect(&format!("/initiatives/{initiative}"), "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}
