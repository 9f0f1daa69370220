//! One-time messages shown on the page after a redirect ("Invitation sent."), carried in a short-lived
//! cookie.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

use crate::config::Config;

const COOKIE: &str = "steward_flash";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// `success`, `info` or `error`; also the CSS class.
    pub kind: &'static str,
    pub message: String,
}

/// A 303 redirect that shows `message` on the next page.
pub fn redirect(location: &str, kind: &'static str, message: &str, https: bool) -> HttpResponse {
    let value = format!("{kind}:{message}");
    let cookie = Cookie::build(COOKIE, super::url_encode(&value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(time::Duration::seconds(120))
        .finish();
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_string())).cookie(cookie).finish()
}

/// A plain 303 redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_string())).finish()
}

/// Reads the cookie a client sends back (untrusted: anything may come; public for the fuzz targets).
pub fn parse(raw: &str) -> Option<Flash> {
    let decoded = percent_decode(raw)?;
    let (kind, message) = decoded.split_once(':')?;
    let kind = ["success", "info", "error"].into_iter().find(|k| *k == kind)?;
    Some(Flash { kind, message: message.chars().take(300).collect() })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Moves the flash cookie into the request (for the page to show) and clears it on the way out, unless the
/// response sets a new one.
pub async fn carry(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let https = req.app_data::<web::Data<Config>>().map(|c| c.is_https()).unwrap_or(false);
    let had = req.cookie(COOKIE).map(|c| c.value().to_string());
    if let Some(flash) = had.as_deref().and_then(parse) {
        req.extensions_mut().insert(flash);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let sets_new = res.response().cookies().any(|c| c.name() == COOKIE);
    if had.is_some() && !sets_new {
        let mut removal = Cookie::build(COOKIE, "").path("/").http_only(true).secure(https).finish();
        removal.make_removal();
        let _ = res.response_mut().add_cookie(&removal);
    }
    Ok(res)
}
