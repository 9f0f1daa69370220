//! Report pages: the archive, a report (printable), the council's words and preview, the send confirmation,
//! and the admin's schedule.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::Section;
use super::period::Frequency;
use super::service::{self, Recipient, ReportPage, ReportRow, Schedule, ScheduleInput, SendPlan, SendRun};
use crate::accounts::{PageContext, Role};
use crate::audit::Actor;
use crate::config::{Config, SigningKey};
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::mail::Rendered;
use crate::surveys::service::MailSettings;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

fn mail_settings(ctx: &PageContext, config: &Config, key: &SigningKey) -> MailSettings {
    MailSettings { site_name: ctx.site.name.clone(), base_url: config.base_url.clone(), key: key.clone() }
}

fn edits(ctx: &PageContext) -> bool {
    ctx.identity.as_ref().is_some_and(|i| i.has_any(&[Role::Council, Role::Admin]))
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct IndexPage {
    layout: Layout,
    rows: Vec<ReportRow>,
    can_generate: bool,
    can_schedule: bool,
    period: String,
    errors: FormErrors,
}

async fn index_page(ctx: &PageContext, db: &Db, period: String, errors: FormErrors) -> Result<IndexPage, AppError> {
    let viewer = ctx.user()?.clone();
    let rows = db.run(move |conn| service::list(conn, &viewer, crate::db::now().date())).await?;
    Ok(IndexPage {
        layout: ctx.layout("Progress reports"),
        rows,
        can_generate: edits(ctx),
        can_schedule: ctx.identity.as_ref().is_some_and(|i| i.has_role(Role::Admin)),
        period,
        errors,
    })
}

pub async fn index(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&index_page(&ctx, &db, String::new(), FormErrors::default()).await?)
}

