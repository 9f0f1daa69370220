//! The delivery worker that runs inside `steward serve`: it delivers whatever is due, sleeps for the poll
//! interval when nothing is, and stops between batches when the server shuts down.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::delivery::Delivery;

/// A running worker; [`WorkerHandle::stop`] ends it once the sends under way are recorded.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    delivery: Delivery,
    task: JoinHandle<()>,
}

/// Starts the worker on the current async runtime.
pub fn spawn(delivery: Delivery) -> WorkerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let handle = delivery.clone();
    let task = tokio::spawn(async move {
        let poll = delivery.settings().poll_interval;
        tracing::info!(worker = %delivery.worker_id(), destination = %delivery.mailer().destination(), "mail worker started");
        loop {
            if *stopped.borrow() {
                break;
            }
            let idle = match delivery.run_batch().await {
                Ok(report) => report.is_idle(),
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery failed; trying again after the poll interval");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stopped.changed() => break,
                }
            }
        }
        delivery.mailer().shutdown().await;
        tracing::info!("mail worker stopped");
    });
    WorkerHandle { stop, delivery: handle, task }
}

impl WorkerHandle {
    /// Stops the worker: sends under way finish and are recorded, claimed messages not yet started are
    /// released for other instances. Returns when the worker has ended.
    pub async fn stop(self) {
        self.delivery.stop_sending();
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the mail worker ended abnormally");
        }
    }
}
