//! Form helpers: field errors for templates, and url-encoded bodies with repeated fields (checkboxes).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::AppError;
use crate::domain::{FieldError, ServiceError};

/// Splits validation errors (shown on the form again, next to their fields) from every other error (an
/// error page).
pub fn form_errors(e: ServiceError) -> Result<FormErrors, AppError> {
    match e {
        ServiceError::Validation(errors) => Ok(FormErrors(errors)),
        other => Err(other.into()),
    }
}

/// The errors of a submitted form, looked up by field in templates.
#[derive(Clone, Debug, Default)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A url-encoded form as ordered pairs, so repeated names (checkbox groups) keep every value.
#[derive(Clone, Debug, Default)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// Money moving or something undoable needs its box ticked (`confirm=yes`, see the `confirm` macro in
    /// `templates/forms.html`); otherwise a field error on `confirm` saying what to confirm.
    pub fn confirmed(&self, what: &str) -> Result<(), ServiceError> {
        if self.get("confirm") == "yes" {
            Ok(())
        } else {
            Err(ServiceError::invalid("confirm", format!("Tick the box to confirm {what}.")))
        }
    }
}

impl FromRequest for FormFields {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move { Ok(FormFields(form.await?.into_inner())) })
    }
}

/// The bytes of the file sent in the multipart field `name`, refused past `max` bytes.
pub async fn read_upload(
    mut payload: actix_multipart::Multipart,
    name: &str,
    max: usize,
) -> Result<(String, Vec<u8>), AppError> {
    use futures_util::StreamExt;
    let mut data = Vec::new();
    let mut filename = String::new();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(e.to_string()))?;
        if field.name() != Some(name) {
            continue;
        }
        filename = field.content_disposition().and_then(|d| d.get_filename()).unwrap_or_default().to_string();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if data.len() + chunk.len() > max {
                return Err(AppError::PayloadTooLarge);
            }
            data.extend_from_slice(&chunk);
        }
    }
    Ok((filename, data))
}

/// A filter's number that may be left blank (the "All" choice of a select submits `year=`): blank is `None`,
/// anything else must parse. Use with `#[serde(default, deserialize_with = "...")]`.
pub fn blank_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => value.parse().map(Some).map_err(serde::de::Error::custom),
    }
}
