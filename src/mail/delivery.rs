//! Delivering the outbox: claim a batch of due messages, send them a few at a time with no database
//! transaction open, and record each outcome as soon as it is known, so that a crash re-sends at most the
//! messages that were in flight.

use std::collections::VecDeque;
use std::ops::AddAssign;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::outbox::{self, ClaimRequest, OutboxMessage, Outcome};
use super::transport::{Mailer, SendError};
use crate::config::MailSettings;
use crate::db::{self, Db, DbError};

/// What a delivery run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed for now; tried again after a back-off.
    pub retrying: usize,
    /// Given up: refused permanently, or out of attempts.
    pub dead: usize,
    /// Not sent because the recipient turned the category off.
    pub cancelled: usize,
    /// Claimed but not tried because the lease had run too short; free for the next claim.
    pub released: usize,
    /// Tried, but the claim had meanwhile passed to another worker, so the outcome was not recorded.
    pub lost: usize,
}

impl DeliveryReport {
    /// Nothing was due.
    pub fn is_idle(&self) -> bool {
        *self == Self::default()
    }
}

impl AddAssign for DeliveryReport {
    fn add_assign(&mut self, other: Self) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.dead += other.dead;
        self.cancelled += other.cancelled;
        self.released += other.released;
        self.lost += other.lost;
    }
}

/// How long to wait before try number `attempts + 1`: `retry_base` doubled for each earlier try, at most
/// `retry_max`, then a random point in its upper half so that failed messages do not all come back at once.
pub fn backoff(settings: &MailSettings, attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = settings.retry_base.as_millis().min(u128::from(u64::MAX)) as u64;
    let ceiling = base.saturating_mul(1u64 << doublings).min(settings.retry_max.as_millis() as u64);
    Duration::from_millis(rand::rng().random_range(ceiling / 2..=ceiling))
}