pub async fn generate(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let raw = form.get("period").to_string();
    let (r, foundation) = (raw.clone(), ctx.site.name.clone());
    let done = db
        .run(move |conn| {
            let period = service::parse_period(&r)?;
            service::generate(conn, Actor::User(actor), &period, crate::db::now().date(), &foundation)
        })
        .await;
    match done {
        Ok(g) => {
            let message = if g.created {
                format!("The report for {} is generated; its figures are now frozen.", g.report.period)
            } else {
                format!("The report for {} had been generated already; nothing changed.", g.report.period)
            };
            Ok(redirect(&format!("/reports/{}", g.report.period), "success", &message, config.is_https()))
        }
        Err(e) => render_status(&index_page(&ctx, &db, raw, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY),
    }
}

#[derive(Template)]
#[template(path = "reports/show.html")]
struct ShowPage {
    layout: Layout,
    page: ReportPage,
    can_edit: bool,
    recipients: Vec<Recipient>,
    foreword: String,
    changes: String,
    errors: FormErrors,
}

impl ShowPage {
    fn status(&self) -> &str {
        self.page.report.as_ref().map(|r| r.status()).unwrap_or("upcoming")
    }

    fn sent(&self) -> bool {
        self.status() == "sent"
    }
}

async fn show_page(
    ctx: &PageContext,
    db: &Db,
    code: String,
    words: Option<(String, String)>,
    errors: FormErrors,
) -> Result<ShowPage, AppError> {
    let viewer = ctx.user()?.clone();
    let can_edit = edits(ctx);
    let foundation = ctx.site.name.clone();
    let (page, recipients) = db
        .run(move |conn| {
            let page = service::show(conn, &viewer, &code, &foundation)?;
            let recipients = if can_edit { service::recipients(conn)? } else { Vec::new() };
            Ok::<_, ServiceError>((page, recipients))
        })
        .await?;
    let (foreword, changes) = words.unwrap_or_else(|| (page.view.foreword.clone(), page.view.changes.clone()));
    let layout = ctx.layout(format!("Progress report: {}", page.view.content.label)).crumb("Reports", "/reports");
    Ok(ShowPage { layout, page, can_edit, recipients, foreword, changes, errors })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, period: web::Path<String>) -> Result<HttpResponse, AppError> {
    render(&show_page(&ctx, &db, period.into_inner(), None, FormErrors::default()).await?)
}

pub async fn words(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    period: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, code) = (ctx.user()?.user_id, period.into_inner());
    let (foreword, changes) = (form.get("foreword").to_string(), form.get("changes").to_string());
    let (c, f, ch) = (code.clone(), foreword.clone(), changes.clone());
    let done = db
        .run(move |conn| {
            let period = service::parse_period(&c).map_err(|_| ServiceError::NotFound("report"))?;
            service::set_words(conn, actor, &period, &f, &ch)
        })
        .await;
    match done {
        Ok(r) => Ok(redirect(&format!("/reports/{}", r.period), "success", "Saved.", config.is_https())),
        Err(ServiceError::Validation(errors)) => render_status(
            &show_page(&ctx, &db, code, Some((foreword, changes)), FormErrors(errors)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(ServiceError::Conflict(message)) => {
            Ok(redirect(&format!("/reports/{code}"), "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct RecipientQuery {
    user: Option<i64>,
}

#[derive(Template)]
#[template(path = "reports/preview.html")]
struct PreviewPage {
    layout: Layout,
    period: String,
    recipients: Vec<Recipient>,
    recipient: Option<Recipient>,
    email: Option<Rendered>,
}

pub async fn preview(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    period: web::Path<String>,
    query: web::Query<RecipientQuery>,
) -> Result<HttpResponse, AppError> {
    let code = period.into_inner();
    let mail = mail_settings(&ctx, &config, &key);
    let (c, user) = (code.clone(), query.user);
    let (recipients, shown) = db
        .run(move |conn| {
            service::parse_period(&c).map_err(|_| ServiceError::NotFound("report"))?;
            let recipients = service::recipients(conn)?;
            let chosen = user.or(recipients.first().map(|r| r.user_id));
            let shown = match chosen {
                Some(u) => Some(service::preview(conn, &c, u, &mail)?),
                None => None,
            };
            Ok::<_, ServiceError>((recipients, shown))
        })
        .await?;
    let (recipient, email) = match shown {
        Some((r, e)) => (Some(r), Some(e)),
        None => (None, None),
    };
    let layout = ctx
        .layout(format!("Preview of the {code} report email"))
        .crumb("Reports", "/reports")
        .crumb(code.clone(), format!("/reports/{code}"));
    render(&PreviewPage { layout, period: code, recipients, recipient, email })
}

/// An email's HTML on its own, for the preview's frame: inline styles allowed (mail clients need them),
/// nothing else, and framed only by Steward's own pages.
fn email_html(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
        ))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .body(html)
}

pub async fn preview_email(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    period: web::Path<String>,
    query: web::Query<RecipientQuery>,
) -> Result<HttpResponse, AppError> {
    let mail = mail_settings(&ctx, &config, &key);
    let (code, user) = (period.into_inner(), query.user.ok_or(ServiceError::NotFound("recipient"))?);
    let (_, rendered) = db.run(move |conn| service::preview(conn, &code, user, &mail)).await?;
    Ok(email_html(rendered.html))
}

/// The signed-in person's own copy of a report email, as it was sent.
pub async fn my_email(
    ctx: PageContext,
    db: web::Data<Db>,
    period: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (user, code) = (ctx.user()?.user_id, period.into_inner());
    let copy = db.run(move |conn| service::email_copy(conn, &code, user)).await?;
    let (_, _, html) = copy.ok_or(ServiceError::NotFound("email"))?;
    Ok(email_html(html))
}

#[derive(Template)]
#[template(path = "reports/send.html")]
struct SendPage {
    layout: Layout,
    plan: SendPlan,
    error: Option<String>,
}

async fn send_page(ctx: &PageContext, db: &Db, code: String, error: Option<String>) -> Result<SendPage, AppError> {
    let plan = db.run(move |conn| service::send_plan(conn, &code)).await?;
    let layout = ctx
        .layout(format!("Send the {} report", plan.period))
        .crumb("Reports", "/reports")
        .crumb(plan.period.clone(), format!("/reports/{}", plan.period));
    Ok(SendPage { layout, plan, error })
}

pub async fn confirm_send(
    ctx: PageContext,
    db: web::Data<Db>,
    period: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    render(&send_page(&ctx, &db, period.into_inner(), None).await?)
}

pub async fn send(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    period: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let code = period.into_inner();
    if form.get("confirm") != "yes" {
        let message = "Tick the box to confirm that the report goes out now.".to_string();
        return render_status(&send_page(&ctx, &db, code, Some(message)).await?, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let actor = ctx.user()?.user_id;
    let mail = mail_settings(&ctx, &config, &key);
    let c = code.clone();
    match db.run(move |conn| service::send(conn, Actor::User(actor), &c, &mail)).await {
        Ok(SendRun { queued, already, .. }) => Ok(redirect(
            &format!("/reports/{code}"),
            "success",
            &format!(
                "Sent: {queued} emails queued{}.",
                if already > 0 { format!(", {already} had it already") } else { String::new() }
            ),
            config.is_https(),
        )),
        Err(ServiceError::Conflict(message)) => {
            render_status(&send_page(&ctx, &db, code, Some(message)).await?, StatusCode::CONFLICT)
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn publish(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    period: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, code, published) = (ctx.user()?.user_id, period.into_inner(), form.get("published") == "on");
    let c = code.clone();
    match db.run(move |conn| service::set_published(conn, actor, &c, published)).await {
        Ok(()) => {
            let message =
                if published { "Published on the transparency page." } else { "Taken off the transparency page." };
            Ok(redirect(&format!("/reports/{code}"), "success", message, config.is_https()))
        }
        Err(ServiceError::Conflict(message)) => {
            Ok(redirect(&format!("/reports/{code}"), "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "reports/schedule.html")]
struct SchedulePage {
    layout: Layout,
    frequency: String,
    send_day: String,
    sections: Vec<String>,
    automatic: bool,
    errors: FormErrors,
}

impl SchedulePage {
    fn frequencies(&self) -> [Frequency; 3] {
        Frequency::ALL
    }

    fn all_sections(&self) -> [Section; 6] {
        Section::ALL
    }

    fn chosen(&self, section: &Section) -> bool {
        self.sections.iter().any(|s| s == section.as_str())
    }
}

fn schedule_page(ctx: &PageContext, input: ScheduleInput, errors: FormErrors) -> SchedulePage {
    SchedulePage {
        layout: ctx.layout("Report schedule").crumb("Reports", "/reports"),
        frequency: input.frequency,
        send_day: input.send_day,
        sections: input.sections,
        automatic: input.automatic,
        errors,
    }
}

fn as_input(s: &Schedule) -> ScheduleInput {
    ScheduleInput {
        frequency: s.frequency.as_str().into(),
        send_day: s.send_day.to_string(),
        sections: s.sections.iter().map(|x| x.as_str().to_string()).collect(),
        automatic: s.automatic,
    }
}

pub async fn schedule(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let current = db.run(service::schedule).await?;
    render(&schedule_page(&ctx, as_input(&current), FormErrors::default()))
}

pub async fn save_schedule(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let input = ScheduleInput {
        frequency: form.get("frequency").to_string(),
        send_day: form.get("send_day").to_string(),
        sections: form.all("sections").into_iter().map(str::to_string).collect(),
        automatic: form.get("automatic") == "on",
    };
    let i = input.clone();
    match db.run(move |conn| service::set_schedule(conn, actor, &i)).await {
        Ok(_) => Ok(redirect("/reports", "success", "The report schedule is saved.", config.is_https())),
        Err(e) => render_status(&schedule_page(&ctx, input, form_errors(e)?), StatusCode::UNPROCESSABLE_ENTITY),
    }
}
