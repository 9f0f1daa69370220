//! The settings page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::service;
use crate::accounts::PageContext;
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::mail;
use crate::mail::admin::QueuePage;
use crate::mail::outbox::OutboxStatus;
use crate::settings::service::{self as settings, SiteInput};
use crate::settings::SiteCache;
use crate::web::flash::redirect;
use crate::web::forms::FormErrors;
use crate::web::{render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    foundation_name: String,
    tagline: String,
    require_two_factor: bool,
    locale: String,
    errors: FormErrors,
}

impl SettingsPage {
    fn locales(&self) -> Vec<(&'static str, String)> {
        crate::locale::Locale::ALL.iter().map(|l| (l.code(), l.label())).collect()
    }
}

pub async fn settings_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&SettingsPage {
        layout: ctx.layout("Settings"),
        foundation_name: ctx.site.name.clone(),
        tagline: ctx.site.tagline.clone(),
        require_two_factor: ctx.site.require_two_factor,
        locale: ctx.site.locale.code().to_string(),
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tagline: String,
    #[serde(default)]
    require_two_factor: Option<String>,
    #[serde(default)]
    locale: String,
}

pub async fn save_settings(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    cache: web::Data<SiteCache>,
    config: web::Data<Config>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = SiteInput {
        name: form.name.clone(),
        tagline: form.tagline.clone(),
        require_two_factor: form.require_two_factor.is_some(),
        locale: form.locale.clone(),
    };
    let (actor, ip) = (ctx.user()?.user_id, crate::accounts::session::client_ip(&req));
    let submitted = input.clone();
    match db.run(move |conn| settings::update_site(conn, actor, &submitted, ip.as_deref())).await {
        Ok(()) => {
            cache.invalidate();
            Ok(redirect("/admin/settings", "success", "Settings saved.", config.is_https()))
        }
        Err(ServiceError::Validation(errors)) => {
            let page = SettingsPage {
                layout: ctx.layout("Settings"),
                foundation_name: input.name,
                tagline: input.tagline,
                require_two_factor: input.require_two_factor,
                locale: input.locale,
                errors: FormErrors(errors),
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    layout: Layout,
    /// (status, how many) for the tabs.
    tabs: Vec<(&'static str, i64)>,
    status: &'static str,
    queue: QueuePage,
    destination: String,
}

#[derive(Deserialize)]
pub struct MailQuery {
    #[serde(default)]
    status: String,
    page: Option<u32>,
}

pub async fn mail_queue(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    query: web::Query<MailQuery>,
) -> Result<HttpResponse, AppError> {
    let status = OutboxStatus::parse(&query.status).unwrap_or(OutboxStatus::Pending);
    let page = query.page.unwrap_or(1).max(1);
    let (counts, queue) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((mail::admin::counts(conn)?, mail::admin::list(conn, status, page, 50)?))
        })
        .await?;
    let destination = match &config.smtp_url {
        Some(_) => "the SMTP server in STEWARD_SMTP_URL".to_string(),
        None => format!(".eml files in {}", config.data_dir.join("mail").display()),
    };
    let tabs = vec![
        ("pending", counts.pending),
        ("sent", counts.sent),
        ("dead", counts.dead),
        ("cancelled", counts.cancelled),
    ];
    render(&MailPage { layout: ctx.layout("Mail queue"), tabs, status: status.as_str(), queue, destination })
}

pub async fn retry_message(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, ip) = (ctx.user()?.user_id, id.into_inner(), crate::accounts::session::client_ip(&req));
    db.run(move |conn| service::retry_message(conn, actor, id, ip.as_deref())).await?;
    Ok(redirect("/admin/mail?status=pending", "success", "The message will be sent again shortly.", config.is_https()))
}

pub async fn cancel_message(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, ip) = (ctx.user()?.user_id, id.into_inner(), crate::accounts::session::client_ip(&req));
    db.run(move |conn| service::cancel_message(conn, actor, id, ip.as_deref())).await?;
    Ok(redirect("/admin/mail?status=cancelled", "success", "The message is cancelled.", config.is_https()))
}
