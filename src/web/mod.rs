//! Generic HTTP infrastructure that knows no feature: errors, security headers, layout, static assets,
//! rendering.

pub mod assets;
pub mod error;
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
