//! JSON API for the feedback channel.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::FeedbackItem;
use super::service::{self, FeedbackInput, FeedbackRow};
use crate::accounts::ApiUser;
use crate::config::Config;
use crate::db::Db;
use crate::settings::SiteCache;
use crate::web::AppError;

#[derive(Deserialize, IntoParams)]
pub struct FeedbackQuery {
    /// `new`, `answered`, `planned` or `declined`.
    #[serde(default)]
    pub status: String,
}

/// Feedback: all of it for the council; a representative's own organization's otherwise.
#[utoipa::path(get, path = "/api/v1/feedback", tag = "surveys", params(FeedbackQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<FeedbackRow>)))]
pub async fn list(
    user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<FeedbackQuery>,
) -> Result<HttpResponse, AppError> {
    let (viewer, status) = (user.0, query.into_inner().status);
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::list(conn, &viewer, &status)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    pub subject: String,
    pub body: String,
    pub priority_id: Option<i64>,
    pub initiative_id: Option<i64>,
}

/// Sends a suggestion or question to the council (representatives).
#[utoipa::path(post, path = "/api/v1/feedback", tag = "surveys", request_body = FeedbackBody, security(("bearer" = [])),
    responses((status = 201, body = FeedbackItem), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn send(user: ApiUser, db: web::Data<Db>, body: web::Json<FeedbackBody>) -> Result<HttpResponse, AppError> {
    let (sender, b) = (user.0, body.into_inner());
    let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let input = FeedbackInput {
        subject: b.subject,
        body: b.body,
        priority_id: id(b.priority_id),
        initiative_id: id(b.initiative_id),
    };
    Ok(HttpResponse::Created().json(db.run(move |conn| service::send(conn, &sender, &input)).await?))
}

// Named apart from the survey answers' `AnswerBody`: the document keeps one schema per name.
#[derive(Deserialize, ToSchema)]
#[schema(as = FeedbackAnswerBody)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// `answered`, `planned` or `declined`.
    pub status: String,
    pub answer: String,
    /// May be quoted in the progress reports.
    #[serde(default)]
    pub quotable: bool,
}

/// Answers a feedback item (council); the representative is emailed.
#[utoipa::path(post, path = "/api/v1/feedback/{id}/answer", tag = "surveys", request_body = AnswerBody,
    params(("id" = i64, Path, description = "Feedback id")), security(("bearer" = [])),
    responses((status = 200, body = FeedbackItem), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn answer(
    user: ApiUser,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    body: web::Json<AnswerBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    let (site_name, base_url) = (site.get(&db).await?.name, config.base_url.clone());
    let item = db
        .run(move |conn| service::answer(conn, actor, id, &b.status, &b.answer, b.quotable, &site_name, &base_url))
        .await?;
    Ok(HttpResponse::Ok().json(item))
}
