//! The HTTP layer's one error type, mapped once to a status and a body: an HTML page for people,
//! `application/problem+json` under `/api`.
//!
//! A handler returns `AppError`; its `error_response` only sets the status and attaches [`Problem`]. The
//! [`render_errors`] middleware then writes the body in the form the request's path calls for, so the rule
//! lives in one place, and actix's own errors (unknown route, bad JSON) get the same treatment.

use std::fmt;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;
use tracing_actix_web::RequestId;

use crate::db::DbError;
use crate::domain::{FieldError, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the input is not valid")]
    Validation(Vec<FieldError>),
    #[error("sign in first")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    CsrfRejected,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request is larger than Steward accepts")]
    PayloadTooLarge,
    #[error("the request took too long to arrive")]
    RequestTimeout,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] DbError),
    #[error("the database cannot store changes at the moment; nothing was changed, and reading still works")]
    Unwritable(#[source] DbError),
    #[error("the database's disk is full; nothing was changed, and reading still works until space is freed")]
    StorageFull(#[source] DbError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "Bad request",
            Self::Validation(_) => "Invalid input",
            Self::Unauthenticated => "Sign in required",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::CsrfRejected => "Form expired",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::RequestTimeout => "Request timeout",
            Self::Conflict(_) => "Conflict",
            Self::RateLimited { .. } => "Too many requests",
            Self::Unavailable(_) | Self::Unwritable(_) => "Service unavailable",
            Self::StorageFull(_) => "Insufficient storage",
            Self::Internal(_) => "Internal error",
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        use crate::db::StorageProblem;
        match e.storage_problem() {
            Some(StorageProblem::Full) => return Self::StorageFull(e),
            Some(StorageProblem::Unwritable) => return Self::Unwritable(e),
            None => {}
        }
        if e.is_nul_in_text() {
            return Self::BadRequest("Text may not contain the NUL character (a zero byte).".into());
        }
        if e.is_unavailable() {
            Self::Unavailable(e)
        } else {
            Self::internal(e)
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(errors) => Self::Validation(errors),
            ServiceError::NotFound(_) => Self::NotFound,
            ServiceError::Forbidden => Self::Forbidden,
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            ServiceError::Db(e) => e.into(),
            ServiceError::Internal(message) => Self::Internal(message.into()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::internal(e)
    }
}

/// What an error response says, before it is written as HTML or JSON.
#[derive(Clone, Debug)]
pub struct Problem {
    pub title: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Unwritable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The cause goes to the log with the request's span (and so its request id); the client gets
            // a short message and the id to quote.
            tracing::error!(error = %ErrorChain(self), status = status.as_u16(), "request failed");
        }
        let detail = match self {
            Self::Validation(errors) if errors.len() == 1 => errors[0].message.clone(),
            Self::Validation(_) => "Some fields need attention.".into(),
            other => sentence(&other.to_string()),
        };
        let mut res = HttpResponse::new(status);
        if let Self::RateLimited { retry_after } = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        let errors = match self {
            Self::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        res.extensions_mut().insert(Problem { title: self.title().into(), detail, errors });
        res
    }
}

fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

/// Formats an error with its whole chain of causes, for the log.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    instance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

/// The shape of every API error, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemSchema {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The path of the request.
    pub instance: String,
    /// Quote this when asking for help; it is in the server's log lines of the request.
    pub request_id: Option<String>,
    /// Field by field, for invalid input.
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    layout: super::layout::Layout,
    status: u16,
    title: &'a str,
    detail: &'a str,
    request_id: Option<String>,
}

/// Writes the body of every error response that does not already carry a page or a problem document.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    // Inner middleware answers its errors as responses (`ServiceRequest::error_response`) so they pass here.
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body().map_into_left_body());
    }
    let problem = res.response().extensions().get::<Problem>().cloned();
    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // A handler that wrote its own body (a form shown again with its errors, a JSON status) keeps it; only
    // our errors and actix's plain-text ones are rewritten.
    let already_rendered = problem.is_none() && !content_type.is_empty() && !content_type.starts_with("text/plain");
    if already_rendered {
        return Ok(res.map_into_boxed_body().map_into_left_body());
    }

    let (req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let problem = problem.unwrap_or_else(|| {
        // One of actix's own errors (unknown route, unparsable body): its text is a useful detail for 4xx.
        let text = body.try_into_bytes().ok().and_then(|b| String::from_utf8(b.to_vec()).ok()).unwrap_or_default();
        let detail = if status.is_client_error() && !text.trim().is_empty() {
            sentence(text.trim())
        } else {
            default_detail(status).into()
        };
        Problem { title: status.canonical_reason().unwrap_or("Error").into(), detail, errors: Vec::new() }
    });
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let path = req.path().to_string();

    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    let response = if path == "/api" || path.starts_with("/api/") {
        let body = ProblemBody {
            kind: "about:blank",
            title: &problem.title,
            status: status.as_u16(),
            detail: &problem.detail,
            instance: &path,
            request_id,
            errors: &problem.errors,
        };
        builder
            .content_type("application/problem+json")
            .body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".into()))
    } else {
        let page = ErrorPage {
            layout: super::layout::Layout::plain(&problem.title),
            status: status.as_u16(),
            title: &problem.title,
            detail: &problem.detail,
            request_id,
        };
        match page.render() {
            Ok(html) => builder.content_type("text/html; charset=utf-8").body(html),
            Err(e) => {
                tracing::error!(error = %e, "error page failed to render");
                builder.content_type("text/plain; charset=utf-8").body(problem.detail.clone())
            }
        }
    };
    Ok(ServiceResponse::new(req, response).map_into_right_body())
}

fn default_detail(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "There is nothing at this address.",
        405 => "This address does not accept that method.",
        413 => "The request is larger than Steward accepts.",
        500..=599 => "Something went wrong on our side. It has been logged; quote the request id if you ask for help.",
        _ => "The request could not be handled.",
    }
}

/// Turns actix's extractor errors (bad JSON, query or path) into our 400 with the parser's own words.
pub fn bad_request_from(err: impl fmt::Display) -> actix_web::Error {
    AppError::BadRequest(err.to_string()).into()
}

/// A JSON body that cannot be used: 413 when it is too large, else 400 with the parser's words.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => AppError::PayloadTooLarge.into(),
        other => bad_request_from(other),
    }
}

/// A url-encoded body that cannot be used: 413 when it is too large, else 400 with the parser's words.
pub fn form_error(err: actix_web::error::UrlencodedError) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    match err {
        E::Overflow { .. } => AppError::PayloadTooLarge.into(),
        other => bad_request_from(other),
    }
}
