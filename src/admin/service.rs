//! Admin actions on the mail queue, recorded in the audit log.

use crate::audit::{self, Actor, Event};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::mail;

/// Sends a dead message again.
pub fn retry_message(conn: &mut DbConn, actor: i64, id: i64, ip: Option<&str>) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        mail::admin::retry(conn, id)?;
        audit::record(conn, Event::new(Actor::User(actor), "mail.retried").target("outbox", id).ip(ip))
    })
}

/// Cancels a pending message.
pub fn cancel_message(conn: &mut DbConn, actor: i64, id: i64, ip: Option<&str>) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        mail::admin::cancel(conn, id)?;
        audit::record(conn, Event::new(Actor::User(actor), "mail.cancelled").target("outbox", id).ip(ip))
    })
}
