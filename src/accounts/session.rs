//! Who is signed in: the session cookie (pages) or a bearer token (API), resolved once per request and
//! kept in the request's extensions.

use std::time::Duration;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{AuthMethod, Identity, Role, Session, TokenScope, User};
use super::tokens::{hash_token, API_TOKEN_PREFIX};
use crate::config::Config;
use crate::db::schema::{api_tokens, sessions, user_roles, users};
use crate::db::{Db, DbConn};
use crate::domain::ServiceError;
use crate::web::AppError;

/// How long sessions live: idle (since the last request) and absolute (since sign-in).
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
    /// Password sign-ins per client address per 15 minutes.
    pub sign_ins_per_ip: u32,
}

impl SessionPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            idle: config.session_idle,
            absolute: Duration::from_secs(12 * 3600),
            sign_ins_per_ip: config.sign_in_per_ip,
        }
    }
}

/// The session cookie's name: `__Host-` prefixed over https, which pins it to this host and path `/`.
pub fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-steward_session"
    } else {
        "steward_session"
    }
}

pub fn csrf_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-steward_csrf"
    } else {
        "steward_csrf"
    }
}

/// A cookie as Steward sets them: HttpOnly, SameSite=Lax, path `/`, Secure over https.
pub fn cookie(name: &'static str, value: String, https: bool, max_age: Option<time::Duration>) -> Cookie<'static> {
    let mut c = Cookie::build(name, value).path("/").http_only(true).same_site(SameSite::Lax).secure(https).finish();
    if let Some(age) = max_age {
        c.set_max_age(age);
    }
    c
}

/// A cookie that tells the browser to forget `name`.
pub fn removal_cookie(name: &'static str, https: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), https, None);
    c.make_removal();
    c
}

/// The identity of the request, resolved at most once; `None` when nobody is signed in.
#[derive(Clone, Debug)]
struct Resolved(Option<Identity>);

/// Resolves (and caches on the request) who is calling.
pub async fn identity_of(req: &HttpRequest) -> Result<Option<Identity>, AppError> {
    if let Some(Resolved(found)) = req.extensions().get::<Resolved>() {
        return Ok(found.clone());
    }
    let found = resolve(req).await?;
    req.extensions_mut().insert(Resolved(found.clone()));
    Ok(found)
}

pub async fn identity_of_service(req: &ServiceRequest) -> Result<Option<Identity>, AppError> {
    identity_of(req.request()).await
}

/// Forgets the cached identity (after sign-in or sign-out within the same request).
pub fn forget_identity(req: &HttpRequest) {
    req.extensions_mut().remove::<Resolved>();
}

pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn resolve(req: &HttpRequest) -> Result<Option<Identity>, AppError> {
    let (Some(db), Some(config)) = (req.app_data::<web::Data<Db>>(), req.app_data::<web::Data<Config>>()) else {
        return Ok(None);
    };
    let db = db.get_ref().clone();
    if is_api(req.path()) {
        // The API takes bearer tokens only; a browser's cookies do not authenticate it.
        let Some(token) = bearer_token(req) else { return Ok(None) };
        return Ok(db.run(move |conn| identity_from_api_token(conn, &token)).await?);
    }
    let Some(cookie) = req.cookie(session_cookie_name(config.is_https())) else { return Ok(None) };
    let policy = SessionPolicy::from_config(config);
    let id_hash = hash_token(cookie.value());
    let found = db.run(move |conn| identity_from_session(conn, &id_hash, policy)).await?;
    Ok(found.filter(|identity| !identity.awaiting_second_factor() || SECOND_FACTOR_PATHS.contains(&req.path())))
}

/// The only paths where a session still waiting for its second factor (the password was right, the code not
/// given yet) is someone: the code's page and sign-out. Everywhere else it is nobody, so no page, API route or
/// template can show it anything a visitor would not see, whatever access it declares.
pub const SECOND_FACTOR_PATHS: &[&str] = &["/sign-in/two-factor", "/sign-out"];

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(API_TOKEN_PREFIX)).then(|| token.to_string())
}

