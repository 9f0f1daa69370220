//! Audit rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::audit_events;

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_user_id: Option<i64>,
    /// `user`, `cli`, `system`, or `anonymous` (e.g. a failed sign-in).
    pub actor_label: String,
    /// What happened, e.g. `user.invited`, `session.signed_in`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    /// Non-secret particulars as a JSON object; an edit's old and new values under `changes`.
    pub details: String,
    /// SHA-256 (hex) chained over the previous event's hash and this event's content
    /// (`audit::service::chain_hash`); none for events written before the chain began.
    pub hash: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub at: NaiveDateTime,
    pub actor_user_id: Option<i64>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub details: &'a str,
    pub hash: String,
}
