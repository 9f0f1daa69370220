//! Generic HTTP infrastructure that knows no feature: errors, security headers, layout, static assets,
//! rendering.

pub mod assets;
pub mod error;
pub mod flash;
pub mod forms;
pub mod headers;
pub mod layout;

pub use crate::domain::FieldError;
pub use error::AppError;
pub use layout::Layout;

use actix_web::HttpResponse;
use askama::Template;

/// Renders a page template as an HTML response.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page.render()?))
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
