//! JSON API for community health: tracked repositories, collector runs and the computed series.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::{CollectorRun, Repository};
use super::service::{self, RepositoryInput, SeriesTable};
use crate::accounts::ApiUser;
use crate::audit::Actor;
use crate::db::Db;
use crate::web::AppError;

/// Tracked repositories, included and excluded.
#[utoipa::path(get, path = "/api/v1/community/repositories", tag = "community", security(("bearer" = [])),
    responses((status = 200, body = Vec<Repository>)))]
pub async fn repositories(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(service::list_repositories).await?))
}

/// A repository to track.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryBody {
    /// `owner/name`.
    pub repository: String,
    #[serde(default)]
    pub subproject: String,
    pub priority_id: Option<i64>,
    /// False for archived or documentation repositories; then say why.
    #[serde(default = "yes")]
    pub included: bool,
    #[serde(default)]
    pub exclusion_reason: String,
}

fn yes() -> bool {
    true
}

/// Starts tracking a repository (council).
#[utoipa::path(post, path = "/api/v1/community/repositories", tag = "community", request_body = RepositoryBody,
    security(("bearer" = [])), responses((status = 201, body = Repository), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn create_repository(
    user: ApiUser,
    db: web::Data<Db>,
    body: web::Json<RepositoryBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let input = RepositoryInput {
        full_name: b.repository,
        subproject: b.subproject,
        priority_id: b.priority_id.map(|p| p.to_string()).unwrap_or_default(),
        included: b.included,
        exclusion_reason: b.exclusion_reason,
    };
    let actor = Actor::User(user.0.user_id);
    let repo = db.run(move |conn| service::create_repository(conn, actor, &input)).await?;
    Ok(HttpResponse::Created().json(repo))
}

/// The last 100 collector runs and imports, newest first, with what each stored, skipped and wrote.
#[utoipa::path(get, path = "/api/v1/community/runs", tag = "community", security(("bearer" = [])),
    responses((status = 200, body = Vec<CollectorRun>)))]
pub async fn runs(_user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(db.run(|conn| service::runs(conn, 100)).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct SeriesQuery {
    /// `overall` (default), `subproject:NAME` or `repository:OWNER/NAME`.
    pub scope: Option<String>,
    /// `quarter` (default) or `month`.
    pub period: Option<String>,
}

/// Every computed series for a scope, per month or quarter, each value with the ids of the items it was
/// computed from, and the data quality.
#[utoipa::path(get, path = "/api/v1/community/series", tag = "community", params(SeriesQuery),
    security(("bearer" = [])), responses((status = 200, body = SeriesTable), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn series(
    _user: ApiUser,
    db: web::Data<Db>,
    query: web::Query<SeriesQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let (scope, period) = (q.scope.unwrap_or_default(), q.period.unwrap_or_default());
    let table = db
        .run(move |conn| {
            let (scope, quarterly) = service::parse_view(&scope, &period)?;
            service::series_table(conn, &scope, quarterly)
        })
        .await?;
    Ok(HttpResponse::Ok().json(table))
}
