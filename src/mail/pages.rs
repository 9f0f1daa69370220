//! The pages behind unsubscribe links. GET only asks (mail scanners follow links, so a GET never changes
//! anything); POST turns the category off. The POST serves both the page's form and RFC 8058 one-click
//! requests from mail clients, which post `List-Unsubscribe=One-Click` to the link itself: the link's query
//! carries everything, so the body is not read.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::preferences;
use super::unsubscribe::{UnsubscribeLink, PATH};
use crate::config::SigningKey;
use crate::db::Db;
use crate::settings::SiteCache;
use crate::web::{render, AppError, Layout};

/// The query of an unsubscribe link, checked by [`UnsubscribeLink::verify`].
#[derive(Deserialize)]
pub struct LinkQuery {
    u: Option<String>,
    c: Option<String>,
    s: Option<String>,
}

const INVALID_LINK: &str = "This unsubscribe link is not valid: it may have been cut short or changed. \
                            Use the link at the bottom of the most recent email";

fn verified(key: &SigningKey, query: &LinkQuery) -> Result<UnsubscribeLink, AppError> {
    UnsubscribeLink::verify(key, query.u.as_deref(), query.c.as_deref(), query.s.as_deref())
        .ok_or_else(|| AppError::BadRequest(INVALID_LINK.into()))
}

#[derive(Template)]
#[template(path = "mail/unsubscribe.html")]
struct ConfirmPage {
    layout: Layout,
    what: &'static str,
    action: String,
}

#[derive(Template)]
#[template(path = "mail/unsubscribed.html")]
struct DonePage {
    layout: Layout,
    what: &'static str,
}

pub async fn confirm(
    query: web::Query<LinkQuery>,
    key: web::Data<SigningKey>,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
) -> Result<HttpResponse, AppError> {
    let link = verified(&key, &query)?;
    let site = site.get(&db).await?;
    render(&ConfirmPage {
        layout: Layout::new("Unsubscribe", site.name),
        what: link.category.emails_label(),
        action: format!("{PATH}?{}", link.query(&key)),
    })
}

pub async fn unsubscribe(
    query: web::Query<LinkQuery>,
    key: web::Data<SigningKey>,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
) -> Result<HttpResponse, AppError> {
    let link = verified(&key, &query)?;
    db.run(move |conn| preferences::set(conn, link.user_id, link.category, false)).await?;
    tracing::info!(user.id = link.user_id, category = link.category.as_str(), "email category turned off");
    let site = site.get(&db).await?;
    render(&DonePage { layout: Layout::new("Unsubscribed", site.name), what: link.category.emails_label() })
}
