//! Scheduled work inside `steward serve`: dues reminders, survey reminders, progress reports, counting pooled
//! anonymous answers (`surveys::pool::flush_all`), and emptying the bodies of settled emails after their
//! retention. Every job is idempotent (its emails carry idempotency keys), so it may run often, and on several
//! instances at once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::{Config, SigningKey};
use crate::db::Db;
use crate::domain::ServiceError;
use crate::dues::reminders::{self, ReminderRun};

/// How often the jobs run.
pub const INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What one round of the jobs queued.
#[derive(Clone, Debug, Default)]
pub struct JobsRun {
    pub dues: ReminderRun,
    pub survey_reminders: usize,
    pub reports: crate::reports::service::ReportRun,
    /// Anonymous answers moved from the pool into the results.
    pub survey_answers_counted: usize,
    /// Settled emails whose bodies were emptied after `STEWARD_MAIL_RETENTION_DAYS`.
    pub mail_purged: usize,
}

/// Runs every scheduled job once, now (also `steward jobs run`).
pub async fn run_once(config: &Config, db: &Db, key: &SigningKey) -> Result<JobsRun, ServiceError> {
    let (base_url, k) = (config.base_url.clone(), key.clone());
    let span = tracing::info_span!("job", job = "dues_reminders");
    let dues = db
        .run(move |conn| {
            let site = crate::settings::service::load_site(conn)?;
            reminders::send_due(conn, crate::db::now().date(), &site.name, &base_url, &k)
        })
        .instrument(span.clone())
        .await
        .inspect(|run| {
            span.in_scope(|| tracing::info!(overdue = run.overdue, renewal = run.renewal, "dues reminders queued"))
        })?;
    let (base_url, k) = (config.base_url.clone(), key.clone());
    let span = tracing::info_span!("job", job = "survey_reminders");
    let survey_reminders = db
        .run(move |conn| {
            let site = crate::settings::service::load_site(conn)?;
            let settings = crate::surveys::service::MailSettings { site_name: site.name, base_url, key: k };
            crate::surveys::service::send_reminders(conn, crate::db::now(), &settings)
        })
        .instrument(span.clone())
        .await
        .inspect(|n| span.in_scope(|| tracing::info!(queued = n, "survey reminders queued")))?;
    let (base_url, k) = (config.base_url.clone(), key.clone());
    let span = tracing::info_span!("job", job = "reports");
    let reports = db
        .run(move |conn| {
            let site = crate::settings::service::load_site(conn)?;
            let settings = crate::surveys::service::MailSettings { site_name: site.name, base_url, key: k };
            crate::reports::service::run_schedule(conn, crate::db::now().date(), &settings)
        })
        .instrument(span.clone())
        .await
        .inspect(|run| {
            span.in_scope(|| {
                tracing::info!(generated = run.generated.as_deref().unwrap_or(""), queued = run.sent.queued, "reports")
            })
        })?;
    let k = key.clone();
    let span = tracing::info_span!("job", job = "survey_pool");
    let survey_answers_counted = db
        .run(move |conn| crate::surveys::pool::flush_all(conn, &k))
        .instrument(span.clone())
        .await
        .inspect(|n| span.in_scope(|| tracing::info!(counted = n, "pooled anonymous answers counted")))?;
    let retention = chrono::Duration::days(i64::from(config.mail.retention_days));
    let span = tracing::info_span!("job", job = "mail_retention");
    let mail_purged = db
        .run(move |conn| Ok::<_, ServiceError>(crate::mail::outbox::purge_bodies(conn, crate::db::now() - retention)?))
        .instrument(span.clone())
        .await
        .inspect(|n| span.in_scope(|| tracing::info!(purged = n, "bodies of settled emails emptied")))?;
    Ok(JobsRun { dues, survey_reminders, reports, survey_answers_counted, mail_purged })
}

/// The running scheduler; [`Jobs::stop`] ends it between runs.
pub struct Jobs {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

pub fn spawn(config: Config, db: Db, key: SigningKey) -> Jobs {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&config, &db, &key).await {
                tracing::warn!(error = %e, "a scheduled job failed; it runs again at the next interval");
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = stopped.changed() => break,
            }
        }
    });
    Jobs { stop, task }
}

impl Jobs {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
