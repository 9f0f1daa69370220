//! Idempotency keys for the API's money POSTs (payments, adjustments, transfers, reversals, disbursement
//! requests and payments, allocations). A client that sends `Idempotency-Key: <key>` and retries after a lost
//! answer gets exactly the first answer (status and body) and nothing is recorded twice; the same key with a
//! different body is refused (422). Without the header a request is handled as always.
//!
//! A key is stored as SHA-256 over (caller, method, path, key), with SHA-256 of the request body and the answer
//! given, in `idempotency_keys`, written in the same transaction as the change it answers for, so the change
//! and its key are stored together or not at all. Only answers of changes that happened are kept: a refused
//! request keeps nothing and may be retried with the same key. Keys count for [`KEPT_HOURS`] hours; an older
//! key is replaced when used again (deleting old rows in bulk can be a housekeeping job later).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::db::{self, Db, DbConn};
use crate::domain::ServiceError;
use crate::web::AppError;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";

/// How long a key answers for.
pub const KEPT_HOURS: i64 = 24;

/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;

/// A request's key: who, where and which key, hashed; and its body, hashed.
#[derive(Clone, Debug)]
pub struct Key {
    key_hash: String,
    request_hash: String,
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Each part with its length, so no two different lists of parts hash alike.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

impl Key {
    /// The request's key, or none without the header. A key is 1 to 255 visible ASCII characters (a UUID is
    /// a good choice); anything else is a 400.
    pub fn from_request(req: &HttpRequest, caller: i64, body: &impl Serialize) -> Result<Option<Key>, AppError> {
        let Some(value) = req.headers().get(HEADER) else { return Ok(None) };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LENGTH && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID."
                ))
            })?;
        let body = serde_json::to_vec(body).map_err(AppError::internal)?;
        let caller = caller.to_string();
        Ok(Some(Key {
            key_hash: sha256_hex(&[
                caller.as_bytes(),
                req.method().as_str().as_bytes(),
                req.path().as_bytes(),
                key.as_bytes(),
            ]),
            request_hash: sha256_hex(&[&body]),
        }))
    }
}

/// What was answered for a key.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn response(&self) -> HttpResponse {
        HttpResponse::build(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK))
            .content_type("application/json")
            .body(self.body.clone())
    }
}

/// The stored answer for `key` if it is still kept; refused when the key came with another body.
fn stored(conn: &mut DbConn, key: &Key) -> Result<Option<Answer>, ServiceError> {
    let since = db::now() - chrono::Duration::hours(KEPT_HOURS);
    let row: Option<(String, i32, String)> = idempotency_keys::table
        .find(&key.key_hash)
        .filter(idempotency_keys::created_at.gt(since))
        .select((idempotency_keys::request_hash, idempotency_keys::status, idempotency_keys::body))
        .first(conn)
        .optional()?;
    match row {
        Some((request_hash, _, _)) if request_hash != key.request_hash => Err(ServiceError::invalid(
            HEADER,
            format!("This {HEADER} was used with a different request; use a new key for a new request."),
        )),
        Some((_, status, body)) => Ok(Some(Answer { status: status as u16, body })),
        None => Ok(None),
    }
}

/// Runs `change` in one transaction and answers `status` with its JSON; with a key, the answer is stored in
/// that transaction, and a repeated key answers what was stored without running `change` again.
pub async fn respond<T, F>(db: &Db, key: Option<Key>, status: StatusCode, change: F) -> Result<HttpResponse, AppError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, ServiceError> + Send + 'static,
{
    let Some(key) = key else {
        let value = db.run(change).await?;
        let body = serde_json::to_string(&value).map_err(AppError::internal)?;
        return Ok(Answer { status: status.as_u16(), body }.response());
    };
    let first = key.clone();
    let outcome: Result<Answer, ServiceError> = db
        .run(move |conn| {
            db::write_transaction(conn, |conn| {
                if let Some(answer) = stored(conn, &first)? {
                    return Ok(answer);
                }
                // A key older than KEPT_HOURS starts afresh.
                diesel::delete(idempotency_keys::table.find(&first.key_hash)).execute(conn)?;
                let value = change(conn)?;
                let body = serde_json::to_string(&value).map_err(|e| ServiceError::Internal(e.to_string()))?;
                diesel::insert_into(idempotency_keys::table)
                    .values((
                        idempotency_keys::key_hash.eq(&first.key_hash),
                        idempotency_keys::request_hash.eq(&first.request_hash),
                        idempotency_keys::status.eq(i32::from(status.as_u16())),
                        idempotency_keys::body.eq(&body),
                        idempotency_keys::created_at.eq(db::now()),
                    ))
                    .execute(conn)?;
                Ok(Answer { status: status.as_u16(), body })
            })
        })
        .await;
    match outcome {
        Ok(answer) => Ok(answer.response()),
        // Two requests with one key at the same moment (PostgreSQL): the second's insert of the key fails and
        // its change is rolled back; it answers what the first stored.
        Err(e) => match db.run(move |conn| stored(conn, &key)).await {
            Ok(Some(answer)) => Ok(answer.response()),
            _ => Err(e.into()),
        },
    }
}
