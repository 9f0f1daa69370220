//! Security headers on every response.

use actix_web::middleware::DefaultHeaders;

/// No inline script or style anywhere, no framing, no referrer leaking paths to other sites; browsers report
/// policy violations to `/csp-report` so a page that breaks the policy shows up in the log.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; \
     report-uri /csp-report";

pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if https {
        headers.add(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    } else {
        headers
    }
}

/// Where browsers send Content-Security-Policy violation reports (`POST /csp-report`); they are logged,
/// nothing is stored. Bodies over 16 KiB are refused.
pub async fn csp_report(mut payload: actix_web::web::Payload) -> Result<actix_web::HttpResponse, super::AppError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| super::AppError::BadRequest(e.to_string()))?;
        if body.len() + chunk.len() > 16 * 1024 {
            return Err(super::AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let report = report.get("csp-report").unwrap_or(&report);
    let field = |name: &str| report.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
    // Only the origin of what was blocked: a full URL could carry a token in its query.
    let blocked = field("blocked-uri");
    let blocked = blocked.split(['?', '#']).next().unwrap_or_default();
    tracing::warn!(directive = %field("violated-directive"), blocked = %blocked, "content security policy violation");
    Ok(actix_web::HttpResponse::NoContent().finish())
}
