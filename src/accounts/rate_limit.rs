//! Fixed-window counters in the database, so every instance counts the same attempts.

use std::time::Duration;

use diesel::prelude::*;

use crate::db::schema::rate_limits;
use crate::db::{self, DbConn};
use crate::domain::ServiceError;

/// A limit: at most `max` hits per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub bucket: &'static str,
    pub max: i32,
    pub window: Duration,
}

/// Password sign-ins per client address: `max` per 15 minutes (`STEWARD_SIGN_IN_PER_IP`, 30 by default).
pub fn sign_in_per_ip(max: u32) -> Limit {
    Limit { bucket: "sign-in:ip", max: i32::try_from(max).unwrap_or(i32::MAX), window: Duration::from_secs(15 * 60) }
}
pub const RESET_PER_IP: Limit = Limit { bucket: "reset:ip", max: 10, window: Duration::from_secs(15 * 60) };
pub const RESET_PER_EMAIL: Limit = Limit { bucket: "reset:email", max: 3, window: Duration::from_secs(3600) };
pub const TOKEN_LINK_PER_IP: Limit = Limit { bucket: "link:ip", max: 30, window: Duration::from_secs(15 * 60) };
/// Passwords asked again of a signed-in person (before making an API token): a session left open does not
/// let anyone guess on.
pub const REAUTH_PER_USER: Limit = Limit { bucket: "reauth:user", max: 10, window: Duration::from_secs(15 * 60) };
/// Content-Security-Policy reports per client address: browsers send one per violation, an attacker could
/// send millions to flood the log.
pub const CSP_REPORTS_PER_IP: Limit = Limit { bucket: "csp:ip", max: 50, window: Duration::from_secs(15 * 60) };
pub const INVITES_PER_ADMIN: Limit = Limit { bucket: "invite:user", max: 100, window: Duration::from_secs(3600) };

/// Counts one hit for `key`; refuses with the seconds until the window ends when over the limit.
pub fn hit(conn: &mut DbConn, limit: Limit, key: &str) -> Result<(), ServiceError> {
    let now = db::now();
    let window_secs = limit.window.as_secs().max(1) as i64;
    let start_ts = now.and_utc().timestamp().div_euclid(window_secs) * window_secs;
    let window_start = chrono::DateTime::from_timestamp(start_ts, 0).map(|d| d.naive_utc()).unwrap_or(now);
    let hits: i32 = db::write_transaction(conn, |conn| {
        crate::on_backend!(conn, |c| diesel::insert_into(rate_limits::table)
            .values((
                rate_limits::bucket.eq(limit.bucket),
                rate_limits::key.eq(key),
                rate_limits::window_start.eq(window_start),
                rate_limits::hits.eq(1),
            ))
            .on_conflict((rate_limits::bucket, rate_limits::key, rate_limits::window_start))
            .do_update()
            .set(rate_limits::hits.eq(rate_limits::hits + 1))
            .execute(c))?;
        let hits =
            rate_limits::table.find((limit.bucket, key, window_start)).select(rate_limits::hits).first::<i32>(conn)?;
        if hits == 1 {
            // First hit of a window: forget this key's old windows.
            diesel::delete(
                rate_limits::table
                    .filter(rate_limits::bucket.eq(limit.bucket))
                    .filter(rate_limits::key.eq(key))
                    .filter(rate_limits::window_start.lt(window_start)),
            )
            .execute(conn)?;
        }
        Ok::<_, ServiceError>(hits)
    })?;
    if hits > limit.max {
        let retry_after = (start_ts + window_secs - now.and_utc().timestamp()).max(1) as u64;
        return Err(ServiceError::RateLimited { retry_after });
    }
    Ok(())
}
