//! JSON API for metrics and observations.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::{Metric, Observation};
use super::service::{self, MetricDetail, MetricFilter, MetricInput, MetricSummary, ObservationInput, Provenance};
use crate::accounts::ApiUser;
use crate::db::Db;
use crate::web::AppError;

#[derive(Deserialize, IntoParams)]
pub struct MetricQuery {
    pub priority_id: Option<i64>,
    pub initiative_id: Option<i64>,
}

/// Metrics with their progress and status.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics", params(MetricQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<MetricSummary>)))]
pub async fn list(_user: ApiUser, db: web::Data<Db>, query: web::Query<MetricQuery>) -> Result<HttpResponse, AppError> {
    let filter = MetricFilter { priority_id: query.priority_id, initiative_id: query.initiative_id, as_of: None };
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::list_metrics(conn, &filter)).await?))
}

/// A metric's definition. Values are decimal strings ("87.5"); dates YYYY-MM-DD.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricBody {
    /// Only when creating: lower-case letters, digits and hyphens.
    #[serde(default)]
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `count`, `percent`, `days`, `money` or `score`.
    pub unit: String,
    /// `higher` or `lower` is better.
    pub direction: String,
    pub priority_id: Option<i64>,
    pub key_outcome_id: Option<i64>,
    #[serde(default)]
    pub initiative_ids: Vec<i64>,
    pub baseline: String,
    pub baseline_on: String,
    pub target: String,
    pub target_on: String,
    /// `manual`, `import` or `survey`.
    pub source: String,
    /// For `survey`: the question whose answers feed it.
    pub survey_question_id: Option<i64>,
    /// For `survey`: `mean`, `nps` or `share_agreeing`.
    #[serde(default)]
    pub survey_aggregate: String,
    pub expected_interval_days: i32,
    #[serde(default)]
    pub scope_notes: String,
}

impl From<MetricBody> for MetricInput {
    fn from(b: MetricBody) -> Self {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        MetricInput {
            slug: b.slug,
            name: b.name,
            description: b.description,
            unit: b.unit,
            direction: b.direction,
            priority_id: id(b.priority_id),
            key_outcome_id: id(b.key_outcome_id),
            initiative_ids: b.initiative_ids.iter().map(|i| i.to_string()).collect(),
            baseline: b.baseline,
            baseline_on: b.baseline_on,
            target: b.target,
            target_on: b.target_on,
            source: b.source,
            survey_question_id: id(b.survey_question_id),
            survey_aggregate: b.survey_aggregate,
            expected_interval_days: b.expected_interval_days.to_string(),
            scope_notes: b.scope_notes,
        }
    }
}

/// Defines a metric (council).
#[utoipa::path(post, path = "/api/v1/metrics", tag = "metrics", request_body = MetricBody, security(("bearer" = [])),
    responses((status = 201, body = Metric), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create(user: ApiUser, db: web::Data<Db>, body: web::Json<MetricBody>) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.0.user_id, MetricInput::from(body.into_inner()));
    Ok(HttpResponse::Created().json(db.run(move |conn| service::create_metric(conn, actor, &input)).await?))
}

/// One metric: definition, progress, every observation (corrected ones too) and the money spent next to
/// the change it bought.
#[utoipa::path(get, path = "/api/v1/metrics/{id}", tag = "metrics", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Metric id")),
    responses((status = 200, body = MetricDetail), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get(_user: ApiUser, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::metric_detail(conn, id)).await?))
}

/// Changes a metric's definition (council); the unit stays once it has observations.
#[utoipa::path(put, path = "/api/v1/metrics/{id}", tag = "metrics", request_body = MetricBody, security(("bearer" = [])),
    params(("id" = i64, Path, description = "Metric id")),
    responses((status = 200, body = Metric), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn update(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<MetricBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, input) = (user.0.user_id, id.into_inner(), MetricInput::from(body.into_inner()));
    Ok(HttpResponse::Ok().json(db.run(move |conn| service::update_metric(conn, actor, id, &input)).await?))
}

/// One observation: a date, a value as a decimal string, an optional note.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationBody {
    pub observed_on: String,
    pub value: String,
    #[serde(default)]
    pub note: String,
}

impl From<ObservationBody> for ObservationInput {
    fn from(b: ObservationBody) -> Self {
        ObservationInput { observed_on: b.observed_on, value: b.value, note: b.note }
    }
}

/// Records one observation (council).
#[utoipa::path(post, path = "/api/v1/metrics/{id}/observations", tag = "metrics", request_body = ObservationBody,
    params(("id" = i64, Path, description = "Metric id")), security(("bearer" = [])),
    responses((status = 201, body = Observation), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn record(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<ObservationBody>,
) -> Result<HttpResponse, AppError> {
    let (id, input) = (id.into_inner(), ObservationInput::from(body.into_inner()));
    let from = Provenance { source: "api", label: "API".into(), actor: Some(user.0.user_id) };
    let mut saved = db.run(move |conn| service::record_observations(conn, id, &[input], &from)).await?;
    Ok(HttpResponse::Created().json(saved.remove(0)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    pub observations: Vec<ObservationBody>,
}

/// Records many observations of a metric (council): all of them, or none when any is wrong (errors name
/// the row, e.g. `[3].value`).
#[utoipa::path(post, path = "/api/v1/metrics/{id}/observations/bulk", tag = "metrics", request_body = BulkBody,
    params(("id" = i64, Path, description = "Metric id")), security(("bearer" = [])),
    responses((status = 201, body = Vec<Observation>), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn record_bulk(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<BulkBody>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let inputs: Vec<ObservationInput> = body.into_inner().observations.into_iter().map(Into::into).collect();
    let from = Provenance { source: "api", label: "API".into(), actor: Some(user.0.user_id) };
    Ok(HttpResponse::Created().json(db.run(move |conn| service::record_observations(conn, id, &inputs, &from)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    pub value: String,
    /// Why it is corrected.
    pub note: String,
}

/// Corrects an observation (council): a new one replaces it; the old one stays in the history.
#[utoipa::path(post, path = "/api/v1/observations/{id}/correct", tag = "metrics", request_body = CorrectionBody,
    params(("id" = i64, Path, description = "Observation id")), security(("bearer" = [])),
    responses((status = 201, body = Observation), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn correct(
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<CorrectionBody>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, b) = (user.0.user_id, id.into_inner(), body.into_inner());
    Ok(HttpResponse::Created()
        .json(db.run(move |conn| service::correct_observation(conn, actor, id, &b.value, &b.note)).await?))
}
