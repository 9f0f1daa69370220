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
}

/// Appends an event, inside the caller's transaction when there is one.
pub fn record(conn: &mut DbConn, event: Event<'_>) -> Result<(), ServiceError> {
    let (actor_user_id, actor_label) = match event.actor {
        Actor::User(id) => (Some(id), "user"),
        Actor::Anonymous => (None, "anonymous"),
        Actor::Cli => (None, "cli"),
        Actor::System => (None, "system"),
    };
    let details = event.details.to_string();
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            at: db::now(),
            actor_user_id,
            actor_label,
            action: event.action,
            target_type: event.target.as_ref().map(|(k, _)| *k),
            target_id: event.target.as_ref().map(|(_, id)| id.as_str()),
            ip: event.ip,
            details: &details,
        })
        .execute(conn)?;
    Ok(())
}

/// An event with the acting user's name, for the log page.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub event: AuditEvent,
    pub actor_name: Option<String>,
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
    Ok((rows.into_iter().map(|(event, actor_name)| EventRow { event, actor_name }).collect(), total))
}