pub fn roles_of(conn: &mut DbConn, user_id: i64) -> Result<Vec<Role>, ServiceError> {
    let names: Vec<String> = user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .order(user_roles::role)
        .load(conn)?;
    let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::parse(n)).collect();
    roles.sort();
    Ok(roles)
}

fn identity_for(user: User, roles: Vec<Role>, via: AuthMethod) -> Identity {
    Identity {
        user_id: user.id,
        has_two_factor: user.has_two_factor(),
        email: user.email,
        display_name: user.display_name,
        member_id: user.member_id,
        roles,
        via,
        time_zone: user.time_zone,
    }
}

/// A live session: not past its absolute expiry, used within the idle timeout, its user active. A dead
/// session is deleted on sight. `last_seen_at` is refreshed at most once a minute to spare writes.
pub fn identity_from_session(
    conn: &mut DbConn,
    id_hash: &str,
    policy: SessionPolicy,
) -> Result<Option<Identity>, ServiceError> {
    let found: Option<(Session, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(id_hash))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    let Some((session, user)) = found else { return Ok(None) };
    let now = crate::db::now();
    let idle_limit = session.last_seen_at + chrono::Duration::from_std(policy.idle).unwrap_or_default();
    if session.expires_at <= now || idle_limit <= now || user.status() != super::model::UserStatus::Active {
        diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
        return Ok(None);
    }
    if now - session.last_seen_at > chrono::Duration::seconds(60) {
        let touched = diesel::update(sessions::table.find(id_hash)).set(sessions::last_seen_at.eq(now)).execute(conn);
        refresh_may_fail_on_storage(touched)?;
    }
    let roles = roles_of(conn, user.id)?;
    let via = AuthMethod::Session {
        id_hash: session.id_hash,
        csrf_token: session.csrf_token,
        second_factor_pending: session.second_factor_pending,
    };
    Ok(Some(identity_for(user, roles, via)))
}

/// A token that exists, is not revoked, has not expired, and belongs to an active user. An expired token is
/// refused exactly like an unknown one.
pub fn identity_from_api_token(conn: &mut DbConn, token: &str) -> Result<Option<Identity>, ServiceError> {
    let hash = hash_token(token);
    let now = crate::db::now();
    let found: Option<(i64, Option<NaiveDateTime>, String, User)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.is_null().or(api_tokens::expires_at.gt(now)))
        .filter(users::status.eq("active"))
        .select((api_tokens::id, api_tokens::last_used_at, api_tokens::scope, User::as_select()))
        .first(conn)
        .optional()?;
    let Some((token_id, last_used, scope, user)) = found else { return Ok(None) };
    if last_used.is_none_or(|at| now - at > chrono::Duration::seconds(300)) {
        let touched =
            diesel::update(api_tokens::table.find(token_id)).set(api_tokens::last_used_at.eq(now)).execute(conn);
        refresh_may_fail_on_storage(touched)?;
    }
    let roles = roles_of(conn, user.id)?;
    // Anything but an explicit read-write scope reads only.
    let via = match TokenScope::parse(&scope) {
        Some(TokenScope::ReadWrite) => AuthMethod::ApiToken { token_id },
        _ => AuthMethod::ReadOnlyApiToken { token_id },
    };
    Ok(Some(identity_for(user, roles, via)))
}

/// A "last seen" refresh that the disk refuses (full, read-only) does not stop a request that only reads:
/// the refresh is bookkeeping, tried again on the next request. Any other failure is the request's.
fn refresh_may_fail_on_storage(touched: QueryResult<usize>) -> Result<(), ServiceError> {
    match touched {
        Ok(_) => Ok(()),
        Err(e) if crate::db::storage_problem(&e).is_some() => {
            tracing::warn!(error = %e, "last-seen time not refreshed: the database cannot store changes");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The client's address as the server saw it (the proxy's, behind a proxy).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}
