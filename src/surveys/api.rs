//! JSON API for surveys.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Question, Survey};
use super::service::{self, MailSettings, QuestionInput, SurveyInput, SurveyResults, SurveyRow};
use crate::accounts::ApiUser;
use crate::config::{Config, SigningKey};
use crate::db::Db;
use crate::domain::ServiceError;
use crate::settings::SiteCache;
use crate::web::AppError;

/// Every survey with its counts (council).
#[utoipa::path(get, path = "/api/v1/surveys", tag = "surveys", security(("bearer" = [])),
    responses((status = 200, body = Vec<SurveyRow>)))]
pub async fn list(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::list_surveys).await?))
}

/// A survey as drafted; times `YYYY-MM-DDTHH:MM` in UTC.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyBody {
    pub title: String,
    #[serde(default)]
    pub introduction: String,
    pub cycle: String,
    pub opens_at: String,
    pub closes_at: String,
    /// `per_organization`, `per_person` or `selected`.
    pub audience: String,
    pub anonymous: bool,
    #[serde(default = "five")]
    pub min_group_size: i32,
    /// Days before closing to remind those who have not answered, e.g. [7, 2].
    #[serde(default)]
    pub reminder_days: Vec<i64>,
    /// For `selected`: member organization ids.
    #[serde(default)]
    pub targets: Vec<i64>,
}

fn five() -> i32 {
    5
}

/// Drafts a survey (council).
#[utoipa::path(post, path = "/api/v1/surveys", tag = "surveys", request_body = SurveyBody, security(("bearer" = [])),
    responses((status = 201, body = Survey), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create(user: ApiUser, db: web::Data<Db>, body: web::Json<SurveyBody>) -> Result<HttpResponse, AppError> {
    let (actor, b) = (user.0.user_id, body.into_inner());
    let input = SurveyInput {
        title: b.title,
        introduction: b.introduction,
        cycle: b.cycle,
        opens_at: b.opens_at,
        closes_at: b.closes_at,
        audience: b.audience,
        anonymous: b.anonymous,
        min_group_size: b.min_group_size.to_string(),
        reminder_days: b.reminder_days.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","),
        targets: b.targets.iter().map(|t| t.to_string()).collect(),
    };
    Ok(HttpResponse::Created().json(db.run(move |conn| service::create_survey(conn, actor, &input)).await?))
}

#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    #[serde(flatten)]
    pub survey: Survey,
    pub questions: Vec<Question>,
}

/// A survey with its questions (council).
#[utoipa::path(get, path = "/api/v1/surveys/{id}", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Survey id")),
    responses((status = 200, body = SurveyView), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get(_user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let view = db
        .run(move |conn| {
            Ok::<_, ServiceError>(SurveyView {
                survey: service::find_survey(conn, id)?,
                questions: service::questions(conn, id)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionBody {
    /// `likert`, `nps`, `single`, `multi`, `ranking`, `points`, `number`, `short_text` or `long_text`.
    pub kind: String,
    pub prompt: String,
    #[serde(default)]
    pub required: bool,
    /// Choices or ranking options; for likert the five labels, or none for the usual ones.
    #[serde(default)]
    pub options: Vec<String>,
}

/// Adds a question to a draft survey (council).
#[utoipa::path(post, path = "/api/v1/surveys/{id}/questions", tag = "surveys", request_body = QuestionBody,
    params(("id" = i64, Path, description = "Survey id")), security(("bearer" = [])),
    responses((status = 201, body = Question), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn add_question(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<QuestionBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    let input = QuestionInput { kind: b.kind, prompt: b.prompt, required: b.required, options: b.options.join("\n") };
    Ok(HttpResponse::Created().json(db.run(move |conn| service::add_question(conn, actor, id, &input)).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    pub count: usize,
}

/// Opens a draft survey and invites its audience by email (council). Answers `count` invited.
#[utoipa::path(post, path = "/api/v1/surveys/{id}/open", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Survey id")),
    responses((status = 200, body = Count), (status = 409, body = crate::web::error::ProblemSchema)))]
pub async fn open(
    user: ApiUser,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let settings = MailSettings {
        site_name: site.get(&db).await?.name,
        base_url: config.base_url.clone(),
        key: key.get_ref().clone(),
    };
    let (actor, id) = (user.0.user_id, id.into_inner());
    let count = db.run(move |conn| service::open_survey(conn, actor, id, &settings)).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

/// Closes an open survey (council); survey-fed metrics get their values. Answers `count` metric values.
#[utoipa::path(post, path = "/api/v1/surveys/{id}/close", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Survey id")),
    responses((status = 200, body = Count), (status = 409, body = crate::web::error::ProblemSchema)))]
pub async fn close(
    user: ApiUser,
    db: web::Data<Db>,
    key: web::Data<SigningKey>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, key) = (user.0.user_id, id.into_inner(), key.get_ref().clone());
    let count = db.run(move |conn| service::close_survey(conn, &key, actor, id)).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

/// Results: response rate (by tier, small groups withheld), and per question distribution, mean and median,
/// NPS, ranking, points against the budget, and texts (council).
#[utoipa::path(get, path = "/api/v1/surveys/{id}/results", tag = "surveys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Survey id")),
    responses((status = 200, body = SurveyResults), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn results(_user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::results(conn, id)).await?))
}

/// Answers through a personal link: per question id, its values (one for most kinds; one per option for
/// ranking (ranks) and points).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The token of the personal link (`/s/<token>`).
    pub token: String,
    pub answers: BTreeMap<i64, Vec<String>>,
    /// `true` submits; `false` saves a draft.
    #[serde(default)]
    pub submit: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AnswerStatus {
    /// `draft` or `submitted` (an anonymous answer waits in the pool until it is counted with others).
    pub status: String,
}

/// Saves or submits answers with a personal link; the link is the authority, no sign-in needed.
#[utoipa::path(post, path = "/api/v1/survey-answers", tag = "surveys", request_body = AnswerBody,
    responses((status = 200, body = AnswerStatus), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn answer(
    db: web::Data<Db>,
    key: web::Data<SigningKey>,
    body: web::Json<AnswerBody>,
) -> Result<HttpResponse, AppError> {
    let (b, key) = (body.into_inner(), key.get_ref().clone());
    let status = db.run(move |conn| service::answer(conn, &key, &b.token, &b.answers, b.submit)).await?;
    Ok(HttpResponse::Ok().json(AnswerStatus { status: status.to_string() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityAnswerBody {
    /// The token of the community survey's public link (`/c/<token>`).
    pub token: String,
    pub answers: BTreeMap<i64, Vec<String>>,
}

/// One anonymous answer to a community survey; a few per client and day.
#[utoipa::path(post, path = "/api/v1/community-answers", tag = "surveys", request_body = CommunityAnswerBody,
    responses((status = 201, body = AnswerStatus), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema),
        (status = 429, body = crate::web::error::ProblemSchema)))]
pub async fn answer_community(
    req: actix_web::HttpRequest,
    db: web::Data<Db>,
    key: web::Data<SigningKey>,
    body: web::Json<CommunityAnswerBody>,
) -> Result<HttpResponse, AppError> {
    let (b, key) = (body.into_inner(), key.get_ref().clone());
    let client = crate::accounts::session::client_ip(&req).unwrap_or_default();
    db.run(move |conn| service::answer_community(conn, &key, &b.token, &client, &b.answers)).await?;
    Ok(HttpResponse::Created().json(AnswerStatus { status: "submitted".into() }))
}
