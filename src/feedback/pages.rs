//! Pages of the feedback channel: a representative's own items and the form; the council's triage.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::service::{self, FeedbackInput, FeedbackRow};
use crate::accounts::PageContext;
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::settings::SiteCache;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "feedback/mine.html")]
struct MinePage {
    layout: Layout,
    rows: Vec<FeedbackRow>,
    priorities: Vec<(i64, String)>,
    initiatives: Vec<(i64, String)>,
    input: FeedbackInput,
    errors: FormErrors,
}

async fn mine_page(ctx: &PageContext, db: &Db, input: FeedbackInput, errors: FormErrors) -> Result<MinePage, AppError> {
    let viewer = ctx.user()?.clone();
    let (rows, (priorities, initiatives)) =
        db.run(move |conn| Ok::<_, ServiceError>((service::list(conn, &viewer, "")?, service::topics(conn)?))).await?;
    Ok(MinePage { layout: ctx.layout("Feedback to the council"), rows, priorities, initiatives, input, errors })
}

pub async fn mine(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&mine_page(&ctx, &db, FeedbackInput::default(), FormErrors::default()).await?)
}

pub async fn send(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let sender = ctx.user()?.clone();
    let input = FeedbackInput {
        subject: form.get("subject").to_string(),
        body: form.get("body").to_string(),
        priority_id: form.get("priority_id").to_string(),
        initiative_id: form.get("initiative_id").to_string(),
    };
    let i = input.clone();
    match db.run(move |conn| service::send(conn, &sender, &i)).await {
        Ok(_) => {
            Ok(redirect("/feedback", "success", "Sent: the council answers here and by email.", config.is_https()))
        }
        Err(e) => render_status(&mine_page(&ctx, &db, input, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY),
    }
}

#[derive(Template)]
#[template(path = "feedback/triage.html")]
struct TriagePage {
    layout: Layout,
    rows: Vec<FeedbackRow>,
    status: String,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct TriageQuery {
    #[serde(default)]
    status: String,
    page: Option<i64>,
}

pub async fn triage(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<TriageQuery>,
) -> Result<HttpResponse, AppError> {
    let (viewer, query) = (ctx.user()?.clone(), query.into_inner());
    let (status, page) = (query.status, query.page.unwrap_or(1).max(1));
    let s = status.clone();
    let (rows, pages) = db.run(move |conn| service::list_page(conn, &viewer, &s, page, service::PAGE_SIZE)).await?;
    render(&TriagePage { layout: ctx.layout("Member feedback"), rows, status, page: page.min(pages), pages })
}

pub async fn answer(
    ctx: PageContext,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let (status, text, quotable) =
        (form.get("status").to_string(), form.get("answer").to_string(), form.get("quotable") == "on");
    let (site_name, base_url) = (site.get(&db).await?.name, config.base_url.clone());
    match db.run(move |conn| service::answer(conn, actor, id, &status, &text, quotable, &site_name, &base_url)).await {
        Ok(item) => Ok(redirect(
            "/feedback/triage",
            "success",
            &format!("Answered ({}); the representative is emailed.", item.status),
            config.is_https(),
        )),
        // A small form in a list: its reasons come back as the message at the top of the page.
        Err(ServiceError::Validation(errors)) => {
            let message = crate::domain::messages(errors);
            Ok(redirect("/feedback/triage", "error", &message, config.is_https()))
        }
        Err(other) => Err(other.into()),
    }
}
