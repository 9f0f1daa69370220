//! Writing messages to the outbox.

use diesel::prelude::*;

use super::{Category, Rendered};
use crate::db::schema::outbox;
use crate::db::{self, DbConn, DbError};

/// A message ready to queue.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Unique per logical message, e.g. `report:2026-Q3:user:42`; queuing the same key again does nothing.
    pub idempotency_key: String,
    pub category: Category,
    /// The recipient's account, when they have one (for preferences and the unsubscribe link).
    pub user_id: Option<i64>,
    pub to_address: String,
    pub to_name: Option<String>,
    pub content: Rendered,
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewOutboxRow<'a> {
    idempotency_key: &'a str,
    category: &'a str,
    user_id: Option<i64>,
    to_address: &'a str,
    to_name: Option<&'a str>,
    subject: &'a str,
    body_text: &'a str,
    body_html: &'a str,
    status: &'a str,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

/// Queues `message` on `conn`, inside the caller's transaction, so it is sent if and only if the change that
/// caused it commits. Returns whether a new row was written (false: the key was already queued).
pub fn enqueue(conn: &mut DbConn, message: &Outgoing) -> Result<bool, DbError> {
    let now = db::now();
    let row = NewOutboxRow {
        idempotency_key: &message.idempotency_key,
        category: message.category.as_str(),
        user_id: message.user_id,
        to_address: &message.to_address,
        to_name: message.to_name.as_deref(),
        subject: &message.content.subject,
        body_text: &message.content.text,
        body_html: &message.content.html,
        status: "pending",
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
    };
    let inserted = crate::on_backend!(conn, |c| diesel::insert_into(outbox::table)
        .values(&row)
        .on_conflict(outbox::idempotency_key)
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}
