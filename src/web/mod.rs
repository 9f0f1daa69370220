//! Generic HTTP infrastructure that knows no feature: errors, security headers, layout, static assets,
//! rendering.

pub mod assets;
pub mod chart;
pub mod error;
pub mod flash;
pub mod forms;
pub mod headers;
pub mod idempotency;
pub mod layout;
pub mod limits;

pub use crate::domain::FieldError;
pub use error::AppError;
pub use layout::Layout;

use actix_web::HttpResponse;
use askama::Template;

/// Renders a page template as an HTML response.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page.render()?))
}

/// Renders a page with another status, e.g. a form shown again with its errors (422).
pub fn render_status(page: &impl Template, status: actix_web::http::StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = render(page)?;
    *res.status_mut() = status;
    Ok(res)
}

/// A CSV file to download.
pub fn csv_download(filename: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(body)
}

/// Percent-encodes everything but unreserved characters, for a query value or a path segment.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
