//! The outbox table: writing messages in the caller's transaction, and the claims and outcomes of the workers
//! that deliver them.
//!
//! A message is `pending` until it is `sent`, given up as `dead` (a permanent failure, or temporary failures
//! until the attempts ran out), or `cancelled` (its recipient turned the category off, or an administrator
//! cancelled it). A worker claims due pending messages by setting `locked_until` (its lease) and `locked_by`,
//! sends them with no transaction open, and records each outcome only if the claim is still its own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{preferences, Category, Rendered};
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

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    Sent,
    Dead,
    Cancelled,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 4] = [Self::Pending, Self::Sent, Self::Dead, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// One outbox row as a worker sends it.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: i64,
    pub idempotency_key: String,
    pub category: String,
    pub user_id: Option<i64>,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Tries started, this one included once claimed.
    pub attempts: i32,
}

/// A due row as a claim finds it: the message, and the worker whose claim lapsed, if one did.
#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct DueRow {
    #[diesel(embed)]
    message: OutboxMessage,
    locked_by: Option<String>,
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
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
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
        status: OutboxStatus::Pending.as_str(),
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

/// What one claim took, and what it settled without sending.
#[derive(Debug, Default)]
pub struct Claim {
    /// Messages now leased to the claiming worker, with `attempts` counting this try.
    pub messages: Vec<OutboxMessage>,
    /// Bulk messages whose recipient turned their category off.
    pub cancelled: usize,
    /// Messages out of attempts before this try: their last allowed try never finished (its worker stopped),
    /// or the limit was lowered since.
    pub dead: usize,
}

/// The terms of a claim.
#[derive(Clone, Debug)]
pub struct ClaimRequest<'a> {
    pub worker: &'a str,
    pub now: NaiveDateTime,
    pub lease_until: NaiveDateTime,
    pub limit: i64,
    pub max_attempts: i32,
}

/// Claims up to `limit` due messages for `worker` in one short write transaction: on PostgreSQL the rows are
/// picked with `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint sets without waiting; on SQLite
/// `BEGIN IMMEDIATE` makes claims take turns. A message is due when it is pending, its next attempt has come,
/// and no live lease holds it, so a message whose worker died is taken again once its lease has run out.
/// Bulk messages whose recipient opted out are cancelled here rather than sent.
pub fn claim(conn: &mut DbConn, request: &ClaimRequest<'_>) -> Result<Claim, DbError> {
    db::write_transaction(conn, |conn| {
        // Written out per backend: the selected row type is tied to the backend it is loaded on.
        macro_rules! due {
            () => {
                outbox::table
                    .filter(outbox::status.eq(OutboxStatus::Pending.as_str()))
                    .filter(outbox::next_attempt_at.le(request.now))
                    .filter(outbox::locked_until.is_null().or(outbox::locked_until.le(request.now)))
                    .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
                    .limit(request.limit)
                    .select(DueRow::as_select())
            };
        }
        let rows: Vec<DueRow> = match conn {
            DbConn::Postgres(pg) => due!().for_update().skip_locked().load(pg)?,
            // BEGIN IMMEDIATE already holds SQLite's one write lock: no other claim runs until this commits.
            DbConn::Sqlite(lite) => due!().load(lite)?,
        };
        let mut claim = Claim::default();
        if rows.is_empty() {
            return Ok(claim);
        }

        let (exhausted, rows): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|due| due.message.attempts >= request.max_attempts);
        for due in &exhausted {
            let why = if due.locked_by.is_some() {
                format!(
                    "gave up after {} attempts; the last one never finished (its worker stopped)",
                    due.message.attempts
                )
            } else {
                format!("gave up: tried {} times, and the limit is now {}", due.message.attempts, request.max_attempts)
            };
            claim.dead += diesel::update(outbox::table.find(due.message.id))
                .set((
                    outbox::status.eq(OutboxStatus::Dead.as_str()),
                    outbox::last_error.eq(why),
                    outbox::locked_until.eq(None::<NaiveDateTime>),
                    outbox::locked_by.eq(None::<String>),
                    outbox::updated_at.eq(request.now),
                ))
                .execute(conn)?;
        }
        let rows: Vec<OutboxMessage> = rows.into_iter().map(|due| due.message).collect();

        let bulk_users: Vec<i64> = rows
            .iter()
            .filter(|m| Category::parse(&m.category).is_some_and(Category::is_bulk))
            .filter_map(|m| m.user_id)
            .collect();
        let choices = preferences::for_users(conn, &bulk_users)?;
        let (opted_out, rows): (Vec<_>, Vec<_>) = rows.into_iter().partition(|m| {
            match (Category::parse(&m.category), m.user_id.and_then(|u| choices.get(&u))) {
                (Some(category), Some(prefs)) => !prefs.wants(category),
                _ => false,
            }
        });
        for message in &opted_out {
            claim.cancelled += diesel::update(outbox::table.find(message.id))
                .set((
                    outbox::status.eq(OutboxStatus::Cancelled.as_str()),
                    outbox::last_error.eq(format!("the recipient turned off {} emails", message.category)),
                    outbox::locked_until.eq(None::<NaiveDateTime>),
                    outbox::locked_by.eq(None::<String>),
                    outbox::updated_at.eq(request.now),
                ))
                .execute(conn)?;
        }

        let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
        if !ids.is_empty() {
            diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                .set((
                    outbox::attempts.eq(outbox::attempts + 1),
                    outbox::locked_until.eq(request.lease_until),
                    outbox::locked_by.eq(request.worker),
                    outbox::updated_at.eq(request.now),
                ))
                .execute(conn)?;
        }
        claim.messages = rows.into_iter().map(|m| OutboxMessage { attempts: m.attempts + 1, ..m }).collect();
        Ok(claim)
    })
}

