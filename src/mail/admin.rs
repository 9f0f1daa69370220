//! The mail queue as an administrator and an operator see it: counts, a page of messages by status, sending a
//! dead message again, cancelling a pending one; and the few numbers `/readyz` shows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::outbox::OutboxStatus;
use crate::db::schema::outbox;
use crate::db::{self, DbConn, DbError};
use crate::domain::ServiceError;

/// How many messages are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub pending: i64,
    pub sent: i64,
    pub dead: i64,
    pub cancelled: i64,
}

pub fn counts(conn: &mut DbConn) -> Result<QueueCounts, ServiceError> {
    let rows: Vec<(String, i64)> =
        outbox::table.group_by(outbox::status).select((outbox::status, diesel::dsl::count_star())).load(conn)?;
    let mut counts = QueueCounts::default();
    for (status, n) in rows {
        match OutboxStatus::parse(&status) {
            Some(OutboxStatus::Pending) => counts.pending = n,
            Some(OutboxStatus::Sent) => counts.sent = n,
            Some(OutboxStatus::Dead) => counts.dead = n,
            Some(OutboxStatus::Cancelled) => counts.cancelled = n,
            None => {}
        }
    }
    Ok(counts)
}

/// The queue's health for operators, in `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueHealth {
    /// Messages not yet sent, including those waiting to be tried again.
    pub pending: i64,
    /// How long the oldest pending message has waited; 0 when none is pending.
    pub oldest_pending_age_seconds: i64,
    /// Messages given up on; an administrator can send them again.
    pub dead: i64,
}

pub fn queue_health(conn: &mut DbConn, now: NaiveDateTime) -> Result<QueueHealth, DbError> {
    let pending_rows = || outbox::table.filter(outbox::status.eq(OutboxStatus::Pending.as_str()));
    let pending: i64 = pending_rows().count().get_result(conn)?;
    let oldest: Option<NaiveDateTime> = pending_rows().select(diesel::dsl::min(outbox::created_at)).first(conn)?;
    let dead: i64 = outbox::table.filter(outbox::status.eq(OutboxStatus::Dead.as_str())).count().get_result(conn)?;
    let oldest_pending_age_seconds = oldest.map_or(0, |at| (now - at).num_seconds().max(0));
    Ok(QueueHealth { pending, oldest_pending_age_seconds, dead })
}

/// One message as the queue page lists it.
#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbox)]
pub struct QueueEntry {
    pub id: i64,
    pub status: String,
    pub category: String,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// One page of the queue.
#[derive(Clone, Debug, Serialize)]
pub struct QueuePage {
    pub entries: Vec<QueueEntry>,
    /// Messages with this status in all.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl QueuePage {
    pub fn page_count(&self) -> u32 {
        let per_page = i64::from(self.per_page.max(1));
        u32::try_from((self.total + per_page - 1) / per_page).unwrap_or(u32::MAX)
    }
}

pub const MAX_PER_PAGE: u32 = 200;

/// Page `page` (from 1) of the messages with `status`: pending ones oldest first (what is stuck), the others
/// newest first.
pub fn list(conn: &mut DbConn, status: OutboxStatus, page: u32, per_page: u32) -> Result<QueuePage, ServiceError> {
    if page == 0 {
        return Err(ServiceError::invalid("page", "pages are numbered from 1"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ServiceError::invalid("per_page", format!("show from 1 to {MAX_PER_PAGE} messages a page")));
    }
    let with_status = || outbox::table.filter(outbox::status.eq(status.as_str()));
    let total: i64 = with_status().count().get_result(conn)?;
    let offset = i64::from(page - 1) * i64::from(per_page);
    let query = with_status().select(QueueEntry::as_select()).limit(i64::from(per_page)).offset(offset);
    let entries = if status == OutboxStatus::Pending {
        query.order(outbox::id.asc()).load(conn)?
    } else {
        query.order(outbox::id.desc()).load(conn)?
    };
    Ok(QueuePage { entries, total, page, per_page })
}

/// The message's lease, when it is in status `wanted`; otherwise why `action` does not apply to it.
fn lease_if_status(
    conn: &mut DbConn,
    id: i64,
    wanted: OutboxStatus,
    action: &str,
) -> Result<Option<NaiveDateTime>, ServiceError> {
    let row: Option<(String, Option<NaiveDateTime>)> =
        outbox::table.find(id).select((outbox::status, outbox::locked_until)).first(conn).optional()?;
    let (status, locked_until) = row.ok_or(ServiceError::NotFound("message"))?;
    if status != wanted.as_str() {
        return Err(ServiceError::Conflict(format!(
            "only a {} message can be {action}; this one is {status}",
            wanted.as_str()
        )));
    }
    Ok(locked_until)
}

/// Sends a dead message again: back to pending, due now, with its attempts counted from zero. Its last error
/// stays until the next try replaces it.
pub fn retry(conn: &mut DbConn, id: i64) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        lease_if_status(conn, id, OutboxStatus::Dead, "sent again")?;
        let now = db::now();
        diesel::update(outbox::table.find(id))
            .set((
                outbox::status.eq(OutboxStatus::Pending.as_str()),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::locked_until.eq(None::<NaiveDateTime>),
                outbox::locked_by.eq(None::<String>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Cancels a pending message, unless a worker is sending it right now.
pub fn cancel(conn: &mut DbConn, id: i64) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let locked_until = lease_if_status(conn, id, OutboxStatus::Pending, "cancelled")?;
        let now = db::now();
        if locked_until.is_some_and(|until| until > now) {
            return Err(ServiceError::Conflict("this message is being sent right now; try again shortly".into()));
        }
        diesel::update(outbox::table.find(id))
            .set((
                outbox::status.eq(OutboxStatus::Cancelled.as_str()),
                outbox::last_error.eq("cancelled by an administrator"),
                outbox::locked_until.eq(None::<NaiveDateTime>),
                outbox::locked_by.eq(None::<String>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}
