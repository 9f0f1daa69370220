//! The settings page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::PageContext;
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::settings::service::{self as settings, SiteInput};
use crate::settings::SiteCache;
use crate::web::flash::redirect;
use crate::web::forms::FormErrors;
use crate::web::{render, AppError, Layout};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    layout: Layout,
    foundation_name: String,
    tagline: String,
    require_two_factor: bool,
    errors: FormErrors,
}

pub async fn settings_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&SettingsPage {
        layout: ctx.layout("Settings"),
        foundation_name: ctx.site.name.clone(),
        tagline: ctx.site.tagline.clone(),
        require_two_factor: ctx.site.require_two_factor,
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
    };
    let (actor, ip) = (ctx.user()?.user_id, crate::accounts::session::client_ip(&req));
    let submitted = input.clone();
    match db.run(move |conn| settings::update_site(conn, actor, &submitted, ip.as_deref())).await {
        Ok(()) => {
            cache.invalidate();
            Ok(redirect("/admin/settings", "success", "Settings saved.", config.is_https()))
        }
        Err(ServiceError::Validation(errors)) => {
            let mut res = render(&SettingsPage {
                layout: ctx.layout("Settings"),
                foundation_name: input.name,
                tagline: input.tagline,
                require_two_factor: input.require_two_factor,
                errors: FormErrors(errors),
            })?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(other) => Err(other.into()),
    }
}