/// How one try ended, as the worker records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// A temporary failure with tries left: try again at `at`.
    RetryAt {
        at: NaiveDateTime,
        error: String,
    },
    /// A permanent failure, or the last try failed.
    Dead {
        error: String,
    },
    /// Not tried: the lease ran too short to start. The try is not counted.
    Released,
}

/// Records the outcome of `worker`'s try of message `id`. Returns false, changing nothing, when the claim is no
/// longer this worker's (its lease ran out and another worker took the message, or an administrator acted).
pub fn record(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let mine = outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::status.eq(OutboxStatus::Pending.as_str()))
        .filter(outbox::locked_by.eq(worker));
    let unlocked = (outbox::locked_until.eq(None::<NaiveDateTime>), outbox::locked_by.eq(None::<String>));
    let changed = match outcome {
        Outcome::Sent => {
            // Once delivered, the personal links in the body are the recipient's alone: Steward keeps the
            // message with their tokens replaced, so a copy of the database holds no usable link.
            let bodies: Option<(String, String)> =
                mine.select((outbox::body_text, outbox::body_html)).first(conn).optional()?;
            let Some((text, html)) = bodies else { return Ok(false) };
            diesel::update(mine)
                .set((
                    outbox::status.eq(OutboxStatus::Sent.as_str()),
                    outbox::sent_at.eq(now),
                    outbox::updated_at.eq(now),
                    outbox::body_text.eq(redact_links(&text)),
                    outbox::body_html.eq(redact_links(&html)),
                    unlocked,
                ))
                .execute(conn)?
        }
        Outcome::RetryAt { at, error } => diesel::update(mine)
            .set((outbox::next_attempt_at.eq(at), outbox::last_error.eq(error), outbox::updated_at.eq(now), unlocked))
            .execute(conn)?,
        Outcome::Dead { error } => diesel::update(mine)
            .set((
                outbox::status.eq(OutboxStatus::Dead.as_str()),
                outbox::last_error.eq(error),
                outbox::updated_at.eq(now),
                unlocked,
            ))
            .execute(conn)?,
        Outcome::Released => diesel::update(mine)
            .set((outbox::attempts.eq(outbox::attempts - 1), outbox::updated_at.eq(now), unlocked))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// The paths whose last segment is a secret token: a survey link, an account invitation, a password reset.
pub const SECRET_LINK_PATHS: [&str; 3] = ["/s/", "/invitation/", "/password/reset/"];

/// What a delivered message keeps in place of a link's token.
pub const REDACTED: &str = "REDACTED-AFTER-DELIVERY";

/// Tokens are URL-safe base64 of 32 bytes; anything this long after one of [`SECRET_LINK_PATHS`] is one.
const MIN_TOKEN_LEN: usize = 20;

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The byte ranges of the tokens of personal links in `body`.
fn secret_tokens(body: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    for path in SECRET_LINK_PATHS {
        for (at, _) in body.match_indices(path) {
            let start = at + path.len();
            let len = body[start..].find(|c: char| !token_char(c)).unwrap_or(body.len() - start);
            if len >= MIN_TOKEN_LEN && &body[start..start + len] != REDACTED {
                found.push(start..start + len);
            }
        }
    }
    found.sort_by_key(|r| r.start);
    found.dedup();
    found
}

/// `body` with the token of every personal link replaced by [`REDACTED`].
pub fn redact_links(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut from = 0;
    for range in secret_tokens(body) {
        if range.start < from {
            continue;
        }
        out.push_str(&body[from..range.start]);
        out.push_str(REDACTED);
        from = range.end;
    }
    out.push_str(&body[from..]);
    out
}

/// Whether `body` still holds the token of a personal link.
pub fn holds_secret_link(body: &str) -> bool {
    !secret_tokens(body).is_empty()
}

/// Empties the bodies of messages settled (sent, dead or cancelled) before `cutoff`: delivered mail is the
/// recipient's, and Steward keeps only who was sent what subject when. Returns how many were emptied.
pub fn purge_bodies(conn: &mut DbConn, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::status.ne(OutboxStatus::Pending.as_str()))
            .filter(outbox::updated_at.lt(cutoff))
            .filter(outbox::body_text.ne("").or(outbox::body_html.ne(""))),
    )
    .set((outbox::body_text.eq(""), outbox::body_html.eq("")))
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_links_lose_their_tokens_and_nothing_else() {
        let token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd";
        let body = format!(
            "Answer at https://x.org/s/{token} or reset at <a href=\"https://x.org/password/reset/{token}\">here</a>; \
             join: https://x.org/invitation/{token}. See https://x.org/surveys/12 and https://x.org/s/short."
        );
        let redacted = redact_links(&body);
        assert!(!redacted.contains(token), "{redacted}");
        assert_eq!(redacted.matches(REDACTED).count(), 3);
        assert!(redacted.contains("https://x.org/surveys/12") && redacted.contains("/s/short."));
        assert!(holds_secret_link(&body) && !holds_secret_link(&redacted));
        assert_eq!(redact_links("no links at all"), "no links at all");
    }
}
