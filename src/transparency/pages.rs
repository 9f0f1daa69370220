//! Public pages (no sign-in; a 404 while the page is off) and the settings page.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;

use super::service::{self, Choices, ChoicesInput, PublicPage, PublishedReport};
use crate::accounts::{PageContext, Role};
use crate::config::Config;
use crate::db::Db;
use crate::locale::Shown;
use crate::reports::service::ReportView;
use crate::settings::SiteCache;
use crate::web::flash::redirect;
use crate::web::forms::FormFields;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "transparency/index.html")]
struct IndexPage {
    layout: Layout,
    tagline: String,
    page: PublicPage,
}

impl IndexPage {
    fn money(&self, minor: impl std::borrow::Borrow<i64>) -> String {
        crate::money::format(*minor.borrow(), &self.page.currency)
    }
}

pub async fn index(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let page = db.run(service::page).await?;
    let layout = ctx.layout(format!("{}: where the money goes", ctx.site.name));
    render(&IndexPage { layout, tagline: ctx.site.tagline.clone(), page })
}

#[derive(Template)]
#[template(path = "transparency/report.html")]
struct ReportPage {
    layout: Layout,
    view: ReportView,
    sent_at: NaiveDateTime,
}

pub async fn report(ctx: PageContext, db: web::Data<Db>, period: web::Path<String>) -> Result<HttpResponse, AppError> {
    let code = period.into_inner();
    let (view, sent_at) = db.run(move |conn| service::report(conn, &code)).await?;
    let layout = ctx.layout(format!("Progress report: {}", view.content.label)).crumb("Transparency", "/transparency");
    render(&ReportPage { layout, view, sent_at })
}

#[derive(Template)]
#[template(path = "transparency/feed.xml")]
struct Feed {
    foundation: String,
    base_url: String,
    updated: String,
    reports: Vec<PublishedReport>,
}

impl Feed {
    fn stamp(&self, at: &NaiveDateTime) -> String {
        at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// The Atom feed of published reports.
pub async fn feed(
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
) -> Result<HttpResponse, AppError> {
    let foundation = site.get(&db).await?.name;
    let reports = db.run(service::feed).await?;
    let newest = reports.iter().map(|r| r.sent_at).max().unwrap_or_default();
    let feed = Feed {
        foundation,
        base_url: config.base_url.clone(),
        updated: newest.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        reports,
    };
    Ok(HttpResponse::Ok().content_type("application/atom+xml; charset=utf-8").body(feed.render()?))
}

#[derive(Template)]
#[template(path = "transparency/settings.html")]
struct SettingsPage {
    layout: Layout,
    choices: Choices,
    is_admin: bool,
}

pub async fn settings(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let choices = db.run(service::choices).await?;
    let is_admin = ctx.user()?.has_role(Role::Admin);
    render(&SettingsPage { layout: ctx.layout("Transparency page"), choices, is_admin })
}

pub async fn save(
    ctx: PageContext,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.clone();
    let ids = |name: &str| -> Result<Vec<i64>, AppError> {
        form.all(name)
            .into_iter()
            .map(|v| v.parse::<i64>().map_err(|_| AppError::BadRequest(format!("'{v}' is not an id"))))
            .collect()
    };
    let input = ChoicesInput {
        enabled: actor.has_role(Role::Admin).then(|| form.get("enabled") == "on"),
        priorities: ids("priorities")?,
        initiatives: ids("initiatives")?,
        metrics: ids("metrics")?,
    };
    db.run(move |conn| service::save(conn, &actor, &input)).await?;
    site.invalidate();
    Ok(redirect(
        "/admin/transparency",
        "success",
        "Saved: the transparency page shows what is ticked.",
        config.is_https(),
    ))
}
