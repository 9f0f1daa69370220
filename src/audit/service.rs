//! Writing and reading the audit log. Only [`record`] writes; nothing updates or deletes.

use diesel::prelude::*;

use super::model::{AuditEvent, NewAuditEvent};
use crate::db::schema::{audit_events, users};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;

/// Who acted.
#[derive(Clone, Debug)]
pub enum Actor {
    User(i64),
    /// Someone not signed in (a failed sign-in, a password-reset request).
    Anonymous,
    /// The `steward` command on the server.
    Cli,
    /// Scheduled jobs.
    System,
}

/// One thing that happened. `details` must hold no secret: no password, token or code.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub actor: Actor,
    pub action: &'a str,
    pub target: Option<(&'a str, String)>,
    pub ip: Option<&'a str>,
    pub details: serde_json::Value,
}

impl<'a> Event<'a> {
    pub fn new(actor: Actor, action: &'a str) -> Self {
        Self { actor, action, target: None, ip: None, details: serde_json::json!({}) }
    }

    pub fn target(mut self, kind: &'a str, id: impl ToString) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }

    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        self.ip = ip;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Old and new values of what an edit changed, kept in `details.changes` (see [`Changes`]).
    pub fn changes(mut self, changes: Changes) -> Self {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert("changes".into(), changes.into_value());
        }
        self
    }
}

/// The fields an edit changed, each with its old and new value; fields whose values are equal are left out.
/// In an event's details as `"changes": {"name": {"old": "Acme", "new": "Acme Inc"}}`, shown on the audit
/// page as `name: Acme → Acme Inc`.
#[derive(Clone, Debug, Default)]
pub struct Changes(serde_json::Map<String, serde_json::Value>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `field` when `old` and `new` differ. Values are what the API shows (serde), never a secret.
    pub fn field<T: serde::Serialize + PartialEq + ?Sized>(mut self, field: &str, old: &T, new: &T) -> Self {
        if old != new {
            let value = |v: &T| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
            self.0.insert(field.into(), serde_json::json!({ "old": value(old), "new": value(new) }));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_value(self) -> serde_json::Value {
        serde_json::Value::Object(self.0)
    }
}

/// One changed field of an event, for the audit page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The changes an event's details hold, as text: strings as they are, other values as JSON.
pub fn changes_of(details: &str) -> Vec<Change> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(none)".into(),
        other => other.to_string(),
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(details) else {
        return Vec::new();
    };
    let Some(serde_json::Value::Object(changes)) = map.get("changes") else { return Vec::new() };
    changes
        .iter()
        .map(|(field, pair)| Change {
            field: field.clone(),
            old: pair.get("old").map(text).unwrap_or_default(),
            new: pair.get("new").map(text).unwrap_or_default(),
        })
        .collect()
}

/// The event's hash: SHA-256, in hex, over the previous event's hash and the event's content, encoded as one
/// JSON array `[previous hash, at, actor user id, actor label, action, target type, target id, ip, details]`
/// (`at` as `YYYY-MM-DD HH:MM:SS.ffffff`; the first chained event's previous hash is ""). Changing, adding or
/// removing an event breaks the link of the one after it; `steward check` walks the chain
/// ([`verify_chain`]).
pub fn chain_hash(previous: &str, e: &NewAuditEvent<'_>) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        previous,
        e.at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        e.actor_user_id,
        e.actor_label,
        e.action,
        e.target_type,
        e.target_id,
        e.ip,
        e.details,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The PostgreSQL advisory lock that serializes appends to the chain (any fixed number no other code takes).
const CHAIN_LOCK: i64 = 7_011_904_290;

/// Appends an event, inside the caller's transaction when there is one (else in its own). The chain is
/// sequential: the previous hash is read inside the writing transaction, and on PostgreSQL appends are
/// serialized by a transaction-scoped advisory lock (SQLite has one writer at a time already), so concurrent
/// writers cannot fork the chain. A user's event without an address of its own takes the client address of
/// the HTTP request being served (`domain::client`); anonymous events (survey answers) never do.
pub fn record(conn: &mut DbConn, event: Event<'_>) -> Result<(), ServiceError> {
    let (actor_user_id, actor_label) = match event.actor {
        Actor::User(id) => (Some(id), "user"),
        Actor::Anonymous => (None, "anonymous"),
        Actor::Cli => (None, "cli"),
        Actor::System => (None, "system"),
    };
    let details = event.details.to_string();
    // A signed-in user's event takes the request's address when its service passed none. Others keep only
    // what they were given: an anonymous survey answer must not carry an address that names the respondent.
    let client = if actor_user_id.is_some() { crate::domain::client::current() } else { None };
    let ip = event.ip.or(client.as_deref());
    db::write_transaction(conn, |conn| {
        if let DbConn::Postgres(pg) = conn {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK})")).execute(pg)?;
        }
        let previous: Option<Option<String>> =
            audit_events::table.order(audit_events::id.desc()).select(audit_events::hash).first(conn).optional()?;
        let mut row = NewAuditEvent {
            at: db::now(),
            actor_user_id,
            actor_label,
            action: event.action,
            target_type: event.target.as_ref().map(|(k, _)| *k),
            target_id: event.target.as_ref().map(|(_, id)| id.as_str()),
            ip,
            details: &details,
            hash: String::new(),
        };
        row.hash = chain_hash(previous.flatten().as_deref().unwrap_or(""), &row);
        diesel::insert_into(audit_events::table).values(&row).execute(conn)?;
        Ok(())
    })
}

