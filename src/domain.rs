//! Types every feature's service shares: the service error and field-level validation messages.
//!
//! Services return [`ServiceError`]; the web layer maps it to a status once (`web::error`). Nothing here
//! knows about HTTP.

use serde::Serialize;
use validator::{Validate, ValidationErrors};

use crate::db::DbError;

/// A message about one input field: shown next to it on a form, listed in problem+json.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// The client address of the HTTP request being served, for the audit log: set for each request by the app
/// (`app::start`), carried onto the blocking thread by `db::Db::run`, read by `audit::record`. Services need
/// not pass it along by hand, so no event from a request goes without it.
pub mod client {
    use std::cell::RefCell;
    use std::future::Future;

    tokio::task_local! {
        static REQUEST_ADDR: Option<String>;
    }

    thread_local! {
        static THREAD_ADDR: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Runs `f` (a request's handling) with `addr` as its client address.
    pub async fn scope<F: Future>(addr: Option<String>, f: F) -> F::Output {
        REQUEST_ADDR.scope(addr, f).await
    }

    /// The address of the request this code serves, if any.
    pub fn current() -> Option<String> {
        REQUEST_ADDR.try_with(Clone::clone).ok().flatten().or_else(|| THREAD_ADDR.with(|a| a.borrow().clone()))
    }

    /// Sets the address on this (blocking) thread until the guard is dropped.
    pub fn enter(addr: Option<String>) -> Entered {
        let previous = THREAD_ADDR.with(|a| a.replace(addr));
        Entered { previous }
    }

    /// Puts the thread's previous address back when dropped.
    pub struct Entered {
        previous: Option<String>,
    }

    impl Drop for Entered {
        fn drop(&mut self) {
            let previous = self.previous.take();
            THREAD_ADDR.with(|a| *a.borrow_mut() = previous);
        }
    }
}

/// Why a service refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the input is not valid")]
    Validation(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Db(#[from] DbError),
    /// Something that should not happen (a template that fails to render, a worker thread gone).
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// Reads a `YYYY-MM-DD` date typed into `field`, noting a clear error when it is not one.
pub fn parse_date(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<chrono::NaiveDate> {
    match chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) if raw.trim().is_empty() => {
            errors.push(FieldError::new(field, "Enter a date like 2027-01-01."));
            None
        }
        Err(_) => {
            errors.push(FieldError::new(field, format!("'{}' is not a date like 2027-01-01.", raw.trim())));
            None
        }
    }
}

/// Reads an optional id chosen from a list ("" for none), noting a clear error when it is not a number.
pub fn parse_optional_id(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    match raw.trim() {
        "" => None,
        v => v.parse().map_err(|_| errors.push(FieldError::new(field, "Choose one from the list."))).ok(),
    }
}

/// The messages of some field errors as one sentence, for a form that is a row of a list (shown at the top
/// of the page rather than beside a field).
/// Rows to skip for page `page` (counted from 1) of `per_page` rows. A page below 1 is the first, and a page
/// far past the end stays past it (an empty page) instead of overflowing.
pub fn page_offset(page: i64, per_page: i64) -> i64 {
    page.max(1).saturating_sub(1).saturating_mul(per_page)
}

pub fn messages(errors: Vec<FieldError>) -> String {
    errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" ")
}

/// Reads an amount typed into `field` in `currency`, noting a clear error when it is not one.
pub fn parse_money(raw: &str, currency: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    crate::money::parse_amount(raw, currency).map_err(|e| errors.push(FieldError::new(field, e))).ok()
}

/// One problem in an imported file: its line (the header is line 1) and column.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportProblem {
    pub line: usize,
    pub column: String,
    pub message: String,
}

/// Why an import wrote nothing: the problems of its rows, or a service error.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has {} problem(s)", .0.len())]
    Problems(Vec<ImportProblem>),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Service(e.into())
    }
}

/// Why a name or title cannot be shown as it is, if it cannot: characters that are invisible or that
/// reorder the text around them. Bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to
/// U+2069) can make a name read as another ("Trojan Source"); zero-width characters (U+200B to U+200D,
/// U+2060, U+FEFF) make two names that look the same differ; control characters (NUL included, which
/// PostgreSQL cannot store and SQLite would) have no place in a name. Every service checks names and titles
/// through [`check_name`] (or the `validator` rule [`visible_text`]), before the database.
pub fn hidden_characters(value: &str) -> Option<&'static str> {
    for c in value.chars() {
        match c {
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                return Some("Remove the hidden text-direction characters (bidirectional overrides) from it.")
            }
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {
                return Some("Remove the invisible zero-width characters from it.")
            }
            c if c.is_control() => return Some("Remove the control characters (such as line breaks or NUL) from it."),
            _ => {}
        }
    }
    None
}

/// A name or title as people typed it, checked: no hidden characters ([`hidden_characters`]), then trimmed
/// and between 1 and `max` characters. Notes a field error and answers `None` when it is not one.
pub fn check_name(raw: &str, field: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    if let Some(problem) = hidden_characters(raw) {
        errors.push(FieldError::new(field, problem));
        return None;
    }
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > max {
        errors.push(FieldError::new(field, format!("Give a name of 1 to {max} characters.")));
        return None;
    }
    Some(value.to_string())
}

/// The `validator` rule for names and titles: `#[validate(custom(function = "crate::domain::visible_text"))]`.
pub fn visible_text(value: &str) -> Result<(), validator::ValidationError> {
    match hidden_characters(value) {
        Some(problem) => Err(validator::ValidationError::new("hidden_characters").with_message(problem.into())),
        None => Ok(()),
    }
}

/// Runs the `validator` rules of an input and turns failures into field errors, in field order.
pub fn check(input: &impl Validate) -> Result<(), ServiceError> {
    input.validate().map_err(|e| ServiceError::Validation(field_errors(&e)))
}

pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, errs)| {
            errs.iter().map(move |e| {
                let message =
                    e.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| format!("{field} is not valid"));
                FieldError::new(field.to_string(), message)
            })
        })
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, tab or
/// carriage return gets a leading apostrophe. Plain numbers, negative ones included, stay numbers.
pub fn csv_cell(value: &str) -> String {
    let number = {
        let digits = value.strip_prefix('-').unwrap_or(value);
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.chars().filter(|c| *c == '.').count() <= 1
            && !digits.starts_with('.')
    };
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !number {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_cell, hidden_characters};

    #[test]
    fn names_with_hidden_characters_are_refused() {
        for bad in [
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{2069}",
            "\u{200B}a",
            "a\u{200D}",
            "a\u{2060}b",
            "\u{FEFF}a",
            "a\0b",
            "a\nb",
            "a\u{7}",
        ] {
            assert!(hidden_characters(bad).is_some(), "{bad:?} passed");
        }
        for good in ["Acme e.V.", "Zürich Öffentlich", "日本語", "مرحبا", "O'Brien & Co", "a b"] {
            assert!(hidden_characters(good).is_none(), "{good:?} refused");
        }
    }

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("@cmd"), "'@cmd");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("-12.50"), "-12.50");
        assert_eq!(csv_cell("Acme"), "Acme");
    }
}