/// Keeps stored errors to a size an admin page can show.
fn shorten(message: &str) -> String {
    const LIMIT: usize = 1000;
    match message.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// One worker: the database, the mailer and the settings, under an id that marks its claims.
#[derive(Clone)]
pub struct Delivery {
    db: Db,
    mailer: Mailer,
    settings: MailSettings,
    worker: Arc<str>,
    /// Set on shutdown: sends under way finish, the rest of the batch is released for another instance.
    stopping: Arc<AtomicBool>,
}

impl Delivery {
    pub fn new(db: Db, mailer: Mailer, settings: MailSettings) -> Self {
        let worker = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Self { db, mailer, settings, worker: worker.into(), stopping: Arc::new(AtomicBool::new(false)) }
    }

    /// Asks every clone of this worker to start no new send: sends under way finish and are recorded, the
    /// rest of the batch in hand is released at once rather than left to its lease.
    pub fn stop_sending(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    /// Delivers batches until nothing is due (messages waiting for a retry later are left for then).
    pub async fn run_until_idle(&self) -> Result<DeliveryReport, DbError> {
        let mut total = DeliveryReport::default();
        loop {
            let batch = self.run_batch().await?;
            if batch.is_idle() || self.is_stopping() {
                total += batch;
                return Ok(total);
            }
            total += batch;
        }
    }

    /// Claims one batch and delivers it.
    pub async fn run_batch(&self) -> Result<DeliveryReport, DbError> {
        if self.is_stopping() {
            return Ok(DeliveryReport::default());
        }
        let claimed_at = Instant::now();
        let now = db::now();
        let lease = chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::MAX);
        let lease_until = now.checked_add_signed(lease).unwrap_or(chrono::NaiveDateTime::MAX);
        let worker = self.worker.clone();
        let limit = i64::from(self.settings.batch_size);
        let max_attempts = i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX);
        let claim = self
            .db
            .run(move |conn| {
                outbox::claim(conn, &ClaimRequest { worker: &worker, now, lease_until, limit, max_attempts })
            })
            .await?;
        let mut report = DeliveryReport { cancelled: claim.cancelled, dead: claim.dead, ..Default::default() };
        if claim.messages.is_empty() {
            return Ok(report);
        }
        tracing::debug!(worker = %self.worker, claimed = claim.messages.len(), "outbox batch claimed");

        let tasks = (self.settings.concurrency as usize).min(claim.messages.len());
        let queue = Arc::new(Mutex::new(VecDeque::from(claim.messages)));
        let mut running = JoinSet::new();
        for _ in 0..tasks {
            let this = self.clone();
            let queue = queue.clone();
            running.spawn(
                async move {
                    let mut report = DeliveryReport::default();
                    while let Some(message) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                        report += this.deliver(message, claimed_at).await?;
                    }
                    Ok::<_, DbError>(report)
                }
                .in_current_span(),
            );
        }
        let mut failure = None;
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(Ok(part)) => report += part,
                Ok(Err(e)) => failure = Some(e),
                Err(e) => {
                    tracing::error!(error = %e, "a delivery task stopped");
                    failure = Some(DbError::Cancelled);
                }
            }
        }
        match failure {
            // The messages of a task that stopped stay claimed until their lease runs out, then go again.
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Sends one claimed message and records the outcome.
    async fn deliver(&self, message: OutboxMessage, claimed_at: Instant) -> Result<DeliveryReport, DbError> {
        let span = tracing::info_span!(
            "mail.deliver",
            outbox.id = message.id,
            category = %message.category,
            attempt = message.attempts,
            worker = %self.worker,
        );
        async move {
            let mut report = DeliveryReport::default();
            // Start only a send that can finish within the lease; otherwise another worker could take the
            // message over while it is still being sent.
            let lease_too_short = claimed_at.elapsed() + self.settings.send_budget() >= self.settings.lease;
            let outcome = if lease_too_short || self.is_stopping() {
                tracing::debug!("not started (lease too short, or stopping); released");
                report.released = 1;
                Outcome::Released
            } else {
                match self.mailer.send(&message).await {
                    Ok(()) => {
                        tracing::info!("email sent");
                        report.sent = 1;
                        Outcome::Sent
                    }
                    Err(e @ SendError::Temporary { .. })
                        if u32::try_from(message.attempts).unwrap_or(u32::MAX) < self.settings.max_attempts =>
                    {
                        let wait = backoff(&self.settings, message.attempts);
                        tracing::warn!(
                            smtp.code = e.code(),
                            retry_in_ms = wait.as_millis() as u64,
                            "email not sent; will try again"
                        );
                        report.retrying = 1;
                        let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                        let at = db::now().checked_add_signed(wait).unwrap_or(chrono::NaiveDateTime::MAX);
                        Outcome::RetryAt { at, error: shorten(&e.to_string()) }
                    }
                    Err(e @ SendError::Temporary { .. }) => {
                        tracing::warn!(smtp.code = e.code(), "email not sent; out of attempts, giving up");
                        report.dead = 1;
                        Outcome::Dead { error: shorten(&format!("gave up after {} attempts: {e}", message.attempts)) }
                    }
                    Err(e @ SendError::Permanent { .. }) => {
                        tracing::warn!(smtp.code = e.code(), "email refused permanently; giving up");
                        report.dead = 1;
                        Outcome::Dead { error: shorten(&e.to_string()) }
                    }
                }
            };
            let (id, worker) = (message.id, self.worker.clone());
            let recorded = self.db.run(move |conn| outbox::record(conn, id, &worker, &outcome, db::now())).await?;
            if !recorded {
                tracing::warn!("outcome not recorded: the claim had passed to another worker");
                report = DeliveryReport { lost: 1, ..Default::default() };
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit_with_jitter() {
        let settings = MailSettings {
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(600),
            ..MailSettings::default()
        };
        for _ in 0..50 {
            let first = backoff(&settings, 1);
            assert!((Duration::from_secs(15)..=Duration::from_secs(30)).contains(&first), "{first:?}");
            let third = backoff(&settings, 3);
            assert!((Duration::from_secs(60)..=Duration::from_secs(120)).contains(&third), "{third:?}");
            let late = backoff(&settings, 40);
            assert!((Duration::from_secs(300)..=Duration::from_secs(600)).contains(&late), "{late:?}");
        }
    }

    #[test]
    fn long_errors_are_shortened_on_a_character_boundary() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(1500);
        let cut = shorten(&long);
        assert_eq!(cut.chars().count(), 1001);
    }
}
