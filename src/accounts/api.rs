//! JSON API of accounts: who am I, users (admins), and one's own API tokens.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::context::ApiUser;
use super::model::{ApiToken, Role, TokenScope, UserStatus};
use super::password::Hasher;
use super::service::{self, InviteInput, MailSite, RequestMeta, TokenInput, UserRow};
use crate::audit::Actor;
use crate::config::Config;
use crate::db::Db;
use crate::domain::ServiceError;
use crate::settings::SiteCache;
use crate::web::AppError;

fn meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        ip: super::session::client_ip(req),
        user_agent: req.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// The organization a member representative represents.
    pub member_id: Option<i64>,
}

/// Who the token belongs to and what it may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::web::error::ProblemSchema)))]
pub async fn me(user: ApiUser) -> HttpResponse {
    let id = user.0;
    HttpResponse::Ok().json(Me {
        id: id.user_id,
        email: id.email,
        display_name: id.display_name,
        roles: id.roles,
        member_id: id.member_id,
    })
}

/// A user as admins see them.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub roles: Vec<Role>,
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
    pub two_factor: bool,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.user.id,
            status: row.user.status(),
            two_factor: row.user.has_two_factor(),
            email: row.user.email,
            display_name: row.user.display_name,
            roles: row.roles,
            member_id: row.user.member_id,
            member_name: row.member_name,
            created_at: row.user.created_at,
            last_login_at: row.user.last_login_at,
        }
    }
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct UserQuery {
    /// Part of a name or email address.
    #[serde(default)]
    pub q: String,
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    /// From 1.
    pub page: Option<i64>,
}

/// Users, by name; admins only.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", params(UserQuery), security(("bearer" = [])),
    responses((status = 200, body = UserPage), (status = 400, body = crate::web::error::ProblemSchema),
        (status = 401, body = crate::web::error::ProblemSchema), (status = 403, body = crate::web::error::ProblemSchema)))]
pub async fn list_users(db: web::Data<Db>, query: web::Query<UserQuery>) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = query.page.unwrap_or(1).max(1);
    let (rows, total) = db.run(move |conn| service::list_users(conn, &query.q, query.status, query.role, page)).await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: rows.into_iter().map(UserView::from).collect(),
        page,
        per_page: service::USERS_PAGE_SIZE,
        total,
    }))
}

/// One user; admins only.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn get_user(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let row = db.run(move |conn| service::user_row(conn, id)).await?;
    Ok(HttpResponse::Ok().json(UserView::from(row)))
}

/// An invitation to create.
#[derive(Deserialize, ToSchema)]
pub struct NewInvitation {
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// Required with the `member_rep` role.
    pub member_id: Option<i64>,
}

/// Invites someone: creates the account and emails a link to set a password; admins only.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewInvitation, security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 415, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn invite(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    config: web::Data<Config>,
    site: web::Data<SiteCache>,
    body: web::Json<NewInvitation>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let site = MailSite { site_name: site.get(&db).await?.name, base_url: config.base_url.clone() };
    let input = InviteInput {
        email: body.email,
        display_name: body.display_name,
        roles: body.roles,
        member_id: body.member_id,
    };
    let (actor, meta) = (user.0.user_id, meta(&req));
    let row = db
        .run(move |conn| {
            let (created, _) = service::invite_user(conn, Actor::User(actor), &input, Some(&site), &meta)?;
            service::user_row(conn, created.id)
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(row)))
}

/// Changes to a user; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct UserChanges {
    pub roles: Option<Vec<Role>>,
    /// With `roles`: the organization of a member representative.
    pub member_id: Option<i64>,
    /// `active` enables a disabled account (or makes it `invited` again without a password), `disabled`
    /// disables it.
    pub status: Option<UserStatus>,
}

/// Changes roles or status; admins only.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts", request_body = UserChanges, security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, body = crate::web::error::ProblemSchema),
        (status = 409, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema)))]
pub async fn update_user(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Json<UserChanges>,
) -> Result<HttpResponse, AppError> {
    let (target, actor, meta, body) = (id.into_inner(), user.0.user_id, meta(&req), body.into_inner());
    if body.status == Some(UserStatus::Invited) {
        return Err(ServiceError::invalid("status", "Set 'active' or 'disabled'; 'invited' follows from it.").into());
    }
    // All or nothing: roles and status change in one transaction, so a refused status keeps the roles too.
    let row = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                if let Some(roles) = &body.roles {
                    service::set_roles(conn, actor, target, roles, body.member_id, &meta)?;
                }
                match body.status {
                    Some(UserStatus::Disabled) => service::disable_user(conn, actor, target, &meta)?,
                    Some(UserStatus::Active) => service::enable_user(conn, actor, target, &meta)?,
                    Some(UserStatus::Invited) | None => {}
                }
                service::user_row(conn, target)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(row)))
}

/// The caller's own tokens (never the secret).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [ApiToken]), (status = 401, body = crate::web::error::ProblemSchema)))]
pub async fn list_tokens(user: ApiUser, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let user_id = user.0.user_id;
    let tokens = db.run(move |conn| service::list_api_tokens(conn, user_id)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// A personal API token to make.
#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// Where the token is used.
    pub name: String,
    /// The caller's password, asked again.
    pub password: String,
    /// `read` (GET only) or `read_write`.
    pub scope: TokenScope,
    /// The last day (UTC) the token works; left out: until revoked.
    pub expires_on: Option<NaiveDate>,
}

/// A token just made: its secret is in this answer only.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// Send it as `Authorization: Bearer <secret>`. It is not stored and not shown again.
    pub secret: String,
}

/// Makes a personal API token for the caller, after their password (a read-only token cannot make one).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = NewToken, security(("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 401, body = crate::web::error::ProblemSchema),
        (status = 403, body = crate::web::error::ProblemSchema), (status = 409, body = crate::web::error::ProblemSchema),
        (status = 415, body = crate::web::error::ProblemSchema), (status = 422, body = crate::web::error::ProblemSchema),
        (status = 429, body = crate::web::error::ProblemSchema)))]
pub async fn create_token(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let input = TokenInput { name: body.name, scope: body.scope, expires_on: body.expires_on };
    let (token, secret) = service::create_api_token(&db, &hasher, &user.0, &body.password, &input, &meta(&req)).await?;
    Ok(HttpResponse::Created().json(CreatedToken { token, secret }))
}

/// Revokes one of the caller's own tokens (the one in use works too: it stops at once).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::web::error::ProblemSchema)))]
pub async fn revoke_token(
    req: HttpRequest,
    user: ApiUser,
    db: web::Data<Db>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (identity, meta, id) = (user.0, meta(&req), id.into_inner());
    db.run(move |conn| service::revoke_api_token(conn, &identity, id, &meta)).await?;
    Ok(HttpResponse::NoContent().finish())
}
