//! CSRF protection for every state-changing form, checked here in one place so that a new form cannot
//! forget it.
//!
//! Signed in, the token is the session's own (a synchronizer token kept server-side). Before sign-in it is a
//! random value in an HttpOnly cookie that the form repeats. Forms send it as the `_csrf` field
//! (url-encoded bodies), multipart forms as the `_csrf` query parameter, scripts as `X-CSRF-Token`. The
//! API is exempt (bearer tokens, no cookies) but accepts only JSON bodies.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use futures_util::StreamExt;

use super::model::AuthMethod;
use super::session::{cookie, csrf_cookie_name, identity_of_service, is_api, session_cookie_name};
use super::tokens::random_token;
use crate::config::Config;
use crate::web::AppError;

/// POST targets that carry their own proof instead (a signature, or nothing to protect).
const EXEMPT: &[&str] = &["/csp-report", "/email/unsubscribe"];

/// Largest form body read to find the token; larger forms are refused.
const MAX_FORM_BYTES: usize = 256 * 1024;

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The methods routes take to change something (the `Router` registers no others). Any other method (TRACE,
/// one made up) reaches no handler, so it needs no token: routing answers it 405 rather than this 403.
fn may_change_state(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_string();
    let https = req.app_data::<web::Data<Config>>().map(|c| c.is_https()).unwrap_or(false);
    if is_api(&path) {
        if !is_safe(req.method()) && has_body(&req) && !is_json(&req) {
            let e = AppError::UnsupportedMediaType("The API accepts application/json bodies only.".into());
            return Ok(req.error_response(e));
        }
        return Ok(no_store(next.call(req).await?.map_into_boxed_body()));
    }
    if path.starts_with("/static/") || path == "/healthz" || path == "/readyz" {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let signed_in = req.cookie(session_cookie_name(https)).is_some();
    let cookie_token = req.cookie(csrf_cookie_name(https)).map(|c| c.value().to_string()).filter(|v| v.len() >= 32);

    if is_safe(req.method()) || !may_change_state(req.method()) || EXEMPT.contains(&path.as_str()) {
        // Safe requests touch no database here: a page that shows forms finds the session's token through
        // its identity, or this cookie's.
        let new_cookie = match &cookie_token {
            Some(t) => {
                req.extensions_mut().insert(CookieCsrfToken(t.clone()));
                None
            }
            None => {
                let t = random_token();
                req.extensions_mut().insert(CookieCsrfToken(t.clone()));
                Some(t)
            }
        };
        let mut res = next.call(req).await?.map_into_boxed_body();
        if let Some(value) = new_cookie {
            res.response_mut()
                .add_cookie(&cookie(csrf_cookie_name(https), value, https, None))
                .map_err(AppError::internal)?;
        }
        return Ok(if signed_in { no_store(res) } else { res });
    }

    let identity = match identity_of_service(&req).await {
        Ok(identity) => identity,
        Err(e) => return Ok(req.error_response(e)),
    };
    let session_token = identity.and_then(|id| match id.via {
        AuthMethod::Session { csrf_token, .. } => Some(csrf_token),
        AuthMethod::ApiToken { .. } | AuthMethod::ReadOnlyApiToken { .. } => None,
    });
    let provided = match submitted_token(&mut req).await {
        Ok(provided) => provided,
        Err(e) => return Ok(req.error_response(e)),
    };
    let matches = match (session_token.or(cookie_token), provided) {
        (Some(expected), Some(provided)) => {
            bool::from(subtle::ConstantTimeEq::ct_eq(provided.as_bytes(), expected.as_bytes()))
        }
        _ => false,
    };
    if !matches {
        return Ok(req.error_response(AppError::CsrfRejected));
    }
    let res = next.call(req).await?.map_into_boxed_body();
    Ok(if signed_in { no_store(res) } else { res })
}

/// Pages of a signed-in person and API answers are not kept by browsers or proxies.
fn no_store(mut res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    }
    res
}

/// The token of the pre-session CSRF cookie (or the one set on this response).
#[derive(Clone, Debug)]
pub struct CookieCsrfToken(pub String);

fn has_body(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v != "0")
        .unwrap_or_else(|| req.headers().contains_key(header::TRANSFER_ENCODING))
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// The token the request carries: header, url-encoded `_csrf` field (the body is read and put back), or the
/// `_csrf` query parameter.
async fn submitted_token(req: &mut ServiceRequest) -> Result<Option<String>, AppError> {
    if let Some(v) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Ok(Some(v.to_string()));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if body.len() + chunk.len() > MAX_FORM_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|fields| fields.into_iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v));
        req.set_payload(Payload::from(body));
        return Ok(token);
    }
    let from_query = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v));
    Ok(from_query)
}