/// Where the chain first breaks: the id of the first event whose hash does not follow from the one before it
/// and its own content (changed, inserted out of place, or following a deleted event), or that has no hash
/// after the chain began. Events from before the chain (no hash, before the first hashed one) are skipped.
/// Returns the events looked at and the first broken one.
pub fn verify_chain(conn: &mut DbConn) -> Result<(usize, Option<i64>), ServiceError> {
    let rows: Vec<AuditEvent> =
        audit_events::table.order(audit_events::id).select(AuditEvent::as_select()).load(conn)?;
    let mut previous: Option<String> = None;
    for e in &rows {
        let Some(hash) = &e.hash else {
            if previous.is_some() {
                return Ok((rows.len(), Some(e.id)));
            }
            continue;
        };
        let row = NewAuditEvent {
            at: e.at,
            actor_user_id: e.actor_user_id,
            actor_label: &e.actor_label,
            action: &e.action,
            target_type: e.target_type.as_deref(),
            target_id: e.target_id.as_deref(),
            ip: e.ip.as_deref(),
            details: &e.details,
            hash: String::new(),
        };
        if chain_hash(previous.as_deref().unwrap_or(""), &row) != *hash {
            return Ok((rows.len(), Some(e.id)));
        }
        previous = Some(hash.clone());
    }
    Ok((rows.len(), None))
}

/// An event with the acting user's name, for the log page.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub event: AuditEvent,
    pub actor_name: Option<String>,
    /// What the event changed, old → new, read from its details.
    pub changes: Vec<Change>,
}

pub const PAGE_SIZE: i64 = 50;

/// Newest first, optionally only actions starting with `action_prefix`; returns the page and the total.
pub fn list(conn: &mut DbConn, action_prefix: Option<&str>, page: i64) -> Result<(Vec<EventRow>, i64), ServiceError> {
    let page = page.max(1);
    let filtered = || {
        let mut q = audit_events::table
            .left_join(users::table.on(users::id.nullable().eq(audit_events::actor_user_id)))
            .into_boxed();
        if let Some(prefix) = action_prefix.filter(|p| !p.is_empty()) {
            let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            q = q.filter(audit_events::action.like(format!("{escaped}%")).escape('\\'));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<(AuditEvent, Option<String>)> = filtered()
        .order(audit_events::id.desc())
        .limit(PAGE_SIZE)
        .offset(crate::domain::page_offset(page, PAGE_SIZE))
        .select((AuditEvent::as_select(), users::display_name.nullable()))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(event, actor_name)| EventRow { changes: changes_of(&event.details), event, actor_name })
        .collect();
    Ok((rows, total))
}
