//! Scheduled work inside `steward serve`: dues reminders, survey reminders and progress reports. Every job is idempotent (its emails
//! carry idempotency keys), so it may run often, and on several instances at once.

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
    let (base_url, key) = (config.base_url.clone(), key.clone());
    let span = tracing::info_span!("job", job = "reports");
    let reports = db
        .run(move |conn| {
            let site = crate::settings::service::load_site(conn)?;
            let settings = crate::surveys::service::MailSettings { site_name: site.name, base_url, key };
            crate::reports::service::run_schedule(conn, crate::db::now().date(), &settings)
        })
        .instrument(span.clone())
        .await
        .inspect(|run| {
            span.in_scope(|| {
                tracing::info!(generated = run.generated.as_deref().unwrap_or(""), queued = run.sent.queued, "reports")
            })
        })?;
    Ok(JobsRun { dues, survey_reminders, reports })
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
